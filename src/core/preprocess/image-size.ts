/**
 * Image size limits, checked from the file header before a pixel is decoded, and the decode budget.
 *
 * A 194-byte PNG can claim 1 × 100,000,000 pixels and a 633-byte JPEG 10000 × 10000: decoding either
 * first and checking afterwards costs minutes or gigabytes. Both decoders (sharp in Node, the browser in
 * the webviews) read the header's size first and call {@link checkImageSize}; images larger than
 * {@link DECODE_MAX_SIDE} are shrunk while decoding (JPEG and WebP shrink-on-load), see {@link decodeSize}.
 */
import { LookCloserError } from '../errors';

/** The largest image, in pixels, Look Closer accepts (a guard against decompression bombs). */
export const MAX_IMAGE_PIXELS = 100_000_000;

/** The smallest side, in pixels, of an image Look Closer accepts. */
export const MIN_IMAGE_SIDE = 2;

/** The most elongated image Look Closer accepts: longer side at most this many times the shorter one. */
export const MAX_ASPECT_RATIO = 1000;

/**
 * The longest side, in pixels, an image is decoded at. Larger images are shrunk (aspect ratio kept) while
 * decoding so that a 100-megapixel photo stays within memory: its RGBA pixels at 4096 × 4096 take 64 MB.
 * Every preset resizes to a few hundred pixels, so the model sees almost the same input; only images above
 * this budget are affected, and their overlays are written at the shrunk size.
 */
export const DECODE_MAX_SIDE = 4096;

const mp = (w: number, h: number) => ((w * h) / 1e6).toFixed(1);

/**
 * Throws a 'bad-image' error naming the image, its size and the limit, unless `width`×`height` (as read
 * from the file header) is a size Look Closer decodes: both sides at least 2, at most 100 megapixels, and
 * an aspect ratio of at most 1:1000.
 */
export function checkImageSize(name: string, width: number, height: number): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 0 || height < 0) {
    throw new LookCloserError('bad-image', `Image '${name}' says it is ${width}×${height} pixels, which is not a size in pixels.`);
  }
  if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) {
    throw new LookCloserError('bad-image', `Image '${name}' is ${width}×${height} pixels; Look Closer needs at least ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} pixels.`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new LookCloserError('bad-image',
      `Image '${name}' is ${width}×${height} pixels (${mp(width, height)} megapixels), more than the limit of ${MAX_IMAGE_PIXELS / 1e6} megapixels.`);
  }
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (ratio > MAX_ASPECT_RATIO) {
    throw new LookCloserError('bad-image',
      `Image '${name}' is ${width}×${height} pixels, an aspect ratio of 1:${Math.round(ratio)}; Look Closer accepts at most 1:${MAX_ASPECT_RATIO}.`);
  }
}

/**
 * The size to decode a `width`×`height` image at: unchanged when its longer side is within
 * {@link DECODE_MAX_SIDE}, else scaled down to fit inside DECODE_MAX_SIDE × DECODE_MAX_SIDE.
 */
export function decodeSize(width: number, height: number): { width: number; height: number; shrunk: boolean } {
  const long = Math.max(width, height);
  if (long <= DECODE_MAX_SIDE) return { width, height, shrunk: false };
  const s = DECODE_MAX_SIDE / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)), shrunk: true };
}

/** What an image file's header says, read without decoding any pixel. */
export interface ImageHeader {
  readonly format: 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'tiff';
  /** Stored size (before EXIF orientation). */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation 1–8 when the file has one (5–8 swap width and height when applied). */
  readonly orientation?: number;
}

