/**
 * The application layer under every front end: each registered method runs through the explain use case on
 * a real model (so registering a method covers it), and a bad input gets the same message from the CLI's
 * single-image and batch modes and from the path the webviews take (the host's payload → modelSourceOf →
 * Classifier.load).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import { Classifier, type InputGeometry, sidecarLabels } from '../../src/core/app/classifier';
import { methodAvailability } from '../../src/core/app/availability';
import { explainImage, prepareImage } from '../../src/core/app/explain-image';
import { LookCloserError, messageOf } from '../../src/core/errors';
import { METHODS } from '../../src/core/methods/registry';
import { modelSourceOf } from '../../src/protocol/model-payload';
import type { Runtime } from '../../src/core/runtime';
import type { ModelPayload } from '../../src/protocol/protocol';
import { decodeImageFile } from '../../src/node/image-io';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { MNIST_BURN, MNIST_DIGITS, ROOT, SAMPLES, SQUEEZENET, TWO_CLASS } from '../support/paths';

describe('the explain use case runs every registered method', function () {
  // A ResNet-style export (random weights, 24×24, GAP → Linear, so every method applies) keeps the rerunning
  // methods (Score-CAM: one pass per channel) quick; the photo test below runs on the bundled SqueezeNet.
  const REF = path.join(ROOT, 'test', 'fixtures', 'ref');
  const [top1, third] = (JSON.parse(fs.readFileSync(path.join(REF, 'resnet', 'classes.json'), 'utf8')) as { classes: number[] }).classes;
  let model: LoadedModel;
  let input: LoadedInput;
  before(async () => {
    model = await loadModel(webRuntime(), path.join(REF, 'resnet_op17.onnx'));
    input = await loadInput(model, path.join(REF, 'resnet', 'input.npy'));
  });
  after(() => model.dispose());

  for (const m of METHODS.filter((x) => x.family === 'attention')) {
    it(`${m.id}: refused on a CNN with the reason (it reads a transformer's attention; test/unit/attention-maps.test.ts)`, async () => {
      await assert.rejects(explainImage(model, input, { method: m.id, classes: [third] }), /no attention layer/);
    });
  }

  for (const m of METHODS.filter((x) => x.family !== 'attention')) {
    it(`${m.id}: predictions, one finite map per class, the right display, GAIN's check`, async () => {
      const o = await explainImage(model, input, { method: m.id, classes: [third], top: 1, gain: { control: false, classes: [third] } });
      assert.equal(o.method.id, m.id);
      assert.equal(o.predictions[0].index, top1, 'top-1 as PyTorch predicted it');
      assert.deepEqual(o.outputs.map((x) => x.explanation.classIndex), [third, top1]);
      const out = o.outputs[0];
      const e = out.explanation;
      assert.equal(e.method, m.id);
      assert.ok(e.raw.data.every(Number.isFinite), 'finite raw map');
      assert.ok(out.max > out.min, `a map that varies (${out.min} … ${out.max})`);
      if (e.display.kind === 'heatmap') {
        assert.equal(e.display.map.length, e.display.width * e.display.height);
        assert.ok(e.display.map.every((v) => v >= 0 && v <= 1));
      } else assert.deepEqual(e.display.grad.dims, [3, 24, 24]);
      if (m.family === 'cam') assert.ok(o.layer, 'CAM-family methods report their layer');
      assert.equal(o.outputs[1].metrics.gain, undefined, 'GAIN measured only where asked');
      const g = out.metrics.gain!;
      assert.equal(g.score, 'softmax');
      assert.ok(g.probBefore > 0 && g.probBefore <= 1 && g.probAfter >= 0 && g.probAfter <= 1);
      assert.ok(Math.abs(g.drop - (g.before - g.after)) < 1e-9);
    });
  }

  it('the bundled SqueezeNet on a photo: labels, top-1 and a map for the asked class', async () => {
    const squeeze = await loadModel(webRuntime(), SQUEEZENET);
    try {
      const o = await explainImage(squeeze, await loadInput(squeeze, TWO_CLASS), { method: 'gradcam', classes: [281] });
      assert.equal(o.predictions[0].label, 'Bullmastiff');
      assert.equal(o.outputs[0].label, 'tabby cat');
      assert.deepEqual(o.outputs[0].explanation.raw.dims, [13, 13]);
    } finally {
      await squeeze.dispose();
    }
  });

  it('lists the methods that cannot run on a model with the reason (CAM without a global-pooling head), and the rest as available', async () => {
    const mnist = await loadModel(webRuntime(), MNIST_BURN);
    try {
      const a = await methodAvailability(mnist);
      assert.deepEqual(a.map((x) => x.method), METHODS.map((m) => m.id));
      assert.deepEqual(a.filter((x) => !x.available).map((x) => x.method), ['cam', 'attention-rollout', 'grad-rollout']);
      assert.match(a[0].reason!, /CAM needs global average pooling .* Use --method gradcam/);
    } finally {
      await mnist.dispose();
    }
    const onResnet = await methodAvailability(model);
    assert.deepEqual(onResnet.filter((x) => !x.available).map((x) => x.method), ['attention-rollout', 'grad-rollout'], 'every other method runs on the ResNet-style export');
  });

  it('no method asked for: the first registry method that applies runs, and says why the others did not', async () => {
    const mnist = await loadModel(webRuntime(), MNIST_BURN);
    try {
      const digit = await loadInput(mnist, path.join(ROOT, 'test', 'fixtures', 'images', 'mnist', 'mnist_3_1020.png'));
      const o = await explainImage(mnist, digit, {});
      assert.equal(o.method.id, 'gradcam');
      assert.match(o.note!, /^CAM does not apply to this model \(CAM needs global average pooling .*\); showing Grad-CAM\.$/);
      assert.equal(o.predictions[0].index, 3);
    } finally {
      await mnist.dispose();
    }
  });
});

describe("Classifier.load says how to preprocess before onnxruntime creates the model's session", function () {
  // The host's first map preprocesses its image there (src/node/preview-thread.ts), before onnxruntime-web's start
  // takes the cores: that input must be the loaded classifier's own, bit for bit.
  const cases: [string, string, string, string | undefined][] = [
    ['the bundled SqueezeNet on a photo (Pillow resize and center crop)', SQUEEZENET, path.join(SAMPLES, 'wm_cat.jpg'), undefined],
    ["SqueezeNet with a preset picked (caffe-bgr: squash, plain bilinear, BGR)", SQUEEZENET, TWO_CLASS, 'caffe-bgr'],
    ['a gray MNIST model on a digit', MNIST_BURN, path.join(MNIST_DIGITS, 'mnist_3_1020.png'), undefined],
  ];
  for (const [name, file, imageFile, preset] of cases) {
    it(name, async () => {
      const events: string[] = [];
      const inner = webRuntime();
      const runtime: Runtime = { ...inner, createSession: (m, o) => (events.push('session'), inner.createSession(m, o)) };
      let geometry: InputGeometry | undefined;
      const c = await Classifier.load(runtime, { path: file, name: path.basename(file), bytes: new Uint8Array(fs.readFileSync(file)), preset }, (g) => {
        events.push('opened');
        geometry = g;
      });
      try {
        assert.deepEqual(events.slice(0, 2), ['opened', 'session'], 'told before the first session');
        assert.equal(events.filter((e) => e === 'opened').length, 1);
        assert.equal(geometry!.preprocessing, c.preprocessing, 'the preprocessing the classifier uses');
        assert.deepEqual(geometry!.spec, c.spec);
        const image = await decodeImageFile(imageFile);
        const early = prepareImage(geometry!, image);
        const own = prepareImage(c, image);
        assert.deepEqual(early.tensor.dims, own.tensor.dims);
        assert.ok(Buffer.from(early.tensor.data.buffer).equals(Buffer.from(own.tensor.data.buffer)), 'the same input tensor, bit for bit');
        assert.deepEqual(early.crop, own.crop);
        assert.deepEqual(early.base, own.base);
      } finally {
        await c.dispose();
      }
    });
  }

  it("a model onnxruntime refuses: told first, then the load fails with the model's name", async () => {
    let told = 0;
    const bytes = new Uint8Array(fs.readFileSync(SQUEEZENET));
    const refusing: Runtime = { ...webRuntime(), createSession: () => Promise.reject(new LookCloserError('runtime', 'onnxruntime could not load the model: no')) };
    await assert.rejects(Classifier.load(refusing, { path: 'x.onnx', name: 'x.onnx', bytes }, () => told++), /Cannot load 'x\.onnx': onnxruntime could not load the model: no/);
    assert.equal(told, 1);
  });
});

describe('a bad input gets the same message in every front end', function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-same-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const squeeze = fs.readFileSync(SQUEEZENET);
  const folder = path.join(tmp, 'images');
  fs.mkdirSync(folder);
  fs.copyFileSync(TWO_CLASS, path.join(folder, 'photo.png'));

  /** Writes a model (and its sidecar and labels) into its own folder; returns the model path. */
  const modelCase = (name: string, bytes: Uint8Array, sidecar?: string, labels?: string, configs: Record<string, string> = {}) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    const p = path.join(dir, 'model.onnx');
    fs.writeFileSync(p, bytes);
    if (sidecar !== undefined) fs.writeFileSync(`${p}.json`, sidecar);
    if (labels !== undefined) fs.writeFileSync(path.join(dir, 'labels.txt'), labels);
    for (const [f, text] of Object.entries(configs)) fs.writeFileSync(path.join(dir, f), text);
    return p;
  };

  /** What the extension host sends the panel and the folder view for this model (src/extension/workspace-files.ts). */
  const payload = (p: string): ModelPayload => {
    const sidecarText = fs.existsSync(`${p}.json`) ? fs.readFileSync(`${p}.json`, 'utf8') : undefined;
    const named = sidecarText !== undefined ? sidecarLabels({ text: sidecarText, name: 'model.onnx.json' }) : undefined;
    const labelsPath = named && path.join(path.dirname(p), named);
    const beside = (f: string) => (fs.existsSync(path.join(path.dirname(p), f)) ? { text: fs.readFileSync(path.join(path.dirname(p), f), 'utf8'), name: f } : undefined);
    const configs = { config: beside('config.json'), preprocessor: beside('preprocessor_config.json') };
    return {
      key: p, name: path.basename(p), origin: p, bytes: new Uint8Array(fs.readFileSync(p)), sidecarText, configs,
      labels: labelsPath ? { text: fs.readFileSync(labelsPath, 'utf8'), name: `models/${named}`, uri: labelsPath } : undefined,
      fallbackLabels: { imagenet: fs.readFileSync(path.join(ROOT, 'assets', 'labels', 'imagenet-simple-labels.json'), 'utf8'), digits: '' },
      writable: true,
    };
  };

  /** The CLI's message for a command (what follows 'look-closer: ' on stderr) and its exit code. */
  const cliMessage = async (args: string[]) => {
    const lines: string[] = [];
    const err = console.error;
    console.error = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      const code = await main(args);
      return { code, message: lines.join('\n').replace(/^look-closer: /, '') };
    } finally {
      console.error = err;
    }
  };

  const webviewMessage = async (p: string) => {
    try {
      const c = await Classifier.load(webRuntime(), modelSourceOf(payload(p)));
      await c.dispose();
      return '(loaded)';
    } catch (e) {
      return messageOf(e);
    }
  };

  const cases: [string, () => string, RegExp][] = [
    ['random bytes as a model', () => modelCase('random', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)), /model\.onnx/],
    ['a truncated model', () => modelCase('truncated', squeeze.subarray(0, 1_000_000)), /truncated/],
    ['a sidecar that is not JSON', () => modelCase('sidecar-text', squeeze, 'preset: torchvision'), /Sidecar 'model\.onnx\.json' is not valid JSON/],
    ['a sidecar input size on a fixed-size model', () => modelCase('fixed-size', squeeze, '{"inputSize": 320}'), /the sidecar's inputSize \(model\.onnx\.json\) asks for 320×320, but model\.onnx's input is fixed at 224×224/],
    ['a sidecar input size out of range', () => modelCase('huge-size', squeeze, '{"inputSize": 100000}'), /inputSize \(model\.onnx\.json\) must be a whole number of pixels .* between 2 and 4096, got 100000/],
    ['an unknown preset in the sidecar', () => modelCase('preset', squeeze, '{"preset": "imagenette"}'), /imagenette/],
    ['config.json labels that do not match the class count', () => modelCase('config-labels', squeeze, undefined, undefined, { 'config.json': '{"id2label": {"0": "cat", "1": "dog"}}' }), /Labels \(config\.json id2label\) list 2 classes but model\.onnx scores 1000\./],
    ['a preprocessor_config.json with no size', () => modelCase('config-size', squeeze, undefined, undefined, { 'preprocessor_config.json': '{"image_mean": [0.5]}' }), /'preprocessor_config\.json' gives no image size/],
    ['labels that do not match the class count', () => modelCase('labels', squeeze, '{"labels": "labels.txt"}', 'cat\ndog\n'), /Labels \(sidecar: labels\.txt\) list 2 classes but model\.onnx scores 1000\./],
  ];
  for (const [name, make, expected] of cases) {
    it(name, async () => {
      const p = make();
      const single = await cliMessage(['predict', p, TWO_CLASS]);
      const batch = await cliMessage(['explain', p, folder, '--method', 'gradcam', '--out', path.join(tmp, `${path.basename(path.dirname(p))}-report`)]);
      const web = await webviewMessage(p);
      assert.notEqual(single.code, 0);
      assert.notEqual(batch.code, 0);
      assert.match(single.message, expected);
      assert.equal(batch.message, single.message, 'batch mode says what the single-image command says');
      assert.equal(web, single.message, 'the panel and the folder view say what the CLI says');
    });
  }
});
