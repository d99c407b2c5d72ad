/**
 * The panel's measuring work, pure (core only, no DOM, no onnxruntime import): the checks of a shown map (GAIN
 * and the faithfulness metrics of src/core/metrics/, reusing the forward pass the map was explained with) and
 * one method of the "Compare methods" view. Runs in the webview and in Node tests alike.
 */
import type { Classifier } from '../../src/core/app/classifier';
import { ExplainedOutput, PreparedInput, explainImage, measureFaithfulness, measureMetrics, metricMap } from '../../src/core/app/explain-image';
import { rememberCurve } from '../../src/core/metrics/deletion-insertion';
import { fnv1a } from '../../src/core/metrics/perturb';
import { LookCloserError } from '../../src/core/errors';
import type { ForwardResult } from '../../src/core/explainer';
import type { Explanation, ScoreTarget } from '../../src/core/methods/method';
import type { CancelSignal, ProgressCallback } from '../../src/core/methods/options';
import { methodById } from '../../src/core/methods/registry';
import type { PointingBox } from '../../src/core/metrics/pointing';
import { MetricId, MetricShare, MetricValues, measureAll, metricShare } from '../../src/core/metrics/registry';
import { isCancellation } from '../../src/protocol/messenger';
import type { GainSummary } from '../../src/protocol/protocol';
import { SHOWN_METRICS } from './selectors';
import type { BoxFraction, CompareCellView } from './state';

/** A box drawn on the shown picture (fractions of the region the model saw) in original-image pixels, as the pointing game takes it. */
export function boxInImage(b: BoxFraction, input: PreparedInput, size: { readonly width: number; readonly height: number }): PointingBox {
  const r = input.crop ?? { x: 0, y: 0, width: size.width, height: size.height };
  return { x: r.x + b.x * r.width, y: r.y + b.y * r.height, width: b.width * r.width, height: b.height * r.height };
}

/** What to measure of a shown map. */
export interface MeasureRequest {
  readonly ids: readonly MetricId[];
  /** Also GAIN's check (without its control, as the panel always showed it). */
  readonly gain: boolean;
  readonly box?: BoxFraction;
}

/** The checks of one explanation: GAIN and the asked-for metrics; `before` is the forward pass it was explained with. */
export async function measureShown(c: Classifier, input: PreparedInput, e: Explanation, before: ForwardResult, r: MeasureRequest): Promise<{ gain?: GainSummary; metrics: MetricValues }> {
  const ids = r.box ? r.ids : r.ids.filter((id) => id !== 'pointing');
  const box = r.box && boxInImage(r.box, input, c.explainer.inputSize);
  const metrics = ids.length ? await measureFaithfulness(c, input, e, before, { ids, box }) : {};
  if (!r.gain) return { metrics };
  const { gain } = await measureMetrics(c, input, e, before, { control: false });
  return { gain: { classIndex: e.classIndex, ...gain! }, metrics };
}

/**
 * What the cells of one comparison (one input, class and box) share: the substrates' forward passes of deletion and
 * insertion, and the metrics of each map measured so far, so that a map bit-identical to one already measured (on
 * SqueezeNet nine CAM-family methods give the same map) reuses its numbers instead of running its passes again.
 */
export interface CompareMemo {
  readonly share: MetricShare;
  readonly measured: { readonly hash: number; readonly map01: Float32Array; readonly method: string; readonly title: string; readonly metrics: MetricValues }[];
}

/** A new memo for one comparison. */
export function compareMemo(): CompareMemo {
  return { share: metricShare(), measured: [] };
}

/**
 * Puts the shown map's metrics (measured beside it already, with `before`, its forward pass) into a comparison's
 * memo: a compared map bit-identical to it reuses them, one that moves the same pixels at every step its deletion
 * and insertion curves, and every cell the substrates' passes.
 */
