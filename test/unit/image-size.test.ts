/**
 * Image size limits from the header, before any decoding: the core's header reader agrees with sharp on every
 * format, crafted bombs fail fast with a message naming size and limit, and a large legitimate photo is shrunk
 * while decoding so that the whole CLI run stays within a memory budget.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { LookCloserError } from '../../src/core/errors';
import { DECODE_MAX_SIDE, checkImageSize, decodeSize, readImageHeader } from '../../src/core/preprocess/image-size';
import { decodeImageBytes } from '../../src/node/image-io';
import { ROOT, SQUEEZENET } from '../support/paths';

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A gray PNG whose IHDR claims width × height, with a tiny pixel stream (a decompression bomb's shape). */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(4096))), chunk('IEND', Buffer.alloc(0))]);
}

/** A small real JPEG whose SOF header is patched to claim width × height (a few hundred bytes). */
async function jpegClaiming(width: number, height: number): Promise<Buffer> {
  const j = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  for (let i = 2; i + 9 < j.length; i++) {
    if (j[i] === 0xff && j[i + 1] === 0xc0) {
      j.writeUInt16BE(height, i + 5);
      j.writeUInt16BE(width, i + 7);
      return j;
    }
  }
  throw new Error('no SOF0 marker');
}

async function fails(p: Promise<unknown>, message: RegExp, budgetMs = 5000): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LookCloserError, `not a LookCloserError: ${String(e)}`);
    assert.equal(e.kind, 'bad-image');
    assert.match(e.message, message);
    return true;
  });
  assert.ok(Date.now() - t0 < budgetMs, `took ${Date.now() - t0} ms`);
}

describe('readImageHeader: size and orientation without decoding', () => {
  const rgb = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#336699' } });

  it('agrees with sharp on PNG, JPEG, GIF, WebP (lossy, lossless, extended) and TIFF', async () => {
    const cases: [string, Buffer][] = [
      ['png', await rgb(37, 11).png().toBuffer()],
      ['jpeg', await rgb(37, 11).jpeg().toBuffer()],
      ['jpeg', await rgb(37, 11).jpeg({ progressive: true }).toBuffer()],
      ['gif', await rgb(37, 11).gif().toBuffer()],
      ['webp', await rgb(37, 11).webp({ quality: 50 }).toBuffer()],
      ['webp', await rgb(37, 11).webp({ lossless: true }).toBuffer()],
      ['webp', await rgb(37, 11).webp().withMetadata({ orientation: 6 }).toBuffer()],
      ['tiff', await rgb(37, 11).tiff().toBuffer()],
      ['tiff', await rgb(37, 11).tiff({ compression: 'lzw' }).toBuffer()],
    ];
    for (const [format, bytes] of cases) {
      const meta = await sharp(bytes).metadata();
      const h = readImageHeader(bytes);
      assert.ok(h, `${format}: no header read`);
      assert.deepEqual([h.format, h.width, h.height], [format, meta.width, meta.height], format);
      assert.equal(h.orientation ?? 1, meta.orientation ?? 1, `${format} orientation`);
    }
  });

  it('reads EXIF orientation from JPEG and PNG', async () => {
    for (const o of [1, 3, 6, 8]) {
      const jpeg = await rgb(8, 4).jpeg().withMetadata({ orientation: o }).toBuffer();
      assert.equal(readImageHeader(jpeg)?.orientation, o, `jpeg ${o}`);
      const png = await rgb(8, 4).png().withMetadata({ orientation: o }).toBuffer();
      const meta = await sharp(png).metadata();
      assert.equal(readImageHeader(png)?.orientation ?? 1, meta.orientation ?? 1, `png ${o}`);
    }
  });

  it('reads BMP headers, top-down (negative height) included', () => {
    const bmp = Buffer.alloc(54);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(300, 18);
    bmp.writeInt32LE(-200, 22);
    assert.deepEqual(readImageHeader(bmp), { format: 'bmp', width: 300, height: 200 });
  });

  it('reads the claimed size of crafted bombs, and nothing from noise or cut headers', async () => {
    assert.deepEqual(readImageHeader(pngClaiming(1, 100_000_000)), { format: 'png', width: 1, height: 100_000_000, orientation: undefined });
    assert.deepEqual(readImageHeader(await jpegClaiming(10000, 10000)), { format: 'jpeg', width: 10000, height: 10000, orientation: undefined });
    assert.equal(readImageHeader(Uint8Array.from({ length: 300 }, (_, i) => (i * 7919 + 13) % 251)), undefined);
    assert.equal(readImageHeader(pngClaiming(5, 5).subarray(0, 20)), undefined);
    const jpeg = await rgb(8, 8).jpeg().toBuffer();
    assert.equal(readImageHeader(jpeg.subarray(0, 30)), undefined);
    assert.equal(readImageHeader(new Uint8Array(0)), undefined);
  });
});

