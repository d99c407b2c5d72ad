/** The CAM family's maths on hand-made tensors (numbers worked out by hand), and the rerunning methods on a tiny model. */
import { strict as assert } from 'node:assert';
import { Explainer as LoadedExplainer } from '../../src/core/explainer';
import { ablationCam } from '../../src/core/methods/ablation-cam';
import type { Explainer, ForwardResult } from '../../src/core/explainer';
import { type CamGradients, type CamReruns, camMethod } from '../../src/core/methods/cam-template';
import { eigenCamMaps, firstComponentProjection, topEigenpair } from '../../src/core/methods/eigen-cam';
import { eigenGradCamMaps } from '../../src/core/methods/eigen-grad-cam';
import { gradCamElementwiseMaps } from '../../src/core/methods/grad-cam-elementwise';
import { gradCamPlusPlusWeights } from '../../src/core/methods/grad-cam-plus-plus';
import { hiResCamMaps } from '../../src/core/methods/hires-cam';
import { layerCamMaps } from '../../src/core/methods/layer-cam';
import { reciproCam } from '../../src/core/methods/recipro-cam';
import { scoreCamMask } from '../../src/core/methods/score-cam';
import { xGradCamWeights } from '../../src/core/methods/xgrad-cam';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { tinyModel } from '../support/tiny-model';

const close = (actual: ArrayLike<number>, expected: readonly number[], tol = 1e-5, what = '') => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};

// One class, two channels of 1×2 activations: channel 0 sums to 4, channel 1 to 0.
const A = float32(Float32Array.from([1, 3, /* */ 2, -2]), [1, 2, 1, 2]);
const G = float32(Float32Array.from([1, -1, /* */ 0.5, 2]), [1, 2, 1, 2]);
const CTX: CamGradients = { activations: A, gradients: G, classes: [0] };

describe('CAM-family maths on hand-made tensors', () => {
  it("Grad-CAM++: w_k = Σ α·ReLU(g), α = g² / (2g² + Σ A·g³ + 1e-6)", () => {
    // Channel 0: g = 1 → α = 1 / (2 + 4) = 1/6, g = −1 → ReLU 0.  Channel 1 (Σ A = 0): α = 1/2 → 0.5/2 + 2/2 = 1.25.
    close(gradCamPlusPlusWeights(CTX)[0], [1 / 6, 1.25]);
  });

  it('Grad-CAM++: a negative activation sum can make α large, as in the closed form', () => {
    const a = float32(Float32Array.from([-1, -1]), [1, 1, 1, 2]);
    const g = float32(Float32Array.from([1, 0]), [1, 1, 1, 2]);
    // Σ A = −2: α = 1 / (2 − 2 + 1e-6) = 1e6; g = 0 contributes nothing.
    close(gradCamPlusPlusWeights({ activations: a, gradients: g, classes: [0] })[0], [1e6], 1);
  });

  it('XGrad-CAM: α_k = Σ g·A / (Σ A + 1e-7)', () => {
    // Channel 0: (1·1 − 1·3) / 4 = −0.5.  Channel 1: (0.5·2 − 2·2) / 1e-7 = −3e7.
    close(xGradCamWeights(CTX)[0], [-0.5, -3e7], 10);
  });

  it('HiResCAM, Grad-CAM element-wise and LayerCAM: element-wise terms summed over channels', () => {
    // g⊙A: channel 0 [1, −3], channel 1 [1, −4].
    close(hiResCamMaps(CTX)[0], [2, -7]);
    close(gradCamElementwiseMaps(CTX)[0], [2, 0]);
    // ReLU(g)⊙A: channel 0 [1, 0], channel 1 [1, −4].
    close(layerCamMaps(CTX)[0], [2, -4]);
  });

  it('the symmetric eigensolver finds the largest eigenpair', () => {
    const { value, vector } = topEigenpair(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 1]), 3);
    assert.ok(Math.abs(value - 3) < 1e-12);
    close(vector.map((v) => Math.abs(v)), [Math.SQRT1_2, Math.SQRT1_2, 0], 1e-12);
  });

  it('Eigen-CAM (C < h·w): channels centred, projected on the first principal component, salient side positive', () => {
    // Channel 1 = 2 × channel 0, so v₁ = (1, 2)/√5; centred channel 0 is [−1, −1, −1, 3]: projection √5·[−1, −1, −1, 3].
    const a = float32(Float32Array.from([0, 0, 0, 4, /* */ 0, 0, 0, 8]), [1, 2, 2, 2]);
    const s5 = Math.sqrt(5);
    close(firstComponentProjection(a.data, 2, 4), [-s5, -s5, -s5, 3 * s5]);
    const maps = eigenCamMaps({ activations: a, classes: [4, 1] });
    assert.equal(maps.length, 2);
    assert.deepEqual(maps[0], maps[1]);
  });

  it('Eigen-CAM (h·w ≤ C): the same projection through the position Gram matrix; NaN counts as 0', () => {
    // Centred: channel 0 [−1, −1, 2], channel 2 [1, 1, −2], channels 1 and 3 constant: v₁ = (1, 0, −1, 0)/√2, projection √2·[−1, −1, 2].
    const data = Float32Array.from([0, 0, 3, /* */ 1, 1, 1, /* */ 0, 0, -3, /* */ NaN, NaN, NaN]);
    close(firstComponentProjection(data, 4, 3), [-Math.SQRT2, -Math.SQRT2, 2 * Math.SQRT2]);
    // Centred channel 0 [1, 1, −2]: the projection ±[1, 1, −2] is signed so that |max| ≥ |min|.
    close(firstComponentProjection(Float32Array.from([2, 2, -1, 0, 0, 0]), 2, 3), [-1, -1, 2]);
  });

  it('EigenGrad-CAM projects g ⊙ A per class', () => {
    const a = float32(Float32Array.from([0, 0, 0, 4, /* */ 0, 0, 0, 8]), [1, 2, 2, 2]);
    const g = float32(Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, /* class 2 */ -1, -1, -1, -1, -1, -1, -1, -1]), [2, 2, 2, 2]);
    const [m1, m2] = eigenGradCamMaps({ activations: a, gradients: g, classes: [1, 2] });
    const s5 = Math.sqrt(5);
    close(m1, [-s5, -s5, -s5, 3 * s5]);
    // −A centred is [1, 1, 1, −3]·(1, 2): the sign correction makes the lone peak positive again.
    close(m2, [-s5, -s5, -s5, 3 * s5]);
  });

  it("Score-CAM's mask: bilinear with aligned corners, then min-max with ε = 1e-8", () => {
    // One channel [0, 1] upsampled to width 3 with aligned corners: [0, 0.5, 1].
    close(scoreCamMask(Float32Array.from([5, 5, 0, 1]), 1, 1, 2, 1, 3), [0, 0.5, 1], 1e-8);
    // A constant channel gives the zero mask.
    close(scoreCamMask(Float32Array.from([5, 5, 0, 1]), 0, 1, 2, 1, 3), [0, 0, 0]);
  });
});

