/**
 * The explain use case, the same under every front end: a prepared input and settings in; predictions, one
 * output per explained class (the explanation, its label, raw range and metrics) and timings out. Front ends
 * decode files before and draw or write after; nothing between is theirs.
 */
import type { InputSource } from '../attention/crop';
import { LookCloserError } from '../errors';
import type { ForwardResult, Prediction } from '../explainer';
import { topK } from '../explainer';
import { gainCheck, gainJson } from '../metrics/gain';
import { heatmapAt } from '../attention/heatmap';
import { MetricId, MetricShare, measureAll } from '../metrics/registry';
import type { PointingBox } from '../metrics/pointing';
import { explanationHeatmap } from '../methods/explanation-heatmap';
import type { Explanation, Method, ScoreTarget } from '../methods/method';
import type { CancelSignal, OptionValues, ProgressCallback } from '../methods/options';
import { METHODS, methodById } from '../methods/registry';
import { checkTarget, contrastClass } from '../methods/score-target';
import type { RgbaImage } from '../preprocess/image';
import { CropBox, cropAndFit, preprocessImage, tensorToView } from '../preprocess/preprocess';
import type { Float32Tensor } from '../tensor';
import type { Grid } from '../token-layout';
import type { Classifier, InputGeometry } from './classifier';
import type { OutputMetrics, OutputRow } from './types';

/** Longest side of the picture overlays are drawn on. */
export const MAX_BASE_SIDE = 640;

/** An input ready to run: the tensor, the picture overlays are drawn on and where it came from. */
export interface PreparedInput {
  readonly tensor: Float32Tensor;
  /** The region the model saw, at up to MAX_BASE_SIDE px on its longer side (a rendering of the tensor for .npy inputs). */
  readonly base: RgbaImage;
  /** The preprocessing crop in original-image pixels (absent for tensors). */
  readonly crop?: CropBox;
  /** The decoded original (absent for tensors); attention crops are cut from it. */
  readonly image?: RgbaImage;
}

/** Preprocesses a decoded image for the classifier's current preprocessing (or, while it loads, what Classifier.load's `opened` gave). */
export function prepareImage(c: InputGeometry, image: RgbaImage): PreparedInput {
  const pre = preprocessImage(image, c.preprocessing.preprocessing, c.spec);
  if (!pre.tensor.data.every(Number.isFinite)) throw new LookCloserError('bad-input', `Preprocessing '${c.preprocessing.preprocessing.name}' turned the image into non-finite values; check the scale, mean and std (${c.preprocessing.reason}).`);
  return { tensor: pre.tensor, base: cropAndFit(image, pre.crop, MAX_BASE_SIDE), crop: pre.crop, image };
}

/** Takes a tensor as the model's input (a .npy file), after checking its shape ([C,H,W] gets a batch axis). */
export function prepareTensor(c: Classifier, tensor: Float32Tensor, name: string): PreparedInput {
  const dims = tensor.dims.length === 3 ? [1, ...tensor.dims] : [...tensor.dims];
  const want = c.explainer.inputDims;
  if (dims.length !== 4 || dims.some((d, i) => d !== want[i])) {
    throw new LookCloserError('bad-input', `'${name}' holds a tensor of shape [${tensor.dims.join(', ')}]; the model input is [${want.join(', ')}]. Save it with that shape (float32).`);
  }
  for (let i = 0; i < tensor.data.length; i++) {
    if (!Number.isFinite(tensor.data[i])) throw new LookCloserError('bad-input', `'${name}' holds a non-finite value (${tensor.data[i]}) at index ${i}; the model needs finite numbers.`);
  }
  const t = { ...tensor, dims };
  return { tensor: t, base: tensorToView(t, c.preprocessing.preprocessing, c.spec) };
}

/** Where attention crops take their crops from. */
export function inputSource(c: Classifier, input: PreparedInput): InputSource {
  return { image: input.image, region: input.crop, preprocessing: c.preprocessing.preprocessing };
}

