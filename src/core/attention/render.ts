/** Pictures of attention results: the zoom strip with each box on its parent, and bar charts of channel gates. */
import { LookCloserError } from '../errors';
import type { RgbaImage } from '../preprocess/image';
import { drawBox } from '../render/overlay';
import type { AttentionCrops } from './attention-crops';
import { boxRect } from './box';

/** Options of the zoom strip. */
export interface StripOptions {
  /** Box outline colour, RGB(A) (default red). */
  readonly color?: readonly number[];
  /** Pixels between panels (default 8). */
  readonly gap?: number;
  /** Panels smaller than this are enlarged by an integer factor, nearest neighbour (default 224). */
  readonly minSide?: number;
}

/** Enlarges an image by an integer factor (nearest neighbour). */
export function enlarge(img: RgbaImage, factor: number): RgbaImage {
  if (factor <= 1) return img;
  const w = img.width * factor;
  const h = img.height * factor;
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * 4;
      out.set(img.data.subarray(s, s + 4), (y * w + x) * 4);
    }
  }
  return { width: w, height: h, data: out };
}

/** Places images left to right on a white background, `gap` pixels apart, tops aligned. */
export function sideBySide(images: readonly RgbaImage[], gap = 8): RgbaImage {
  const w = images.reduce((a, im) => a + im.width, 0) + gap * Math.max(0, images.length - 1);
  const h = Math.max(...images.map((im) => im.height));
  const out = new Uint8Array(w * h * 4).fill(255);
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < im.height; y++) out.set(im.data.subarray(y * im.width * 4, (y + 1) * im.width * 4), (y * w + x0) * 4);
    x0 += im.width + gap;
  }
  return { width: w, height: h, data: out };
}

/** The scales side by side, each with the box of the next scale drawn on it (RA-CNN fig. 1). */
export function attentionStrip(crops: AttentionCrops, opts: StripOptions = {}): RgbaImage {
  const color = opts.color ?? [230, 30, 30, 255];
  const panels = crops.scales.map((s) => {
    if (!s.input.view) throw new LookCloserError('bad-argument', 'Attention crops have no pictures: pass the input source (image or preprocessing) to draw them.');
    const f = Math.max(1, Math.ceil((opts.minSide ?? 224) / Math.max(s.input.view.width, s.input.view.height)));
    let img = enlarge(s.input.view, f);
    if (s.box) {
      const r = boxRect(s.box);
      img = drawBox(img, { x: r.x * f, y: r.y * f, width: r.width * f, height: r.height * f }, color, Math.max(2, Math.round(img.width / 112)));
    }
    return img;
  });
  return sideBySide(panels, opts.gap ?? 8);
}

/** A bar chart of values (one bar per entry, e.g. a channel gate's C weights), bars scaled to [min(0, lo), max(0, hi)]. */
export function barChart(values: ArrayLike<number>, opts: { width?: number; height?: number; color?: readonly number[] } = {}): RgbaImage {
  const n = values.length;
  if (n === 0) throw new LookCloserError('bad-argument', 'A bar chart needs at least one value.');
  const barW = Math.max(1, Math.floor((opts.width ?? Math.max(256, n * 4)) / n));
  const w = barW * n + 2;
  const h = opts.height ?? 128;
  const [r, g, b] = opts.color ?? [40, 110, 200];
  let lo = 0, hi = 0;
  for (let i = 0; i < n; i++) [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
  if (hi === lo) hi = lo + 1;
  const out = new Uint8Array(w * h * 4).fill(255);
  const rowOf = (v: number) => Math.round((h - 1) * (1 - (v - lo) / (hi - lo)));
  const zero = rowOf(0);
  for (let i = 0; i < n; i++) {
    const top = Math.min(zero, rowOf(values[i]));
    const bottom = Math.max(zero, rowOf(values[i]));
    for (let y = top; y <= bottom; y++) {
      for (let x = 1 + i * barW; x < 1 + (i + 1) * barW - (barW > 2 ? 1 : 0); x++) out.set([r, g, b, 255], (y * w + x) * 4);
    }
  }
  for (let x = 0; x < w; x++) out.set([0, 0, 0, 255], (zero * w + x) * 4);
  return { width: w, height: h, data: out };
}
