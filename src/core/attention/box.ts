/**
 * The square attention box of RA-CNN — Fu, Zheng, Mei, "Look Closer to See Better: Recurrent Attention
 * Convolutional Neural Network for Fine-grained Image Recognition", CVPR 2017, §3.2, eq. (2)–(4):
 * [tx, ty, tl] is the square's centre and half side; the crop is x ∈ [tx − tl, tx + tl], y ∈ [ty − tl, ty + tl],
 * zoomed back to the input size by bilinear interpolation (eq. 6). RA-CNN learns the box with an attention
 * proposal network; here it is derived from an attention map, and the paper's constraint tl ≥ L/3 (L the
 * previous scale's side) keeps each crop from collapsing.
 */
import { LookCloserError } from '../errors';
import type { Box } from '../render/overlay';

/** RA-CNN's box: centre (tx, ty) and half side tl, in pixels of the image it was proposed on (continuous coordinates: pixel i covers [i, i + 1)). */
export interface AttentionBox {
  readonly tx: number;
  readonly ty: number;
  readonly tl: number;
}

/** How a box is derived from a map. */
export interface BoxOptions {
  /** A pixel is strongly attended when its min-max normalised value is ≥ this (default 0.5). */
  readonly threshold?: number;
  /** Lower bound of tl as a fraction of the parent's side (default 1/3, RA-CNN's constraint). */
  readonly minHalfSide?: number;
}

/** The rectangle a box covers. */
export function boxRect(b: AttentionBox): Box {
  return { x: b.tx - b.tl, y: b.ty - b.tl, width: 2 * b.tl, height: 2 * b.tl };
}

/**
 * Applies RA-CNN's constraints in an image of `width × height`: L/3 ≤ tl ≤ L/2 with L = min(width, height)
 * (by default), then shifts the centre so the square lies inside the image.
 */
export function constrainBox(b: AttentionBox, width: number, height: number, minHalfSide = 1 / 3): AttentionBox {
  if (![b.tx, b.ty, b.tl].every(Number.isFinite)) {
    throw new LookCloserError('bad-argument', `Attention box (tx ${b.tx}, ty ${b.ty}, tl ${b.tl}) has a value that is not a finite number.`);
  }
  const side = Math.min(width, height);
  const tl = Math.min(side / 2, Math.max(minHalfSide * side, b.tl));
  const tx = Math.min(width - tl, Math.max(tl, b.tx));
  const ty = Math.min(height - tl, Math.max(tl, b.ty));
  return { tx, ty, tl };
}

/** Labels 8-connected components of a mask; returns per-pixel labels (−1 outside) and the component count. */
function components(mask: Uint8Array, w: number, h: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(w * h).fill(-1);
  let count = 0;
  const stack: number[] = [];
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || labels[start] >= 0) continue;
    labels[start] = count;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      const px = p % w;
      const py = (p - px) / w;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const x = px + dx;
          const y = py + dy;
          if (x < 0 || y < 0 || x >= w || y >= h) continue;
          const q = y * w + x;
          if (mask[q] && labels[q] < 0) {
            labels[q] = count;
            stack.push(q);
          }
        }
      }
    }
    count++;
  }
  return { labels, count };
}

/**
 * Derives the box from a map at the image's resolution: the strongly attended region is the 8-connected
 * component of {m ≥ threshold} (m min-max normalised) that holds the most attention mass; (tx, ty) is that
 * region's centre of mass and tl the half side of the smallest square about it that covers the region.
 * The result is constrained as `constrainBox` does. A constant map gives the whole image's central square.
 */
export function boxFromMap(map01: Float32Array, width: number, height: number, opts: BoxOptions = {}): AttentionBox {
  const threshold = opts.threshold ?? 0.5;
  if (!(threshold > 0 && threshold <= 1)) throw new LookCloserError('bad-argument', `Attention threshold must be in (0, 1], got ${threshold}.`);
  if (map01.length !== width * height) throw new LookCloserError('bad-argument', `Attention map has ${map01.length} values, which is not ${width}×${height}.`);
  let lo = Infinity, hi = -Infinity;
  for (const v of map01) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const range = hi - lo;
  if (!(range > 0) || !Number.isFinite(range)) return constrainBox({ tx: width / 2, ty: height / 2, tl: Math.min(width, height) / 2 }, width, height, opts.minHalfSide);
  const m = new Float32Array(map01.length);
  const mask = new Uint8Array(map01.length);
  for (let i = 0; i < m.length; i++) {
    m[i] = (map01[i] - lo) / range;
    mask[i] = m[i] >= threshold ? 1 : 0;
  }
  const { labels, count } = components(mask, width, height);
  const mass = new Float64Array(count);
  for (let i = 0; i < m.length; i++) if (labels[i] >= 0) mass[labels[i]] += m[i];
  let best = 0;
  for (let k = 1; k < count; k++) if (mass[k] > mass[best]) best = k;
  let sx = 0, sy = 0;
  for (let i = 0; i < m.length; i++) {
    if (labels[i] !== best) continue;
    const x = i % width;
    sx += m[i] * (x + 0.5);
    sy += m[i] * ((i - x) / width + 0.5);
  }
  const tx = sx / mass[best];
  const ty = sy / mass[best];
  let tl = 0;
  for (let i = 0; i < m.length; i++) {
    if (labels[i] !== best) continue;
    const x = i % width;
    const y = (i - x) / width;
    // The square about (tx, ty) covers pixel [x, x+1) × [y, y+1) entirely.
    tl = Math.max(tl, tx - x, x + 1 - tx, ty - y, y + 1 - ty);
  }
  return constrainBox({ tx, ty, tl }, width, height, opts.minHalfSide);
}
