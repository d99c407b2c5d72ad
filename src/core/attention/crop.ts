/**
 * Crops for attention zooms: a region of the original image (or, without one, of the input tensor) resampled
 * to the model's input size. Upsampling is plain bilinear with half-pixel centres (RA-CNN eq. 6); when a region
 * of a large original is shrunk, the triangle filter widens with the scale (Pillow's antialiased bilinear).
 */
import { LookCloserError } from '../errors';
import type { RgbaImage } from '../preprocess/image';
import { ModelInputSpec, preprocessImage, tensorToView } from '../preprocess/preprocess';
import type { Preprocessing } from '../preprocess/presets';
import { triangle } from '../preprocess/resize';
import type { Box } from '../render/overlay';
import { Float32Tensor, float32 } from '../tensor';

/** Where an input tensor came from: the decoded image, the region of it the tensor shows, and the preprocessing that made it. */
export interface InputSource {
  /** The decoded original image (any size, EXIF-oriented); absent for tensors given as they are (.npy). */
  readonly image?: RgbaImage;
  /** The region of `image` the tensor shows, in its pixels (`PreprocessedImage.crop`); the whole image when absent. */
  readonly region?: Box;
  /** How the tensor was made from pixels; needed to turn crops into tensors and tensors into pictures. */
  readonly preprocessing: Preprocessing;
}

/** Per-axis sampling taps: for output index o, source indices and weights. */
interface Taps {
  readonly index: Int32Array;
  readonly weight: Float32Array;
  readonly offset: Int32Array;
}


/** Taps mapping the source interval [start, start + size) of an axis of length `inSize` onto `outSize` samples (clamped to the edge). */
function taps(start: number, size: number, inSize: number, outSize: number): Taps {
  const scale = size / outSize;
  const fs = Math.max(1, scale);
  const idx: number[] = [];
  const wts: number[] = [];
  const offset = new Int32Array(outSize + 1);
  for (let o = 0; o < outSize; o++) {
    const c = start + (o + 0.5) * scale;
    const lo = Math.floor(c - fs - 0.5);
    const hi = Math.ceil(c + fs - 0.5);
    let sum = 0;
    const first = idx.length;
    for (let i = lo; i <= hi; i++) {
      const w = triangle((i + 0.5 - c) / fs);
      if (w <= 0) continue;
      idx.push(Math.min(inSize - 1, Math.max(0, i)));
      wts.push(w);
      sum += w;
    }
    for (let k = first; k < wts.length; k++) wts[k] /= sum;
    offset[o + 1] = idx.length;
  }
  return { index: Int32Array.from(idx), weight: Float32Array.from(wts), offset };
}

/**
 * Resamples a region of a planar or interleaved image: element (x, y, c) of the source is at
 * c·channelStride + (y·w + x)·pixelStride, and the output uses the same strides for outW × outH.
 */
function resampleRegion(
  src: ArrayLike<number>, w: number, h: number, channels: number, layout: 'planar' | 'interleaved',
  region: Box, outW: number, outH: number,
): Float32Array {
  if (!(region.width > 0 && region.height > 0) || ![region.x, region.y].every(Number.isFinite)) {
    throw new LookCloserError('bad-argument', `Crop region ${region.width}×${region.height} at (${region.x}, ${region.y}) is empty.`);
  }
  const tx = taps(region.x, region.width, w, outW);
  const ty = taps(region.y, region.height, h, outH);
  const [ps, cs] = layout === 'planar' ? [1, w * h] : [channels, 1];
  const [ops, ocs] = layout === 'planar' ? [1, outW * outH] : [channels, 1];
  // Horizontal pass into rows of the source, then the vertical pass.
  const mid = new Float32Array(h * outW * channels);
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < outW; o++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let k = tx.offset[o]; k < tx.offset[o + 1]; k++) s += tx.weight[k] * src[c * cs + (y * w + tx.index[k]) * ps];
        mid[(y * outW + o) * channels + c] = s;
      }
    }
  }
  const out = new Float32Array(outW * outH * channels);
  for (let o = 0; o < outH; o++) {
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let k = ty.offset[o]; k < ty.offset[o + 1]; k++) s += ty.weight[k] * mid[(ty.index[k] * outW + x) * channels + c];
        out[c * ocs + (o * outW + x) * ops] = s;
      }
    }
  }
  return out;
}

