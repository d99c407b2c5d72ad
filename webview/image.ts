/** Decoding image bytes with the browser, and the small raster helpers the views share. */
import { LookCloserError } from '../src/core/errors';
import type { RgbaImage } from '../src/core/preprocess/image';
import { checkImageSize, decodeSize, readImageHeader } from '../src/core/preprocess/image-size';

const FORMATS = 'PNG, JPEG, WebP, BMP or GIF';

/**
 * Decodes PNG, JPEG, WebP, BMP or GIF (first frame) bytes to straight-alpha RGBA, EXIF orientation applied.
 * The size is read from the file header and checked before the browser decodes anything; an image whose
 * longer side is above DECODE_MAX_SIDE is shrunk while decoding (createImageBitmap's resize), so only such
 * images differ from a full decode.
 */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbaImage> {
  const header = readImageHeader(bytes);
  if (!header || header.format === 'tiff') {
    throw new LookCloserError('bad-image', `Cannot decode '${name}': it is not a ${FORMATS} image the browser can read (${header ? 'TIFF is not supported in the browser' : 'no image header found'}).`);
  }
  checkImageSize(name, header.width, header.height);
  // createImageBitmap resizes the oriented image, so the target follows EXIF orientation (5–8 swap the sides).
  const swap = (header.orientation ?? 1) >= 5;
  const target = decodeSize(swap ? header.height : header.width, swap ? header.width : header.height);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), {
      imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none',
      ...(target.shrunk ? { resizeWidth: target.width, resizeHeight: target.height, resizeQuality: 'high' as const } : {}),
    });
  } catch (e) {
    throw new LookCloserError('bad-image', `Cannot decode '${name}': it is not a ${FORMATS} image the browser can read (${e instanceof Error ? e.message : e}).`);
  }
  const { width, height } = bitmap;
  try {
    // A header the browser reads differently (a GIF frame larger than its screen) is caught here.
    checkImageSize(name, width, height);
    if (decodeSize(width, height).shrunk) throw new LookCloserError('bad-image', `Cannot decode '${name}': the browser decoded it at ${width}×${height} pixels, not within the ${target.width}×${target.height} asked for.`);
  } catch (e) {
    bitmap.close();
    throw e;
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) {
    bitmap.close();
    throw new LookCloserError('runtime', 'The webview could not create a 2-D canvas to decode the image.');
  }
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
