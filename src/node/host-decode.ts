/**
 * Decoding PNG and JPEG images in pure JavaScript (pngjs, jpeg-js) where the extension host has no sharp: the host's
 * first map of a new panel (src/extension/host-preview.ts) starts from the file's bytes at the click instead of
 * waiting for the panel's page to load, decode and send its pixels. Only images the webview would decode the same
 * way are taken: PNG and baseline or progressive JPEG, EXIF orientation 1, not shrunk while decoding
 * (webview/image.ts). PNG pixels are the file's; JPEG pixels differ from the browser's decoder by its rounding of the
 * inverse DCT and chroma upsampling (a few levels), and the panel's own map, from its own decode, replaces the host's.
 * Everything else (WebP, GIF, BMP, rotated photos, huge images, anything that fails) is left to the panel.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbaImage } from '../core/preprocess/image';
import { ImageHeader, decodeSize, readImageHeader } from '../core/preprocess/image-size';

/** Whether the header says a PNG or JPEG the webview would decode as it is (decodeOnHost may still fail on a broken body). */
export function hostDecodable(bytes: Uint8Array): boolean {
  return decodableHeader(bytes) !== undefined;
}

/** The header of a PNG or JPEG the webview would decode as it is, else undefined. */
function decodableHeader(bytes: Uint8Array): ImageHeader | undefined {
  const h = readImageHeader(bytes);
  return h && (h.format === 'png' || h.format === 'jpeg') && (h.orientation ?? 1) === 1 && !decodeSize(h.width, h.height).shrunk ? h : undefined;
}

/** The RGBA pixels of a PNG or JPEG the webview would decode as it is; undefined for anything else. */
export function decodeOnHost(bytes: Uint8Array): RgbaImage | undefined {
  const h = decodableHeader(bytes);
  if (!h) return undefined;
  try {
    if (h.format === 'png') {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (png.width !== h.width || png.height !== h.height || png.data.length !== png.width * png.height * 4) return undefined;
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxMemoryUsageInMB: 1024 });
    if (j.width !== h.width || j.height !== h.height || j.data.length !== j.width * j.height * 4) return undefined;
    return { width: j.width, height: j.height, data: j.data };
  } catch {
    return undefined;
  }
}
