/** The decoded image type every front end hands to the core. */

/** An 8-bit RGBA image, row-major, straight (not premultiplied) alpha, EXIF orientation already applied. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}
