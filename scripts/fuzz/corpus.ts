/**
 * The valid files fuzz cases start from: the bundled and test models, a small picture in every image format
 * Look Closer reads, a digit as a .npy tensor, and crafted headers (decompression bombs) per format.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** The repository root (scripts/fuzz/ → ../..). */
export const ROOT = path.resolve(__dirname, '..', '..');

/** Image formats the CLI accepts. */
export const FORMATS = ['png', 'jpeg', 'webp', 'gif', 'tiff', 'bmp'] as const;
/** One image format. */
export type Format = (typeof FORMATS)[number];

/** A model the cases use, with an image and the input shape that fit it. */
export interface BaseModel {
  readonly name: string;
  readonly path: string;
  /** Sidecar text to copy next to a copy of the model (its labels path made absolute), if it has one. */
  readonly sidecar?: string;
  /** NCHW input dims at batch 1. */
  readonly input: readonly number[];
  /** An image it classifies. */
  readonly image: string;
  /** Relative cost of one CLI run with it (mnist = 1). */
  readonly cost: number;
}

/** The valid files of a fuzz run. */
export interface Corpus {
  readonly dir: string;
  readonly models: { readonly mnist: BaseModel; readonly burn: BaseModel; readonly squeezenet: BaseModel };
  /** A 40×30 picture in every format. */
  readonly images: Readonly<Record<Format, string>>;
  /** The repository's sample photos and test images. */
  readonly photos: readonly string[];
  /** Handwritten digits (28×28 PNG). */
  readonly digits: readonly string[];
  /** A valid float32 [1,1,28,28] .npy for the mnist models. */
  readonly digitNpy: string;
  readonly labels: string;
}

/** A 24-bit bottom-up BMP of RGB pixels. */
export function bmp(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = ((height - 1 - y) * width + x) * 3;
      const d = 54 + y * stride + x * 3;
      out[d] = rgb[s + 2];
      out[d + 1] = rgb[s + 1];
      out[d + 2] = rgb[s];
    }
  }
  return out;
}

/** An .npy file with a header written as given (format 1.0, or 2.0 when the header needs a 4-byte length). */
export function npy(header: string, data: Uint8Array): Uint8Array {
  const v2 = header.length > 65000;
  const pre = v2 ? 12 : 10;
  let h = header;
  h += ' '.repeat((64 - ((pre + h.length + 1) % 64)) % 64) + '\n';
  const out = Buffer.alloc(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v2 ? 2 : 1, 0]);
  if (v2) out.writeUInt32LE(h.length, 8);
  else out.writeUInt16LE(h.length, 8);
  out.write(h, pre, 'latin1');
  out.set(data, pre + h.length);
  return out;
}

/** float32 little-endian bytes of the values. */
export function f32bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A gray PNG whose header claims width × height, followed by a small pixel stream. */
export function pngClaiming(width: number, height: number, idatBytes = 4096): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width >>> 0, 0);
  ihdr.writeUInt32BE(height >>> 0, 4);
  ihdr[8] = 8;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(idatBytes))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Finds the first SOFn marker of a JPEG; -1 when none. */
export function jpegSof(b: Uint8Array): number {
  for (let i = 2; i + 9 < b.length; i++) if (b[i] === 0xff && b[i + 1] >= 0xc0 && b[i + 1] <= 0xc2) return i;
  return -1;
}

function pattern(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([(x * 255) / w, (y * 255) / h, ((x + y) * 37) % 256], (y * w + x) * 3);
  return rgb;
}

/** Writes (once) and returns the corpus under `dir`. */
export async function buildCorpus(dir: string): Promise<Corpus> {
  fs.mkdirSync(dir, { recursive: true });
  const w = 40;
  const h = 30;
  const rgb = pattern(w, h);
  const raw = () => sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } });
  const encoders: Record<Format, () => Promise<Uint8Array>> = {
    png: () => raw().png().toBuffer(),
    jpeg: () => raw().jpeg({ quality: 90 }).toBuffer(),
    webp: () => raw().webp({ quality: 80 }).toBuffer(),
    gif: () => raw().gif().toBuffer(),
    tiff: () => raw().tiff({ compression: 'lzw' }).toBuffer(),
    bmp: async () => bmp(w, h, rgb),
  };
  const images = {} as Record<Format, string>;
  for (const f of FORMATS) {
    const p = path.join(dir, `base.${f === 'jpeg' ? 'jpg' : f}`);
    if (!fs.existsSync(p)) fs.writeFileSync(p, await encoders[f]());
    images[f] = p;
  }
  const digitsDir = path.join(ROOT, 'test', 'fixtures', 'images', 'mnist');
  const digits = fs.readdirSync(digitsDir).filter((n) => n.endsWith('.png')).sort().map((n) => path.join(digitsDir, n));
  const photos = [
    ...fs.readdirSync(path.join(ROOT, 'assets', 'samples')).sort().map((n) => path.join(ROOT, 'assets', 'samples', n)),
    ...['cat_285.png', 'dog_207.png', 'zebra_340.png'].map((n) => path.join(ROOT, 'test', 'fixtures', 'images', n)),
  ];
  const digitNpy = path.join(dir, 'digit.npy');
  if (!fs.existsSync(digitNpy)) {
    const v = Array.from({ length: 784 }, (_, i) => ((i * 7919) % 256) / 255);
    fs.writeFileSync(digitNpy, npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }`, f32bytes(v)));
  }
  const labels = path.join(ROOT, 'assets', 'labels', 'mnist_labels.txt');
  const burn = path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-burn-pytorch.onnx');
  return {
    dir, images, photos, digits, digitNpy, labels,
    models: {
      mnist: { name: 'mnist-8', path: path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx'), input: [1, 1, 28, 28], image: digits[3], cost: 1 },
      burn: { name: 'mnist-burn', path: burn, sidecar: JSON.stringify({ preset: 'mnist-normalized', labels }), input: [1, 1, 28, 28], image: digits[5], cost: 1 },
      squeezenet: {
        name: 'squeezenet', path: path.join(ROOT, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx'),
        sidecar: JSON.stringify({ preset: 'caffe-bgr', labels: path.join(ROOT, 'assets', 'labels', 'imagenet-simple-labels.json') }),
        input: [1, 3, 224, 224], image: photos[0], cost: 2,
      },
    },
  };
}