describe('checkImageSize and decodeSize', () => {
  const refuses = (w: number, h: number, message: RegExp) =>
    assert.throws(() => checkImageSize('x.png', w, h), (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-image' && message.test(e.message));

  it('names the image, its size and the limit', () => {
    refuses(1, 100_000_000, /^Image 'x\.png' is 1×100000000 pixels; Look Closer needs at least 2×2 pixels\.$/);
    refuses(0, 0, /is 0×0 pixels; Look Closer needs at least 2×2/);
    refuses(20000, 20000, /is 20000×20000 pixels \(400\.0 megapixels\), more than the limit of 100 megapixels\.$/);
    refuses(3, 10000, /is 3×10000 pixels, an aspect ratio of 1:3333; Look Closer accepts at most 1:1000\.$/);
    refuses(NaN, 4, /says it is NaN×4 pixels, which is not a size in pixels/);
    checkImageSize('ok.png', 2, 2000);
    checkImageSize('ok.png', 10000, 10000);
  });

  it('keeps images within the budget and shrinks larger ones to fit, keeping the aspect ratio', () => {
    assert.deepEqual(decodeSize(4096, 100), { width: 4096, height: 100, shrunk: false });
    assert.deepEqual(decodeSize(8000, 6000), { width: DECODE_MAX_SIDE, height: 3072, shrunk: true });
    assert.deepEqual(decodeSize(6000, 8000), { width: 3072, height: DECODE_MAX_SIDE, shrunk: true });
  });
});

describe('decodeImageBytes: bombs fail fast, large photos are shrunk while decoding', function () {
  this.timeout(60000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-bombs-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('refuses a PNG of 1 × 100,000,000 pixels from its header (decoding it took 108 s)', async () => {
    await fails(decodeImageBytes(pngClaiming(1, 100_000_000), 'tall.png'), /^Image 'tall\.png' is 1×100000000 pixels; Look Closer needs at least 2×2 pixels\.$/);
    await fails(decodeImageBytes(pngClaiming(4, 20_000_000), 'strip.png'), /4×20000000 pixels, an aspect ratio of 1:5000000; Look Closer accepts at most 1:1000/);
    await fails(decodeImageBytes(pngClaiming(65535, 65535), 'square.png'), /65535×65535 pixels \(4294\.8 megapixels\), more than the limit of 100 megapixels/);
  });

  it('refuses JPEG, GIF, WebP and BMP headers over the limits', async () => {
    await fails(decodeImageBytes(await jpegClaiming(20000, 20000), 'bomb.jpg'), /20000×20000 pixels \(400\.0 megapixels\)/);
    await fails(decodeImageBytes(await jpegClaiming(10000, 2), 'thin.jpg'), /an aspect ratio of 1:5000/);
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).gif().toBuffer();
    const frame = gif.indexOf(0x2c, 13);
    gif.writeUInt16LE(65535, frame + 5);
    gif.writeUInt16LE(65535, frame + 7);
    assert.deepEqual(readImageHeader(gif), { format: 'gif', width: 65535, height: 65535 });
    await fails(decodeImageBytes(gif, 'bomb.gif'), /65535×65535 pixels/);
    const bmp = Buffer.alloc(58);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(1, 18);
    bmp.writeInt32LE(50_000_000, 22);
    bmp.writeUInt16LE(24, 28);
    await fails(decodeImageBytes(bmp, 'bomb.bmp'), /1×50000000 pixels; Look Closer needs at least 2×2/);
  });

  it('decodes a 633-byte-style JPEG claiming 10000 × 10000 at the decode budget in seconds (it took 2.4 GB)', async () => {
    const t0 = Date.now();
    const img = await decodeImageBytes(await jpegClaiming(10000, 10000), 'claims.jpg');
    assert.deepEqual([img.width, img.height], [DECODE_MAX_SIDE, DECODE_MAX_SIDE]);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });

  it('shrinks an 8000 × 6000 JPEG while decoding; the whole CLI run stays under 2 GB', async () => {
    const jpeg = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#884422' } }).jpeg().toBuffer();
    const img = await decodeImageBytes(jpeg, 'big.jpg');
    assert.deepEqual([img.width, img.height], [4096, 3072]);
    const file = path.join(tmp, 'big.jpg');
    fs.writeFileSync(file, jpeg);
    const cli = path.join(ROOT, 'dist', 'cli.js');
    if (!fs.existsSync(cli)) execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
    const rssFile = path.join(tmp, 'rss');
    const r = spawnSync(process.execPath, ['--require', path.join(ROOT, 'scripts', 'fuzz', 'peak-rss.cjs'), cli, 'predict', SQUEEZENET, file, '--top', '1'], {
      encoding: 'utf8', timeout: 60000, env: { ...process.env, LC_PEAK_RSS_FILE: rssFile },
    });
    assert.equal(r.status, 0, r.stderr);
    const peakMb = Number(fs.readFileSync(rssFile, 'utf8')) / 1024;
    assert.ok(peakMb < 2048, `peak RSS ${peakMb.toFixed(0)} MB`);
  });

  it('shrinks a BMP above the budget after its JavaScript decode', async () => {
    const w = 5000;
    const h = 8;
    const stride = Math.ceil((w * 3) / 4) * 4;
    const bmp = Buffer.alloc(54 + stride * h);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(bmp.length, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(w, 18);
    bmp.writeInt32LE(h, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    const img = await decodeImageBytes(bmp, 'wide.bmp');
    assert.deepEqual([img.width, img.height], [4096, 7]);
  });
});
