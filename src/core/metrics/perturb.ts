/** What the perturbation metrics share: per-pixel blends of two input tensors and class scores from batched forward passes. */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import { Float32Tensor, float32 } from '../tensor';

/** Inputs per forward pass when the model's batch axis is free. */
export const METRIC_CHUNK = 16;

/** Channels, height and width of a [1, …] input tensor in either layout. */
export function planeDims(x: Float32Tensor, layout: 'NCHW' | 'NHWC'): { ch: number; h: number; w: number } {
  const [n, a, b, c] = x.dims;
  if (n !== 1 || x.dims.length !== 4) throw new LookCloserError('bad-argument', `Metrics need an input of shape [1, …] with 4 axes, got [${x.dims.join(', ')}].`);
  return layout === 'NCHW' ? { ch: a, h: b, w: c } : { ch: c, h: a, w: b };
}

/** Index of channel `k` of pixel `p` in a [1, …] tensor. */
export function at(layout: 'NCHW' | 'NHWC', ch: number, hw: number, p: number, k: number): number {
  return layout === 'NCHW' ? k * hw + p : p * ch + k;
}

/** x where `take[p]` is false, y where true (a mask shared by the channels). */
export function blendPixels(x: Float32Tensor, y: Float32Tensor, take: Uint8Array, layout: 'NCHW' | 'NHWC'): Float32Tensor {
  const { ch, h, w } = planeDims(x, layout);
  const out = Float32Array.from(x.data);
  for (let p = 0; p < h * w; p++) {
    if (!take[p]) continue;
    for (let k = 0; k < ch; k++) {
      const i = at(layout, ch, h * w, p, k);
      out[i] = y.data[i];
    }
  }
  return float32(out, x.dims);
}

/** The softmax probability of class `k` on each input, run `METRIC_CHUNK` at a time through forwardBatch. */
export async function classProbs(explainer: Explainer, xs: readonly Float32Tensor[], k: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i += METRIC_CHUNK) {
    const rs = await explainer.forwardBatch(xs.slice(i, i + METRIC_CHUNK));
    for (const r of rs) out.push(r.probs[k]);
  }
  return out;
}

/** Pixel indices from the most to the least relevant (ties by index, so the order is stable). */
export function rankPixels(map01: Float32Array): Uint32Array {
  return Uint32Array.from(Array.from(map01.keys()).sort((i, j) => map01[j] - map01[i] || i - j));
}

/** Each channel of a [1, …] tensor blurred with a separable Gaussian (σ, radius ⌈… ⌉), edges clamped. */
export function gaussianBlur(x: Float32Tensor, layout: 'NCHW' | 'NHWC', sigma: number, radius: number): Float32Tensor {
  const { ch, h, w } = planeDims(x, layout);
  const kern: number[] = [];
  for (let d = -radius; d <= radius; d++) kern.push(Math.exp(-(d * d) / (2 * sigma * sigma)));
  const sum = kern.reduce((a, b) => a + b, 0);
  const kn = kern.map((v) => v / sum);
  const out = new Float32Array(x.data.length);
  const tmp = new Float64Array(h * w);
  for (let k = 0; k < ch; k++) {
    const v = (p: number) => x.data[at(layout, ch, h * w, p, k)];
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
      let s = 0;
      for (let d = -radius; d <= radius; d++) s += kn[d + radius] * v(r * w + Math.min(w - 1, Math.max(0, c + d)));
      tmp[r * w + c] = s;
    }
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
      let s = 0;
      for (let d = -radius; d <= radius; d++) s += kn[d + radius] * tmp[Math.min(h - 1, Math.max(0, r + d)) * w + c];
      out[at(layout, ch, h * w, r * w + c, k)] = s;
    }
  }
  return float32(out, x.dims);
}

/** Area under a curve sampled at increasing `xs` (trapezoid rule). */
export function trapezoid(xs: readonly number[], ys: readonly number[]): number {
  let a = 0;
  for (let i = 1; i < xs.length; i++) a += ((ys[i] + ys[i - 1]) / 2) * (xs[i] - xs[i - 1]);
  return a;
}
