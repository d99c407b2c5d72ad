/** Turns a decoded image into a model input tensor the way the training pipeline did, and back. */

import { LookCloserError } from '../errors';
import { float32, type Float32Tensor } from '../tensor';
import type { RgbaImage } from './image';
import { channelNorm, type Preprocessing } from './presets';
import { MAX_IMAGE_PIXELS } from './image-size';
import { resizeBilinear, resizeRgbaPil } from './resize';

/** The image input a model expects. */
export interface ModelInputSpec {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly layout: 'NCHW' | 'NHWC';
}

/** A rectangle in pixels of the original image; coordinates may be fractional. */
export interface CropBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** What preprocessing produced: the input tensor, where it came from, and what the model sees. */
export interface PreprocessedImage {
  /** Dims [1, C, H, W] for NCHW or [1, H, W, C] for NHWC. */
  readonly tensor: Float32Tensor;
  /** The region of the original image the tensor shows, in original pixels. */
  readonly crop: CropBox;
  /** The resized and cropped image at model resolution, alpha composited on white (gray models see gray). */
  readonly view: RgbaImage;
}

export { MAX_IMAGE_PIXELS };

/** ITU-R 601 luma weights, as Pillow's convert('L') uses them. */
export const LUMA_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

/** Pillow's rgb2l fixed-point luma of one pixel (ImagingConvert's L24 macro). */
export function luma8(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/** Throws a 'bad-image' error unless the image is a well-formed RGBA image of a usable size. */
export function checkImage(img: RgbaImage): void {
  const { width: w, height: h } = img;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 0 || h < 0) {
    throw new LookCloserError('bad-image', `Image size ${w}×${h} is not a size in pixels.`);
  }
  if (w < 2 || h < 2) {
    throw new LookCloserError('bad-image', `Image is ${w}×${h} pixels; Look Closer needs at least 2×2 pixels.`);
  }
  if (w * h > MAX_IMAGE_PIXELS) {
    throw new LookCloserError(
      'bad-image',
      `Image is ${w}×${h} pixels (${((w * h) / 1e6).toFixed(1)} megapixels); Look Closer accepts at most ${MAX_IMAGE_PIXELS / 1e6} megapixels.`,
    );
  }
  if (img.data.length !== w * h * 4) {
    throw new LookCloserError('bad-image', `Image data is malformed: ${img.data.length} bytes for ${w}×${h} RGBA pixels.`);
  }
}

function checkSpec(spec: ModelInputSpec): void {
  const ok =
    Number.isInteger(spec.width) &&
    Number.isInteger(spec.height) &&
    spec.width >= 1 &&
    spec.height >= 1 &&
    (spec.channels === 1 || spec.channels === 3) &&
    (spec.layout === 'NCHW' || spec.layout === 'NHWC');
  if (!ok) {
    throw new LookCloserError(
      'bad-argument',
      `Model input spec ${spec.width}×${spec.height}, ${spec.channels} channels, ${spec.layout} is not an image input Look Closer can fill.`,
    );
  }
}

