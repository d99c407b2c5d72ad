/** Sanity checks on real models: the randomised weights, and the flag firing for a model-blind edge detector but not for Grad-CAM on SqueezeNet. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer, topK } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { decodeModel, tensorFromProto } from '../../src/core/onnx/model';
import { Graph } from '../../src/core/onnx/graph';
import { edgeDetector, sobelMagnitude } from '../../src/core/sanity/edge-detector';
import { cascadeSteps, randomizedModelBytes, weightLayersTopDown } from '../../src/core/sanity/randomize';
import { sanityCheck } from '../../src/core/sanity/sanity-check';
import { halfToFloat32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { ROOT, SAMPLES, SQUEEZENET } from '../support/paths';

const runtime = webRuntime();

const floats = (g: Graph, name: string) => {
  const t = tensorFromProto(g.initializers.get(name)!);
  return t.type === 'float16' ? halfToFloat32(t.data as Uint16Array) : (t.data as Float32Array);
};
const std = (v: Float32Array) => {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
};

describe('sanity checks', function () {
  this.timeout(600000);

  it('lists the learnable layers from the top down and groups them into cascade steps', () => {
    const sq = weightLayersTopDown(decodeModel(fs.readFileSync(SQUEEZENET), 'squeezenet'));
    assert.equal(sq.length, 26);
    assert.deepEqual(sq[0].initializers, ['conv10_w_0', 'conv10_b_0']);
    assert.deepEqual(sq[25].initializers, ['conv1_w_0', 'conv1_b_0']);
    const resnet = weightLayersTopDown(decodeModel(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'ref', 'resnet_op17.onnx')), 'resnet'));
    assert.deepEqual(resnet.map((l) => l.op), ['Gemm', 'Conv', 'Conv', 'Conv', 'Conv', 'Conv', 'Conv']);
    const steps = cascadeSteps(sq, 4);
    assert.deepEqual(steps.map((s) => s.length), [7, 13, 20, 26]);
    assert.deepEqual(cascadeSteps(sq, 100).map((s) => s.length), Array.from({ length: 26 }, (_, i) => i + 1));
  });

  it('randomises exactly the chosen layers with seeded noise of the same scale and type (float16 stays float16)', () => {
    const model = decodeModel(fs.readFileSync(SQUEEZENET), 'squeezenet');
    const layers = weightLayersTopDown(model);
    const g0 = new Graph(model);
    const g1 = new Graph(decodeModel(randomizedModelBytes(model, layers.slice(0, 2), 7), 'r'));
    const again = new Graph(decodeModel(randomizedModelBytes(model, layers.slice(0, 5), 7), 'r5'));
    for (const name of layers.slice(0, 2).flatMap((l) => l.initializers)) {
      const a = floats(g0, name);
      const b = floats(g1, name);
      assert.equal(g1.initializers.get(name)!.dataType, g0.initializers.get(name)!.dataType);
      assert.deepEqual(g1.initializers.get(name)!.dims!.map(Number), g0.initializers.get(name)!.dims!.map(Number));
      assert.ok(a.some((v, i) => v !== b[i]), `${name} changed`);
      const ratio = std(b) / std(a);
      assert.ok(ratio > 0.9 && ratio < 1.1, `${name}: σ ratio ${ratio}`);
      // Cascading: a layer randomised at one step holds the same noise at the next.
      assert.deepEqual(floats(again, name), b);
    }
    for (const name of layers.slice(2).flatMap((l) => l.initializers)) assert.deepEqual(floats(g1, name), floats(g0, name), `${name} untouched`);
  });

  it('the edge detector is the Sobel magnitude of the input (by hand on a step edge)', () => {
    // A vertical step 0 → 1 between columns 1 and 2 of a 3×4 single-channel image: |gx| = 4 at columns 1 and 2, 0 elsewhere.
    const img = Float32Array.from([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    assert.deepEqual([...sobelMagnitude(img, 1, 3, 4, 'NCHW')], [0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0]);
  });

  describe('on SqueezeNet and a photo', () => {
    let model: LoadedModel;
    before(async () => {
      model = await loadModel(runtime, SQUEEZENET);
    });
    after(() => model.dispose());

    it('Grad-CAM changes as the weights are randomised and is not flagged; the edge detector does not change and is flagged', async () => {
      const input = await loadInput(model, path.join(SAMPLES, 'wm_bald_eagle.jpg'));
      const c = topK((await model.explainer.forward(input.tensor)).probs, 1)[0];
      const seen: string[] = [];
      const r = await sanityCheck(runtime, model.explainer, input.tensor, {
        methods: [methodById('gradcam'), edgeDetector], classIndex: c, steps: 2, onProgress: (d, t, w) => seen.push(`${d}/${t} ${w}`),
      });
      assert.deepEqual(r.steps, [{ randomised: 13, deepest: r.layers[12] }, { randomised: 26, deepest: r.layers[25] }]);
      assert.equal(seen.length, 2 * (1 + 1 + 2));
      assert.equal(seen[seen.length - 1].split(' ')[0], '8/8');
      const [gc, edges] = r.methods;
      assert.equal(gc.layer, 'conv10_2');
      // The map moves away from the original (Spearman 1, SSIM 1) as more of the model is random.
      const [half, all] = gc.cascade.spearmanAbs as number[];
      assert.ok(half < 0.8 && all < 0.5 && all < half, `Grad-CAM Spearman ${half}, ${all}`);
      for (const v of gc.cascade.ssim) assert.ok(typeof v === 'number' && v < 0.6, `Grad-CAM SSIM ${v}`);
      assert.equal(gc.flagged, false);
      assert.doesNotMatch(gc.verdict, /does not depend on what the model learned/);
      assert.equal(gc.labelControl!.class !== c, true);
      assert.deepEqual(edges.cascade.spearmanAbs, [1, 1]);
      assert.deepEqual(edges.cascade.ssim.map((v) => Number(v!.toFixed(9))), [1, 1]);
      assert.equal(edges.flagged, true);
      assert.equal(edges.flaggedClass, true);
      assert.match(edges.verdict, /does not depend on what the model learned/);
    });

    it('the randomised model predicts differently; a cancelled signal stops the check', async () => {
      const input = await loadInput(model, path.join(SAMPLES, 'wm_bald_eagle.jpg'));
      const layers = weightLayersTopDown(model.explainer.graph.model);
      const ex = await Explainer.load(runtime, randomizedModelBytes(model.explainer.graph.model, layers, 0), 'random');
      try {
        const before = topK((await model.explainer.forward(input.tensor)).probs, 1)[0];
        const after = await ex.forward(input.tensor);
        assert.equal(before, 22);
        assert.ok(after.probs[22] < 0.05, `eagle still ${after.probs[22]}`);
      } finally {
        await ex.dispose();
      }
      await assert.rejects(sanityCheck(runtime, model.explainer, input.tensor, { methods: [methodById('gradcam')], classIndex: 22, signal: { aborted: true } }), /cancelled/);
    });
  });
});
