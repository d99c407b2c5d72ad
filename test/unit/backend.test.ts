/**
 * The native backend (onnxruntime-node) against onnxruntime-web (wasm): the same predictions and the same
 * Grad-CAM, guided-backprop and saliency results to floating-point tolerance, on the bundled SqueezeNet
 * (float16), an MNIST net and PyTorch reference nets; and `--backend` choosing between them.
 * Skipped, with the reason, where onnxruntime-node is not installed (it is an optional dependency).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { topK } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { nodeRuntime, selectRuntime, webRuntime } from '../../src/node/ort-runtime';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { assertMatches } from '../support/compare';
import { MNIST_BURN, MNIST_DIGITS, ROOT, SQUEEZENET, TWO_CLASS } from '../support/paths';

const native = nodeRuntime();
const wasm = webRuntime();
const REF = path.join(ROOT, 'test', 'fixtures', 'ref');

describe('onnxruntime-node and onnxruntime-web give the same results', function () {
  before(function () {
    if (!native) {
      console.log('      (skipped: onnxruntime-node is not installed; install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node)');
      this.skip();
    }
  });

  it('--backend picks the runtime: node and auto give onnxruntime-node, wasm gives onnxruntime-web', () => {
    assert.match(selectRuntime('node').backend, /^onnxruntime-node /);
    assert.match(selectRuntime('auto').backend, /^onnxruntime-node /);
    assert.match(selectRuntime('wasm').backend, /^onnxruntime-web .*wasm/);
  });

  const cases: { name: string; model: string; input: string; classes: number[] }[] = [
    { name: 'SqueezeNet 1.0 float16, dog and cat photo', model: SQUEEZENET, input: TWO_CLASS, classes: [243, 281] },
    { name: 'MNIST (burn, PyTorch export), a 7', model: MNIST_BURN, input: path.join(MNIST_DIGITS, 'mnist_7_1055.png'), classes: [7, 1] },
    { name: 'ResNet-style reference net (opset 17)', model: path.join(REF, 'resnet_op17.onnx'), input: path.join(REF, 'resnet', 'input.npy'), classes: [3, 6] },
    { name: 'MobileNetV2-style reference net (opset 11: upgraded, ReLU6)', model: path.join(REF, 'mobilenetv2_op11.onnx'), input: path.join(REF, 'mobilenetv2', 'input.npy'), classes: [3, 6] },
  ];

  for (const c of cases) {
    describe(c.name, () => {
      let a: LoadedModel, b: LoadedModel;
      before(async function () {
        if (!native) this.skip();
        a = await loadModel(wasm, c.model);
        b = await loadModel(native!, c.model);
      });
      after(async () => {
        await a?.explainer.dispose();
        await b?.explainer.dispose();
      });

      const input = async (m: LoadedModel) => {
        if (!c.input.endsWith('.npy')) return (await loadInput(m, c.input)).tensor;
        const { data, shape } = decodeNpy(new Uint8Array(fs.readFileSync(c.input)));
        return float32(data, shape);
      };

      it('predictions', async () => {
        const pa = (await a.explainer.forward(await input(a))).probs;
        const pb = (await b.explainer.forward(await input(b))).probs;
        assertMatches(pb, pa, 'class probabilities', 0.99999, 1e-3);
        assert.deepEqual(topK(pb, 3), topK(pa, 3));
      });

      for (const id of ['gradcam', 'guided-backprop', 'saliency']) {
        it(`${id} for classes ${c.classes.join(' and ')}`, async () => {
          const ra = await methodById(id).run(a.explainer, { input: await input(a), classes: c.classes, target: 'logit' });
          const rb = await methodById(id).run(b.explainer, { input: await input(b), classes: c.classes, target: 'logit' });
          assert.deepEqual(rb.explanations.map((e) => e.classIndex), c.classes);
          rb.explanations.forEach((e, i) => assertMatches(e.raw.data, ra.explanations[i].raw.data, `${id} class ${e.classIndex}`));
        });
      }

      it('Grad-CAM of the top 2 classes picked in the graph (TopK seed)', async () => {
        const ra = await methodById('gradcam').run(a.explainer, { input: await input(a), top: 2, target: 'softmax' });
        const rb = await methodById('gradcam').run(b.explainer, { input: await input(b), top: 2, target: 'softmax' });
        assert.deepEqual(rb.explanations.map((e) => e.classIndex), ra.explanations.map((e) => e.classIndex));
        rb.explanations.forEach((e, i) => assertMatches(e.raw.data, ra.explanations[i].raw.data, `gradcam softmax class ${e.classIndex}`));
      });
    });
  }
});
