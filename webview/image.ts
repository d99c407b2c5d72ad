/** Decoding image bytes with the browser, and the small raster helpers the views share. */
import { LookCloserError } from '../src/core/errors';
import type { RgbaImage } from '../src/core/preprocess/image';
import { MAX_IMAGE_PIXELS } from '../src/core/preprocess/preprocess';

/** Decodes PNG, JPEG, WebP, BMP or GIF (first frame) bytes to straight-alpha RGBA, EXIF orientation applied. */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbaImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (e) {
    throw new LookCloserError('bad-image', `Cannot decode '${name}': it is not a PNG, JPEG, WebP, BMP or GIF image the browser can read (${e instanceof Error ? e.message : e}).`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_IMAGE_PIXELS) {
    bitmap.close();
    throw new LookCloserError('bad-image', `'${name}' is ${width}×${height} pixels; Look Closer accepts at most ${MAX_IMAGE_PIXELS / 1e6} megapixels.`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new LookCloserError('runtime', 'The webview could not create a 2-D canvas to decode the image.');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const data = ctx.getImageData(0, 0, width, height).data;
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Draws RGBA pixels into a canvas, resizing the canvas to the image. */
export function paint(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const px = new ImageData(img.width, img.height);
  px.data.set(img.data);
  ctx.putImageData(px, 0, 0);
}

/** Encodes RGBA pixels as PNG bytes. */
export async function encodePng(img: RgbaImage): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new LookCloserError('runtime', 'The webview could not create a canvas to encode the PNG.');
  const px = new ImageData(img.width, img.height);
  px.data.set(img.data);
  ctx.putImageData(px, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}

/** Colours a [h,w] map in 0..1 with a colormap lookup table, as opaque RGBA. */
export function colorize(map01: Float32Array, width: number, height: number, lut: Uint8Array): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const v = map01[i];
    const k = (v > 0 ? Math.min(255, Math.floor(v * 256)) : 0) * 3;
    data[i * 4] = lut[k];
    data[i * 4 + 1] = lut[k + 1];
    data[i * 4 + 2] = lut[k + 2];
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}
