/** Zeiler–Fergus projection of one activation: the layer-seeded backward pass, receptive fields, and zero outside them. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectChannel, projectionImages } from '../../src/core/attention/projection';
import { receptiveField } from '../../src/core/attention/receptive-field';
import { Explainer } from '../../src/core/explainer';
import { decodeNpy } from '../../src/core/npy';
import type { Box } from '../../src/core/render/overlay';
import { float32, Float32Tensor } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { ROOT, SQUEEZENET, TWO_CLASS } from '../support/paths';
import { randomData, rng, tinyModel } from '../support/tiny-model';

const runtime = webRuntime();

/** Sum of |v| inside and outside a box of a [C,H,W] tensor. */
function split(t: Float32Tensor, b: Box): { inside: number; outside: number } {
  const [c, h, w] = t.dims;
  let inside = 0, outside = 0;
  for (let k = 0; k < c; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.abs(t.data[(k * h + y) * w + x]);
        if (x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height) inside += v;
        else outside += v;
      }
    }
  }
  return { inside, outside };
}

describe('Zeiler–Fergus channel projection', function () {
  it('seeding a layer position: the input gradient of one conv output is its kernel, placed by stride and padding', async () => {
    const r = rng(5);
    const W = randomData(3 * 3 * 3 * 3, r);
    const bytes = tinyModel({
      inputs: { x: [1, 3, 9, 9] },
      nodes: [
        { op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
        { op: 'GlobalAveragePool', inputs: ['y'], outputs: ['g'] },
        { op: 'Flatten', inputs: ['g'], outputs: ['logits'] },
      ],
      output: 'logits',
      initializers: { w: { type: 'float32', dims: [3, 3, 3, 3], data: W } },
    });
    const ex = await Explainer.load(runtime, bytes, 'conv.onnx');
    const x = float32(randomData(3 * 81, r), [1, 3, 9, 9]);
    for (const [k, py, px] of [[1, 2, 3], [2, 0, 0], [0, 4, 4]]) {
      const g = await ex.gradients(x, { targets: ['x'], score: 'logit', mode: 'plain', method: 'test', from: 'y', classes: [(k * 5 + py) * 5 + px] });
      const grad = g.grads.x.data;
      for (let c = 0; c < 3; c++) {
        for (let yy = 0; yy < 9; yy++) {
          for (let xx = 0; xx < 9; xx++) {
            const [i, j] = [yy - (py * 2 - 1), xx - (px * 2 - 1)];
            const want = i >= 0 && i < 3 && j >= 0 && j < 3 ? W[((k * 3 + c) * 3 + i) * 3 + j] : 0;
            assert.ok(Math.abs(grad[(c * 9 + yy) * 9 + xx] - want) < 1e-6, `k ${k} (${py}, ${px}) at c ${c} (${yy}, ${xx})`);
          }
        }
      }
      const shapes = new Map([['x', [1, 3, 9, 9]], ['y', [1, 3, 5, 5]]]);
      const rf = receptiveField(ex.graph, shapes, 'x', 'y', py, px);
      const y0 = Math.max(0, py * 2 - 1), x0 = Math.max(0, px * 2 - 1);
      assert.deepEqual(rf, { x: x0, y: y0, width: Math.min(8, px * 2 + 1) - x0 + 1, height: Math.min(8, py * 2 + 1) - y0 + 1 });
    }
    await assert.rejects(ex.gradients(x, { targets: ['x'], score: 'logit', mode: 'plain', method: 'test', from: 'y', classes: [75] }), /Position 75 is out of range: tensor 'y' has 75 elements/);
    await ex.dispose();
  });

  describe('on SqueezeNet (two-class photo)', () => {
    let model: LoadedModel;
    let input: LoadedInput;
    before(async () => {
      model = await loadModel(runtime, SQUEEZENET);
      input = await loadInput(model, TWO_CLASS);
    });
    after(() => model.explainer.dispose());

    // Receptive-field sides: conv1 3×3/2 → 3; pool1 3×3/2 → 7; fire2's 3×3 expand → 15; fire3 → 23; pool3 → 31; fire4 → 47.
    const cases: [string, number, number][] = [
      ['conv1_2', 5, 3], ['pool1_1', 7, 7], ['fire2/concat_1', 100, 15], ['fire3/expand3x3_2', 20, 23], ['pool3_1', 3, 31], ['fire4/concat_1', 10, 47],
    ];
    for (const [layer, channel, side] of cases) {
      it(`${layer} channel ${channel}: the deconvnet projection of its strongest activation is zero outside its ${side}×${side} receptive field`, async () => {
        const p = await projectChannel(model.explainer, input.tensor, { layer, channel });
        const rf = p.receptiveField;
        const a = (await model.explainer.forward(input.tensor, [layer])).tensors[layer];
        const [, , h, w] = a.dims;
        let max = -Infinity;
        for (let i = 0; i < h * w; i++) max = Math.max(max, a.data[channel * h * w + i]);
        assert.equal(p.activation, max);
        // Interior positions have the full field; border ones are clipped to the image.
        assert.ok(rf.width <= side && rf.height <= side && rf.width >= Math.ceil(side / 2) && rf.height >= Math.ceil(side / 2), JSON.stringify(rf));
        const interior = (v: number, n: number) => v * (224 / n) >= side && v * (224 / n) < 224 - side;
        if (interior(p.position.x, w)) assert.equal(rf.width, side);
        if (interior(p.position.y, h)) assert.equal(rf.height, side);
        const { inside, outside } = split(p.projection, rf);
        assert.equal(outside, 0);
        assert.ok(inside > 0);
      });
    }

    it('projects a chosen position, and gives the reconstruction and the image patch cropped to the field', async () => {
      const p = await projectChannel(model.explainer, input.tensor, { layer: 'fire2/concat_1', channel: 3, position: { y: 27, x: 27 } });
      // 27 → fire2's 3×3 expand 26..28 → pool1 (3/2) 52..58 → conv1 (3/2) 104..118.
      assert.deepEqual(p.receptiveField, { x: 104, y: 104, width: 15, height: 15 });
      const { reconstruction, patch } = projectionImages(p, input.base, 'bgr', 60);
      assert.equal(reconstruction.width, 60);
      assert.equal(patch.width, 60);
      await assert.rejects(projectChannel(model.explainer, input.tensor, { layer: 'fire2/concat_1', channel: 128 }), /Channel 128 is out of range/);
      await assert.rejects(projectChannel(model.explainer, input.tensor, { layer: 'nope', channel: 0 }), /no explainable tensor named 'nope'/);
    });
  });

  it('on the reference nets (MaxPool ceil_mode and overlapping windows, dense blocks, inception branches, residual attention): zero outside the field', async () => {
    const ref = path.join(ROOT, 'test', 'fixtures', 'ref');
    for (const family of ['vgg', 'densenet', 'inception', 'resnet', 'residual_attention', 'mobilenetv2']) {
      const file = fs.existsSync(path.join(ref, `${family}_op13.onnx`)) ? `${family}_op13.onnx` : `${family}_op11.onnx`;
      const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(ref, file))), file);
      const { data, shape } = decodeNpy(new Uint8Array(fs.readFileSync(path.join(ref, family, 'input.npy'))));
      const x = float32(data, shape);
      const layers = (await ex.layers()).filter((l) => l.shape.length === 4 && l.shape[2] * l.shape[3] > 1 && l.op === 'Relu');
      let narrow = 0;
      for (const l of layers.slice(0, 4)) {
        const p = await projectChannel(ex, x, { layer: l.name, channel: 1 });
        const { inside, outside } = split(p.projection, p.receptiveField);
        assert.equal(outside, 0, `${file} ${l.name}`);
        assert.ok(inside >= 0);
        if (p.receptiveField.width < 24) narrow++;
      }
      assert.ok(narrow > 0, `${file}: some field is narrower than the image`);
      await ex.dispose();
    }
  });
});
