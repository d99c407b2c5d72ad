/** The `look-closer` command line as scripts use it: the --json/.npy contract, and bad input failing cleanly. */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeNpy } from '../../src/core/npy';
import { ROOT, SAMPLES, SQUEEZENET, TWO_CLASS } from '../support/paths';
import { tinyModel } from '../support/tiny-model';

const CLI = path.join(ROOT, 'dist', 'cli.js');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('look-closer CLI', function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-cli-'));
  before(() => {
    if (!fs.existsSync(CLI)) execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('explain --json writes one JSON object and, per class, a PNG overlay and a raw .npy at layer resolution', () => {
    const out = path.join(tmp, 'out');
    const r = cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'gradcam', '--class', '243', '--class', '281', '--out', out, '--json', '--colormap', 'turbo']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    for (const k of ['model', 'input', 'backend', 'preprocessing', 'predictions', 'method', 'layer', 'outputs', 'timings']) assert.ok(k in j, `missing ${k}`);
    for (const k of ['load', 'preprocess', 'forward', 'explain', 'total']) assert.equal(typeof j.timings[k], 'number');
    assert.equal(j.method, 'gradcam');
    assert.equal(j.layer, 'conv10_2');
    assert.equal(j.predictions[0].index, 243);
    assert.equal(j.predictions[0].label, 'Bullmastiff');
    assert.deepEqual(j.outputs.map((o: { class: number }) => o.class), [243, 281]);
    for (const o of j.outputs) {
      const npy = decodeNpy(new Uint8Array(fs.readFileSync(o.npy)));
      assert.deepEqual(npy.shape, [13, 13]);
      assert.ok(npy.data.every((v) => v >= 0), 'raw map is after ReLU');
      assert.ok(fs.readFileSync(o.png).subarray(1, 4).toString() === 'PNG');
    }
  });

  it('predict prints the top classes; layers marks the default layer', () => {
    const p = cli(['predict', SQUEEZENET, path.join(SAMPLES, 'wm_flamingo.jpg'), '--top', '3']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout.split('\n')[0], /130\s+flamingo/);
    const l = cli(['layers', SQUEEZENET, '--json']);
    const j = JSON.parse(l.stdout);
    assert.equal(j.defaultLayer, 'conv10_2');
    assert.ok(j.layers.length > 30);
  });

  it('input-gradient methods write [C,H,W] .npy files', () => {
    const out = path.join(tmp, 'gb');
    const r = cli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'guided-backprop', '--top', '1', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const npy = decodeNpy(new Uint8Array(fs.readFileSync(JSON.parse(r.stdout).outputs[0].npy)));
    assert.deepEqual(npy.shape, [3, 224, 224]);
  });

  describe('bad input gets a specific message, a non-zero exit and no stack trace', () => {
    const write = (name: string, data: Uint8Array | string) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, data);
      return p;
    };
    const cases: [string, () => Promise<string[]>, RegExp][] = [
      ['random bytes as a model', async () => ['predict', write('random.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)), TWO_CLASS], /Cannot read '.*random\.onnx' as an ONNX model|does not contain an ONNX graph/],
      ['a truncated model', async () => ['predict', write('trunc.onnx', fs.readFileSync(SQUEEZENET).subarray(0, 1_000_000)), TWO_CLASS], /corrupt or truncated|truncated/],
      ['an image that is not an image', async () => ['predict', SQUEEZENET, write('notes.jpg', 'these are my notes, not a photo')], /Cannot decode '.*notes\.jpg' as an image/],
      ['a truncated JPEG', async () => ['predict', SQUEEZENET, write('half.jpg', fs.readFileSync(path.join(SAMPLES, 'wm_cat.jpg')).subarray(0, 20000))], /Cannot decode '.*half\.jpg' as an image/],
      ['a 1×1 image', async () => ['predict', SQUEEZENET, write('dot.png', await sharp({ create: { width: 1, height: 1, channels: 3, background: '#f00' } }).png().toBuffer())], /1×1 pixels; Look Closer needs at least 2×2/],
      ['a model with two image inputs', async () => ['predict', write('two.onnx', tinyModel({ inputs: { a: [1, 3, 8, 8], b: [1, 3, 8, 8] }, nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }], output: 'y' })), TWO_CLASS], /has 2 inputs \('a', 'b'\); Look Closer explains image classifiers with exactly one image input/],
      ['a model with a non-4-D input', async () => ['predict', write('flat.onnx', tinyModel({ inputs: { x: [1, 784] }, nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], output: 'y' })), TWO_CLASS], /rank 2\); Look Closer needs a 4-D image input/],
      ['a .npy of the wrong shape', async () => ['predict', SQUEEZENET, write('wrong.npy', fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'ref', 'resnet', 'input.npy')))], /holds a tensor of shape \[1, 3, 24, 24\]; the model input is \[1, 3, 224, 224\]/],
      ['an unknown method', async () => ['explain', SQUEEZENET, TWO_CLASS, '--method', 'magic'], /Unknown method 'magic'\. Available: cam, gradcam/],
      ['an unknown layer', async () => ['explain', SQUEEZENET, TWO_CLASS, '--method', 'gradcam', '--layer', 'nope'], /no (explainable )?tensor named 'nope'/],
      ['a class out of range', async () => ['explain', SQUEEZENET, TWO_CLASS, '--method', 'cam', '--class', '1000'], /--class 1000 is not a class index of this model \(0–999\)/],
      ['CAM on a head it does not apply to', async () => ['explain', path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-burn-pytorch.onnx'), path.join(ROOT, 'test', 'fixtures', 'images', 'mnist', 'mnist_3_1020.png'), '--method', 'cam'], /CAM needs global average pooling .* Use --method gradcam/],
      ['a missing file', async () => ['predict', path.join(tmp, 'absent.onnx'), TWO_CLASS], /Cannot read model '.*absent\.onnx': no such file/],
    ];
    for (const [name, args, message] of cases) {
      it(name, async () => {
        const r = cli(await args());
        assert.notEqual(r.code, 0, `exit code 0; stdout ${r.stdout}`);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
      });
    }
  });
});
