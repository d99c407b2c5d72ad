/**
 * Behaviour of the input attributions and score targets beyond the PyTorch references: target parsing and the
 * refusals (method-not-applicable naming method and target), Integrated Gradients' completeness gap shrinking
 * with the steps and its black baseline needing the preprocessing, seeded reproducibility of the noise tunnel,
 * RISE stacked along the batch axis equal to one by one, its progress and cancel, and the CLI's --target.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import { explainImage } from '../../src/core/app/explain-image';
import { LookCloserError } from '../../src/core/errors';
import { Explainer } from '../../src/core/explainer';
import type { IntegratedGradientsPayload } from '../../src/core/methods/method';
import { methodById } from '../../src/core/methods/registry';
import { parseScoreTarget, targetScores } from '../../src/core/methods/score-target';
import { decodeNpy } from '../../src/core/npy';
import { PRESETS } from '../../src/core/preprocess/presets';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { ROOT } from '../support/paths';

const REF = path.join(ROOT, 'test', 'fixtures', 'ref');
const npyTensor = (p: string) => {
  const a = decodeNpy(new Uint8Array(fs.readFileSync(p)));
  return float32(a.data, a.shape);
};
const notApplicable = (re: RegExp) => (e: unknown) => e instanceof LookCloserError && e.kind === 'method-not-applicable' && re.test(e.message);

describe('score targets', () => {
  it('parses logit, softmax, sigmoid and contrast:B, and refuses the rest', () => {
    for (const t of ['logit', 'softmax', 'sigmoid', 'contrast:0', 'contrast:281']) assert.equal(parseScoreTarget(t), t);
    for (const t of ['', 'Logit', 'contrast:', 'contrast:-1', 'contrast:1.5', 'contrast:a', 'probability']) assert.throws(() => parseScoreTarget(t), /Target must be/);
    assert.throws(() => parseScoreTarget('contrast:10', 10), /out of range: the model has 10 classes/);
  });

  it('scores each class as the target says', () => {
    const z = Float32Array.from([1, 3, -2]);
    assert.deepEqual([...targetScores(z, [1, 2], 'logit')], [3, -2]);
    assert.deepEqual([...targetScores(z, [1, 2], 'contrast:0')], [2, -3]);
    const s = targetScores(z, [2], 'sigmoid')[0];
    assert.ok(Math.abs(s - 1 / (1 + Math.exp(2))) < 1e-7);
    const p = targetScores(z, [0, 1, 2], 'softmax');
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  });
});

describe('input attributions on the ResNet-style reference', function () {
  let model: LoadedModel;
  let input: LoadedInput;
  const x = npyTensor(path.join(REF, 'resnet', 'input.npy'));
  before(async () => {
    model = await loadModel(webRuntime(), path.join(REF, 'resnet_op17.onnx'));
    input = await loadInput(model, path.join(REF, 'resnet', 'input.npy'));
  });
  after(() => model.dispose());

  it('guided backprop, deconvnet and Guided Grad-CAM refuse a contrast, naming method and target', async () => {
    for (const [id, title] of [['guided-backprop', 'Guided backprop'], ['deconvnet', 'Deconvnet'], ['guided-gradcam', 'Guided Grad-CAM']]) {
      await assert.rejects(explainImage(model, input, { method: id, classes: [3], target: 'contrast:6' }), notApplicable(new RegExp(`^${title} cannot explain target 'contrast:6'`)));
    }
    // Run directly (as the panel does), guided backprop refuses too: its rule reads the gradient's sign.
    await assert.rejects(methodById('guided-backprop').run(model.explainer, { input: x, classes: [3], target: 'contrast:6' }), notApplicable(/Guided backprop cannot explain target 'contrast:6': its guided-backprop rule depends on the gradient's sign/));
    await assert.rejects(methodById('smoothgrad').run(model.explainer, { input: x, classes: [3], target: 'contrast:6', options: { inner: 'deconvnet', samples: 2 } }), notApplicable(/SmoothGrad cannot explain target 'contrast:6'/));
  });

  it('methods that read only activations refuse sigmoid and contrast; a contrast class out of range is a bad argument', async () => {
    await assert.rejects(explainImage(model, input, { method: 'cam', target: 'sigmoid' }), notApplicable(/^CAM cannot explain target 'sigmoid'; it explains logit, softmax\.$/));
    await assert.rejects(explainImage(model, input, { method: 'eigencam', target: 'contrast:1' }), notApplicable(/Eigen-CAM cannot explain target 'contrast:1'/));
    await assert.rejects(explainImage(model, input, { method: 'saliency', target: 'contrast:10' }), /Class 10 is out of range/);
    // Run directly (the panel's path), the CAM template checks too; Guided Grad-CAM honours a sigmoid.
    await assert.rejects(methodById('cam').run(model.explainer, { input: x, classes: [3], target: 'sigmoid' }), notApplicable(/^CAM cannot explain target 'sigmoid'/));
    const g = await explainImage(model, input, { method: 'guided-gradcam', classes: [3], target: 'sigmoid' });
    assert.ok(g.outputs[0].max > g.outputs[0].min);
  });

  it('a contrast with top K explains the top class minus B; a class against itself is zero', async () => {
    const o = await explainImage(model, input, { method: 'saliency', top: 1, target: 'contrast:6' });
    const c = o.outputs[0].explanation.classIndex;
    assert.equal(c, o.predictions[0].index);
    const plain = await explainImage(model, input, { method: 'saliency', classes: [c, 6] });
    const [a, b] = plain.outputs.map((p) => p.explanation.raw.data);
    const got = o.outputs[0].explanation.raw.data;
    got.forEach((v, i) => assert.ok(Math.abs(v - (a[i] - b[i])) < 1e-5));
    const self = await explainImage(model, input, { method: 'gradcam', classes: [6], target: 'contrast:6' });
    assert.equal(self.outputs[0].max, 0, 'Grad-CAM of z_6 − z_6 is zero');
  });

  it('Integrated Gradients: the completeness gap shrinks as the steps grow, and a black baseline needs the preprocessing', async () => {
    const ig = methodById('integrated-gradients');
    const gap = async (steps: number) => {
      const r = await ig.run(model.explainer, { input: x, classes: [3], target: 'logit', options: { steps, baseline: 'blur' } });
      return Math.abs((r.explanations[0].payload as IntegratedGradientsPayload).completenessGap);
    };
    const [g2, g64] = [await gap(2), await gap(64)];
    assert.ok(g64 < g2 / 4, `gap at 64 steps ${g64} vs 2 steps ${g2}`);
    await assert.rejects(ig.run(model.explainer, { input: x, classes: [3], target: 'logit' }), /black baseline needs the preprocessing/);
    const steps: number[] = [];
    const r = await ig.run(model.explainer, { input: x, classes: [3], target: 'logit', options: { steps: 4 }, source: { preprocessing: PRESETS.torchvision }, onProgress: (d) => steps.push(d) });
    assert.deepEqual(steps, [1, 2, 3, 4, 5]);
    assert.equal((r.explanations[0].payload as IntegratedGradientsPayload).baseline, 'black');
  });

  it('the noise tunnel is reproducible by seed', async () => {
    const run = (seed: number) => methodById('smoothgrad').run(model.explainer, { input: x, classes: [3], target: 'logit', options: { samples: 3, seed } });
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    assert.deepEqual(a.explanations[0].raw.data, b.explanations[0].raw.data);
    assert.notDeepEqual(a.explanations[0].raw.data, c.explanations[0].raw.data);
  });

  it('the CLI takes --target sigmoid and contrast:B and refuses a bad one', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-target-'));
    const log = console.log;
    const err = console.error;
    const lines: string[] = [];
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    console.error = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      const model = path.join(REF, 'resnet_op17.onnx');
      const image = path.join(REF, 'resnet', 'input.npy');
      assert.equal(await main(['explain', model, image, '--method', 'integrated-gradients', '--baseline', 'blur', '--steps', '4', '--target', 'contrast:6', '--class', '3', '--out', out, '--json']), 0);
      assert.equal(JSON.parse(lines.join('\n')).target, 'contrast:6');
      lines.length = 0;
      assert.equal(await main(['explain', model, image, '--method', 'guided-backprop', '--target', 'sigmoid', '--out', out, '--json']), 0);
      assert.equal(JSON.parse(lines.join('\n')).target, 'sigmoid');
      lines.length = 0;
      assert.equal(await main(['explain', model, image, '--method', 'guided-backprop', '--target', 'contrast:6', '--out', out]), 1);
      assert.match(lines.join('\n'), /Guided backprop cannot explain target 'contrast:6'/);
      lines.length = 0;
      assert.equal(await main(['explain', model, image, '--method', 'saliency', '--target', 'odds', '--out', out]), 2);
      assert.match(lines.join('\n'), /--target must be logit, softmax, sigmoid or contrast:B/);
    } finally {
      console.log = log;
      console.error = err;
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('RISE', function () {
  it('stacked along the batch axis (ShuffleNet export, free batch) equals one by one; progress and cancel', async () => {
    const ex = await Explainer.load(webRuntime(), new Uint8Array(fs.readFileSync(path.join(REF, 'shufflenet_op17.onnx'))), 'shufflenet');
    try {
      const x = npyTensor(path.join(REF, 'shufflenet', 'input.npy'));
      const rise = methodById('rise');
      const progress: number[] = [];
      const opts = { masks: 40, grid: 4, seed: 9 };
      const batched = await rise.run(ex, { input: x, classes: [8, 4], target: 'softmax', options: { ...opts, 'batch-size': 16 }, onProgress: (d) => progress.push(d) });
      assert.deepEqual(progress, [16, 32, 40]);
      const single = await rise.run(ex, { input: x, classes: [8, 4], target: 'softmax', options: { ...opts, 'batch-size': 1 } });
      batched.explanations.forEach((e, i) => e.raw.data.forEach((v, j) => assert.ok(Math.abs(v - single.explanations[i].raw.data[j]) < 1e-5)));
      const signal = { aborted: false };
      const run = rise.run(ex, { input: x, classes: [8], target: 'logit', options: { ...opts, 'batch-size': 4 }, signal, onProgress: () => (signal.aborted = true) });
      await assert.rejects(run, (e: unknown) => e instanceof LookCloserError && e.kind === 'cancelled');
    } finally {
      await ex.dispose();
    }
  });
});
