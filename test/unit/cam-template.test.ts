/** The CAM template and the CAM-family maths on hand-made tensors: no model, numbers worked out by hand. */
import { strict as assert } from 'node:assert';
import type { Explainer, ForwardResult, GradientRequest } from '../../src/core/explainer';
import { camWeights, findLinearHead, type LinearHead } from '../../src/core/methods/cam';
import { type CamGradients, camExplanations, camMethod, displayMap } from '../../src/core/methods/cam-template';
import { gradCamWeights } from '../../src/core/methods/grad-cam';
import { decodeModel } from '../../src/core/onnx/model';
import { Graph } from '../../src/core/onnx/graph';
import { float32 } from '../../src/core/tensor';
import { tinyModel } from '../support/tiny-model';

// Two channels of 2×3 activations, and the gradients of two classes' scores at them.
const A = float32(Float32Array.from([1, 2, 3, 4, 5, 6, /* channel 1 */ -1, 0, 8, 1, -3, 16]), [1, 2, 2, 3]);
const G = float32(Float32Array.from([
  1, 0, 1, 0, 1, 0, /* */ -1, -1, 0, 0, 0, 0.5, // class 7: means 0.5, -0.25
  0, 0, 0, 0, 0, -3, /* */ 2, 2, 2, 2, 2, 2, // class 9: means -0.5, 2
]), [2, 2, 2, 3]);
const CTX: CamGradients = { activations: A, gradients: G, classes: [7, 9] };
const SIZE = { height: 4, width: 6 };

describe('CAM template on hand-made tensors', () => {
  it("Grad-CAM's weights are the spatial mean of the gradient, per class and channel", () => {
    assert.deepEqual(gradCamWeights(CTX), [Float32Array.from([0.5, -0.25]), Float32Array.from([-0.5, 2])]);
  });

  it('the map is ReLU(Σ_k α_k A_k) at the layer resolution [h, w]', () => {
    const [e7, e9] = camExplanations('gradcam', { weights: gradCamWeights }, CTX, 'L', SIZE);
    // 0.5·A0 − 0.25·A1 = [0.75, 1, −0.5, 1.75, 3.25, −1];  −0.5·A0 + 2·A1 = [−2.5, −1, 14.5, 0, −8.5, 29].
    assert.deepEqual(e7.raw.dims, [2, 3]);
    assert.deepEqual(e7.raw.data, Float32Array.from([0.75, 1, 0, 1.75, 3.25, 0]));
    assert.deepEqual(e9.raw.data, Float32Array.from([0, 0, 14.5, 0, 0, 29]));
    assert.deepEqual([e7.method, e7.classIndex, e7.layer, e9.classIndex], ['gradcam', 7, 'L', 9]);
  });

  it('the display map is the raw map upsampled to the input size and min-max normalised to [0, 1]', () => {
    const [e7] = camExplanations('gradcam', { weights: gradCamWeights }, CTX, 'L', SIZE);
    assert.equal(e7.display.kind, 'heatmap');
    if (e7.display.kind !== 'heatmap') return;
    assert.deepEqual([e7.display.height, e7.display.width, e7.display.map.length], [4, 6, 24]);
    assert.deepEqual(e7.display.map, displayMap(e7.raw.data, 2, 3, 4, 6));
    assert.equal(Math.min(...e7.display.map), 0);
    assert.equal(Math.max(...e7.display.map), 1);
  });

  it('a map that ReLU zeroes everywhere displays as zeros', () => {
    const [e] = camExplanations('x', { weights: () => [Float32Array.from([-1, 0])] }, { activations: A, classes: [0] }, 'L', SIZE);
    assert.ok(e.raw.data.every((v) => v === 0) && e.display.kind === 'heatmap' && e.display.map.every((v) => v === 0));
  });

  it('a whole-map method (element-wise, as HiResCAM) gets ReLU from the template', () => {
    const elementwise = ({ activations: a, gradients: g, classes }: CamGradients) =>
      classes.map((_, i) => Float32Array.from({ length: 6 }, (_, p) => g.data[i * 12 + p] * a.data[p] + g.data[i * 12 + 6 + p] * a.data[6 + p]));
    const [e7, e9] = camExplanations('hires', { map: elementwise }, CTX, 'L', SIZE);
    assert.deepEqual(e7.raw.data, Float32Array.from([2, 0, 3, 0, 5, 8]));
    assert.deepEqual(e9.raw.data, Float32Array.from([0, 0, 16, 2, 0, 14]));
  });

  it('refuses maths that returns a map count other than the class count', () => {
    assert.throws(() => camExplanations('x', { weights: () => [] }, CTX, 'L', SIZE), /gave 0 maps for 2 classes/);
  });
});