/** What to explain and which metrics to measure. */
export interface ExplainSettings {
  /** A registry method id; undefined: the first registry method that applies to the model (`note` says so). */
  readonly method?: string;
  /** Classes to explain; with `top` as well, these followed by the top `top` predicted classes. */
  readonly classes?: readonly number[];
  /** Explain the top K predicted classes (default 1 when no classes are given). */
  readonly top?: number;
  /** Target layer of CAM-family methods (default: the model's suggested layer). */
  readonly layer?: string;
  /** The patch grid of token-tensor layers where the graph does not tell it (default: the sidecar's `tokenGrid`). */
  readonly grid?: Grid;
  readonly target?: ScoreTarget;
  readonly options?: OptionValues;
  /** GAIN's check per output (score softmax; control default true); `classes` limits it to those classes. */
  readonly gain?: { readonly control?: boolean; readonly classes?: readonly number[] };
  /** Faithfulness metrics per output (src/core/metrics/registry.ts); `box` is the pointing game's, in original-image pixels. */
  readonly metrics?: {
    readonly ids: readonly MetricId[]; readonly box?: PointingBox;
    /** Work shared between the maps of one input and class (substrate passes, identical curves): a comparison passes one for all its methods. */
    readonly share?: MetricShare;
  };
  /** A forward pass already run on this input (batch mode stacks them); used when it holds what the method needs. */
  readonly forward?: ForwardResult;
  readonly signal?: CancelSignal;
  readonly onProgress?: ProgressCallback;
}

/** One explained class. */
export interface ExplainedOutput {
  readonly explanation: Explanation;
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly metrics: OutputMetrics;
}

/** What one explain run produced. */
export interface ExplainOutcome {
  readonly method: Method;
  /** The layer explained (CAM family). */
  readonly layer?: string;
  readonly target: ScoreTarget;
  readonly forward: ForwardResult;
  /** Top 5 predictions. */
  readonly predictions: readonly Prediction[];
  readonly outputs: readonly ExplainedOutput[];
  /** Milliseconds: the forward pass run before the method (0 when none was needed), the method, the metrics. */
  readonly timings: { readonly forward: number; readonly explain: number; readonly metrics: number };
  /** Set when no method was asked for and the first ones did not apply: what ran instead and why. */
  readonly note?: string;
}

/** Explains one prepared input with one method; measures the asked-for metrics. */
export async function explainImage(c: Classifier, input: PreparedInput, s: ExplainSettings): Promise<ExplainOutcome> {
  if (s.method !== undefined) return explainWith(c, input, methodById(s.method), s);
  let note: string | undefined;
  for (let i = 0; i < METHODS.length; i++) {
    try {
      const o = await explainWith(c, input, METHODS[i], s);
      return note ? { ...o, note } : o;
    } catch (e) {
      if (!(e instanceof LookCloserError && e.kind === 'method-not-applicable') || i === METHODS.length - 1) throw e;
      note = `${METHODS[i].title} does not apply to this model (${e.message.split(';')[0]}); showing ${METHODS[i + 1].title}.`;
    }
  }
  throw new LookCloserError('method-not-applicable', 'No explanation method applies to this model.');
}

