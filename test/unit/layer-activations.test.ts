/** Layer activations for the Layers view, from the core's application layer, on real models. */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { Classifier } from '../../src/core/app/classifier';
import { channelStats, layerActivations } from '../../src/core/app/layer-activations';
import { LookCloserError } from '../../src/core/errors';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, loadInput, loadModel } from '../../src/node/workbench';
import { MNIST_BURN, MNIST_DIGITS, SQUEEZENET, TWO_CLASS } from '../support/paths';

const runtime = webRuntime();

describe('layer activations', function () {
  it('channel statistics: min, max, mean, share of zeros, and dead channels', () => {
    const data = Float32Array.from([0, 2, 0, 2, /* constant */ 3, 3, 3, 3, /* never fires */ 0, 0, 0, 0]);
    const s = channelStats(data, 3, 4);
    assert.deepEqual(s[0], { index: 0, min: 0, max: 2, mean: 1, zeros: 0.5, dead: false });
    assert.equal(s[1].dead, true, 'a constant map is dead');
    assert.deepEqual([s[2].zeros, s[2].dead], [1, true]);
    // One value per channel (a vector): dead only when it is zero.
    assert.deepEqual(channelStats(Float32Array.from([0, 0.5]), 2, 1).map((c) => c.dead), [true, false]);
  });

  describe('SqueezeNet (float16) on the dog-and-cat photo', () => {
    let model: Classifier;
    let input: LoadedInput;
    before(async () => {
      model = await loadModel(runtime, SQUEEZENET);
      input = await loadInput(model, TWO_CLASS);
    });
    after(() => model.dispose());

    it('the default layer: one tile per channel, values as the forward pass gives them', async () => {
      const layer = (await model.defaultLayer())!;
      const a = await layerActivations(model, input, layer);
      const t = (await model.explainer.forward(input.tensor, [layer])).tensors[layer];
      assert.equal(a.layer, layer);
      assert.deepEqual([1, a.channels.length, a.height, a.width], [...t.dims]);
      assert.deepEqual(a.shape, t.dims, 'the layer list\'s shape');
      assert.ok(a.targetable);
      assert.equal(a.data.length, a.channels.length * a.height * a.width);
      assert.deepEqual(a.data, Float32Array.from(t.data));
      const hw = a.height * a.width;
      const k = a.channels.findIndex((c) => !c.dead);
      const values = [...a.data.subarray(k * hw, (k + 1) * hw)];
      assert.equal(a.channels[k].max, Math.max(...values));
      assert.equal(a.channels[k].min, Math.min(...values));
      assert.ok(Math.abs(a.channels[k].mean - values.reduce((x, y) => x + y, 0) / hw) < 1e-5);
      // A ReLU output: never negative, and many exact zeros.
      assert.ok(a.channels.every((c) => c.min >= 0 && c.min <= c.mean && c.mean <= c.max && c.zeros >= 0 && c.zeros <= 1));
      assert.ok(a.channels.some((c) => c.zeros > 0));
    });

    it('names the model and the layer when the layer does not exist', async () => {
      await assert.rejects(layerActivations(model, input, '/no/such/layer'), (e: unknown) => {
        assert.ok(e instanceof LookCloserError && e.kind === 'bad-argument');
        assert.match(e.message, /squeezenet1\.0-fp16-winml\.onnx has no layer '\/no\/such\/layer'/);
        return true;
      });
    });
  });

  it('MNIST (PyTorch export): a vector layer is 1×1 tiles and cannot be a CAM target', async () => {
    const model = await loadModel(runtime, MNIST_BURN);
    try {
      const input = await loadInput(model, path.join(MNIST_DIGITS, 'mnist_3_1020.png'));
      const layers = await model.layers();
      const vector = layers.find((l) => l.shape.length === 2 && l.shape[1] > 1);
      assert.ok(vector, `a rank-2 layer among ${layers.map((l) => `${l.name} [${l.shape.join('×')}]`).join(', ')}`);
      const a = await layerActivations(model, input, vector.name);
      assert.deepEqual([a.height, a.width, a.channels.length, a.targetable], [1, 1, vector.shape[1], false]);
      const map = layers.find((l) => l.shape.length === 4 && l.shape[2] * l.shape[3] > 1)!;
      const m = await layerActivations(model, input, map.name);
      assert.deepEqual([m.channels.length, m.height, m.width, m.targetable], [map.shape[1], map.shape[2], map.shape[3], true]);
    } finally {
      await model.dispose();
    }
  });
});
