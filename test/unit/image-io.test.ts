import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { LookCloserError } from '../../src/core/errors';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { preprocessImage } from '../../src/core/preprocess/preprocess';
import { PRESETS } from '../../src/core/preprocess/presets';
import { decodeImageBytes, decodeImageFile, encodePng } from '../../src/node/image-io';

function px(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return [...img.data.subarray(i, i + 4)];
}

function allPixels(img: RgbaImage): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < img.width * img.height; i++) out.push([...img.data.subarray(i * 4, i * 4 + 4)]);
  return out;
}

function rgbSums(img: RgbaImage): number[] {
  const s = [0, 0, 0, 0];
  for (let i = 0; i < img.data.length; i++) s[i % 4] += img.data[i];
  return s;
}

async function rejectsBadImage(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LookCloserError, `not a LookCloserError: ${String(e)}`);
    assert.equal(e.kind, 'bad-image');
    assert.match(e.message, message);
    return true;
  });
}

/** A PNG whose header claims the given size, with a tiny (incomplete) pixel stream: a decompression bomb's shape. */
function pngClaiming(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1024))), chunk('IEND', Buffer.alloc(0))]);
}

describe('decodeImageBytes: sharp formats', () => {
  it('decodes an RGBA PNG exactly as Pillow does', async () => {
    const img = await decodeImageFile('test/fixtures/images/cat_285.png');
    assert.equal(img.width, 224);
    assert.equal(img.height, 224);
    // numpy.array(Image.open('test/fixtures/images/cat_285.png')) with python3-pil 9.4: per-channel sums and pixel (112, 112).
    assert.deepEqual(rgbSums(img), [10532602, 9900606, 9354672, 12794880]);
    assert.deepEqual(px(img, 112, 112), [146, 102, 67, 255]);
  });

  it('decodes a JPEG, and the torchvision pipeline shows the model what Pillow + torchvision would', async () => {
    const img = await decodeImageFile('assets/samples/wm_pelican.jpg');
    assert.deepEqual([img.width, img.height], [500, 375]);
    // Pillow 9.4 (libjpeg-turbo): Image.open(...).convert('RGB') sums to 81736052 over R, G and B.
    const s = rgbSums(img);
    assert.equal(s[0] + s[1] + s[2], 81736052);
    assert.deepEqual(px(img, 0, 0), [196, 190, 190, 255]);
    // img.resize((341, 256), BILINEAR).crop((58, 16, 282, 240)), as Resize(256) + CenterCrop(224) do.
    const { view } = preprocessImage(img, PRESETS.torchvision, { width: 224, height: 224, channels: 3, layout: 'NCHW' });
    const v = rgbSums(view);
    assert.equal(v[0] + v[1] + v[2], 23028052);
    assert.deepEqual(px(view, 0, 0), [205, 197, 198, 255]);
    assert.deepEqual(px(view, 50, 100), [187, 158, 128, 255]);
    assert.deepEqual(px(view, 223, 223), [67, 87, 101, 255]);
  });

  it('squashes a large portrait JPEG like Pillow (1333×2000 → 224×224, antialiased)', async () => {
    const img = await decodeImageFile('assets/samples/wm_flamingo.jpg');
    const { view } = preprocessImage(img, PRESETS.unit, { width: 224, height: 224, channels: 3, layout: 'NCHW' });
    // numpy.array(Image.open(...).convert('RGB').resize((224, 224), Image.BILINEAR)).sum() == 27064691; [10, 10] == (157, 180, 192).
    const v = rgbSums(view);
    assert.equal(v[0] + v[1] + v[2], 27064691);
    assert.deepEqual(px(view, 10, 10), [157, 180, 192, 255]);
  });

  it('applies EXIF orientation 6 (rotate 90° clockwise)', async () => {
    // Stored 4×2: left half red, right half blue. Displayed with orientation 6 it is 2×4, red on top.
    const raw = Buffer.alloc(4 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) raw.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
    const jpeg = await sharp(raw, { raw: { width: 4, height: 2, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const img = await decodeImageBytes(jpeg, 'rotated.jpg');
    assert.deepEqual([img.width, img.height], [2, 4]);
    const [r0, , b0] = px(img, 0, 0);
    const [r3, , b3] = px(img, 1, 3);
    assert.ok(r0 > 200 && b0 < 60, `top should be red, got ${px(img, 0, 0)}`);
    assert.ok(b3 > 200 && r3 < 60, `bottom should be blue, got ${px(img, 1, 3)}`);
  });

  it('takes the first frame of an animated GIF', async () => {
    // Two 4×4 frames stacked: red, then blue.
    const raw = Buffer.alloc(4 * 8 * 4);
    for (let i = 0; i < 32; i++) raw.set(i < 16 ? [255, 0, 0, 255] : [0, 0, 255, 255], i * 4);
    const gif = await sharp(raw, { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } }).gif().toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2);
    const img = await decodeImageBytes(gif, 'anim.gif');
    assert.deepEqual([img.width, img.height], [4, 4]);
    for (const p of allPixels(img)) assert.deepEqual(p, [255, 0, 0, 255]);
  });

  it('decodes WebP and TIFF and round-trips through encodePng', async () => {
    const src: RgbaImage = { width: 3, height: 2, data: Uint8Array.from([1, 2, 3, 255, 250, 0, 7, 128, 9, 9, 9, 0, 40, 50, 60, 255, 0, 0, 0, 255, 255, 255, 255, 255]) };
    assert.deepEqual(await decodeImageBytes(await encodePng(src), 'x.png'), src, 'png');
    const rawIn = { raw: { width: 3, height: 2, channels: 4 as const } };
    const tiff = await sharp(Buffer.from(src.data), rawIn).tiff({ compression: 'lzw' }).toBuffer();
    assert.deepEqual(await decodeImageBytes(tiff, 'x.tiff'), src, 'tiff');
    const webp = await sharp(Buffer.from(src.data), rawIn).webp({ lossless: true, exact: true }).toBuffer();
    assert.deepEqual(await decodeImageBytes(webp, 'x.webp'), src, 'webp');
  });

  it('ignores an embedded ICC profile, as Pillow does', async () => {
    // Stored values written through sharp's Display P3 profile; Pillow 9.4 reads them back as (184, 63, 42).
    const raw = Buffer.alloc(4 * 4 * 3);
    for (let i = 0; i < 16; i++) raw.set([200, 50, 30], i * 3);
    const png = await sharp(raw, { raw: { width: 4, height: 4, channels: 3 } }).withIccProfile('p3').png().toBuffer();
    assert.ok((await sharp(png).metadata()).icc);
    assert.deepEqual(px(await decodeImageBytes(png, 'p3.png'), 0, 0), [184, 63, 42, 255]);
  });

  it('refuses a 1×1 image from its header, before decoding', async () => {
    const one = await encodePng({ width: 1, height: 1, data: Uint8Array.from([9, 8, 7, 255]) });
    await rejectsBadImage(decodeImageBytes(one, 'dot.png'), /^Image 'dot.png' is 1×1 pixels; Look Closer needs at least 2×2 pixels\.$/);
  });
});

describe('decodeImageBytes: errors', () => {
  it('rejects a truncated JPEG', async () => {
    const jpeg = await readFile('assets/samples/wm_cat.jpg');
    await rejectsBadImage(
      decodeImageBytes(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'cut.jpg'),
      /^Cannot decode 'cut.jpg' as an image: the JPEG data is truncated .*Supported formats: PNG, JPEG, WebP, BMP, GIF, TIFF\.$/,
    );
  });

  it('rejects a truncated PNG', async () => {
    const png = await readFile('test/fixtures/images/cat_285.png');
    await rejectsBadImage(decodeImageBytes(png.subarray(0, png.length >> 1), 'half.png'), /^Cannot decode 'half.png' as an image: the PNG data is damaged or truncated/);
  });

  it('rejects random bytes, empty files and formats Look Closer does not offer', async () => {
    const noise = Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 251);
    await rejectsBadImage(decodeImageBytes(noise, 'noise.bin'), /^Cannot decode 'noise.bin' as an image: the data is not in a recognised image format\. Supported formats/);
    await rejectsBadImage(decodeImageBytes(new Uint8Array(0), 'empty.png'), /the file is empty/);
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    await rejectsBadImage(decodeImageBytes(svg, 'a.svg'), /the svg format is not supported/);
  });

  it('rejects a decompression bomb from its header, naming size and limit', async () => {
    await rejectsBadImage(decodeImageBytes(pngClaiming(20000, 20000), 'bomb.png'), /20000×20000 pixels \(400\.0 megapixels\), more than the limit of 100 megapixels/);
    const bmp = Buffer.from(BMP.bmp3, 'base64');
    bmp.writeInt32LE(30000, 18);
    bmp.writeInt32LE(30000, 22);
    await rejectsBadImage(decodeImageBytes(bmp, 'bomb.bmp'), /30000×30000 pixels \(900\.0 megapixels\)/);
  });

  it('reports a missing file', async () => {
    await rejectsBadImage(decodeImageFile('test/fixtures/images/no-such-file.png'), /^Cannot read image file 'test\/fixtures\/images\/no-such-file.png': no such file/);
  });
});