async function explainWith(c: Classifier, input: PreparedInput, method: Method, s: ExplainSettings): Promise<ExplainOutcome> {
  const target = s.target ?? 'logit';
  checkTarget(method, target);
  const against = contrastClass(target);
  if (against !== undefined) checkClass(c, against);
  const layer = s.layer ?? (method.family === 'cam' ? await c.defaultLayer() : undefined);
  for (const k of s.classes ?? []) checkClass(c, k);
  const t0 = performance.now();
  // A forward pass first only where it is needed: CAM reads the layer from it, and a class list plus top K needs the ranking.
  let forward = s.forward;
  if (forward && method.reusesForward && layer && !forward.tensors[layer]) forward = undefined;
  if (!forward && ((method.reusesForward && layer) || (s.classes?.length && s.top))) {
    forward = await c.explainer.forward(input.tensor, method.reusesForward && layer ? [layer] : []);
  }
  const t1 = performance.now();
  const classes = s.classes?.length
    ? [...new Set([...s.classes, ...(s.top && forward ? topK(forward.probs, s.top) : [])])]
    : forward ? topK(forward.probs, s.top ?? 1) : undefined;
  const r = await method.run(c.explainer, {
    input: input.tensor, ...(classes ? { classes } : { top: s.top ?? 1 }), layer, grid: s.grid ?? c.grid, target,
    forward, options: s.options, source: inputSource(c, input), signal: s.signal, onProgress: s.onProgress,
  });
  const t2 = performance.now();
  const shown = forward ?? r.forward;
  c.checkScores(shown);
  const outputs: ExplainedOutput[] = [];
  for (const e of r.explanations) {
    const range = valueRange(e.raw.data);
    if (!Number.isFinite(range.min) || !Number.isFinite(range.max)) {
      throw new LookCloserError('runtime', `${method.title}'s map for class ${e.classIndex} holds non-finite values (range ${range.min} … ${range.max}); the model overflows on this input.`);
    }
    const gain = s.gain && (!s.gain.classes || s.gain.classes.includes(e.classIndex))
      ? await measureMetrics(c, input, e, shown, { control: s.gain.control })
      : {};
    const metrics = s.metrics?.ids.length ? { ...gain, ...(await measureFaithfulness(c, input, e, shown, s.metrics)) } : gain;
    outputs.push({ explanation: e, label: c.label(e.classIndex), ...range, metrics });
  }
  return {
    method, layer: method.family === 'cam' ? (r.explanations[0]?.layer ?? layer) : undefined, target, forward: shown,
    predictions: c.predictions(shown.probs, 5), outputs,
    timings: { forward: t1 - t0, explain: t2 - t1, metrics: performance.now() - t2 },
  };
}

/** The metrics of one explanation: GAIN's score drop (softmax probability; with its control unless `control` is false). */
export async function measureMetrics(c: Classifier, input: PreparedInput, e: Explanation, before: ForwardResult, o: { control?: boolean } = {}): Promise<OutputMetrics> {
  const g = await gainCheck(c.explainer, input.tensor, explanationHeatmap(e), e.classIndex, { before, control: o.control });
  return { gain: gainJson(g) };
}

/** The map the faithfulness metrics measure: the explanation's heatmap at the model's input resolution, in [0, 1]. */
export function metricMap(c: Classifier, e: Explanation): Float32Array {
  const { width, height } = c.explainer.inputSize;
  return heatmapAt(explanationHeatmap(e), width, height);
}

/** The faithfulness metrics of one explanation, on its map at input resolution. */
export async function measureFaithfulness(c: Classifier, input: PreparedInput, e: Explanation, before: ForwardResult, m: NonNullable<ExplainSettings['metrics']>) {
  const map01 = metricMap(c, e);
  return measureAll(m.ids, { explainer: c.explainer, input: input.tensor, map01, classIndex: e.classIndex, before, crop: input.crop, box: m.box, shared: m.share });
}

/** An output as a row of --json and of the batch summary, with its files. */
export function outputRow<F>(o: ExplainedOutput, files: { readonly png: F; readonly npy: F }): OutputRow<F> {
  const e = o.explanation;
  return {
    method: e.method, class: e.classIndex, label: o.label, layer: e.layer ?? null, shape: e.raw.dims, min: o.min, max: o.max,
    png: files.png, npy: files.npy, ...(o.metrics.gain ? { gain: o.metrics.gain } : {}),
    ...(faithfulness(o.metrics) ? { metrics: faithfulness(o.metrics) } : {}),
  };
}

/** The metrics other than GAIN, or undefined when none was measured. */
function faithfulness(m: OutputMetrics): OutputMetrics | undefined {
  const rest = Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'gain')) as OutputMetrics;
  return Object.keys(rest).length ? rest : undefined;
}

/** Checks a class index against the model's class count. */
export function checkClass(c: Classifier, k: number): void {
  if (!Number.isInteger(k) || k < 0 || k >= c.classes) throw new LookCloserError('bad-argument', `Class ${k} is out of range: ${c.name} has ${c.classes} classes (0–${c.classes - 1}).`);
}

/** Minimum and maximum of a raw map. */
export function valueRange(data: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
