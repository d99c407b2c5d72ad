/**
 * The panel's measuring work on the bundled SqueezeNet and a real photo: the checks of a shown map (reusing
 * its forward pass), the pointing game's box through the preprocessing crop, one method of the comparison,
 * and the metrics row's words and curve geometry.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { ExplainedOutput, explainImage, measureFaithfulness } from '../../src/core/app/explain-image';
import { heatmapAt } from '../../src/core/attention/heatmap';
import { explanationHeatmap } from '../../src/core/methods/explanation-heatmap';
import { perturbationCurve } from '../../src/core/metrics/deletion-insertion';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { CompareMemo, boxInImage, compareMemo, compareOne, measureShown, rememberShown } from '../../webview/panel/measure';
import { curvePoints, curveTop, metricItems } from '../../webview/panel/metrics-text';
import { SAMPLES, SQUEEZENET } from '../support/paths';

describe('panel measuring work (SqueezeNet, a real photo)', function () {
  this.timeout(600000);
  let model: LoadedModel;
  let input: LoadedInput;
  before(async () => {
    model = await loadModel(webRuntime(), SQUEEZENET);
    input = await loadInput(model, path.join(SAMPLES, 'wm_pelican.jpg'));
  });
  after(() => model.dispose());

  it('a drawn box becomes original-image pixels through the preprocessing crop', () => {
    const crop = input.crop!;
    assert.ok(crop.width > 0 && crop.height > 0);
    const b = boxInImage({ x: 0.25, y: 0.5, width: 0.5, height: 0.25 }, input, model.explainer.inputSize);
    assert.deepEqual(b, { x: crop.x + 0.25 * crop.width, y: crop.y + 0.5 * crop.height, width: 0.5 * crop.width, height: 0.25 * crop.height });
    const t = boxInImage({ x: 0.5, y: 0.5, width: 0.5, height: 0.5 }, { ...input, crop: undefined }, { width: 224, height: 224 });
    assert.deepEqual(t, { x: 112, y: 112, width: 112, height: 112 }, 'a tensor input: the input size');
  });

  it('measures GAIN and the metrics of the shown map with its forward pass, as the core measures them; the pointing game hits at the peak and misses far from it', async () => {
    const o = await explainImage(model, input, { method: 'gradcam', top: 1 });
    const e = o.outputs[0].explanation;
    const r = await measureShown(model, input, e, o.forward, { ids: ['deletion', 'insertion', 'road', 'confidence'], gain: true });
    const ref = await measureFaithfulness(model, input, e, o.forward, { ids: ['deletion', 'insertion', 'road', 'confidence'] });
    assert.deepEqual(r.metrics, ref);
    assert.equal(r.gain?.classIndex, e.classIndex);
    assert.ok(Number.isFinite(r.gain!.drop) && Math.abs(r.gain!.drop - (r.gain!.before - r.gain!.after)) < 1e-9);
    assert.equal(r.gain!.control, undefined, 'the panel measures GAIN without its control pass');
    const m = r.metrics;
    for (const c of [m.deletion!, m.insertion!]) {
      assert.equal(c.fractions.length, 17);
      assert.ok(c.probs.every((p) => p >= 0 && p <= 1) && c.auc >= 0 && c.auc <= 1);
    }
    assert.ok(Number.isFinite(m.road!.combined) && Number.isFinite(m.confidence!.drop));
    // The reused pass is the unperturbed input's: running the first deletion point again gives the same probability.
    const { width, height } = model.explainer.inputSize;
    const map01 = heatmapAt(explanationHeatmap(e), width, height);
    const fresh = await perturbationCurve(model.explainer, input.tensor, map01, e.classIndex, 'deletion');
    assert.ok(Math.abs(fresh.probs[0] - m.deletion!.probs[0]) < 1e-4, `${fresh.probs[0]} vs ${m.deletion!.probs[0]}`);
    assert.ok(Math.abs(fresh.auc - m.deletion!.auc) < 1e-4);
    // Pointing: a box around the map's maximum (in fractions of the picture the model saw) hits; the far corner misses.
    let best = 0;
    for (let i = 1; i < map01.length; i++) if (map01[i] > map01[best]) best = i;
    const fx = ((best % width) + 0.5) / width;
    const fy = (Math.floor(best / width) + 0.5) / height;
    const near = { x: Math.max(0, fx - 0.05), y: Math.max(0, fy - 0.05), width: 0.1, height: 0.1 };
    const far = { x: fx < 0.5 ? 0.9 : 0, y: fy < 0.5 ? 0.9 : 0, width: 0.1, height: 0.1 };
    const hit = await measureShown(model, input, e, o.forward, { ids: ['pointing'], gain: false, box: near });
    const miss = await measureShown(model, input, e, o.forward, { ids: ['pointing'], gain: false, box: far });
    assert.equal(hit.gain, undefined);
    assert.deepEqual(Object.keys(hit.metrics), ['pointing']);
    assert.equal(hit.metrics.pointing!.hit, true);
    assert.equal(miss.metrics.pointing!.hit, false);
    const none = await measureShown(model, input, e, o.forward, { ids: ['pointing'], gain: false });
    assert.deepEqual(none.metrics, {}, 'no box, no pointing game');
  });

  it('compares one method: a map with its metrics; a method that refuses the target is skipped with the reason', async () => {
    const forward = await model.explainer.forward(input.tensor);
    const k = forward.probs.indexOf(Math.max(...forward.probs));
    const done = await compareOne(model, input, { method: 'gradcam', classIndex: k, target: 'softmax', forward });
    assert.equal(done.cell.status, 'done');
    assert.ok(done.output && done.output.explanation.classIndex === k);
    assert.ok(Number.isFinite(done.cell.metrics!.deletion!.auc) && Number.isFinite(done.cell.metrics!.road!.combined));
    assert.equal((done.cell.metrics as Record<string, unknown>).gain, undefined);
    const other = k === 0 ? 1 : 0;
    const skipped = await compareOne(model, input, { method: 'guided-backprop', classIndex: k, target: `contrast:${other}`, forward });
    assert.equal(skipped.cell.status, 'skipped');
    assert.match(skipped.cell.reason!, /cannot explain target 'contrast:/);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(compareOne(model, input, { method: 'occlusion', classIndex: k, target: 'logit', forward, signal: controller.signal }), 'cancellation is not a failed cell');
  });

  it('a comparison measures a map bit-identical to one measured already no more (its numbers, and which method): no forward pass; others share the substrate passes, with the same numbers', async () => {
    const forward = await model.explainer.forward(input.tensor);
    const k = forward.probs.indexOf(Math.max(...forward.probs));
    // Count the inputs each cell sends through forwardBatch (the metrics' passes; the methods' own runs are the same with and without the memo).
    let inputs = 0;
    const explainer = Object.create(model.explainer, { forwardBatch: { value: (xs: readonly never[]) => { inputs += xs.length; return model.explainer.forwardBatch(xs); } } });
    const counted = Object.create(model, { explainer: { value: explainer } }) as LoadedModel;
    const cell = async (method: string, memo?: CompareMemo) => {
      inputs = 0;
      const r = await compareOne(counted, input, { method, classIndex: k, target: 'logit', forward, metrics: ['deletion', 'insertion', 'confidence'], memo });
      return { ...r, inputs };
    };
    const alone = { gradcam: await cell('gradcam'), layercam: await cell('layercam'), saliency: await cell('saliency'), plusplus: await cell('gradcam-plusplus') };
    const memo = compareMemo();
    const first = await cell('gradcam', memo);
    assert.deepEqual(first.cell.metrics, alone.gradcam.cell.metrics);
    assert.equal(first.inputs, alone.gradcam.inputs, 'the first cell measures everything');
    // On SqueezeNet LayerCAM's map is Grad-CAM's, bit for bit (the last conv layer has one channel per class).
    const { width, height } = model.explainer.inputSize;
    const same = (a: ExplainedOutput, b: ExplainedOutput) => heatmapAt(explanationHeatmap(a.explanation), width, height).every((v, i) => v === heatmapAt(explanationHeatmap(b.explanation), width, height)[i]);
    assert.ok(same(alone.gradcam.output!, alone.layercam.output!), 'the fixture: identical maps');
    const second = await cell('layercam', memo);
    assert.equal(second.cell.status, 'done');
    assert.equal(second.cell.sameAs, 'Grad-CAM');
    assert.deepEqual(second.cell.metrics, alone.layercam.cell.metrics, 'the reused numbers are what measuring it gives');
    assert.equal(second.inputs, alone.layercam.inputs - 33, 'none of the 33 metric passes run again');
    assert.ok(!same(alone.gradcam.output!, alone.saliency.output!));
    const third = await cell('saliency', memo);
    assert.equal(third.cell.sameAs, undefined);
    assert.deepEqual(third.cell.metrics, alone.saliency.cell.metrics);
    assert.equal(third.inputs, alone.saliency.inputs - 2, 'the blurred image and the constant image alone ran with the first cell');
    // Grad-CAM++'s map differs from Grad-CAM's in the last bit at some pixels, but moves the same pixels at every
    // deletion and insertion step: its curves are Grad-CAM's (no pass), its confidence change is its own (1 pass).
    assert.ok(!same(alone.gradcam.output!, alone.plusplus.output!));
    const fourth = await cell('gradcam-plusplus', memo);
    assert.equal(fourth.cell.sameAs, undefined);
    assert.deepEqual(fourth.cell.metrics, alone.plusplus.cell.metrics);
    assert.equal(fourth.inputs, alone.plusplus.inputs - 32);
    // The shown map's metrics (measured beside it) seed a comparison: the shown method's cell runs none of its passes.
    // So do its curves (for a map that moves the same pixels) and its substrate passes.
    const seeded = compareMemo();
    rememberShown(seeded, model, alone.gradcam.output!.explanation, alone.gradcam.cell.metrics!, forward);
    const again = await cell('gradcam', seeded);
    assert.equal(again.cell.sameAs, 'the shown Grad-CAM map');
    assert.deepEqual(again.cell.metrics, alone.gradcam.cell.metrics);
    assert.equal(again.inputs, alone.gradcam.inputs - 33);
    const plus = await cell('gradcam-plusplus', seeded);
    assert.deepEqual(plus.cell.metrics, alone.plusplus.cell.metrics);
    assert.equal(plus.inputs, alone.plusplus.inputs - 32, 'its curves are the shown map\'s');
    const sal = await cell('saliency', seeded);
    assert.deepEqual(sal.cell.metrics, alone.saliency.cell.metrics);
    assert.equal(sal.inputs, alone.saliency.inputs - 2, 'the substrates\' passes are the shown map\'s');
  });

  it('the row says each metric with its direction; the curves map fraction and probability into the plot box', () => {
    const curve = { auc: 0.25, substrate: 'constant' as const, fractions: [0, 0.5, 1], probs: [0.4, 0.1, 0] };
    const items = metricItems({
      deletion: curve, insertion: { ...curve, auc: 0.5 },
      road: { percentiles: [10], before: 0.4, morf: [0.1], lerf: [0.35], morfChange: -0.3, lerfChange: -0.05, combined: 0.125 },
      confidence: { before: 0.4, after: 0.3, drop: 0.25, increase: false },
    }, { classIndex: 1, score: 'softmax', before: 0.4, after: 0.1, drop: 0.3, probBefore: 0.4, probAfter: 0.1, logitBefore: 1, logitAfter: 0, erased: 0.2 });
    assert.deepEqual(items.map((x) => x.text), ['deletion AUC 0.250 ↓', 'insertion AUC 0.500 ↑', 'ROAD 0.125 ↑', 'drop 25.0% ↓', 'increase no', 'GAIN drop 30.0 pts']);
    assert.equal(curveTop([curve]), 0.4);
    assert.equal(curvePoints(curve, 200, 100, 0.4), '0.0,0.0 100.0,75.0 200.0,100.0');
    assert.equal(curveTop([undefined]), 1);
  });
});
