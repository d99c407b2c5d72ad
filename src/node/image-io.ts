/** Decoding image files to RGBA and encoding PNGs in Node: sharp for most formats, a small reader for BMP. */

import sharp, { type Metadata } from 'sharp';
import { LookCloserError, messageOf } from '../core/errors';
import type { RgbaImage } from '../core/preprocess/image';
import { DECODE_MAX_SIDE, MAX_IMAGE_PIXELS, checkImageSize, decodeSize } from '../core/preprocess/image-size';
import { readUserFile } from './files';

const SUPPORTED = 'Supported formats: PNG, JPEG, WebP, BMP, GIF, TIFF.';

/** The sharp input formats Look Closer accepts (sharp also reads others, e.g. SVG, that it does not offer). */
const SHARP_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff']);

function cannotDecode(name: string, reason: string, cause?: unknown): LookCloserError {
  return new LookCloserError('bad-image', `Cannot decode '${name}' as an image: ${reason.replace(/\.$/, '')}. ${SUPPORTED}`, cause);
}

/** Reads an image file and decodes it to RGBA with EXIF orientation applied. */
export async function decodeImageFile(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = readUserFile(path, 'image');
  } catch (e) {
    throw new LookCloserError('bad-image', messageOf(e).replace(/^Cannot read image '/, "Cannot read image file '"), e);
  }
  return decodeImageBytes(bytes, path);
}

/** Decodes image bytes (PNG, JPEG, WebP, GIF's first frame, TIFF, BMP) to RGBA with EXIF orientation applied. */
export async function decodeImageBytes(bytes: Uint8Array, nameForMessages: string): Promise<RgbaImage> {
  if (bytes.length === 0) throw cannotDecode(nameForMessages, 'the file is empty');
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) {
    try {
      return await withinBudget(decodeBmp(bytes, nameForMessages));
    } catch (e) {
      if (e instanceof LookCloserError) throw e;
      throw cannotDecode(nameForMessages, messageOf(e), e);
    }
  }
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let meta: Metadata;
  try {
    meta = await sharp(input, { failOn: 'truncated', limitInputPixels: false }).metadata();
  } catch (e) {
    const msg = messageOf(e);
    throw cannotDecode(nameForMessages, /unsupported image format/i.test(msg) ? 'the data is not in a recognised image format' : msg, e);
  }
  if (!meta.format || !SHARP_FORMATS.has(meta.format)) {
    throw cannotDecode(nameForMessages, `the ${meta.format ?? 'unknown'} format is not supported`);
  }
  // The header's size is checked before a pixel is decoded: a 200-byte PNG may claim 1 × 100,000,000 pixels.
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  checkImageSize(nameForMessages, width, height);
  try {
    // Embedded ICC profiles are ignored, as Pillow (and so torchvision training pipelines) ignore them.
    const options = { failOn: 'truncated', limitInputPixels: MAX_IMAGE_PIXELS, pages: 1, page: 0, ignoreIcc: true } as const;
    let pipeline = sharp(input, options).rotate();
    // Above the decode budget the image is shrunk while it is decoded (JPEG and WebP shrink-on-load, other
    // formats row by row), so a 100-megapixel photo never exists in memory at full size. Only such images
    // differ from what Pillow would hand preprocessing: a 4096-pixel image instead of the full one.
    if (decodeSize(width, height).shrunk) pipeline = pipeline.resize({ width: DECODE_MAX_SIDE, height: DECODE_MAX_SIDE, fit: 'inside' });
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels instead of RGBA`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    const msg = messageOf(e).replace(/^vips\w*:\s*/i, '');
    const what = /premature end|truncated/i.test(msg) ? 'truncated' : 'damaged or truncated';
    throw cannotDecode(nameForMessages, `the ${meta.format.toUpperCase()} data is ${what} (${msg})`, e);
  }
}

/** Shrinks a decoded image (a BMP, decoded in JavaScript) that is above the decode budget to fit it. */
async function withinBudget(img: RgbaImage): Promise<RgbaImage> {
  if (!decodeSize(img.width, img.height).shrunk) return img;
  const raw = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const { data, info } = await sharp(raw, { raw: { width: img.width, height: img.height, channels: 4 }, limitInputPixels: MAX_IMAGE_PIXELS })
    .resize({ width: DECODE_MAX_SIDE, height: DECODE_MAX_SIDE, fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Encodes an RGBA image as PNG bytes. */
export async function encodePng(img: RgbaImage): Promise<Uint8Array> {
  const raw = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const png = await sharp(raw, { raw: { width: img.width, height: img.height, channels: 4 } }).png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** One colour channel of a BI_BITFIELDS pixel: where its bits are and how to widen them to 8 bits. */
interface Field {
  readonly mask: number;
  readonly shift: number;
  readonly max: number;
}

function field(mask: number): Field {
  const m = mask >>> 0;
  if (m === 0) return { mask: 0, shift: 0, max: 0 };
  let shift = 0;
  while (((m >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (shift + bits < 32 && ((m >>> (shift + bits)) & 1) === 1) bits++;
  return { mask: m, shift, max: 2 ** bits - 1 };
}

function fieldValue(px: number, f: Field, missing: number): number {
  if (f.max === 0) return missing;
  return Math.floor((((px & f.mask) >>> f.shift) * 255) / f.max);
}

/**
 * Decodes a Windows/OS2 bitmap: 1, 4, 8 (palette, also RLE4/RLE8), 16, 24 and 32 bits, BI_BITFIELDS masks,
 * core (12-byte) to V5 (124-byte) headers, bottom-up or top-down. Like Pillow, it ignores the fourth byte of
 * 32-bit BI_RGB pixels and reads alpha only from an explicit alpha mask. (bmp-js 0.1.0 mis-reads
 * ImageMagick's default V5-header files, 32-bit bitfields and RLE, so it is not used.)
 */
function decodeBmp(bytes: Uint8Array, name: string): RgbaImage {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (end: number, what: string): void => {
    if (end > bytes.length) throw cannotDecode(name, `the BMP file is truncated (${what})`);
  };
  need(26, 'header');
  const offset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  const core = headerSize === 12;
  if (!core && headerSize < 40) throw cannotDecode(name, `the BMP header size ${headerSize} is not a known BMP variant`);
  need(14 + headerSize, 'header');
  const width = core ? dv.getUint16(18, true) : dv.getInt32(18, true);
  const rawHeight = core ? dv.getInt16(20, true) : dv.getInt32(22, true);
  const bpp = core ? dv.getUint16(24, true) : dv.getUint16(28, true);
  const compression = core ? 0 : dv.getUint32(30, true);
  const colorsUsed = core ? 0 : dv.getUint32(46, true);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) throw cannotDecode(name, `the BMP says it is ${width}×${rawHeight} pixels`);
  checkImageSize(name, width, height);
  if (![0, 1, 2, 3, 6].includes(compression)) {
    throw cannotDecode(name, `BMP compression type ${compression} (embedded JPEG/PNG or CMYK) is not supported`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw cannotDecode(name, `a BMP with ${bpp} bits per pixel is not supported`);

  let masks = [0, 0, 0, 0];
  let paletteStart = 14 + headerSize;
  if (compression === 3 || compression === 6) {
    if (headerSize >= 52) {
      masks = [dv.getUint32(54, true), dv.getUint32(58, true), dv.getUint32(62, true), headerSize >= 56 ? dv.getUint32(66, true) : 0];
    } else {
      const n = compression === 6 ? 4 : 3;
      need(paletteStart + n * 4, 'colour masks');
      masks = [0, 1, 2, 3].map((i) => (i < n ? dv.getUint32(paletteStart + i * 4, true) : 0));
      paletteStart += n * 4;
    }
  } else if (bpp === 16) {
    masks = [0x7c00, 0x03e0, 0x001f, 0];
  }

  const out = new Uint8Array(width * height * 4);
  const rowOf = (fileRow: number): number => (topDown ? fileRow : height - 1 - fileRow);

  if (bpp <= 8) {
    const entry = core ? 3 : 4;
    const maxEntries = Math.max(0, Math.floor((Math.min(offset, bytes.length) - paletteStart) / entry));
    const count = Math.min(colorsUsed || 1 << bpp, maxEntries);
    if (count === 0) throw cannotDecode(name, 'the BMP palette is missing');
    const palette = new Uint8Array(count * 3);
    for (let i = 0; i < count; i++) {
      palette[i * 3] = bytes[paletteStart + i * entry + 2];
      palette[i * 3 + 1] = bytes[paletteStart + i * entry + 1];
      palette[i * 3 + 2] = bytes[paletteStart + i * entry];
    }
    const indices =
      compression === 1 || compression === 2
        ? decodeRle(bytes, offset, width, height, compression === 1 ? 8 : 4, () => cannotDecode(name, 'the BMP RLE data is truncated'))
        : unpackIndices(bytes, offset, width, height, bpp, need);
    for (let r = 0; r < height; r++) {
      const y = rowOf(r);
      for (let x = 0; x < width; x++) {
        const k = Math.min(indices[r * width + x], count - 1) * 3;
        const o = (y * width + x) * 4;
        out[o] = palette[k];
        out[o + 1] = palette[k + 1];
        out[o + 2] = palette[k + 2];
        out[o + 3] = 255;
      }
    }
    return { width, height, data: out };
  }

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  need(offset + stride * (height - 1) + Math.ceil((bpp * width) / 8), 'pixel data');
  const fields = masks.map(field);
  const useMasks = bpp === 16 || compression === 3 || compression === 6;
  for (let r = 0; r < height; r++) {
    const y = rowOf(r);
    const row = offset + r * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      if (useMasks) {
        const px = bpp === 16 ? dv.getUint16(row + x * 2, true) : dv.getUint32(row + x * 4, true);
        out[o] = fieldValue(px, fields[0], 0);
        out[o + 1] = fieldValue(px, fields[1], 0);
        out[o + 2] = fieldValue(px, fields[2], 0);
        out[o + 3] = fieldValue(px, fields[3], 255);
      } else {
        const p = row + x * (bpp / 8);
        out[o] = bytes[p + 2];
        out[o + 1] = bytes[p + 1];
        out[o + 2] = bytes[p];
        out[o + 3] = 255;
      }
    }
  }
  return { width, height, data: out };
}

/** Palette indices of uncompressed 1/4/8-bit rows, in file row order. */
function unpackIndices(
  bytes: Uint8Array,
  offset: number,
  width: number,
  height: number,
  bpp: number,
  need: (end: number, what: string) => void,
): Uint8Array {
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  need(offset + stride * (height - 1) + Math.ceil((bpp * width) / 8), 'pixel data');
  const out = new Uint8Array(width * height);
  const perByte = 8 / bpp;
  const mask = (1 << bpp) - 1;
  for (let r = 0; r < height; r++) {
    for (let x = 0; x < width; x++) {
      const b = bytes[offset + r * stride + Math.floor(x / perByte)];
      out[r * width + x] = (b >> ((perByte - 1 - (x % perByte)) * bpp)) & mask;
    }
  }
  return out;
}

/** Palette indices of RLE8/RLE4 data in file row order; pixels the encoding skips get index 0, as in Pillow. */
function decodeRle(bytes: Uint8Array, offset: number, width: number, height: number, bits: 8 | 4, truncated: () => Error): Uint8Array {
  const out = new Uint8Array(width * height);
  let x = 0;
  let r = 0;
  let p = offset;
  const next = (): number => {
    if (p >= bytes.length) throw truncated();
    return bytes[p++];
  };
  const put = (v: number): void => {
    if (x < width && r < height) out[r * width + x] = v;
    x++;
  };
  while (r < height) {
    const n = next();
    const v = next();
    if (n > 0) {
      for (let i = 0; i < n; i++) put(bits === 8 ? v : i % 2 === 0 ? v >> 4 : v & 15);
    } else if (v === 0) {
      x = 0;
      r++;
    } else if (v === 1) {
      break;
    } else if (v === 2) {
      x += next();
      r += next();
    } else {
      const nbytes = bits === 8 ? v : Math.ceil(v / 2);
      let b = 0;
      for (let i = 0; i < v; i++) {
        if (bits === 8) put(next());
        else {
          if (i % 2 === 0) b = next();
          put(i % 2 === 0 ? b >> 4 : b & 15);
        }
      }
      if (nbytes % 2 === 1) p++;
    }
  }
  return out;
}
