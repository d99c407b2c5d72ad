/** The faithfulness metrics: hand-computed curves on a hand-made model, imputation maths, and good vs random vs inverted maps on real photos. */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { heatmapAt } from '../../src/core/attention/heatmap';
import { Explainer, topK } from '../../src/core/explainer';
import { confidenceChange, multiplyByMap } from '../../src/core/metrics/confidence';
import { perturbationCurve } from '../../src/core/metrics/deletion-insertion';
import { gaussianBlur, rankPixels, trapezoid } from '../../src/core/metrics/perturb';
import { pointingGame } from '../../src/core/metrics/pointing';
import { measureAll, METRICS, metricShare, parseBox, parseMetrics } from '../../src/core/metrics/registry';
import { buildLevels } from '../../src/core/metrics/masked-multigrid';
import { noisyLinearImpute, percentile, road, roadMask } from '../../src/core/metrics/road';
import { explanationHeatmap } from '../../src/core/methods/explanation-heatmap';
import { methodById } from '../../src/core/methods/registry';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { SAMPLES, SQUEEZENET } from '../support/paths';
import { rng, tinyModel } from '../support/tiny-model';

const runtime = webRuntime();
const H = 48, W = 40;
/** The region class 0 reads: rows 16..23, columns 24..31 (64 pixels). */
const R = { y0: 16, y1: 24, x0: 24, x1: 32 };

