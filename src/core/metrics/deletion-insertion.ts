/**
 * Deletion and insertion — Petsiuk, Das, Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
 * Models", BMVC 2018, §4.1: pixels ranked by the map are removed from the image (deletion: the class
 * probability should fall fast, low AUC is good) or added to a substrate (insertion: it should rise fast, high
 * AUC is good), a fraction `step` of the pixels at a time; the score is the area under the probability curve
 * over the fraction 0..1. Substrates: 'constant' (the preset's mean, 0 after normalisation) and 'blur' (the
 * image blurred with RISE's Gaussian, σ = 5, 11 taps).
 */
import { LookCloserError } from '../errors';
import type { Explainer, ForwardResult } from '../explainer';
import type { Float32Tensor } from '../tensor';
import { float32 } from '../tensor';
import { classProbs, fnv1a, gaussianBlur, planeDims, rankPixels, trapezoid } from './perturb';

/** What replaces removed pixels (deletion) or stands for missing ones (insertion). */
export type Substrate = 'constant' | 'blur';

/** Settings of one curve. */
export interface CurveOptions {
  /** Fraction of the pixels per step (default 1/16: 17 points). */
  readonly step?: number;
  /** Default: 'constant' for deletion, 'blur' for insertion, as in RISE. */
  readonly substrate?: Substrate;
  /** The forward pass on the unperturbed input, when already run (saves one pass). */
  readonly before?: ForwardResult;
  /** The pixels ranked by the map (rankPixels), when already computed (deletion and insertion of one map share it). */
  readonly order?: Uint32Array;
  /**
   * The class probability of each substrate alone, shared by the curves of one input and class: deletion's last
   * point and insertion's first are the substrate whatever the map, so a pass found here is not run again, and a
   * pass run is kept here.
   */
  readonly substrateProbs?: Map<Substrate, number>;
  /**
   * Curves measured already on the same input and class. A curve depends on the map only through which pixels are
   * moved at each step, so a map that moves the same pixels at every step (another map with the same ranking up to
   * order within a step) has the same inputs and the same curve: it is taken from here, and a curve measured is kept.
   */
  readonly curves?: CurveMemo[];
}

/** A measured curve and what it was measured on: the step at which each pixel moves. */
export interface CurveMemo {
  readonly key: string;
  readonly stepOf: Uint16Array;
  readonly curve: CurveJson;
}

/** One curve and its area, as --json reports it. */
export interface CurveJson {
  readonly auc: number;
  readonly substrate: Substrate;
  /** Fractions of the pixels removed (deletion) or inserted (insertion), 0..1. */
  readonly fractions: readonly number[];
  /** The class probability at each fraction. */
  readonly probs: readonly number[];
}

/** The substrate tensor for an input. */
export function substrateOf(x: Float32Tensor, layout: 'NCHW' | 'NHWC', s: Substrate): Float32Tensor {
  return s === 'blur' ? gaussianBlur(x, layout, 5, 5) : float32(new Float32Array(x.data.length), x.dims);
}

