/**
 * What `npm run fuzz` (scripts/fuzz/) found, kept as tests: every error names what it is about, deep or
 * odd JSON in sidecars and labels files gets a message instead of a stack overflow or "[object Object]",
 * and folder mode takes its documented --batch-size whatever the method.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LookCloserError } from '../../src/core/errors';
import { Explainer } from '../../src/core/explainer';
import { parseLabels, parseSidecar } from '../../src/core/model-config';
import { resolvePreset } from '../../src/core/preprocess/presets';
import type { Runtime } from '../../src/core/runtime';
import { MNIST_8, MNIST_DIGITS, ROOT } from '../support/paths';

const CLI = path.join(ROOT, 'dist', 'cli.js');

function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LookCloserError && message.test(e.message));
}

describe('fuzz findings', function () {
  this.timeout(60000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-fuzz-'));
  before(() => {
    if (!fs.existsSync(CLI)) execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('refuses a sidecar nested 10,000 levels deep by name (JSON.stringify in a message overflowed the stack)', () => {
    const deep = `{"preset": ${'{"preset": '.repeat(10000)}"unit"${'}'.repeat(10000)}}`;
    refuses(() => parseSidecar(deep, 'm.onnx.json'), /^Sidecar 'm\.onnx\.json' nests objects or lists more than 16 levels deep/);
    assert.deepEqual(parseSidecar('{"methodOptions": {"occlusion": {"patch": 4}}, "preset": {"preset": "unit", "mean": [0.5]}}', 'ok.json').methodOptions, { occlusion: { patch: 4 } });
  });

  it('refuses a sidecar resizeShorter past 4,096 (1e9 resized the image into gigabytes before the crop)', () => {
    refuses(() => resolvePreset({ preset: 'inception', resize: 'center-crop', resizeShorter: 1e9 }), /'resizeShorter' must be a whole number from 1 to 4096, got 1000000000/);
    assert.equal(resolvePreset({ preset: 'inception', resize: 'center-crop', resizeShorter: 4096 }).resizeShorter, 4096);
  });

  it('reads labels JSON of strings or numbers only, naming the first other entry', () => {
    assert.deepEqual(parseLabels('["a", 2]', 'l.json'), ['a', '2']);
    refuses(() => parseLabels('[{"t": "a"}]', 'l.json'), /^Labels file 'l\.json' must be a JSON array of strings; entry 0 is an object\.$/);
    refuses(() => parseLabels('["a", null]', 'l.json'), /entry 1 is null/);
    refuses(() => parseLabels(`[${'['.repeat(20000)}"x"${']'.repeat(20000)}]`, 'l.json'), /entry 0 is a list/);
  });

  it('names the model when onnxruntime cannot load it', async () => {
    const failing: Runtime = {
      backend: 'test',
      createSession: () => Promise.reject(new LookCloserError('runtime', 'onnxruntime could not load the model: Failed to load model because protobuf parsing failed.')),
    };
    await assert.rejects(Explainer.load(failing, fs.readFileSync(MNIST_8), 'mnist.onnx'), (e: unknown) =>
      e instanceof LookCloserError && e.kind === 'bad-model' && /^Cannot load 'mnist\.onnx': onnxruntime could not load the model: /.test(e.message));
  });

  it('names the .npy file it cannot read', () => {
    const bad = path.join(tmp, 'bad.npy');
    fs.writeFileSync(bad, 'not numpy');
    const r = spawnSync(process.execPath, [CLI, 'predict', MNIST_8, bad], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^look-closer: Cannot read '.*bad\.npy' as \.npy data: the file does not start with the NumPy magic bytes\./);
  });

  it('refuses an empty --alpha (Number("") is 0)', () => {
    const r = spawnSync(process.execPath, [CLI, 'attention', MNIST_8, path.join(MNIST_DIGITS, 'mnist_3_1020.png'), '--alpha', '', '--out', path.join(tmp, 'att')], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--alpha needs a value; it was given an empty one/);
  });

  it('refuses an empty value for any flag (an empty --preset quietly meant the default preset, exit 0)', () => {
    for (const flag of ['--preset', '--layer', '--colormap', '--target']) {
      const r = spawnSync(process.execPath, [CLI, 'explain', MNIST_8, path.join(MNIST_DIGITS, 'mnist_3_1020.png'), flag, '', '--out', path.join(tmp, 'empty')], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${flag}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^look-closer: ${flag} needs a value; it was given an empty one\\.`));
    }
  });

  it('takes --batch-size in folder mode with a method that has no batch-size option', () => {
    const dir = path.join(tmp, 'digits');
    fs.mkdirSync(dir);
    for (const n of fs.readdirSync(MNIST_DIGITS).slice(0, 2)) fs.copyFileSync(path.join(MNIST_DIGITS, n), path.join(dir, n));
    const r = spawnSync(process.execPath, [CLI, 'explain', MNIST_8, dir, '--method', 'saliency', '--batch-size', '2', '--out', path.join(tmp, 'report')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