/** Bounds-checked big/little-endian reads that return undefined past the end. */
class Reader {
  constructor(readonly b: Uint8Array) {}
  u8(o: number): number | undefined {
    return o >= 0 && o < this.b.length ? this.b[o] : undefined;
  }
  u16(o: number, le: boolean): number | undefined {
    if (o < 0 || o + 2 > this.b.length) return undefined;
    return le ? this.b[o] | (this.b[o + 1] << 8) : (this.b[o] << 8) | this.b[o + 1];
  }
  u24le(o: number): number | undefined {
    if (o < 0 || o + 3 > this.b.length) return undefined;
    return this.b[o] | (this.b[o + 1] << 8) | (this.b[o + 2] << 16);
  }
  u32(o: number, le: boolean): number | undefined {
    if (o < 0 || o + 4 > this.b.length) return undefined;
    const [a, b, c, d] = le ? [this.b[o + 3], this.b[o + 2], this.b[o + 1], this.b[o]] : [this.b[o], this.b[o + 1], this.b[o + 2], this.b[o + 3]];
    return ((a << 24) >>> 0) + ((b << 16) | (c << 8) | d);
  }
  ascii(o: number, n: number): string {
    if (o < 0 || o + n > this.b.length) return '';
    return String.fromCharCode(...this.b.subarray(o, o + n));
  }
}

/** Reads the first IFD of a TIFF structure at `start`: width, height and orientation when present. */
function tiffIfd(r: Reader, start: number): { width?: number; height?: number; orientation?: number } | undefined {
  const order = r.ascii(start, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  if (r.u16(start + 2, le) !== 42) return undefined;
  const ifd = r.u32(start + 4, le);
  if (ifd === undefined) return undefined;
  const count = r.u16(start + ifd, le);
  if (count === undefined) return undefined;
  const out: { width?: number; height?: number; orientation?: number } = {};
  for (let i = 0; i < count; i++) {
    const e = start + ifd + 2 + i * 12;
    const tag = r.u16(e, le);
    const type = r.u16(e + 2, le);
    if (tag === undefined || type === undefined) break;
    const value = type === 3 ? r.u16(e + 8, le) : type === 4 ? r.u32(e + 8, le) : undefined;
    if (value === undefined) continue;
    if (tag === 256) out.width = value;
    else if (tag === 257) out.height = value;
    else if (tag === 274) out.orientation = value;
  }
  return out;
}

/** EXIF orientation from an "Exif\0\0"-prefixed (JPEG APP1) or bare (PNG eXIf, WebP EXIF) TIFF block. */
function exifOrientation(r: Reader, start: number): number | undefined {
  const at = r.ascii(start, 6) === 'Exif\0\0' ? start + 6 : start;
  const o = tiffIfd(r, at)?.orientation;
  return o !== undefined && o >= 1 && o <= 8 ? o : undefined;
}

function pngHeader(r: Reader): ImageHeader | undefined {
  if (r.ascii(12, 4) !== 'IHDR') return undefined;
  const width = r.u32(16, false);
  const height = r.u32(20, false);
  if (width === undefined || height === undefined) return undefined;
  let orientation: number | undefined;
  for (let o = 8; o + 8 <= r.b.length; ) {
    const len = r.u32(o, false)!;
    const type = r.ascii(o + 4, 4);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'eXIf') orientation = exifOrientation(r, o + 8);
    o += 12 + len;
  }
  return { format: 'png', width, height, orientation };
}

/** SOF markers (C0–CF except DHT C4, JPG C8 and DAC CC) carry the frame size. */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegHeader(r: Reader): ImageHeader | undefined {
  let orientation: number | undefined;
  let o = 2;
  while (o < r.b.length) {
    if (r.u8(o) !== 0xff) return undefined;
    while (r.u8(o) === 0xff) o++;
    const m = r.u8(o);
    if (m === undefined || m === 0xd9 || m === 0xda) return undefined;
    o++;
    if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) continue;
    const len = r.u16(o, false);
    if (len === undefined || len < 2) return undefined;
    if (m === 0xe1 && orientation === undefined) orientation = exifOrientation(r, o + 2);
    if (isSof(m)) {
      const height = r.u16(o + 3, false);
      const width = r.u16(o + 5, false);
      if (width === undefined || height === undefined) return undefined;
      return { format: 'jpeg', width, height, orientation };
    }
    o += len;
  }
  return undefined;
}