/** A region of an RGBA image resampled to outW × outH (bilinear; antialiased when shrinking). */
export function cropImage(img: RgbaImage, region: Box, outW: number, outH: number): RgbaImage {
  const f = resampleRegion(img.data, img.width, img.height, 4, 'interleaved', region, outW, outH);
  return { width: outW, height: outH, data: Uint8Array.from(f, (v) => Math.min(255, Math.max(0, Math.round(v)))) };
}

/** A region of a [1,C,H,W] or [1,H,W,C] tensor, in its pixels, resampled to outW × outH in the same layout. */
export function cropTensor(t: Float32Tensor, layout: 'NCHW' | 'NHWC', region: Box, outW: number, outH: number): Float32Tensor {
  const [, a, b, c] = t.dims;
  const [ch, h, w] = layout === 'NCHW' ? [a, b, c] : [c, a, b];
  const data = resampleRegion(t.data, w, h, ch, layout === 'NCHW' ? 'planar' : 'interleaved', region, outW, outH);
  return float32(data, layout === 'NCHW' ? [1, ch, outH, outW] : [1, outH, outW, ch]);
}

/** Maps a rectangle in a child's pixels (child of `childW × childH` showing `parent`) to the parent's coordinates. */
export function composeRegion(parent: Box, child: Box, childW: number, childH: number): Box {
  const fx = parent.width / childW;
  const fy = parent.height / childH;
  return { x: parent.x + child.x * fx, y: parent.y + child.y * fy, width: child.width * fx, height: child.height * fy };
}

/** One zoom level's input: the tensor, what it shows (in the original image's pixels, else the first tensor's) and its picture. */
export interface ZoomedInput {
  readonly tensor: Float32Tensor;
  /** The region shown, in pixels of the original image, or of the first input tensor when there is no image. */
  readonly region: Box;
  /** `true` when cut from the original image, `false` when resampled from the input tensor. */
  readonly fromImage: boolean;
  /** The picture at model resolution (absent when neither an image nor the preprocessing is known). */
  readonly view?: RgbaImage;
}

/** The first zoom level: the input itself and the region it shows. */
export function baseInput(tensor: Float32Tensor, spec: ModelInputSpec, source?: InputSource): ZoomedInput {
  if (source?.image) {
    const region = source.region ?? { x: 0, y: 0, width: source.image.width, height: source.image.height };
    return { tensor, region, fromImage: true, view: tensorToView(tensor, source.preprocessing, spec) };
  }
  const view = source ? tensorToView(tensor, source.preprocessing, spec) : undefined;
  return { tensor, region: { x: 0, y: 0, width: spec.width, height: spec.height }, fromImage: false, view };
}

/**
 * Zooms into `rect` (pixels of `parent`'s model-resolution input): from the original image when there is one
 * (better resolution), else bilinearly from the first input tensor `first`; either way one resampling step.
 */
export function zoomInput(first: Float32Tensor, parent: ZoomedInput, rect: Box, spec: ModelInputSpec, source?: InputSource): ZoomedInput {
  const region = composeRegion(parent.region, rect, spec.width, spec.height);
  if (source?.image && parent.fromImage) {
    const view = cropImage(source.image, region, spec.width, spec.height);
    const tensor = preprocessImage(view, { ...source.preprocessing, resize: 'squash' }, spec).tensor;
    return { tensor, region, fromImage: true, view };
  }
  const tensor = cropTensor(first, spec.layout, region, spec.width, spec.height);
  return { tensor, region, fromImage: false, view: source ? tensorToView(tensor, source.preprocessing, spec) : undefined };
}