describe("the template's 'reruns' need", () => {
  const forward: ForwardResult = {
    logits: Float32Array.from([1, 4, 2]), probs: Float32Array.from([0.1, 0.7, 0.2]),
    tensors: { L: float32(Float32Array.from([1, 2]), [1, 2, 1, 1]) },
  };
  const explainer = {
    inputSize: { height: 2, width: 2 },
    defaultLayer: async () => 'L',
    graph: { producer: new Map() },
    shapes: async () => new Map([['L', [1, 2, 1, 1]]]),
    forward: async () => forward,
  } as unknown as Explainer;
  const input = float32(new Float32Array(12), [1, 3, 2, 2]);

  it('hands the maths the explainer, input, layer, explained scores and options, reusing the forward pass', async () => {
    let seen: CamReruns | undefined;
    const m = camMethod({
      id: 'r', title: 'R', citation: '', needs: 'reruns', options: [],
      weights: async (ctx) => ((seen = ctx), ctx.classes.map(() => Float32Array.from([1, 1]))),
    });
    assert.equal(m.reusesForward, true);
    const r = await m.run(explainer, { input, classes: [2, 1], target: 'softmax', forward, options: { 'batch-size': 3 } });
    assert.ok(seen);
    assert.equal(seen.explainer, explainer);
    assert.equal(seen.input, input);
    assert.deepEqual([seen.layer, seen.target, [...seen.scores], seen.options], ['L', 'softmax', [0.2, 0.7].map(Math.fround), { 'batch-size': 3 }]);
    assert.deepEqual(r.explanations.map((e) => [...e.raw.data]), [[3], [3]]);
    await m.run(explainer, { input, top: 1, target: 'logit', forward });
    assert.deepEqual([seen.classes, [...seen.scores]], [[1], [4]]);
    await assert.rejects(m.run(explainer, { input, classes: [3], target: 'logit', forward }), /Class 3 is out of range: the model has 3 classes/);
  });
});

