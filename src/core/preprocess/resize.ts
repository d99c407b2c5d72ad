/**
 * Image resampling: Pillow's BILINEAR resize (what torchvision's Resize does on a PIL image) and the
 * plain half-pixel bilinear interpolation that Grad-CAM implementations use to upsample maps.
 */

import type { RgbaImage } from './image';

/** Pillow's fixed-point precision for 8-bit resampling (libImaging/Resample.c, PRECISION_BITS). */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/** Per-output-pixel source window and normalised weights along one axis. */
interface AxisCoeffs {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly ksize: number;
  readonly weights: Float64Array;
}

/** The bilinear (triangle) filter kernel. */
export function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/**
 * Triangle-filter coefficients exactly as Pillow's precompute_coeffs computes them: when downscaling the
 * support grows by the scale factor (antialiasing), when upscaling it is plain half-pixel bilinear.
 */
function pilCoeffs(inSize: number, outSize: number): AxisCoeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      weights[xx * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[xx * ksize + x] /= ww;
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, ksize, weights };
}

/** Pillow's coefficients rounded to fixed point, as normalize_coeffs_8bpc does. */
function fixedPoint(c: AxisCoeffs): AxisCoeffs {
  const weights = new Float64Array(c.weights.length);
  for (let i = 0; i < weights.length; i++) {
    const w = c.weights[i];
    weights[i] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
  }
  return { ...c, weights };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

function passH8(src: Uint8Array | Uint8ClampedArray, w: number, h: number, ch: number, outW: number): Uint8Array {
  const k = fixedPoint(pilCoeffs(w, outW));
  const out = new Uint8Array(outW * h * ch);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < outW; xx++) {
      const xmin = k.start[xx];
      const n = k.count[xx];
      const kb = xx * k.ksize;
      for (let c = 0; c < ch; c++) {
        let s = HALF;
        for (let x = 0; x < n; x++) s += src[(y * w + xmin + x) * ch + c] * k.weights[kb + x];
        out[(y * outW + xx) * ch + c] = clip8(s);
      }
    }
  }
  return out;
}

function passV8(src: Uint8Array | Uint8ClampedArray, w: number, h: number, ch: number, outH: number): Uint8Array {
  const k = fixedPoint(pilCoeffs(h, outH));
  const out = new Uint8Array(w * outH * ch);
  const row = w * ch;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = k.start[yy];
    const n = k.count[yy];
    const kb = yy * k.ksize;
    for (let i = 0; i < row; i++) {
      let s = HALF;
      for (let y = 0; y < n; y++) s += src[(ymin + y) * row + i] * k.weights[kb + y];
      out[yy * row + i] = clip8(s);
    }
  }
  return out;
}

/**
 * Resizes an 8-bit image with Pillow's BILINEAR filter bit for bit (horizontal pass, then vertical, each
 * rounded to 8 bits); channels are resampled independently, so alpha should be composited first.
 */
export function resizeRgbaPil(img: RgbaImage, outW: number, outH: number): RgbaImage {
  let data: Uint8Array | Uint8ClampedArray = img.data;
  if (outW !== img.width) data = passH8(data, img.width, img.height, 4, outW);
  if (outH !== img.height) data = passV8(data, outW, img.height, 4, outH);
  if (data === img.data) data = new Uint8Array(img.data);
  return { width: outW, height: outH, data };
}

/** Resizes interleaved float planes with Pillow's antialiased BILINEAR filter (as for a mode 'F' image). */
export function resizePil(src: Float32Array, w: number, h: number, outW: number, outH: number, channels = 1): Float32Array {
  let cur = src;
  let curW = w;
  if (outW !== w) {
    const k = pilCoeffs(w, outW);
    const out = new Float32Array(outW * h * channels);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const kb = xx * k.ksize;
        for (let c = 0; c < channels; c++) {
          let s = 0;
          for (let x = 0; x < k.count[xx]; x++) s += cur[(y * w + k.start[xx] + x) * channels + c] * k.weights[kb + x];
          out[(y * outW + xx) * channels + c] = s;
        }
      }
    }
    cur = out;
    curW = outW;
  }
  if (outH !== h) {
    const k = pilCoeffs(h, outH);
    const row = curW * channels;
    const out = new Float32Array(row * outH);
    for (let yy = 0; yy < outH; yy++) {
      const kb = yy * k.ksize;
      for (let i = 0; i < row; i++) {
        let s = 0;
        for (let y = 0; y < k.count[yy]; y++) s += cur[(k.start[yy] + y) * row + i] * k.weights[kb + y];
        out[yy * row + i] = s;
      }
    }
    cur = out;
  }
  return cur === src ? new Float32Array(src) : cur;
}

/** Half-pixel bilinear taps along one axis: for each output index, the two source indices and the weight of the second. */
export function bilinearTaps(inLen: number, outLen: number): { x0s: Int32Array; x1s: Int32Array; fxs: Float64Array } {
  const scale = inLen / outLen;
  const x0s = new Int32Array(outLen);
  const x1s = new Int32Array(outLen);
  const fxs = new Float64Array(outLen);
  for (let x = 0; x < outLen; x++) {
    const fx = Math.max((x + 0.5) * scale - 0.5, 0);
    const x0 = Math.min(Math.floor(fx), inLen - 1);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, inLen - 1);
    fxs[x] = fx - x0;
  }
  return { x0s, x1s, fxs };
}

/**
 * Resizes interleaved float planes by plain bilinear interpolation with half-pixel centres and no
 * antialiasing, like cv2.resize INTER_LINEAR and torch interpolate(align_corners=False).
 */
export function resizeBilinear(src: Float32Array, w: number, h: number, outW: number, outH: number, channels = 1): Float32Array {
  const out = new Float32Array(outW * outH * channels);
  const sy = h / outH;
  const { x0s, x1s, fxs } = bilinearTaps(w, outW);
  for (let y = 0; y < outH; y++) {
    const fy = Math.max((y + 0.5) * sy - 0.5, 0);
    const y0 = Math.min(Math.floor(fy), h - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const ly = fy - y0;
    for (let x = 0; x < outW; x++) {
      const lx = fxs[x];
      for (let c = 0; c < channels; c++) {
        const a = src[(y0 * w + x0s[x]) * channels + c];
        const b = src[(y0 * w + x1s[x]) * channels + c];
        const d = src[(y1 * w + x0s[x]) * channels + c];
        const e = src[(y1 * w + x1s[x]) * channels + c];
        const top = a + (b - a) * lx;
        const bottom = d + (e - d) * lx;
        out[(y * outW + x) * channels + c] = top + (bottom - top) * ly;
      }
    }
  }
  return out;
}