export function rememberShown(memo: CompareMemo, c: Classifier, e: Explanation, metrics: MetricValues, before: ForwardResult): void {
  const map01 = metricMap(c, e);
  memo.measured.push({ hash: mapHash(map01), map01, method: e.method, title: `the shown ${methodById(e.method).title} map`, metrics });
  const p = before.probs[e.classIndex];
  if (metrics.deletion) {
    rememberCurve(memo.share.curves, map01, 'deletion', metrics.deletion, p);
    memo.share.substrateProbs.set(metrics.deletion.substrate, metrics.deletion.probs[metrics.deletion.probs.length - 1]);
  }
  if (metrics.insertion) {
    rememberCurve(memo.share.curves, map01, 'insertion', metrics.insertion, p);
    memo.share.substrateProbs.set(metrics.insertion.substrate, metrics.insertion.probs[0]);
  }
}

/** FNV-1a over the map's float32 bits (a first test; equal hashes are confirmed value by value). */
function mapHash(m: Float32Array): number {
  return fnv1a(new Uint32Array(m.buffer, m.byteOffset, m.length));
}

/** The metrics already measured on a bit-identical map, when there are. */
function sameMap(memo: CompareMemo, hash: number, map01: Float32Array): CompareMemo['measured'][number] | undefined {
  return memo.measured.find((x) => x.hash === hash && x.map01.length === map01.length && x.map01.every((v, i) => Object.is(v, map01[i])));
}

/** One method of the comparison. */
export interface CompareRequest {
  readonly method: string;
  readonly classIndex: number;
  readonly target: ScoreTarget;
  /** The compared outcome's layer (CAM-family methods; undefined: each method's default). */
  readonly layer?: string;
  readonly box?: BoxFraction;
  /** The metrics to measure (comparedMetrics of selectors.ts; every shown one when absent). */
  readonly metrics?: readonly MetricId[];
  /** The forward pass on the input, reused where it holds what the method needs. */
  readonly forward?: ForwardResult;
  readonly signal?: CancelSignal;
  readonly onProgress?: ProgressCallback;
  /** The comparison's shared passes and measured maps (compareMemo); without it every cell measures its own. */
  readonly memo?: CompareMemo;
}

/**
 * Runs one method for the class and target and measures its map (the shown metrics, and the pointing game with
 * a box). A method that does not apply is 'skipped', one that fails 'failed'; cancellation throws.
 */
export async function compareOne(c: Classifier, input: PreparedInput, r: CompareRequest): Promise<{ cell: CompareCellView; output?: ExplainedOutput }> {
  const m = methodById(r.method);
  const t0 = performance.now();
  const box = r.box && boxInImage(r.box, input, c.explainer.inputSize);
  try {
    const o = await explainImage(c, input, {
      method: m.id, classes: [r.classIndex], layer: r.layer, target: r.target, forward: r.forward, signal: r.signal, onProgress: r.onProgress,
    });
    const output = o.outputs.find((x) => x.explanation.classIndex === r.classIndex);
    if (!output) throw new LookCloserError('runtime', `${m.title} gave no map for class ${r.classIndex}.`);
    const ids = r.metrics ?? (box ? [...SHOWN_METRICS, 'pointing'] : SHOWN_METRICS);
    const map01 = metricMap(c, output.explanation);
    const memo = r.memo;
    const hash = memo ? mapHash(map01) : 0;
    const same = memo && sameMap(memo, hash, map01);
    let metrics: MetricValues;
    if (same) metrics = same.metrics;
    else {
      metrics = await measureAll(ids, {
        explainer: c.explainer, input: input.tensor, map01, classIndex: r.classIndex, before: o.forward, crop: input.crop, box, shared: memo?.share,
      });
      memo?.measured.push({ hash, map01, method: m.id, title: m.title, metrics });
    }
    const cell: CompareCellView = { method: m.id, title: m.title, status: 'done', metrics, ms: performance.now() - t0, ...(same ? { sameAs: same.title } : {}) };
    return { cell, output: { ...output, metrics } };
  } catch (e) {
    if (r.signal?.aborted || isCancellation(e) || (e instanceof LookCloserError && e.kind === 'cancelled')) throw e;
    const skipped = e instanceof LookCloserError && e.kind === 'method-not-applicable';
    return { cell: { method: m.id, title: m.title, status: skipped ? 'skipped' : 'failed', reason: e instanceof Error ? e.message : String(e), ms: performance.now() - t0 } };
  }
}