/*
 * BMP files written by ImageMagick 6.9 (Debian's imagemagick) from a 5×3 PNG whose pixels are PIXELS
 * below: 'default' is `convert src.png out.bmp` (BITMAPV5HEADER, 24-bit, data at offset 138), 'bmp3' is
 * BMP3: (40-byte header), 'bmp2' is BMP2: (OS/2 12-byte header), 'pal4' is `-type palette BMP3:` (4-bit
 * palette), 'rle8' adds `-compress RLE` (8-bit RLE), 'alpha' converts an RGBA PNG (32-bit BI_BITFIELDS with
 * an alpha mask, V5 header), 'rgb565' is `-define bmp:subtype=RGB565` (16-bit bitfields), 'bilevel' is
 * `-type bilevel BMP3:` (1-bit). The hand-made ones are described where they are used. Expected pixels
 * agree with Pillow 9.4's Image.open(...).convert('RGBA') unless noted.
 */
const BMP = {
  default:
    'Qk26AAAAAAAAAIoAAAB8AAAABQAAAAMAAAABABgAAAAAADAAAAAAAAAAAAAAAAAAAAAAAAAAAAD/AAD/AAD/AAAAAAAA/0JHUnMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAA////MyIRZlVEmYh3AAMCAQYFBAkIB/z7+iBAgAAAAP8A/wD/AAAeFAoyZMgA',
  bmp3: 'Qk1mAAAAAAAAADYAAAAoAAAABQAAAAMAAAABABgAAAAAADAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA////MyIRZlVEmYh3AAMCAQYFBAkIB/z7+iBAgAAAAP8A/wD/AAAeFAoyZMgA',
  bmp2: 'Qk1KAAAAAAAAABoAAAAMAAAABQADAAEAGAAAAAD///8zIhFmVUSZiHcAAwIBBgUECQgH/Pv6IECAAAAA/wD/AP8AAB4UCjJkyAA=',
  pal4: 'Qk2CAAAAAAAAAHYAAAAoAAAABQAAAAMAAAABAAQAAAAAAAwAAAAAAAAAAAAAABAAAAAQAAAAAAAAAAMCAQAGBQQACQgHAB4UCgAzIhEAZlVEAAAA/wAgQIAAMmTIAAD/AAD/AAAAmYh3APz7+gD///8AAAAAAB5WwAASPYAAerSQAA==',
  rle8:
    'Qk1iBAAAAAAAADYEAAAoAAAABQAAAAMAAAABAAgAAQAAACwAAAAAAAAAAAAAAAABAAAAAQAAAAAAAAMCAQAGBQQACQgHAB4UCgAzIhEAZlVEAAAA/wAgQIAAMmTIAAD/AAD/AAAAmYh3APz7+gD///8AAAAA' +
    'A'.repeat(1282) +
    'EBAQ4BBQEGAQwDAAAAAQEBAgEDAQ0BCAMAAAABBwEKAQsBBAEJAwAAAAAB',
  alpha:
    'Qk3GAAAAAAAAAIoAAAB8AAAABQAAAAMAAAABACAAAwAAADwAAAAAAAAAAAAAAAAAAAAAAAAAAAD/AAD/AAD/AAAAAAAA/0JHUnMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAqv///7szIhHMZlVE3ZmId+4DAgFVBgUEZgkIB3f8+/qIIECAmQAA/wAA/wAR/wAAIh4UCjMyZMhE',
  rgb565:
    'Qk2uAAAAAAAAAIoAAAB8AAAABQAAAAMAAAABABAAAwAAACQAAAAAAAAAAAAAAAAAAAAAAAAAAPgAAOAHAAAfAAAAAAAAAEJHUnMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAD//wYRrEIydAAAAAAgACEA3vfjeQAAAPjgBx8AgwgGwwAA',
  bilevel: 'Qk1KAAAAAAAAAD4AAAAoAAAABQAAAAMAAAABAAEAAAAAAAwAAAAAAAAAAAAAAAIAAAACAAAAAAAAAP///wBIAAAAEAAAAEAAAAA=',
  /** Hand-made: 3×2 top-down (negative height) 32-bit BI_RGB whose fourth bytes are 0x11. */
  top32: 'Qk1OAAAAAAAAADYAAAAoAAAAAwAAAP7///8BACAAAAAAABgAAAATCwAAEwsAAAAAAAAAAAAAAAD/EQD/ABH/AAARHhQKETwyKBFaUEYR',
  /**
   * Hand-made: 5×2 RLE4, palette black, red, green, blue. Bottom row: run (2, 0x12), absolute (3; 0x30 0x10),
   * end of line; top row: run (5, 0x33), end of bitmap.
   */
  rle4: 'Qk1SAAAAAAAAAEYAAAAoAAAABQAAAAIAAAABAAQAAgAAAAwAAAATCwAAEwsAAAQAAAAAAAAAAAAAAAAA/wAA/wAA/wAAAAISAAMwEAAABTMAAQ==',
};

