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

/**
 * The softmax probability of class `k` on each input, run `METRIC_CHUNK` at a time through forwardBatch, with up to
 * `explainer.parallelRuns()` chunks in flight (one after another unless the forward session is replicated). The
 * chunks are the same either way, so the numbers are too; they come back in the inputs' order.
 */
export async function classProbs(explainer: Explainer, xs: readonly Float32Tensor[], k: number): Promise<number[]> {
  const chunks: Float32Tensor[][] = [];
  for (let i = 0; i < xs.length; i += METRIC_CHUNK) chunks.push(xs.slice(i, i + METRIC_CHUNK));
  const lanes = Math.min(chunks.length, await explainer.parallelRuns());
  const got: number[][] = new Array(chunks.length);
  let next = 0;
  const lane = async () => {
    while (next < chunks.length) {
      const i = next++;
      got[i] = (await explainer.forwardBatch(chunks[i])).map((r) => r.probs[k]);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return got.flat();
}

/** 32-bit FNV-1a over integer words (a quick key for arrays that are then compared value by value). */
export function fnv1a(words: ArrayLike<number>): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

/** Pixel indices from the most to the least relevant (ties by index, so the order is stable). */
export function rankPixels(map01: Float32Array): Uint32Array {
  const n = map01.length;
  // Fast path: one numeric sort of keys that pack the value's float32 bits (monotonic for values ≥ 0) above the
  // index, exact in a float64 below 2⁵², in the same order as the comparison below.
  const SHIFT = 2 ** 20;
  if (n <= SHIFT) {
    const bits = new Uint32Array(new Float32Array(1).buffer);
    const f = new Float32Array(bits.buffer);
    const keys = new Float64Array(n);
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const v = map01[i];
      if (!(v >= 0)) ok = false;
      f[0] = v === 0 ? 0 : v;
      keys[i] = (0xffffffff - bits[0]) * SHIFT + i;
    }
    if (ok) {
      keys.sort();
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = keys[i] % SHIFT;
      return out;
    }
  }
  return Uint32Array.from(Array.from(map01.keys()).sort((i, j) => map01[j] - map01[i] || i - j));
}

/** Each channel of a [1, …] tensor blurred with a separable Gaussian (σ, radius ⌈… ⌉), edges clamped. */
export function gaussianBlur(x: Float32Tensor, layout: 'NCHW' | 'NHWC', sigma: number, radius: number): Float32Tensor {
  const { ch, h, w } = planeDims(x, layout);
  const kern: number[] = [];
  for (let d = -radius; d <= radius; d++) kern.push(Math.exp(-(d * d) / (2 * sigma * sigma)));
  const sum = kern.reduce((a, b) => a + b, 0);
  const kn = Float64Array.from(kern, (v) => v / sum);
  const out = new Float32Array(x.data.length);
  const tmp = new Float64Array(h * w);
  const src = x.data;
  // Element of pixel p in channel k: off + p·step (NCHW: planes; NHWC: interleaved).
  const step = layout === 'NCHW' ? 1 : ch;
  for (let k = 0; k < ch; k++) {
    const off = layout === 'NCHW' ? k * h * w : k;
    for (let r = 0; r < h; r++) {
      const rowAt = off + r * w * step;
      for (let c = 0; c < w; c++) {
        let s = 0;
        for (let d = -radius; d <= radius; d++) {
          const cc = c + d < 0 ? 0 : c + d >= w ? w - 1 : c + d;
          s += kn[d + radius] * src[rowAt + cc * step];
        }
        tmp[r * w + c] = s;
      }
    }
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        let s = 0;
        for (let d = -radius; d <= radius; d++) {
          const rr = r + d < 0 ? 0 : r + d >= h ? h - 1 : r + d;
          s += kn[d + radius] * tmp[rr * w + c];
        }
        out[off + (r * w + c) * step] = s;
      }
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