describe('Ablation-CAM and ReciproCAM run the model from the layer on (tiny model)', function () {
  // x [1,3,2,2] → 1×1 conv → ReLU → L [1,2,2,2]; a skip branch S = 1×1 conv of x; (L + S) → GAP → Flatten|Reshape → Gemm.
  const Wl = Float32Array.from([1, -1, 0.5, /* */ 0.2, 0.3, -0.4]);
  const Ws = Float32Array.from([0.1, 0, 0, /* */ 0, 0, 0.2]);
  const head = Float32Array.from([1, 2, /* */ -1, 0.5, /* */ 0.3, -2]);
  const bias = Float32Array.from([0.5, 0, -0.25]);
  const x = Float32Array.from([1, 2, 0.5, -1, /* */ 0.3, -0.2, 1, 2, /* */ -0.5, 1, 0.25, 0]);
  const model = (flatten: 'Flatten' | 'Reshape') => tinyModel({
    inputs: { x: [1, 3, 2, 2] },
    nodes: [
      { op: 'Conv', inputs: ['x', 'Wl'], outputs: ['pre'] },
      { op: 'Relu', inputs: ['pre'], outputs: ['L'] },
      { op: 'Conv', inputs: ['x', 'Ws'], outputs: ['S'] },
      { op: 'Add', inputs: ['L', 'S'], outputs: ['M'] },
      { op: 'GlobalAveragePool', inputs: ['M'], outputs: ['p'] },
      flatten === 'Flatten' ? { op: 'Flatten', inputs: ['p'], outputs: ['f'] } : { op: 'Reshape', inputs: ['p', 'shape'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'head', 'bias'], outputs: ['logits'], attrs: { transB: 1 } },
    ],
    output: 'logits',
    initializers: {
      Wl: float32(Wl, [2, 3, 1, 1]), Ws: float32(Ws, [2, 3, 1, 1]), head: float32(head, [3, 2]), bias: float32(bias, [3]),
      ...(flatten === 'Reshape' ? { shape: { type: 'int64', dims: [2], data: BigInt64Array.from([1n, 2n]) } } : {}),
    },
  });
  // The layer and the skip branch by hand.
  const L = Array.from({ length: 8 }, (_, i) => {
    const k = Math.floor(i / 4), p = i % 4;
    return Math.max(0, Wl[k * 3] * x[p] + Wl[k * 3 + 1] * x[4 + p] + Wl[k * 3 + 2] * x[8 + p]);
  });
  const S = Array.from({ length: 8 }, (_, i) => {
    const k = Math.floor(i / 4), p = i % 4;
    return Ws[k * 3] * x[p] + Ws[k * 3 + 1] * x[4 + p] + Ws[k * 3 + 2] * x[8 + p];
  });
  const mean = (v: number[], k: number) => (v[k * 4] + v[k * 4 + 1] + v[k * 4 + 2] + v[k * 4 + 3]) / 4;
  const logit = (c: number, feat: number[]) => head[c * 2] * feat[0] + head[c * 2 + 1] * feat[1] + bias[c];
  const full = (c: number) => logit(c, [0, 1].map((k) => mean(L, k) + mean(S, k)));
  const input = float32(x, [1, 3, 2, 2]);

  for (const flatten of ['Flatten', 'Reshape'] as const) {
    it(`Ablation-CAM: w_k = (y − y_k) / y with channel k zeroed (${flatten === 'Flatten' ? 'batched' : 'a fixed-batch Reshape: one by one'})`, async () => {
      const ex = await LoadedExplainer.load(webRuntime(), model(flatten), 'tiny');
      try {
        const r = await ablationCam.run(ex, { input, classes: [0, 2], layer: 'L', target: 'logit' });
        for (const [i, c] of [0, 2].entries()) {
          // Zeroing channel k drops the logit by head[c,k]·mean(L_k).
          const w = [0, 1].map((k) => (head[c * 2 + k] * mean(L, k)) / full(c));
          const m = [0, 1, 2, 3].map((p) => Math.max(0, w[0] * L[p] + w[1] * L[4 + p]));
          close(r.explanations[i].raw.data, m, 1e-5, `class ${c}`);
        }
      } finally {
        await ex.dispose();
      }
    });
  }

  it('ReciproCAM: the score with only position p of the layer kept, at every p', async () => {
    const ex = await LoadedExplainer.load(webRuntime(), model('Flatten'), 'tiny');
    try {
      const r = await reciproCam.run(ex, { input, classes: [1], layer: 'L', target: 'logit', options: { 'batch-size': 3 } });
      const m = [0, 1, 2, 3].map((p) => Math.max(0, logit(1, [0, 1].map((k) => L[k * 4 + p] / 4 + mean(S, k)))));
      close(r.explanations[0].raw.data, m, 1e-5);
      assert.deepEqual(r.explanations[0].raw.dims, [2, 2]);
    } finally {
      await ex.dispose();
    }
  });
});