/** The deletion ('deletion') or insertion ('insertion') curve of a map (0..1, input resolution) for class `k`. */
export async function perturbationCurve(explainer: Explainer, x: Float32Tensor, map01: Float32Array, k: number, mode: 'deletion' | 'insertion', o: CurveOptions = {}): Promise<CurveJson> {
  const layout = explainer.input.layout;
  const { h, w } = planeDims(x, layout);
  if (map01.length !== h * w) throw new LookCloserError('bad-argument', `The ${mode} metric needs a ${w}×${h} map, got ${map01.length} values.`);
  const step = o.step ?? 1 / 16;
  if (!(step > 0 && step <= 1)) throw new LookCloserError('bad-argument', `The ${mode} step must be a fraction in (0, 1], got ${step}.`);
  const substrate = o.substrate ?? (mode === 'deletion' ? 'constant' : 'blur');
  const base = substrateOf(x, layout, substrate);
  const order = o.order ?? rankPixels(map01);
  const n = h * w;
  const steps = Math.ceil(1 / step - 1e-9);
  const counts = Array.from({ length: steps + 1 }, (_, i) => Math.min(n, Math.round(i * step * n)));
  // Each point is the previous one with the next pixels in the ranking moved over (deletion: from the input to
  // the substrate; insertion: from the substrate to the input).
  const [from, to] = mode === 'deletion' ? [x, base] : [base, x];
  const { ch } = planeDims(x, layout);
  const stride = layout === 'NCHW' ? 1 : ch;
  const plane = layout === 'NCHW' ? h * w : 1;
  const inputs: Float32Tensor[] = [];
  let cur = Float32Array.from(from.data);
  let done = 0;
  for (const c of counts) {
    cur = inputs.length ? cur.slice() : cur;
    for (; done < c; done++) {
      const p = order[done] * stride;
      for (let j = 0; j < ch; j++) cur[p + j * plane] = to.data[p + j * plane];
    }
    inputs.push(float32(cur, x.dims));
  }
  const memo = o.curves && curveMemoKey(order, counts, mode, substrate, step, o.before?.probs[k]);
  if (o.curves && memo) {
    const same = o.curves.find((c) => c.key === memo.key && c.stepOf.every((v, i) => v === memo.stepOf[i]));
    if (same) return same.curve;
  }
  // The unperturbed input is the first point of deletion and the last of insertion: reuse its pass when given.
  // The substrate alone (deletion's last point, insertion's first) may be known from a curve of the same input.
  const known = new Map<number, number>();
  if (o.before) known.set(mode === 'deletion' ? 0 : steps, o.before.probs[k]);
  const alone = mode === 'deletion' ? steps : 0;
  const shared = o.substrateProbs?.get(substrate);
  if (shared !== undefined && !known.has(alone)) known.set(alone, shared);
  const runAt = inputs.map((_, i) => i).filter((i) => !known.has(i));
  const got = await classProbs(explainer, runAt.map((i) => inputs[i]), k);
  const ps = inputs.map((_, i) => known.get(i) ?? got[runAt.indexOf(i)]);
  if (o.substrateProbs && !o.substrateProbs.has(substrate) && counts[alone] === (mode === 'deletion' ? n : 0)) o.substrateProbs.set(substrate, ps[alone]);
  const fractions = counts.map((c) => c / n);
  const curve: CurveJson = { auc: trapezoid(fractions, ps), substrate, fractions, probs: ps };
  if (o.curves && memo) o.curves.push({ ...memo, curve });
  return curve;
}

/** The step at which each pixel moves (1…steps) and a key of it with the curve's settings; undefined past 65535 steps. */
function curveMemoKey(order: Uint32Array, counts: readonly number[], mode: 'deletion' | 'insertion', substrate: Substrate, step: number, before: number | undefined): { key: string; stepOf: Uint16Array } | undefined {
  const steps = counts.length - 1;
  if (steps >= 65536) return undefined;
  const stepOf = new Uint16Array(order.length);
  for (let s = 1; s <= steps; s++) for (let i = counts[s - 1]; i < counts[s]; i++) stepOf[order[i]] = s;
  return { key: `${mode} ${substrate} ${step} ${before ?? 'run'} ${fnv1a(stepOf)}`, stepOf };
}

/** Keeps a curve measured elsewhere (at the default step, with the unperturbed pass given) for reuse by maps that move the same pixels. */
export function rememberCurve(curves: CurveMemo[], map01: Float32Array, mode: 'deletion' | 'insertion', curve: CurveJson, beforeProb: number): void {
  const n = map01.length;
  const steps = curve.fractions.length - 1;
  const counts = curve.fractions.map((f) => Math.round(f * n));
  const memo = curveMemoKey(rankPixels(map01), counts, mode, curve.substrate, 1 / steps, beforeProb);
  if (memo && steps === 16) curves.push({ ...memo, curve });
}