/** Composites straight alpha on white (v·a + 255·(1−a)) and optionally converts to Pillow's 8-bit luma. */
function flatten(img: RgbaImage, gray: boolean): RgbaImage {
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 4) {
    const a = src[i + 3];
    let r = src[i];
    let g = src[i + 1];
    let b = src[i + 2];
    if (a !== 255) {
      const white = 255 * (255 - a);
      r = Math.round((r * a + white) / 255);
      g = Math.round((g * a + white) / 255);
      b = Math.round((b * a + white) / 255);
    }
    if (gray) r = g = b = luma8(r, g, b);
    out[i] = r;
    out[i + 1] = g;
    out[i + 2] = b;
    out[i + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Python's round(): halves go to the even neighbour, as torchvision's CenterCrop rounds. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Offset of a center crop along one axis, padding (negative offset) like torchvision when the crop is larger. */
function centerOffset(size: number, crop: number): number {
  return size < crop ? -Math.floor((crop - size) / 2) : roundHalfEven((size - crop) / 2);
}

/** Output size of torchvision's Resize(int): shorter side to `shorter`, longer side truncated. */
export function resizeShorterSize(w: number, h: number, shorter: number): { width: number; height: number } {
  if (w <= h) return { width: shorter, height: Math.trunc((shorter * h) / w) };
  return { width: Math.trunc((shorter * w) / h), height: shorter };
}

/** Crops a w×h window at (x, y), filling outside pixels with opaque black as torchvision's padding does. */
function cropRgba(img: RgbaImage, x0: number, y0: number, w: number, h: number): RgbaImage {
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    const sy = y + y0;
    for (let x = 0; x < w; x++) {
      const sx = x + x0;
      const o = (y * w + x) * 4;
      out[o + 3] = 255;
      if (sy < 0 || sy >= img.height || sx < 0 || sx >= img.width) continue;
      const i = (sy * img.width + sx) * 4;
      out[o] = img.data[i];
      out[o + 1] = img.data[i + 1];
      out[o + 2] = img.data[i + 2];
    }
  }
  return { width: w, height: h, data: out };
}

/** Mean and std per tensor channel; a 1-channel model with 3-value statistics gets their luma-weighted blend. */
function statsFor(p: Preprocessing, channels: 1 | 3): { mean: number[]; std: number[] } {
  if (channels === 1) {
    const w = p.channels === 'bgr' ? [...LUMA_WEIGHTS].reverse() : LUMA_WEIGHTS;
    const blend = (v: readonly number[]): number => (v.length === 3 ? v[0] * w[0] + v[1] * w[1] + v[2] * w[2] : v[0]);
    return { mean: [blend(p.mean)], std: [blend(p.std)] };
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    const n = channelNorm(p, c);
    mean.push(n.mean);
    std.push(n.std);
  }
  return { mean, std };
}

/** For each tensor channel, the RGBA byte (0 = R, 1 = G, 2 = B) it reads. */
function sourceBytes(p: Preprocessing, channels: 1 | 3): number[] {
  if (channels === 1) return [0];
  return p.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
}

function tensorDims(spec: ModelInputSpec): number[] {
  const { width: w, height: h, channels: c } = spec;
  return spec.layout === 'NCHW' ? [1, c, h, w] : [1, h, w, c];
}

/** Resizes with the preset's filter: Pillow's antialiased bilinear, or plain half-pixel bilinear rounded to 8 bits. */
function resample(img: RgbaImage, w: number, h: number, p: Preprocessing): RgbaImage {
  if (p.interpolation !== 'bilinear') return resizeRgbaPil(img, w, h);
  const f = resizeBilinear(Float32Array.from(img.data), img.width, img.height, w, h, 4);
  return { width: w, height: h, data: Uint8Array.from(f, (v) => Math.min(255, Math.max(0, Math.round(v)))) };
}

/** Preprocesses an image for a model: composite on white, resize (squash or torchvision center crop), channel order, scale, mean/std, layout. */
export function preprocessImage(img: RgbaImage, p: Preprocessing, spec: ModelInputSpec): PreprocessedImage {
  checkImage(img);
  checkSpec(spec);
  const W = spec.width;
  const H = spec.height;
  const flat = flatten(img, spec.channels === 1 || p.channels === 'gray');
  let view: RgbaImage;
  let crop: CropBox;
  if (p.resize === 'squash') {
    view = resample(flat, W, H, p);
    crop = { x: 0, y: 0, width: img.width, height: img.height };
  } else {
    const shorter = p.resizeShorter ?? Math.round((Math.min(W, H) * 256) / 224);
    const size = resizeShorterSize(img.width, img.height, shorter);
    const resized = resample(flat, size.width, size.height, p);
    const left = centerOffset(size.width, W);
    const top = centerOffset(size.height, H);
    view = cropRgba(resized, left, top, W, H);
    const fx = img.width / size.width;
    const fy = img.height / size.height;
    crop = { x: left * fx, y: top * fy, width: W * fx, height: H * fy };
  }
  const C = spec.channels;
  const { mean, std } = statsFor(p, C);
  const src = sourceBytes(p, C);
  const out = new Float32Array(W * H * C);
  const plane = W * H;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < C; c++) {
      const v = (view.data[i * 4 + src[c]] * p.scale - mean[c]) / std[c];
      out[spec.layout === 'NCHW' ? c * plane + i : i * C + c] = v;
    }
  }
  return { tensor: float32(out, tensorDims(spec)), crop, view };
}

/** Undoes a preset's normalisation to show an input tensor (e.g. from a .npy file) as an image, clamped to 0–255. */
export function tensorToView(tensor: Float32Tensor, p: Preprocessing, spec: ModelInputSpec): RgbaImage {
  checkSpec(spec);
  const want = tensorDims(spec);
  const dims = tensor.dims.length === 3 ? [1, ...tensor.dims] : tensor.dims;
  if (dims.length !== 4 || dims.some((d, i) => d !== want[i])) {
    throw new LookCloserError(
      'bad-input',
      `Input tensor has dims [${tensor.dims.join(', ')}]; the model expects [${want.join(', ')}] (${spec.layout}).`,
    );
  }
  const { width: W, height: H, channels: C } = spec;
  const { mean, std } = statsFor(p, C);
  const dst = sourceBytes(p, C);
  const plane = W * H;
  const out = new Uint8Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < C; c++) {
      const x = tensor.data[spec.layout === 'NCHW' ? c * plane + i : i * C + c];
      const v = Math.min(255, Math.max(0, Math.round((x * std[c] + mean[c]) / p.scale)));
      if (C === 1) out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = Number.isNaN(v) ? 0 : v;
      else out[i * 4 + dst[c]] = Number.isNaN(v) ? 0 : v;
    }
    out[i * 4 + 3] = 255;
  }
  return { width: W, height: H, data: out };
}

/** The region the model saw, alpha composited on white, at most `maxSide` pixels on its longer side: the picture overlays are drawn on. */
export function cropAndFit(img: RgbaImage, crop: CropBox, maxSide: number): RgbaImage {
  const x0 = Math.max(0, Math.round(crop.x));
  const y0 = Math.max(0, Math.round(crop.y));
  const w = Math.max(1, Math.min(img.width - x0, Math.round(crop.width)));
  const h = Math.max(1, Math.min(img.height - y0, Math.round(crop.height)));
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = ((y0 + y) * img.width + (x0 + x)) * 4;
      const d = (y * w + x) * 4;
      const a = img.data[s + 3] / 255;
      for (let c = 0; c < 3; c++) data[d + c] = Math.round(img.data[s + c] * a + 255 * (1 - a));
      data[d + 3] = 255;
    }
  }
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const out = { width: w, height: h, data };
  return scale < 1 ? resizeRgbaPil(out, Math.max(2, Math.round(w * scale)), Math.max(2, Math.round(h * scale))) : out;
}
