/**
 * The attention-mining check of GAIN — Li, Wu, Peng, Ernst, Fu, "Tell Me Where to Look: Guided Attention
 * Inference Network", CVPR 2018, §3.1 eq. (3)–(4): the soft mask T(A) = 1 / (1 + exp(−ω(A − σ))) with ω = 10,
 * σ = 0.5 on the normalised, upsampled attention map, and the erased image I* = I − T(A) ⊙ I, classified again.
 * A map that covers the evidence makes the class score drop. Erased pixels take the preset's mean, so they
 * are neutral after normalisation: in tensor space I* = (1 − T(A)) ⊙ x, since the mean maps to 0.
 *
 * A control makes the drop readable: the same mask values moved onto the least-attended pixels (ranks
 * reversed), which erases as much of the image elsewhere. A map that finds the evidence drops the score more
 * than its control; the plain inverted map 1 − A is no fair control, since it erases the whole complement.
 */
import { LookCloserError } from '../errors';
import type { Explainer, ForwardResult } from '../explainer';
import type { ScoreTarget } from '../methods/method';
import { Float32Tensor, float32 } from '../tensor';
import { Heatmap, heatmapAt } from '../attention/heatmap';

/** Settings of the check. */
export interface GainOptions {
  /** Sharpness ω of the soft threshold (default 10, as in the paper). */
  readonly omega?: number;
  /** Threshold σ (default 0.5). */
  readonly sigma?: number;
  /** Score compared before and after: 'softmax' probability (default) or 'logit'. */
  readonly score?: ScoreTarget;
  /** The forward pass on the unerased input, when already run. */
  readonly before?: ForwardResult;
  /** Also erase the same amount of the least-attended pixels (one more forward pass; default true). */
  readonly control?: boolean;
}

/** The control: the score after erasing as much of the image where the map attends least. */
export interface GainControl {
  readonly after: number;
  readonly drop: number;
  readonly probAfter: number;
  readonly logitAfter: number;
}

/** The scores GAIN's check reports for one class (what --json, summaries and the panel show). */
export interface GainScores {
  readonly score: ScoreTarget;
  /** The class score on the input and on the erased input, and before − after. */
  readonly before: number;
  readonly after: number;
  readonly drop: number;
  /** Probability and logit of the class before and after (whatever `score` is). */
  readonly probBefore: number;
  readonly probAfter: number;
  readonly logitBefore: number;
  readonly logitAfter: number;
  /** Mean of T(A): the share of the image erased. */
  readonly erased: number;
  /** The same erasure on the least-attended pixels (absent when `control` is false). */
  readonly control?: GainControl;
}

/** The outcome for one class: its scores, and the erased input for display. */
export interface GainResult extends GainScores {
  readonly classIndex: number;
  /** The erased input tensor, for display. */
  readonly erasedInput: Float32Tensor;
}

/** T(A) = sigmoid(ω(A − σ)) on the map resampled to `width × height` and min-max normalised. */
export function gainMask(map: Heatmap, width: number, height: number, omega = 10, sigma = 0.5): Float32Array {
  const a = heatmapAt(map, width, height);
  return a.map((v) => 1 / (1 + Math.exp(-omega * (v - sigma))));
}

/** The control mask: the values of `mask` re-assigned so the largest go to the pixels where `map01` is smallest. */
export function controlMask(map01: Float32Array, mask: Float32Array): Float32Array {
  const order = Array.from(map01.keys()).sort((i, j) => map01[i] - map01[j] || i - j);
  const values = Float32Array.from(mask).sort().reverse();
  const out = new Float32Array(mask.length);
  order.forEach((p, r) => (out[p] = values[r]));
  return out;
}

/** Erases the attended region from a normalised input tensor: x* = (1 − T) ⊙ x, T broadcast over channels. */
export function eraseAttended(x: Float32Tensor, mask: Float32Array, layout: 'NCHW' | 'NHWC'): Float32Tensor {
  const [n, a, b, c] = x.dims;
  const [ch, h, w] = layout === 'NCHW' ? [a, b, c] : [c, a, b];
  if (n !== 1 || mask.length !== h * w) throw new LookCloserError('bad-argument', `GAIN mask has ${mask.length} values; the input [${x.dims.join(', ')}] needs ${h}×${w}.`);
  const out = new Float32Array(x.data.length);
  for (let p = 0; p < h * w; p++) {
    const keep = 1 - mask[p];
    for (let k = 0; k < ch; k++) {
      const i = layout === 'NCHW' ? k * h * w + p : p * ch + k;
      out[i] = keep * x.data[i];
    }
  }
  return float32(out, x.dims);
}

/** Runs GAIN's check for a heat map of class `classIndex`: the class score before and after erasing what the map attends to. */
export async function gainCheck(explainer: Explainer, input: Float32Tensor, map: Heatmap, classIndex: number, opts: GainOptions = {}): Promise<GainResult> {
  const { height, width } = explainer.inputSize;
  const omega = opts.omega ?? 10;
  const sigma = opts.sigma ?? 0.5;
  const mask = gainMask(map, width, height, omega, sigma);
  const erasedInput = eraseAttended(input, mask, explainer.input.layout);
  const before = opts.before ?? (await explainer.forward(input));
  const after = await explainer.forward(erasedInput);
  const n = before.logits.length;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= n) throw new LookCloserError('bad-argument', `Class ${classIndex} is out of range: the model has ${n} classes (0–${n - 1}).`);
  const pb = before.probs[classIndex];
  const pa = after.probs[classIndex];
  const lb = before.logits[classIndex];
  const la = after.logits[classIndex];
  const score = opts.score ?? 'softmax';
  const [b, a] = score === 'softmax' ? [pb, pa] : [lb, la];
  let erased = 0;
  for (const v of mask) erased += v / mask.length;
  let control: GainControl | undefined;
  if (opts.control ?? true) {
    const c = await explainer.forward(eraseAttended(input, controlMask(heatmapAt(map, width, height), mask), explainer.input.layout));
    const [probAfter, logitAfter] = [c.probs[classIndex], c.logits[classIndex]];
    const after = score === 'softmax' ? probAfter : logitAfter;
    control = { after, drop: b - after, probAfter, logitAfter };
  }
  return { classIndex, score, before: b, after: a, drop: b - a, probBefore: pb, probAfter: pa, logitBefore: lb, logitAfter: la, erased, control, erasedInput };
}

/** GAIN's result as every output reports it; `controlAfter` repeats `control.after` for readers of the batch summary's version 1. */
export interface GainJson extends GainScores {
  readonly controlAfter?: number;
}

/** The JSON form of a GAIN result (without the erased input tensor). */
export function gainJson(g: GainResult): GainJson {
  return {
    score: g.score, before: g.before, after: g.after, drop: g.drop,
    probBefore: g.probBefore, probAfter: g.probAfter, logitBefore: g.logitBefore, logitAfter: g.logitAfter, erased: g.erased,
    ...(g.control ? { control: g.control, controlAfter: g.control.after } : {}),
  };
}
