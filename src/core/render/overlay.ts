/** Turning maps and gradients into pictures: normalisation, colour overlays, gradient images and boxes. */

import { LookCloserError } from '../errors';
import type { RgbaImage } from '../preprocess/image';
import { resizeBilinear } from '../preprocess/resize';
import { applyColormap } from './colormap';

/** An axis-aligned rectangle in pixels; edges may be fractional and are rounded when drawn. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** How a heatmap is laid over an image. */
export interface OverlayOptions {
  readonly colormap: string;
  /** Weight of the heat colour in the blend, 0..1 (default 0.5). */
  readonly alpha?: number;
}

/** Scales a map linearly to 0..1 by its minimum and maximum; a constant map becomes all zeros. */
export function normalizeMinMax(map: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of map) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(map.length);
  const range = hi - lo;
  if (!(range > 0) || !Number.isFinite(range)) return out;
  for (let i = 0; i < map.length; i++) out[i] = (map[i] - lo) / range;
  return out;
}

/** Upsamples a 0..1 map to the base image (bilinear, half-pixel centres), colours it and blends: (1 − alpha)·base + alpha·colour. */
export function overlayHeatmap(base: RgbaImage, map01: Float32Array, mapW: number, mapH: number, opts: OverlayOptions): RgbaImage {
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new LookCloserError('bad-argument', `Overlay alpha must be between 0 and 1, got ${alpha}.`);
  }
  if (map01.length !== mapW * mapH || mapW < 1 || mapH < 1) {
    throw new LookCloserError('bad-argument', `Heatmap has ${map01.length} values, which is not ${mapW}×${mapH}.`);
  }
  const { width: w, height: h } = base;
  const up = resizeBilinear(map01, mapW, mapH, w, h, 1);
  const color = applyColormap(up, opts.colormap);
  const out = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const a = base.data[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) {
      const b = base.data[i * 4 + c] * a + 255 * (1 - a);
      out[i * 4 + c] = Math.round((1 - alpha) * b + alpha * color[i * 3 + c]);
    }
    out[i * 4 + 3] = 255;
  }
  return { width: w, height: h, data: out };
}

/**
 * Shows an input gradient as pytorch-grad-cam's deprocess_image does: subtract the mean, divide by
 * (std + 1e-5), times 0.1 plus 0.5, clip to 0..1, times 255 truncated; mean and std run over the whole tensor.
 * `order` names the gradient's channel order so BGR models display as RGB; one channel gives a gray image.
 */
export function gradientToImage(
  grad: Float32Array,
  c: number,
  h: number,
  w: number,
  order: 'rgb' | 'bgr' = 'rgb',
  layout: 'CHW' | 'HWC' = 'CHW',
): RgbaImage {
  if ((c !== 1 && c !== 3) || grad.length !== c * h * w) {
    throw new LookCloserError('bad-argument', `Gradient has ${grad.length} values, which is not ${c}×${h}×${w} with 1 or 3 channels.`);
  }
  let sum = 0;
  for (const v of grad) sum += v;
  const mean = sum / grad.length;
  let sq = 0;
  for (const v of grad) sq += (v - mean) * (v - mean);
  const std = Math.sqrt(sq / grad.length);
  const toByte = (v: number): number => Math.floor(Math.min(1, Math.max(0, ((v - mean) / (std + 1e-5)) * 0.1 + 0.5)) * 255);
  const plane = h * w;
  const out = new Uint8Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      const ch = c === 1 ? 0 : order === 'bgr' ? 2 - k : k;
      out[i * 4 + k] = toByte(grad[layout === 'CHW' ? ch * plane + i : i * c + ch]);
    }
    out[i * 4 + 3] = 255;
  }
  return { width: w, height: h, data: out };
}

/** Returns a copy of the image with a box outline of the given RGB(A) colour drawn inside the box's edges. */
export function drawBox(img: RgbaImage, box: Box, color: readonly number[], thickness = 2): RgbaImage {
  const { width: w, height: h } = img;
  const out = new Uint8Array(img.data);
  const x0 = Math.max(0, Math.round(box.x));
  const y0 = Math.max(0, Math.round(box.y));
  const x1 = Math.min(w, Math.round(box.x + box.width));
  const y1 = Math.min(h, Math.round(box.y + box.height));
  const t = Math.max(1, Math.round(thickness));
  const [r, g, b] = color;
  const a = color[3] ?? 255;
  for (let y = y0; y < y1; y++) {
    const edgeRow = y < Math.round(box.y) + t || y >= Math.round(box.y + box.height) - t;
    for (let x = x0; x < x1; x++) {
      const edgeCol = x < Math.round(box.x) + t || x >= Math.round(box.x + box.width) - t;
      if (!edgeRow && !edgeCol) continue;
      const i = (y * w + x) * 4;
      out[i] = r;
      out[i + 1] = g;
      out[i + 2] = b;
      out[i + 3] = a;
    }
  }
  return { width: w, height: h, data: out };
}
