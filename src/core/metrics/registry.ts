/** The faithfulness metrics an output can be measured with, as one table: the CLI's --metrics choices and the measuring loop read it. */
import { LookCloserError } from '../errors';
import type { Explainer, ForwardResult } from '../explainer';
import type { CropBox } from '../preprocess/preprocess';
import type { Float32Tensor } from '../tensor';
import { confidenceChange, ConfidenceJson } from './confidence';
import { CurveJson, CurveMemo, Substrate, perturbationCurve } from './deletion-insertion';
import { rankPixels } from './perturb';
import { PointingBox, PointingJson, pointingGame } from './pointing';
import { road, roadImputesElsewhere, roadInputs, RoadJson } from './road';

/** What a metric reads: the input, its map at input resolution (0..1), the class and the forward pass on the input. */
export interface MetricContext {
  readonly explainer: Explainer;
  readonly input: Float32Tensor;
  readonly map01: Float32Array;
  readonly classIndex: number;
  readonly before: ForwardResult;
  readonly crop?: CropBox;
  readonly box?: PointingBox;
  /** Passes shared with other maps of the same input and class (a comparison's cells); one per call when absent. */
  readonly shared?: MetricShare;
}

/** What the metrics of one input and class share between maps: each substrate's probability alone (deletion and insertion). */
export interface MetricShare {
  readonly substrateProbs: Map<Substrate, number>;
  /** Deletion and insertion curves measured, reused for a map that moves the same pixels at every step. */
  readonly curves: CurveMemo[];
}

/** A new, empty share for one input and class. */
export function metricShare(): MetricShare {
  return { substrateProbs: new Map(), curves: [] };
}

/** What the metrics of one map share within one measureAll call: the pixel ranking and the substrates' passes. */
interface Scratch {
  readonly order: () => Uint32Array;
  readonly substrateProbs: Map<Substrate, number>;
  readonly curves?: CurveMemo[];
  /** ROAD's imputed inputs, started before the other metrics' passes. */
  readonly roadImputed?: Promise<readonly Float32Tensor[]>;
}

/** The measured values, one field per metric (absent when not asked for). */
export interface MetricValues {
  readonly deletion?: CurveJson;
  readonly insertion?: CurveJson;
  readonly road?: RoadJson;
  readonly confidence?: ConfidenceJson;
  readonly pointing?: PointingJson;
}

/** One metric: its id, a one-line description and how it is measured. */
export interface MetricEntry<K extends keyof MetricValues = keyof MetricValues> {
  readonly id: K;
  readonly title: string;
  /** Forward passes at the defaults when the unperturbed pass is already run. */
  readonly passes: number;
  readonly measure: (c: MetricContext, s: Scratch) => Promise<MetricValues[K] | undefined>;
}

/** Every metric, in the order they are measured and printed. */
export const METRICS: readonly MetricEntry[] = [
  { id: 'deletion', title: 'Deletion AUC (RISE; lower is better)', passes: 16, measure: (c, s) => perturbationCurve(c.explainer, c.input, c.map01, c.classIndex, 'deletion', { before: c.before, order: s.order(), substrateProbs: s.substrateProbs, curves: s.curves }) },
  { id: 'insertion', title: 'Insertion AUC (RISE; higher is better)', passes: 16, measure: (c, s) => perturbationCurve(c.explainer, c.input, c.map01, c.classIndex, 'insertion', { before: c.before, order: s.order(), substrateProbs: s.substrateProbs, curves: s.curves }) },
  { id: 'road', title: 'ROAD (MoRF and LeRF with noisy linear imputation; combined higher is better)', passes: 6, measure: (c, s) => road(c.explainer, c.input, c.map01, c.classIndex, { before: c.before, imputed: s.roadImputed }) },
  { id: 'confidence', title: 'Average Drop and Increase in Confidence (Grad-CAM++)', passes: 1, measure: (c) => confidenceChange(c.explainer, c.input, c.map01, c.classIndex, c.before) },
  { id: 'pointing', title: 'Pointing game (needs a box)', passes: 0, measure: async (c) => (c.box ? pointingGame(c.map01, c.explainer.inputSize.width, c.explainer.inputSize.height, c.box, c.crop) : undefined) },
];

/** A metric id. */
export type MetricId = keyof MetricValues;

/** Parses a comma-separated list of metric ids ('all' for every one). */
export function parseMetrics(list: string): MetricId[] {
  const ids = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.includes('all')) return METRICS.map((m) => m.id);
  for (const id of ids) {
    if (!METRICS.some((m) => m.id === id)) throw new LookCloserError('bad-argument', `Unknown metric '${id}'. Available: ${METRICS.map((m) => m.id).join(', ')}, all.`);
  }
  return METRICS.map((m) => m.id).filter((id) => ids.includes(id));
}