describe("CAM's weights from a hand-made head", () => {
  const W = Float32Array.from([1, -2, 0.5, 3, -1, 4]); // Gemm B, transB = 1: [3 classes, 2 channels]
  const graph = (head: 'gemm' | 'relu') => new Graph(decodeModel(tinyModel({
    inputs: { A: [1, 2, 2, 3] },
    nodes: head === 'gemm'
      ? [{ op: 'GlobalAveragePool', inputs: ['A'], outputs: ['p'] }, { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'W'], outputs: ['logits'], attrs: { transB: 1, alpha: { float: 2 } } }]
      : [{ op: 'Relu', inputs: ['A'], outputs: ['logits'] }],
    output: 'logits',
    initializers: { W: float32(W, [3, 2]) },
  }), 'tiny'));

  it('findLinearHead reads GAP → Flatten → Gemm as α·W, class-major', () => {
    const head = findLinearHead(graph('gemm'), 'A', 'logits', [1, 2, 2, 3]);
    assert.deepEqual([head.classes, head.channels, head.path], [3, 2, 'GlobalAveragePool → Flatten → Gemm']);
    assert.deepEqual(head.weights, W.map((v) => 2 * v));
  });

  it('refuses a head without global average pooling, naming it', () => {
    assert.throws(() => findLinearHead(graph('relu'), 'A', 'logits', [1, 2, 2, 3]), /CAM needs global average pooling.*head is Relu.*Use --method gradcam/);
  });

  it("α_c is row c of the head's weights; the identity head is one-hot; classes out of range are refused", () => {
    const head: LinearHead = { classes: 3, channels: 2, weights: W, path: '' };
    assert.deepEqual(camWeights({ activations: A, classes: [2, 0], head }), [Float32Array.from([-1, 4]), Float32Array.from([1, -2])]);
    assert.deepEqual(camWeights({ activations: A, classes: [1], head: { classes: 2, channels: 2, path: '' } }), [Float32Array.from([0, 1])]);
    assert.throws(() => camWeights({ activations: A, classes: [3], head }), /Class 3 is out of range: the model has 3 classes/);
  });

  it('the CAM map is ReLU(Σ_k w_ck A_k)', () => {
    const head: LinearHead = { classes: 3, channels: 2, weights: W, path: '' };
    const [e] = camExplanations('cam', { weights: camWeights }, { activations: A, classes: [1], head }, 'L', SIZE);
    // 0.5·A0 + 3·A1 = [−2.5, 1, 25.5, 5, −6.5, 51].
    assert.deepEqual(e.raw.data, Float32Array.from([0, 1, 25.5, 5, 0, 51]));
  });
});

describe('CAM template data requests', () => {
  /** An explainer stand-in that records the passes asked of it and answers with the hand-made tensors. */
  const stub = () => {
    const calls: string[] = [];
    const forward: ForwardResult = { logits: new Float32Array(10), probs: Float32Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.9 : 0.01)), tensors: { L: A } };
    const explainer = {
      inputSize: SIZE,
      defaultLayer: async () => 'L',
      graph: { producer: new Map() },
      shapes: async () => (calls.push('shapes'), new Map([['L', [1, 2, 2, 3]]])),
      forward: async (_x: unknown, extra: string[]) => (calls.push(`forward ${extra.join(',')}`), forward),
      gradients: async (_x: unknown, req: GradientRequest) => (calls.push(`gradients ${JSON.stringify(req)}`), { classes: [7, 9], grads: { L: G }, forward }),
    } as unknown as Explainer;
    return { explainer, calls, forward };
  };
  const input = float32(new Float32Array(1), [1]);

  it('fetches the gradients of the explained scores at the default layer for a gradient method', async () => {
    const { explainer, calls } = stub();
    const m = camMethod({ id: 'g', title: 'G', citation: '', needs: 'gradients', weights: gradCamWeights });
    const r = await m.run(explainer, { input, top: 2, target: 'softmax' });
    assert.deepEqual(calls, ['shapes', 'gradients {"targets":["L"],"score":"softmax","mode":"plain","method":"G","top":2}']);
    assert.deepEqual(r.explanations.map((e) => [e.classIndex, ...e.raw.dims]), [[7, 2, 3], [9, 2, 3]]);
    assert.equal(m.reusesForward, false);
  });

  it('reuses a forward pass that holds the layer for an activations-only method, and runs one otherwise', async () => {
    const { explainer, calls, forward } = stub();
    let seen: string[] = [];
    const m = camMethod({
      id: 'a', title: 'A', citation: '', needs: 'activations',
      prepare: (_e, at) => ({ seen: [at.layer, at.target, at.shape.join('x')] }),
      weights: (ctx) => ((seen = ctx.seen), ctx.classes.map(() => Float32Array.from([1, 0]))),
    });
    const r = await m.run(explainer, { input, layer: 'L', target: 'logit', forward });
    assert.deepEqual([calls, seen, r.explanations.map((e) => e.classIndex)], [['shapes'], ['L', 'logit', '1x2x2x3'], [9]]);
    await m.run(explainer, { input, classes: [3], target: 'logit' });
    assert.deepEqual(calls.slice(1), ['shapes', 'forward L']);
    assert.equal(m.reusesForward, true);
  });
});
