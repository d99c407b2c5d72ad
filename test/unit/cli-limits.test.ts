/**
 * Hard limits on hostile input to the CLI: special files and system folders are refused at once, user-given
 * keys never reach Object.prototype, flags and sidecars are parsed strictly, non-finite numbers are errors,
 * and in batch mode one bad file or one inapplicable method never takes the rest down.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy } from '../../src/core/npy';
import { MNIST_BURN, ROOT, SQUEEZENET, TWO_CLASS } from '../support/paths';

const CLI = path.join(ROOT, 'dist', 'cli.js');

function cli(args: string[], timeout = 60000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0, killed: r.signal !== null };
}

/** A clean failure: the expected exit code, the message, no stack trace, no hang. */
function refuses(r: ReturnType<typeof cli>, code: number, message: RegExp): void {
  assert.ok(!r.killed, 'the command hung');
  assert.equal(r.code, code, `exit ${r.code}; stderr: ${r.stderr}; stdout: ${r.stdout.slice(0, 300)}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
}

describe('the CLI under hostile input', function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-limits-'));
  before(() => {
    if (!fs.existsSync(CLI)) execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('refuses output folders in system file systems before any work (Node never returns from mkdir -p there)', () => {
    for (const out of ['/proc/x', '/proc/self/x/y']) {
      const r = cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'cam', '--out', out], 20000);
      refuses(r, 2, /Cannot write outputs to '\/proc[^']*': \/proc is a system file system/);
      assert.ok(r.ms < 10000, `took ${r.ms} ms`);
    }
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    refuses(cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'cam', '--out', path.join(file, 'sub')]), 2, /'.*a-file' is a file, not a folder/);
  });

  it('reads only regular files: devices as labels, models or images are refused by name', () => {
    refuses(cli(['predict', SQUEEZENET, TWO_CLASS, '--labels', '/dev/zero']), 2, /Cannot read labels file '\/dev\/zero': it is not a regular file/);
    refuses(cli(['predict', '/dev/urandom', TWO_CLASS]), 2, /Cannot read model '\/dev\/urandom': it is not a regular file/);
    refuses(cli(['predict', SQUEEZENET, '/dev/zero']), 1, /Cannot read image file '\/dev\/zero': it is not a regular file/);
  });

  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`never looks a user-given key up on Object.prototype: ${key}`, () => {
      refuses(cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'cam', '--colormap', key, '--out', tmp]), 2, new RegExp(`Unknown colormap '${key}'`));
      refuses(cli(['predict', SQUEEZENET, TWO_CLASS, '--preset', key]), 2, new RegExp(`Unknown preprocessing preset '${key}'`));
      refuses(cli(['explain', SQUEEZENET, TWO_CLASS, '--method', key, '--out', tmp]), 2, new RegExp(`Unknown method '${key}'`));
      const dir = fs.mkdtempSync(path.join(tmp, 'side-'));
      const model = path.join(dir, 'm.onnx');
      fs.copyFileSync(SQUEEZENET, model);
      fs.writeFileSync(`${model}.json`, `{"methodOptions": {"${key}": {"patch": 3}}, "preset": "torchvision"}`);
      const r = cli(['explain', model, TWO_CLASS, '--method', 'cam', '--out', tmp, '--json']);
      assert.equal(r.code, 0, r.stderr);
    });
  }

  it('parses class lists and numbers strictly', () => {
    refuses(cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'cam', '--class', '', '--out', tmp]), 2, /--class "" is not a class index/);
    refuses(cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'cam', '--class', '3,,4', '--out', tmp]), 2, /--class "" is not a class index/);
    refuses(cli(['predict', SQUEEZENET, TWO_CLASS, '--top', '-1']), 2, /--top/);
    refuses(cli(['predict', SQUEEZENET, TWO_CLASS, '--top', '2.5']), 2, /--top must be a whole number from 1/);
    refuses(cli(['predict', SQUEEZENET, TWO_CLASS, '--input-size', '100000']), 2, /--input-size must be a whole number from 8 to 4096/);
  });

  it('checks sidecars against their schema: types, ranges, unknown fields with a did-you-mean', () => {
    const cases: [string, RegExp][] = [
      ['{"preset": [1, 2]}', /"preset" must be a preset name or an object/],
      ['{"preset": {"preset": "unit", "std": [-1]}}', /'std' must be a list of 1 or 3 positive numbers/],
      ['{"preset": {"preset": "unit", "scale": 1e308}}', /'scale' must be a positive number up to 1000000/],
      ['{"preset": {"preset": "unit", "stdd": [1]}}', /unknown field 'stdd' \(did you mean 'std'\?\)/],
      ['{"labes": "labels.txt"}', /unknown field "labes" \(did you mean 'labels'\?\)/],
      ['{"inputSize": "big"}', /"inputSize" must be a number of pixels or \[height, width\]/],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const dir = path.join(tmp, `sidecar-${i}`);
      fs.mkdirSync(dir);
      const model = path.join(dir, 'm.onnx');
      fs.copyFileSync(SQUEEZENET, model);
      fs.writeFileSync(`${model}.json`, text);
      refuses(cli(['predict', model, TWO_CLASS]), 2, message);
    }
  });

  it('refuses a .npy input holding NaN instead of printing NaN%', () => {
    const data = new Float32Array(3 * 224 * 224);
    data[5] = NaN;
    const p = path.join(tmp, 'nan.npy');
    fs.writeFileSync(p, encodeNpy(data, [1, 3, 224, 224]));
    refuses(cli(['explain', SQUEEZENET, p, '--method', 'gradcam', '--out', tmp]), 1, /'.*nan\.npy' holds a non-finite value \(NaN\) at index 5/);
  });

  it("batch mode takes README's --batch-size with --method cam (occlusion's option of the same name does not claim it)", () => {
    const dir = path.join(tmp, 'two');
    fs.mkdirSync(dir);
    fs.copyFileSync(TWO_CLASS, path.join(dir, 'a.png'));
    fs.copyFileSync(TWO_CLASS, path.join(dir, 'b.png'));
    const r = cli(['explain', SQUEEZENET, dir, '--method', 'cam', '--batch-size', '2', '--out', path.join(tmp, 'two-report'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).batchSize, 2);
  });

  it('batch mode survives any one file and skips a method that does not apply, running the others', () => {
    const dir = path.join(tmp, 'folder');
    fs.mkdirSync(dir);
    const digit = path.join(ROOT, 'test', 'fixtures', 'images', 'mnist', 'mnist_3_1020.png');
    for (const n of ['b.png', 'b.jpg', 'b_2.png']) fs.copyFileSync(n.endsWith('.jpg') ? path.join(ROOT, 'test', 'fixtures', 'images', 'mnist', 'mnist_7_1055.png') : digit, path.join(dir, n));
    fs.copyFileSync(digit, path.join(dir, `${'l'.repeat(240)}.png`));
    fs.symlinkSync(path.join(dir, 'gone.png'), path.join(dir, 'broken.png'));
    const out = path.join(tmp, 'report');
    const r = cli(['explain', MNIST_BURN, dir, '--method', 'cam,guided-backprop', '--out', out, '--json'], 120000);
    assert.ok(!r.killed);
    assert.equal(r.code, 1, 'some images failed');
    const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.deepEqual(s.skipped.map((k: { method: string }) => k.method), ['cam']);
    assert.match(s.skipped[0].reason, /CAM needs global average pooling/);
    const byName = new Map<string, { outputs: { method: string; npy: string }[]; error?: string }>(s.images.map((i: { input: string }) => [path.basename(i.input), i]));
    for (const n of ['b.png', 'b.jpg', 'b_2.png']) {
      const img = byName.get(n)!;
      assert.equal(img.error, undefined, `${n}: ${img.error}`);
      assert.deepEqual(img.outputs.map((o) => o.method), ['guided-backprop']);
    }
    const npys = ['b.png', 'b.jpg', 'b_2.png'].map((n) => byName.get(n)!.outputs[0].npy);
    assert.equal(new Set(npys).size, 3, `distinct output files: ${npys.join(', ')}`);
    for (const f of npys) assert.ok(fs.existsSync(path.join(out, f)));
    assert.match(byName.get('broken.png')!.error!, /no such file/);
    assert.match(byName.get(`${'l'.repeat(240)}.png`)!.error!, /name is too long/);
    assert.ok(fs.existsSync(path.join(out, 'index.html')));
  });
});