/** Parses a pointing-game box 'x,y,w,h' in original-image pixels. */
export function parseBox(s: string): PointingBox {
  const v = s.split(',').map(Number);
  if (v.length !== 4 || !v.every(Number.isFinite) || v[2] <= 0 || v[3] <= 0) throw new LookCloserError('bad-argument', `--box must be x,y,w,h in image pixels with a positive width and height, got '${s}'.`);
  return { x: v[0], y: v[1], width: v[2], height: v[3] };
}

/** Measures the asked-for metrics of one map. */
export async function measureAll(ids: readonly MetricId[], c: MetricContext): Promise<MetricValues> {
  const out: Record<string, unknown> = {};
  let order: Uint32Array | undefined;
  // ROAD's imputations need only the input and the map, no pass: where a front end gave ROAD a worker (the CLI, the
  // bench: a worker thread; the panel: a Web Worker) they start first and are computed while deletion's and
  // insertion's passes run. Inline (no worker could start) they wait for ROAD's turn: computed on the page's thread at
  // once, their ~0.5 s of tasks made every click after a map wait behind them (another class: 0.17 → 0.59 s in the
  // e2e). A failure surfaces where ROAD awaits them.
  const roadImputed = ids.includes('road') && roadImputesElsewhere() ? roadInputs(c.input, c.map01, c.explainer.input.layout) : undefined;
  roadImputed?.catch(() => undefined);
  const scratch: Scratch = { order: () => (order ??= rankPixels(c.map01)), substrateProbs: (c.shared ?? metricShare()).substrateProbs, curves: c.shared?.curves, roadImputed };
  const chosen = METRICS.filter((m) => ids.includes(m.id));
  // Where the forward session runs on two cores (the panel's replica worker), the metrics' passes are independent:
  // they are issued at once and each copy takes the next batch (deletion's and insertion's at the same time). Each
  // metric reads and writes only its own substrate in the share, so the values are those measured one by one. ROAD
  // imputing inline still waits for the metrics before it, as above: started at once, its page-thread tasks delayed
  // the next click (e2e, another class: 0.67–1.49 s against 0.22–0.53 s).
  let values: unknown[] = [];
  if ((await c.explainer.parallelRuns()) > 1) {
    const started: Promise<unknown>[] = [];
    for (const m of chosen) {
      const before = [...started];
      started.push(m.id === 'road' && !roadImputed ? Promise.all(before).then(() => m.measure(c, scratch)) : m.measure(c, scratch));
    }
    values = await Promise.all(started);
  } else for (const m of chosen) values.push(await m.measure(c, scratch));
  chosen.forEach((m, i) => {
    if (values[i] !== undefined) out[m.id] = values[i];
  });
  return out as MetricValues;
}

/** One compact line of the measured values (the CLI's text output). */
export function metricsLine(m: MetricValues): string {
  const f = (v: number) => v.toFixed(3);
  const parts: string[] = [];
  if (m.deletion) parts.push(`deletion AUC ${f(m.deletion.auc)}`);
  if (m.insertion) parts.push(`insertion AUC ${f(m.insertion.auc)}`);
  if (m.road) parts.push(`ROAD combined ${f(m.road.combined)} (MoRF ${f(m.road.morfChange)}, LeRF ${f(m.road.lerfChange)})`);
  if (m.confidence) parts.push(`confidence ${f(m.confidence.before)} → ${f(m.confidence.after)} (drop ${(100 * m.confidence.drop).toFixed(1)}%${m.confidence.increase ? ', increase' : ''})`);
  if (m.pointing) parts.push(`pointing ${m.pointing.hit ? 'hit' : 'miss'} at (${m.pointing.point.x.toFixed(0)}, ${m.pointing.point.y.toFixed(0)})`);
  return parts.join('; ');
}

/** The scalar of each metric that a table column shows, with whether higher is better. */
export const METRIC_COLUMNS: readonly { readonly key: string; readonly title: string; readonly higher: boolean; readonly value: (m: MetricValues) => number | undefined }[] = [
  { key: 'deletion', title: 'Deletion AUC', higher: false, value: (m) => m.deletion?.auc },
  { key: 'insertion', title: 'Insertion AUC', higher: true, value: (m) => m.insertion?.auc },
  { key: 'road', title: 'ROAD combined', higher: true, value: (m) => m.road?.combined },
  { key: 'averageDrop', title: 'Average Drop', higher: false, value: (m) => m.confidence?.drop },
  { key: 'increase', title: 'Increase in Confidence', higher: true, value: (m) => (m.confidence ? Number(m.confidence.increase) : undefined) },
  { key: 'pointing', title: 'Pointing accuracy', higher: true, value: (m) => (m.pointing ? Number(m.pointing.hit) : undefined) },
];
