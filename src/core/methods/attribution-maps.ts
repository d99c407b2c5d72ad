/** Shared pieces of the input-attribution methods: per-channel baselines, element-wise maths and the heat map they show. */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import { float32, Float32Tensor } from '../tensor';

/** |Σ_c a_c| per pixel of a [C,H,W] attribution, scaled to [0,1] by its maximum (how Captum and the IG paper show attributions). */
export function channelSumMap(a: Float32Tensor): Float32Array {
  const [c, h, w] = a.dims;
  const out = new Float32Array(h * w);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) out[i] += a.data[ch * h * w + i];
  let m = 0;
  for (let i = 0; i < out.length; i++) m = Math.max(m, (out[i] = Math.abs(out[i])));
  if (m > 0) for (let i = 0; i < out.length; i++) out[i] /= m;
  return out;
}

/** The channel of element i of the model's input tensor (NCHW or NHWC, batch 1). */
export function channelOf(explainer: Explainer, dims: readonly number[], i: number): number {
  return explainer.input.layout === 'NCHW' ? Math.floor(i / (dims[2] * dims[3])) % dims[1] : i % dims[3];
}

/** A [C,H,W] tensor from a [1,…] input-layout tensor (NHWC transposed). */
export function toChw(explainer: Explainer, x: Float32Tensor): Float32Tensor {
  const [, ...rest] = x.dims;
  if (explainer.input.layout === 'NCHW') return float32(x.data.slice(), rest);
  const [h, w, c] = rest;
  const out = new Float32Array(x.data.length);
  for (let y = 0; y < h; y++) for (let q = 0; q < w; q++) for (let ch = 0; ch < c; ch++) out[(ch * h + y) * w + q] = x.data[(y * w + q) * c + ch];
  return float32(out, [c, h, w]);
}

/** Minimum and maximum of a tensor's values; a constant input has no range to scale noise by. */
export function inputRange(x: Float32Tensor, method: string): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) throw new LookCloserError('bad-input', `${method} scales its noise by the input's range, but every input value is ${lo}.`);
  return { lo, hi };
}
