/**
 * Gradients on the real models: SqueezeNet float16 (forward in float16, backward in float32) against its own
 * float32 copy; the MNIST nets against central finite differences of the model run in onnxruntime.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { Float32Tensor, float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { loadInput, loadModel } from '../../src/node/workbench';
import { assertMatches } from '../support/compare';
import { float32Copy } from '../support/float32-copy';
import { MNIST_8, MNIST_BURN, MNIST_DIGITS, SQUEEZENET, TWO_CLASS } from '../support/paths';
import { rng } from '../support/tiny-model';

const runtime = webRuntime();

describe('SqueezeNet float16 gradients vs its float32 copy', function () {
  let fp16: Explainer, fp32: Explainer, input: Float32Tensor;
  before(async () => {
    const model = await loadModel(runtime, SQUEEZENET);
    fp16 = model.explainer;
    input = (await loadInput(model, TWO_CLASS)).tensor;
    fp32 = await Explainer.load(runtime, float32Copy(new Uint8Array(fs.readFileSync(SQUEEZENET))), 'squeezenet-fp32');
  });
  after(async () => {
    await fp16.dispose();
    await fp32.dispose();
  });

  for (const layer of ['conv10_2', 'fire9/concat_1']) {
    it(`Grad-CAM at ${layer} for the dog and the cat`, async () => {
      const a = await methodById('gradcam').run(fp16, { input, classes: [243, 281], layer, target: 'logit' });
      const b = await methodById('gradcam').run(fp32, { input, classes: [243, 281], layer, target: 'logit' });
      a.explanations.forEach((e, i) => assertMatches(e.raw.data, b.explanations[i].raw.data, `Grad-CAM ${layer} class ${e.classIndex}`));
    });
  }

  for (const id of ['saliency', 'guided-backprop', 'deconvnet']) {
    it(id, async () => {
      const a = await methodById(id).run(fp16, { input, classes: [243], target: 'logit' });
      const b = await methodById(id).run(fp32, { input, classes: [243], target: 'logit' });
      assertMatches(a.explanations[0].raw.data, b.explanations[0].raw.data, id);
    });
  }
});

/** ∂logit/∂x_i against (f(x+εe_i) − f(x−εe_i)) / 2ε for the largest-gradient pixels and random stroke pixels. */
async function checkAgainstFiniteDifferences(file: string): Promise<void> {
  const model = await loadModel(runtime, file);
  const ex = model.explainer;
  const digits = fs.readdirSync(MNIST_DIGITS).slice(0, 3);
  const r = rng(42);
  for (const f of digits) {
    // A real digit plus faint noise, so no two activations tie exactly (ties in MaxPool windows and
    // exact zeros at ReLUs make the function non-differentiable there, and finite differences meaningless).
    const clean = (await loadInput(model, path.join(MNIST_DIGITS, f))).tensor;
    const x = float32(clean.data.map((v) => v + 0.02 * r()), clean.dims);
    const c = Number(f.split('_')[1]);
    const res = await methodById('saliency').run(ex, { input: x, classes: [c], target: 'logit' });
    const g = res.explanations[0].raw.data;
    const logit = async (t: Float32Array) => (await ex.forward(float32(t, x.dims))).logits[c];
    // Coordinate directions: the largest-gradient pixels and random pixels of the stroke.
    const eps = 1e-3;
    const largest = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 12);
    const stroke = Array.from(clean.data.keys()).filter((i) => clean.data[i] > 0.3 && !largest.includes(i));
    const picked = [...largest, ...Array.from({ length: 12 }, () => stroke[Math.floor(r() * stroke.length)])];
    const analytic: number[] = [], numeric: number[] = [];
    for (const i of picked) {
      const plus = Float32Array.from(x.data), minus = Float32Array.from(x.data);
      plus[i] += eps;
      minus[i] -= eps;
      numeric.push(((await logit(plus)) - (await logit(minus))) / (2 * eps));
      analytic.push(g[i]);
    }
    assertMatches(analytic, numeric, `${path.basename(file)} ${f}: directional derivatives`, 0.9999, 1e-2);
  }
  await ex.dispose();
}

describe('MNIST input gradients vs finite differences', function () {
  it('mnist-8 (Conv, Relu, MaxPool, Reshape, Gemm)', () => checkAgainstFiniteDifferences(MNIST_8));
  it('mnist-burn (Conv, BatchNormalization, Gemm, LogSoftmax)', () => checkAgainstFiniteDifferences(MNIST_BURN));
  it('Grad-CAM works on both (default layer, any head)', async () => {
    for (const file of [MNIST_8, MNIST_BURN]) {
      const model = await loadModel(runtime, file);
      const x = (await loadInput(model, path.join(MNIST_DIGITS, fs.readdirSync(MNIST_DIGITS)[3]))).tensor;
      const r = await methodById('gradcam').run(model.explainer, { input: x, top: 3, target: 'logit' });
      assert.equal(r.explanations.length, 3);
      assert.equal(r.explanations[0].classIndex, 3);
      assert.ok(r.explanations[0].raw.data.some((v) => v > 0), 'the top class map is not all zero');
      await model.explainer.dispose();
    }
  });
});