const PIXELS = [
  [255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [200, 100, 50],
  [1, 2, 3], [4, 5, 6], [7, 8, 9], [250, 251, 252], [128, 64, 32],
  [0, 0, 0], [255, 255, 255], [17, 34, 51], [68, 85, 102], [119, 136, 153],
];
const OPAQUE = PIXELS.map((p) => [...p, 255]);

async function decodeBmp(key: keyof typeof BMP): Promise<RgbaImage> {
  return decodeImageBytes(new Uint8Array(Buffer.from(BMP[key], 'base64')), `${key}.bmp`);
}

describe('decodeImageBytes: BMP', () => {
  it('reads 24-bit files with V5, V3 and OS/2 headers', async () => {
    for (const key of ['default', 'bmp3', 'bmp2'] as const) {
      const img = await decodeBmp(key);
      assert.deepEqual([img.width, img.height], [5, 3], key);
      assert.deepEqual(allPixels(img), OPAQUE, key);
    }
  });

  it('reads 4-bit palette and RLE8 files (ImageMagick folded black into (1, 2, 3))', async () => {
    const expected = OPAQUE.map((p, i) => (i === 10 ? [1, 2, 3, 255] : p));
    assert.deepEqual(allPixels(await decodeBmp('pal4')), expected);
    assert.deepEqual(allPixels(await decodeBmp('rle8')), expected);
  });

  it('reads 32-bit bitfields with alpha', async () => {
    const img = await decodeBmp('alpha');
    assert.deepEqual(allPixels(img), PIXELS.map((p, i) => [...p, i * 17]));
  });

  it('reads 16-bit RGB565, widening fields as Pillow does (v·255 / max, truncated)', async () => {
    const img = await decodeBmp('rgb565');
    assert.deepEqual(allPixels(img).slice(0, 5), [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [8, 16, 24, 255], [197, 97, 49, 255]]);
    assert.deepEqual(px(img, 3, 1), [246, 250, 246, 255]);
  });

  it('reads 1-bit files', async () => {
    const k = [0, 0, 0, 255];
    const w = [255, 255, 255, 255];
    assert.deepEqual(allPixels(await decodeBmp('bilevel')), [k, w, k, k, k, k, k, k, w, k, k, w, k, k, w]);
  });

  it('reads top-down 32-bit BI_RGB, ignoring the fourth byte like Pillow', async () => {
    const img = await decodeBmp('top32');
    assert.deepEqual(allPixels(img), [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [10, 20, 30, 255], [40, 50, 60, 255], [70, 80, 90, 255]]);
  });

  it('reads RLE4 with an odd absolute run (per the BMP spec; Pillow 9.4 drops the odd nibble)', async () => {
    const [k, r, g, b] = [[0, 0, 0, 255], [255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]];
    assert.deepEqual(allPixels(await decodeBmp('rle4')), [b, b, b, b, b, r, g, b, k, r]);
  });

  it('rejects a truncated BMP', async () => {
    const bytes = new Uint8Array(Buffer.from(BMP.bmp3, 'base64'));
    await rejectsBadImage(decodeImageBytes(bytes.subarray(0, 80), 'cut.bmp'), /^Cannot decode 'cut.bmp' as an image: the BMP file is truncated/);
    await rejectsBadImage(decodeImageBytes(bytes.subarray(0, 20), 'head.bmp'), /truncated \(header\)/);
  });
});
