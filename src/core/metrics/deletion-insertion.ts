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
import { blendPixels, classProbs, gaussianBlur, planeDims, rankPixels, trapezoid } from './perturb';

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
  const order = rankPixels(map01);
  const n = h * w;
  const steps = Math.ceil(1 / step - 1e-9);
  const counts = Array.from({ length: steps + 1 }, (_, i) => Math.min(n, Math.round(i * step * n)));
  const take = new Uint8Array(n);
  const inputs: Float32Tensor[] = [];
  let done = 0;
  for (const c of counts) {
    for (; done < c; done++) take[order[done]] = 1;
    inputs.push(mode === 'deletion' ? blendPixels(x, base, take, layout) : blendPixels(base, x, take, layout));
  }
  // The unperturbed input is the first point of deletion and the last of insertion: reuse its pass when given.
  const known = o.before ? (mode === 'deletion' ? 0 : steps) : -1;
  const run = inputs.filter((_, i) => i !== known);
  const ps = await classProbs(explainer, run, k);
  if (known >= 0) ps.splice(known, 0, o.before!.probs[k]);
  const fractions = counts.map((c) => c / n);
  return { auc: trapezoid(fractions, ps), substrate, fractions, probs: ps };
}
