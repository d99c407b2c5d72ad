/** Occlusion sensitivity: a synthetic model whose score is the mean of one region, batching, progress and cancel; SqueezeNet. */
import { strict as assert } from 'node:assert';
import { Explainer, topK } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { defaultPatch, dynamicBatch, occlusionSensitivity } from '../../src/core/methods/occlusion';
import { decodeModel, encodeModel } from '../../src/core/onnx/model';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { loadInput, loadModel } from '../../src/node/workbench';
import { SQUEEZENET, TWO_CLASS } from '../support/paths';
import { rng, tinyModel } from '../support/tiny-model';

const runtime = webRuntime();
const H = 48, W = 40;
/** The region the score reads: rows 16..23, columns 24..31. */
const R = { y0: 16, y1: 24, x0: 24, x1: 32 };

/** Two classes: 0 = mean of region R over the channels, 1 = mean of the whole image. Batch axis dynamic unless `fixed`. */
function regionModel(fixed = false): Uint8Array {
  const i64 = (v: number[]) => ({ type: 'int64' as const, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
  const bytes = tinyModel({
    inputs: { image: [1, 3, H, W] },
    nodes: [
      { op: 'Slice', inputs: ['image', 'starts', 'ends', 'axes'], outputs: ['region'] },
      { op: 'ReduceMean', inputs: ['region', 'axes3'], outputs: ['s0'], attrs: { keepdims: 0 } },
      { op: 'ReduceMean', inputs: ['image', 'axes3'], outputs: ['s1'], attrs: { keepdims: 0 } },
      { op: 'Unsqueeze', inputs: ['s0', 'axis1'], outputs: ['u0'] },
      { op: 'Unsqueeze', inputs: ['s1', 'axis1'], outputs: ['u1'] },
      { op: 'Concat', inputs: ['u0', 'u1'], outputs: ['logits'], attrs: { axis: 1 } },
    ],
    output: 'logits',
    opset: 18,
    initializers: { starts: i64([R.y0, R.x0]), ends: i64([R.y1, R.x1]), axes: i64([2, 3]), axes3: i64([1, 2, 3]), axis1: i64([1]) },
  });
  if (!fixed) return bytes;
  const m = decodeModel(bytes, 'region.onnx');
  m.graph!.input![0].type!.tensorType!.shape!.dim![0] = { dimValue: 1 };
  return encodeModel(m);
}

function image(seed: number) {
  const r = rng(seed);
  return float32(Float32Array.from({ length: 3 * H * W }, () => 0.5 + r()), [1, 3, H, W]);
}

function argmax(a: Float32Array): number {
  return topK(a, 1)[0];
}

describe('occlusion sensitivity', function () {
  it('on a model whose score is the mean of one region, the map peaks exactly over that region', async () => {
    const ex = await Explainer.load(runtime, regionModel(), 'region.onnx');
    assert.ok(dynamicBatch(ex));
    const x = image(1);
    const r = await occlusionSensitivity(ex, x, { classes: [0, 1], patch: 8, stride: 4, target: 'logit' });
    assert.equal(r.batched, true);
    assert.deepEqual(r.ys, [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    assert.deepEqual(r.xs, [0, 4, 8, 12, 16, 20, 24, 28, 32]);
    // Grid: the square at exactly the region removes all of the score (drop = the region's mean); nowhere else does.
    const g = r.grid[0];
    const peak = argmax(g);
    assert.equal(r.ys[Math.floor(peak / r.xs.length)], R.y0);
    assert.equal(r.xs[peak % r.xs.length], R.x0);
    assert.ok(Math.abs(g[peak] - r.baseline[0]) < 1e-5, `drop ${g[peak]} vs score ${r.baseline[0]}`);
    const sorted = Array.from(g).sort((a, b) => b - a);
    assert.ok(sorted[1] < 0.75 * sorted[0], 'the peak is unique');
    // Squares that miss the region change nothing.
    for (let i = 0; i < g.length; i++) {
      const [y, x0] = [r.ys[Math.floor(i / r.xs.length)], r.xs[i % r.xs.length]];
      if (y + 8 <= R.y0 || y >= R.y1 || x0 + 8 <= R.x0 || x0 >= R.x1) assert.equal(g[i], 0);
    }
    // Pixels: the mean drop over covering squares is largest inside the region, and zero far from it.
    const p = r.pixels[0];
    const best = argmax(p);
    const [by, bx] = [Math.floor(best / W), best % W];
    assert.ok(by >= R.y0 && by < R.y1 && bx >= R.x0 && bx < R.x1, `pixel peak (${by}, ${bx})`);
    let insideMin = Infinity, outsideMax = 0;
    for (let y = 0; y < H; y++) {
      for (let x0 = 0; x0 < W; x0++) {
        const v = p[y * W + x0];
        if (y >= R.y0 + 2 && y < R.y1 - 2 && x0 >= R.x0 + 2 && x0 < R.x1 - 2) insideMin = Math.min(insideMin, v);
        else if (y < R.y0 || y >= R.y1 || x0 < R.x0 || x0 >= R.x1) outsideMax = Math.max(outsideMax, v);
      }
    }
    assert.ok(insideMin > outsideMax, `core of the region ${insideMin} vs outside ${outsideMax}`);
    assert.equal(p[0], 0);
    // Class 1 (the whole image's mean) drops by the same amount wherever the square is.
    const g1 = r.grid[1];
    assert.ok(Math.max(...g1) - Math.min(...g1) < 1e-5 * Math.max(...g1) + 0.02);
    await ex.dispose();
  });

  it('batched, one by one and on a model with a fixed batch of 1 give the same map; progress counts up; cancel stops it', async () => {
    const x = image(2);
    const dyn = await Explainer.load(runtime, regionModel(), 'region.onnx');
    const fixed = await Explainer.load(runtime, regionModel(true), 'region-fixed.onnx');
    assert.equal(dynamicBatch(fixed), false);
    const progress: number[] = [];
    const a = await occlusionSensitivity(dyn, x, { classes: [0], patch: 6, stride: 3, batchSize: 7, target: 'softmax', onProgress: (d, t) => progress.push(d / t) });
    const b = await occlusionSensitivity(dyn, x, { classes: [0], patch: 6, stride: 3, batchSize: 1, target: 'softmax' });
    const c = await occlusionSensitivity(fixed, x, { classes: [0], patch: 6, stride: 3, target: 'softmax' });
    assert.equal(a.batched, true);
    assert.equal(b.batched, false);
    assert.equal(c.batched, false);
    const n = a.ys.length * a.xs.length;
    assert.equal(a.runs, 1 + Math.ceil(n / 7));
    assert.equal(c.runs, 1 + n);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(a.grid[0][i] - b.grid[0][i]) < 1e-6 && Math.abs(a.grid[0][i] - c.grid[0][i]) < 1e-6);
    }
    assert.equal(progress.length, Math.ceil(n / 7));
    assert.ok(progress.every((v, i) => i === 0 || v > progress[i - 1]) && progress[progress.length - 1] === 1);
    const ctl = { aborted: false };
    await assert.rejects(
      occlusionSensitivity(dyn, x, { classes: [0], patch: 6, stride: 3, batchSize: 4, signal: ctl, onProgress: (d) => (ctl.aborted = d >= 8) }),
      (e: Error & { kind?: string }) => e.kind === 'cancelled' && /Occlusion was cancelled/.test(e.message),
    );
    await assert.rejects(occlusionSensitivity(dyn, x, { classes: [0], patch: 50 }), /patch must be a whole number of pixels from 1 to 40/);
    await dyn.dispose();
    await fixed.dispose();
  });

  it('defaults: a seventh of the shorter side, stride half the patch; the registry method reads its options', async () => {
    assert.equal(defaultPatch(224, 224), 32);
    assert.equal(defaultPatch(28, 28), 4);
    const ex = await Explainer.load(runtime, regionModel(), 'region.onnx');
    const x = image(3);
    const r = await methodById('occlusion').run(ex, { input: x, classes: [0], target: 'logit', options: { patch: '8', stride: '8' } });
    const e = r.explanations[0];
    assert.deepEqual(e.raw.dims, [6, 5]);
    assert.equal(e.display.kind, 'heatmap');
    if (e.display.kind === 'heatmap') {
      assert.equal(e.display.width, W);
      const best = argmax(e.display.map);
      assert.ok(Math.floor(best / W) >= R.y0 && Math.floor(best / W) < R.y1 && best % W >= R.x0 && best % W < R.x1);
    }
    const d = await occlusionSensitivity(ex, x, { classes: [0] });
    assert.equal(d.patch, 6);
    assert.equal(d.stride, 3);
    await assert.rejects(methodById('occlusion').run(ex, { input: x, classes: [0], target: 'logit', options: { patch: '2.5' } }), /option 'patch' must be an integer ≥ 1/);
    await ex.dispose();
  });

  it("on SqueezeNet's two-class photo, occluding the dog's face drops the dog class (243) most", async () => {
    const model = await loadModel(runtime, SQUEEZENET);
    const input = await loadInput(model, TWO_CLASS);
    const r = await occlusionSensitivity(model.explainer, input.tensor, { classes: [243], patch: 32, stride: 32 });
    assert.equal(r.batched, false);
    const peak = argmax(r.grid[0]);
    const [y, x] = [r.ys[Math.floor(peak / r.xs.length)], r.xs[peak % r.xs.length]];
    // The dog's head spans x 78..138, y 12..78 in this 224×224 photo; the square's centre falls on it.
    assert.ok(x + 16 >= 78 && x + 16 < 138 && y + 16 >= 12 && y + 16 < 78, `peak square at (x ${x}, y ${y})`);
    await model.explainer.dispose();
  });
});