/** Two classes: 0 = mean of region R over the channels, 1 = mean of the whole image; batch axis dynamic. */
function regionModel(): Uint8Array {
  const i64 = (v: number[]) => ({ type: 'int64' as const, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
  return tinyModel({
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
}

const inRegion = (p: number) => { const y = Math.floor(p / W), x = p % W; return y >= R.y0 && y < R.y1 && x >= R.x0 && x < R.x1; };
/** Region pixels 1, the rest a falling ramp below 0.5 (so the rank after the region is fixed). */
const goodMap = Float32Array.from({ length: H * W }, (_, p) => (inRegion(p) ? 1 : 0.5 * (1 - p / (H * W))));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('faithfulness metrics', function () {
  this.timeout(600000);
  let ex: Explainer;
  before(async () => {
    ex = await Explainer.load(runtime, regionModel(), 'region.onnx');
  });
  after(() => ex.dispose());
  const ones = () => float32(new Float32Array(3 * H * W).fill(1), [1, 3, H, W]);

  it('deletion AUC by hand: the region goes in the first step, then the rest 120 pixels a step (constant substrate)', async () => {
    const d = await perturbationCurve(ex, ones(), goodMap, 0, 'deletion', { step: 1 / 16 });
    // p0 = σ(l0 − l1): step 0 both means are 1; after step k ≥ 1 the region is 0 and the image mean 1 − k/16.
    const want = Array.from({ length: 17 }, (_, k) => (k === 0 ? 0.5 : sigmoid(-(1 - k / 16))));
    assert.equal(d.probs.length, 17);
    d.probs.forEach((p, k) => assert.ok(close(p, want[k]), `step ${k}: ${p} vs ${want[k]}`));
    let auc = 0;
    for (let k = 0; k < 16; k++) auc += (want[k] + want[k + 1]) / 2 / 16;
    assert.ok(close(d.auc, auc), `${d.auc} vs ${auc}`);
    assert.equal(d.substrate, 'constant');
  });

  it('insertion AUC by hand, and the given forward pass stands in for the unperturbed point', async () => {
    const x = ones();
    const before = await ex.forward(x);
    const i = await perturbationCurve(ex, x, goodMap, 0, 'insertion', { step: 1 / 16, substrate: 'constant', before });
    const want = Array.from({ length: 17 }, (_, k) => (k === 0 ? 0.5 : sigmoid(1 - k / 16)));
    i.probs.forEach((p, k) => assert.ok(close(p, want[k]), `step ${k}: ${p} vs ${want[k]}`));
    assert.ok(close(i.auc, trapezoid(i.fractions, want)));
    const blurred = await perturbationCurve(ex, x, goodMap, 0, 'insertion', { step: 1 / 4 });
    assert.equal(blurred.substrate, 'blur');
    assert.equal(blurred.probs.length, 5);
  });

  it('deletion and insertion share the substrate-only pass and the ranking, with the same curves as measured alone', async () => {
    const x = float32(Float32Array.from({ length: 3 * H * W }, (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13), [1, 3, H, W]);
    const before = await ex.forward(x);
    const map = Float32Array.from(goodMap, (v, p) => (p % 7 === 0 ? v / 2 : v));
    const alone = {
      deletion: await perturbationCurve(ex, x, map, 0, 'deletion', { substrate: 'blur', before }),
      insertion: await perturbationCurve(ex, x, map, 0, 'insertion', { substrate: 'blur', before }),
    };
    // Count the inputs that reach the model.
    let inputs = 0;
    const counting = Object.create(ex, { forwardBatch: { value: (xs: readonly unknown[]) => { inputs += xs.length; return ex.forwardBatch(xs as never); } } }) as Explainer;
    const substrateProbs = new Map();
    const del = await perturbationCurve(counting, x, map, 0, 'deletion', { substrate: 'blur', before, substrateProbs });
    assert.equal(inputs, 16, 'deletion runs 16 points (the unperturbed one is given)');
    const ins = await perturbationCurve(counting, x, map, 0, 'insertion', { substrate: 'blur', before, substrateProbs, order: rankPixels(map) });
    assert.equal(inputs, 31, 'insertion reuses deletion\'s last point (the blurred image alone) as its first');
    assert.deepEqual(del, alone.deletion);
    assert.deepEqual(ins, alone.insertion);
    // measureAll shares within one map (different default substrates: nothing to share) and across maps with a share.
    inputs = 0;
    const shared = metricShare();
    const c = { explainer: counting, input: x, map01: map, classIndex: 0, before, shared };
    const first = await measureAll(['deletion', 'insertion'], c);
    assert.equal(inputs, 32);
    assert.deepEqual(first.deletion, await perturbationCurve(ex, x, map, 0, 'deletion', { before }));
    inputs = 0;
    const second = await measureAll(['deletion', 'insertion'], { ...c, map01: goodMap });
    assert.equal(inputs, 30, 'a second map of the same input and class runs neither substrate alone again');
    assert.deepEqual(second.insertion, await perturbationCurve(ex, x, goodMap, 0, 'insertion', { before }));
    // A map with other values that moves the same pixels at every step (ranked alike up to order within a step)
    // has the same curves: taken from the share, no pass; one that moves other pixels is measured.
    const n = H * W;
    const order = rankPixels(goodMap);
    const alike = new Float32Array(n);
    // Within each sixteenth the pixels are reordered (reversed by index), across sixteenths the order is kept.
    order.forEach((p, i) => (alike[p] = 1 - Math.floor((16 * i) / n) / 16 - (p / n) * 1e-3));
    assert.notDeepEqual(rankPixels(alike), order);
    inputs = 0;
    const third = await measureAll(['deletion', 'insertion'], { ...c, map01: alike });
    assert.equal(inputs, 0, 'both curves reused');
    assert.deepEqual(third.deletion, second.deletion);
    const fresh = await perturbationCurve(ex, x, alike, 0, 'deletion', { before });
    assert.deepEqual(fresh, second.deletion, 'and they are what measuring gives');
    inputs = 0;
    await measureAll(['deletion'], { ...c, map01: map.map((v) => 1 - v) });
    assert.equal(inputs, 15, 'an inverted map is measured (its substrate pass shared)');
  });

  it('rankPixels: the packed-key sort gives the comparison sort\'s order (ties by index, −0 as 0); the blur is the same in both layouts', () => {
    const slow = (m: Float32Array) => Uint32Array.from(Array.from(m.keys()).sort((i, j) => m[j] - m[i] || i - j));
    const maps = [goodMap, Float32Array.from(goodMap, (v) => Math.round(v * 8) / 8), new Float32Array(100), Float32Array.from([0, -0, 1, 0.5, 1, Infinity, 0, 1e-30]), Float32Array.from([0.5, -1, 0.2, NaN, 0.5])];
    for (const m of maps) assert.deepEqual(rankPixels(m), slow(m));
    const x = float32(Float32Array.from({ length: 3 * H * W }, (_, i) => Math.sin(i * 0.37) * 2 + ((i * 7919) % 97) / 50), [1, 3, H, W]);
    const nhwc = float32(Float32Array.from({ length: 3 * H * W }, (_, i) => x.data[(i % 3) * H * W + Math.floor(i / 3)]), [1, H, W, 3]);
    const a = gaussianBlur(x, 'NCHW', 5, 5);
    const b = gaussianBlur(nhwc, 'NHWC', 5, 5);
    for (let i = 0; i < b.data.length; i++) assert.equal(b.data[i], a.data[(i % 3) * H * W + Math.floor(i / 3)]);
    // One hand-checked value: a constant image stays constant (the kernel sums to 1, edges clamped).
    assert.ok(gaussianBlur(ones(), 'NCHW', 5, 5).data.every((v) => Math.abs(v - 1) < 1e-6));
  });

  it('Average Drop / Increase: the input times the map, as pytorch-grad-cam multiplies the tensor', async () => {
    const x = ones();
    const c = await confidenceChange(ex, x, goodMap, 0);
    const m = multiplyByMap(x, goodMap, 'NCHW');
    const l1 = m.data.slice(0, H * W).reduce((a, b) => a + b, 0) / (H * W);
    assert.ok(close(c.before, 0.5) && close(c.after, sigmoid(1 - l1)));
    assert.equal(c.increase, true);
    assert.equal(c.drop, 0);
  });

  it('the pointing game: a hit inside the box or within 15 px of it, through the crop', () => {
    const box = { x: 100, y: 100, width: 20, height: 20 };
    const map = new Float32Array(16);
    map[5] = 1; // pixel (1, 1) of a 4×4 input over crop (80, 80, 40, 40): centre (95, 95), 5 px from the box
    assert.equal(pointingGame(map, 4, 4, box, { x: 80, y: 80, width: 40, height: 40 }).hit, true);
    map[5] = 0;
    map[0] = 1; // centre (85, 85): 21 px from the box's corner
    const r = pointingGame(map, 4, 4, box, { x: 80, y: 80, width: 40, height: 40 });
    assert.equal(r.hit, false);
    assert.deepEqual(r.point, { x: 85, y: 85 });
    assert.deepEqual(parseBox('1,2,3,4'), { x: 1, y: 2, width: 3, height: 4 });
    assert.throws(() => parseBox('1,2,0,4'), /positive/);
    assert.deepEqual(parseMetrics('all'), METRICS.map((x) => x.id));
    assert.deepEqual(parseMetrics('road,deletion'), ['deletion', 'road']);
    assert.throws(() => parseMetrics('auc'), /Unknown metric 'auc'/);
  });

  it('ROAD: numpy percentiles, masks, and imputation that is exact on constant and linear images (no noise)', () => {
    assert.equal(percentile(Float32Array.from([1, 2, 3, 4]), 50), 2.5);
    const mask = roadMask(Float32Array.from([0, 0.25, 0.5, 1]), 50, 'morf');
    assert.deepEqual(Array.from(mask), [0, 0, 1, 1]);
    assert.deepEqual(Array.from(roadMask(Float32Array.from([0, 0.25, 0.5, 1]), 50, 'lerf')), [1, 1, 0, 0]);
    // A map zero over 80% of its pixels: at the 25th percentile ≥ 0 would remove every pixel (nothing left to
    // impute from); the pixels strictly above the tie go instead. A constant map removes nothing.
    assert.deepEqual(Array.from(roadMask(Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0.5, 1]), 25, 'morf')), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    assert.deepEqual(Array.from(roadMask(new Float32Array(6).fill(0.3), 50, 'morf')), [0, 0, 0, 0, 0, 0]);
    const hole = Uint8Array.from({ length: H * W }, (_, p) => (inRegion(p) ? 1 : 0));
    const c = noisyLinearImpute(ones(), hole, 'NCHW', 0);
    assert.ok(c.data.every((v) => Math.abs(v - 1) < 1e-6));
    const ramp = float32(Float32Array.from({ length: 3 * H * W }, (_, i) => { const p = i % (H * W); return 0.1 * (p % W) - 0.05 * Math.floor(p / W) + Math.floor(i / (H * W)); }), [1, 3, H, W]);
    const r = noisyLinearImpute(ramp, hole, 'NCHW', 0);
    for (let i = 0; i < r.data.length; i++) assert.ok(Math.abs(r.data[i] - ramp.data[i]) < 1e-5, `${i}: ${r.data[i]} vs ${ramp.data[i]}`);
    // NHWC gives the same pixels; the noise is seeded.
    const nhwc = float32(Float32Array.from({ length: 3 * H * W }, (_, i) => ramp.data[(i % 3) * H * W + Math.floor(i / 3)]), [1, H, W, 3]);
    const rn = noisyLinearImpute(nhwc, hole, 'NHWC', 0);
    for (let i = 0; i < rn.data.length; i++) assert.ok(Math.abs(rn.data[i] - r.data[(i % 3) * H * W + Math.floor(i / 3)]) < 1e-5);
    assert.deepEqual(noisyLinearImpute(ramp, hole, 'NCHW', 0.01, 3).data, noisyLinearImpute(ramp, hole, 'NCHW', 0.01, 3).data);
  });

  it('ROAD: a hole most of the image wide (the multigrid-preconditioned solve) is still the weighted mean of its neighbours', () => {
    const n = 96;
    const hole = Uint8Array.from({ length: n * n }, (_, p) => ((Math.floor(p / n) - 50) ** 2 + ((p % n) - 44) ** 2 < 38 ** 2 ? 1 : 0));
    assert.ok(buildLevels(n, n, hole, [[0, 1, 1 / 6]]).length >= 5, 'the multigrid path is taken');
    const ramp = float32(Float32Array.from({ length: 3 * n * n }, (_, i) => { const p = i % (n * n); return 0.1 * (p % n) - 0.05 * Math.floor(p / n) + Math.floor(i / (n * n)); }), [1, 3, n, n]);
    const r = noisyLinearImpute(ramp, hole, 'NCHW', 0);
    for (let i = 0; i < r.data.length; i++) assert.ok(Math.abs(r.data[i] - ramp.data[i]) < 1e-4, `${i}: ${r.data[i]} vs ${ramp.data[i]}`);
    // A non-harmonic image (deterministic texture): every removed pixel equals the weighted mean of its in-image
    // neighbours (weights 1/6 on the sides, 1/12 on the diagonals, normalised at the border), to float32 rounding.
    const tex = float32(Float32Array.from({ length: 3 * n * n }, (_, i) => Math.sin(i * 0.37) * 40 + ((i * 7919) % 97)), [1, 3, n, n]);
    const t = noisyLinearImpute(tex, hole, 'NCHW', 0);
    let worst = 0;
    for (let k = 0; k < 3; k++) for (let p = 0; p < n * n; p++) {
      if (!hole[p]) continue;
      const y = Math.floor(p / n), x = p % n;
      let sum = 0, wsum = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        if ((!dy && !dx) || y + dy < 0 || y + dy >= n || x + dx < 0 || x + dx >= n) continue;
        const wt = dy && dx ? 1 / 12 : 1 / 6;
        sum += wt * t.data[k * n * n + (y + dy) * n + x + dx];
        wsum += wt;
      }
      worst = Math.max(worst, Math.abs(t.data[k * n * n + p] - sum / wsum));
    }
    assert.ok(worst < 1e-3, `largest deviation from the neighbours' weighted mean: ${worst}`);
  });

  it('ROAD on the region model: removing the region first (MoRF) costs class 0, keeping it (LeRF) does not', async () => {
    const r0 = rng(4);
    const x = float32(Float32Array.from({ length: 3 * H * W }, () => 0.5 + r0()), [1, 3, H, W]);
    const r = await road(ex, x, goodMap, 0, { noise: 0 });
    assert.equal(r.morf.length, 3);
    assert.ok(r.combined >= 0, JSON.stringify(r));
  });

  describe('on SqueezeNet photos: Grad-CAM beats a random and an inverted map on every metric', () => {
    let model: LoadedModel;
    before(async () => {
      model = await loadModel(runtime, SQUEEZENET);
    });
    after(() => model.explainer.dispose());

    for (const file of ['wm_torch.jpg', 'wm_pelican.jpg']) {
      it(file, async () => {
        const input = await loadInput(model, path.join(SAMPLES, file));
        const before = await model.explainer.forward(input.tensor);
        const cls = topK(before.probs, 1)[0];
        const e = (await methodById('gradcam').run(model.explainer, { input: input.tensor, classes: [cls], target: 'logit' })).explanations[0];
        const { width, height } = model.explainer.inputSize;
        const good = heatmapAt(explanationHeatmap(e), width, height);
        const r = rng(7);
        const random = heatmapAt({ map: Float32Array.from({ length: 49 }, () => r()), width: 7, height: 7 }, width, height);
        const inverted = good.map((v) => 1 - v);
        // The pointing box: the good map's peak (in original pixels) with a 20-px margin.
        const peak = pointingGame(good, width, height, { x: 0, y: 0, width: 1, height: 1 }, input.crop, 0).point;
        const box = { x: peak.x - 20, y: peak.y - 20, width: 40, height: 40 };
        const m = async (map01: Float32Array) => measureAll(['deletion', 'insertion', 'road', 'confidence', 'pointing'], { explainer: model.explainer, input: input.tensor, map01, classIndex: cls, before, crop: input.crop, box });
        const [g, rd, inv] = [await m(good), await m(random), await m(inverted)];
        const line = (x: typeof g) => `del ${x.deletion!.auc.toFixed(3)} ins ${x.insertion!.auc.toFixed(3)} road ${x.road!.combined.toFixed(3)} drop ${x.confidence!.drop.toFixed(3)} hit ${x.pointing!.hit}`;
        const msg = `good: ${line(g)} | random: ${line(rd)} | inverted: ${line(inv)}`;
        for (const o of [rd, inv]) {
          assert.ok(g.deletion!.auc < o.deletion!.auc, msg);
          assert.ok(g.insertion!.auc > o.insertion!.auc, msg);
          assert.ok(g.road!.combined > o.road!.combined, msg);
        }
        // Average Drop rewards maps that keep much of the image: the smooth random map (mean 0.5) keeps more of
        // the pelican than Grad-CAM's compact map and drops less there (0.54 vs 0.71), so only the torch is held to it.
        assert.ok(g.confidence!.drop < inv.confidence!.drop, msg);
        if (file === 'wm_torch.jpg') assert.ok(g.confidence!.drop < rd.confidence!.drop, msg);
        assert.ok(g.pointing!.hit && !inv.pointing!.hit, msg);
        assert.equal(g.deletion!.probs.length, 17);
        console.log(`      ${file}: ${msg}`);
      });
    }
  });
});