function webpHeader(r: Reader): ImageHeader | undefined {
  const chunk = r.ascii(12, 4);
  let width: number | undefined;
  let height: number | undefined;
  let orientation: number | undefined;
  if (chunk === 'VP8 ') {
    if (r.u8(23) !== 0x9d || r.u8(24) !== 0x01 || r.u8(25) !== 0x2a) return undefined;
    width = (r.u16(26, true) ?? NaN) & 0x3fff;
    height = (r.u16(28, true) ?? NaN) & 0x3fff;
  } else if (chunk === 'VP8L') {
    const bits = r.u32(21, true);
    if (r.u8(20) !== 0x2f || bits === undefined) return undefined;
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (chunk === 'VP8X') {
    const w = r.u24le(24);
    const h = r.u24le(27);
    if (w === undefined || h === undefined) return undefined;
    [width, height] = [w + 1, h + 1];
    for (let o = 12; o + 8 <= r.b.length; ) {
      const len = r.u32(o + 4, true)!;
      if (r.ascii(o, 4) === 'EXIF') {
        orientation = exifOrientation(r, o + 8);
        break;
      }
      o += 8 + len + (len & 1);
    }
  } else return undefined;
  if (!Number.isFinite(width) || !Number.isFinite(height)) return undefined;
  return { format: 'webp', width: width!, height: height!, orientation };
}

/**
 * The larger of a GIF's logical screen and its first frame: browsers grow the canvas to a first frame that
 * does not fit the screen, and libvips decodes frames at their own size.
 */
function gifHeader(r: Reader): ImageHeader | undefined {
  let width = r.u16(6, true);
  let height = r.u16(8, true);
  const flags = r.u8(10);
  if (width === undefined || height === undefined || flags === undefined) return undefined;
  let o = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  for (;;) {
    const block = r.u8(o);
    if (block === 0x21) {
      // Extension: label, then data sub-blocks up to a zero length.
      o += 2;
      for (let n = r.u8(o); n !== undefined && n > 0; n = r.u8(o)) o += n + 1;
      o++;
    } else if (block === 0x2c) {
      const w = r.u16(o + 5, true);
      const h = r.u16(o + 7, true);
      if (w === undefined || h === undefined) return undefined;
      width = Math.max(width, w);
      height = Math.max(height, h);
      break;
    } else break;
  }
  return { format: 'gif', width, height };
}

function bmpHeader(r: Reader): ImageHeader | undefined {
  const size = r.u32(14, true);
  if (size === undefined) return undefined;
  if (size === 12) {
    const width = r.u16(18, true);
    const height = r.u16(20, true);
    return width === undefined || height === undefined ? undefined : { format: 'bmp', width, height };
  }
  const w = r.u32(18, true);
  const h = r.u32(22, true);
  if (w === undefined || h === undefined) return undefined;
  // Signed 32-bit fields; a negative height means top-down rows.
  return { format: 'bmp', width: w | 0, height: Math.abs(h | 0) };
}

/**
 * Reads format, size and EXIF orientation from the first bytes of a PNG, JPEG, GIF, WebP, BMP or TIFF file
 * without decoding pixels; undefined when the bytes are none of these or the header is cut short.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  const r = new Reader(bytes);
  if (r.u32(0, false) === 0x89504e47 && r.u32(4, false) === 0x0d0a1a0a) return pngHeader(r);
  if (r.u8(0) === 0xff && r.u8(1) === 0xd8) return jpegHeader(r);
  const gif = r.ascii(0, 6);
  if (gif === 'GIF87a' || gif === 'GIF89a') return gifHeader(r);
  if (r.ascii(0, 4) === 'RIFF' && r.ascii(8, 4) === 'WEBP') return webpHeader(r);
  if (r.ascii(0, 2) === 'BM') return bmpHeader(r);
  const tiff = tiffIfd(r, 0);
  if (tiff) {
    if (tiff.width === undefined || tiff.height === undefined) return undefined;
    const orientation = tiff.orientation !== undefined && tiff.orientation >= 1 && tiff.orientation <= 8 ? tiff.orientation : undefined;
    return { format: 'tiff', width: tiff.width, height: tiff.height, orientation };
  }
  return undefined;
}
