/** GAIN's attention-mining check: the soft mask, erasing to the preset's mean, and the score drop on real photos. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { controlMask, eraseAttended, gainCheck, gainMask } from '../../src/core/metrics/gain';
import { explanationHeatmap } from '../../src/core/methods/explanation-heatmap';
import { topK } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { preprocessImage } from '../../src/core/preprocess/preprocess';
import { PRESETS } from '../../src/core/preprocess/presets';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { MNIST_8, MNIST_DIGITS, ROOT, SAMPLES, SQUEEZENET } from '../support/paths';

const runtime = webRuntime();

describe('GAIN attention mining', function () {
  it('T(A) = sigmoid(ω(A − σ)) on the min-max normalised, upsampled map (ω = 10, σ = 0.5)', () => {
    const t = gainMask({ map: Float32Array.from([2, 4, 6]), width: 3, height: 1 }, 3, 1);
    assert.ok(Math.abs(t[1] - 0.5) < 1e-7);
    assert.ok(Math.abs(t[0] - 1 / (1 + Math.exp(5))) < 1e-7 && Math.abs(t[2] - 1 / (1 + Math.exp(-5))) < 1e-7);
    const up = gainMask({ map: Float32Array.from([0, 1, 1, 0]), width: 2, height: 2 }, 4, 4);
    assert.equal(up.length, 16);
  });

  it("erases to the preset's mean: a fully attended image becomes the mean picture's tensor (zeros), in both layouts", () => {
    const p = PRESETS['caffe-bgr'];
    // The mean pixel (B 104, G 117, R 123) as an RGB image, preprocessed: all zeros after normalisation.
    const meanImg = { width: 4, height: 4, data: Uint8Array.from({ length: 64 }, (_, i) => [123, 117, 104, 255][i % 4]) };
    const zero = preprocessImage(meanImg, p, { width: 4, height: 4, channels: 3, layout: 'NCHW' }).tensor;
    assert.ok(zero.data.every((v) => v === 0));
    const x = float32(Float32Array.from({ length: 48 }, (_, i) => i - 20), [1, 3, 4, 4]);
    const all = eraseAttended(x, new Float32Array(16).fill(1), 'NCHW');
    assert.ok(all.data.every((v) => v === 0));
    // Partial erasure blends the image toward the mean: (1 − T)·x, T shared by the channels.
    const t = Float32Array.from({ length: 16 }, (_, i) => i / 15);
    const nchw = eraseAttended(x, t, 'NCHW');
    for (let c = 0; c < 3; c++) for (let i = 0; i < 16; i++) assert.ok(Math.abs(nchw.data[c * 16 + i] - (1 - t[i]) * x.data[c * 16 + i]) < 1e-6);
    const nhwc = eraseAttended(float32(x.data, [1, 4, 4, 3]), t, 'NHWC');
    for (let i = 0; i < 16; i++) for (let c = 0; c < 3; c++) assert.ok(Math.abs(nhwc.data[i * 3 + c] - (1 - t[i]) * x.data[i * 3 + c]) < 1e-6);
  });

  it('the control moves the mask onto the least-attended pixels: same values, reversed ranks', () => {
    const map = Float32Array.from([0.9, 0.1, 0.5, 0.3]);
    const mask = Float32Array.from([0.8, 0.05, 0.4, 0.1]);
    assert.deepEqual(Array.from(controlMask(map, mask)), Array.from(Float32Array.from([0.05, 0.8, 0.1, 0.4])));
  });

  describe('on SqueezeNet photos', () => {
    let model: LoadedModel;
    before(async () => {
      model = await loadModel(runtime, SQUEEZENET);
    });
    after(() => model.explainer.dispose());

    async function check(file: string) {
      const input = await loadInput(model, file);
      const before = await model.explainer.forward(input.tensor);
      const cls = topK(before.probs, 1)[0];
      const e = (await methodById('gradcam').run(model.explainer, { input: input.tensor, classes: [cls], target: 'logit' })).explanations[0];
      const map = explanationHeatmap(e);
      const inverted = { ...map, map: map.map.map((v) => 1 - v) };
      return {
        cls,
        prob: await gainCheck(model.explainer, input.tensor, map, cls, { before }),
        logit: await gainCheck(model.explainer, input.tensor, map, cls, { before, score: 'logit' }),
        inverted: await gainCheck(model.explainer, input.tensor, inverted, cls, { before, control: false }),
      };
    }

    // The check with the literal inverted map 1 − A. SqueezeNet's Grad-CAM maps are compact (T(A) erases
    // 6–19 % of these photos), so 1 − A erases the other 81–94 %; on most photos that costs the class more. On
    // these two the attended object carries the class: erasing it costs more than erasing everything else.
    for (const [file, cls] of [['wm_torch.jpg', 862], ['wm_pelican.jpg', 144]] as const) {
      it(`${file} (class ${cls}, correctly classified): erasing Grad-CAM's region drops the probability more than erasing the inverted map's`, async () => {
        const r = await check(path.join(SAMPLES, file));
        assert.equal(r.cls, cls);
        const g = r.prob;
        assert.ok(Math.abs(g.drop - (g.before - g.after)) < 1e-7 && g.before === g.probBefore);
        assert.ok(g.drop > r.inverted.drop + 0.05, `drop ${g.drop.toFixed(3)} (Grad-CAM) vs ${r.inverted.drop.toFixed(3)} (inverted)`);
        assert.ok(g.after < g.before / 4, `Grad-CAM: ${g.before.toFixed(3)} → ${g.after.toFixed(3)}`);
        assert.ok(g.erased > 0 && g.erased < 0.2 && r.inverted.erased > 0.8, `erased ${g.erased.toFixed(2)} vs ${r.inverted.erased.toFixed(2)}`);
      });
    }

    it("on every sample photo, erasing Grad-CAM's region drops the class logit more than erasing as much where it attends least", async () => {
      const files = [...fs.readdirSync(SAMPLES).map((f) => path.join(SAMPLES, f)), ...['cat_285.png', 'dog_207.png', 'zebra_340.png'].map((f) => path.join(ROOT, 'test', 'fixtures', 'images', f))];
      const lines: string[] = [];
      for (const f of files) {
        const r = await check(f);
        const c = r.logit.control!;
        lines.push(`${path.basename(f)}: logit ${r.logit.before.toFixed(1)} → ${r.logit.after.toFixed(1)} (control ${c.after.toFixed(1)}), p ${r.prob.before.toFixed(3)} → ${r.prob.after.toFixed(3)} (control ${r.prob.control!.after.toFixed(3)})`);
        assert.ok(r.logit.drop > c.drop + 2, lines[lines.length - 1]);
        assert.ok(r.prob.drop >= r.prob.control!.drop - 1e-3, lines[lines.length - 1]);
        assert.equal(r.logit.erased, r.prob.erased);
      }
    });
  });

  it('on the ten MNIST digits (mnist-8), Grad-CAM and saliency maps beat their controls', async () => {
    const model = await loadModel(runtime, MNIST_8);
    for (const f of fs.readdirSync(MNIST_DIGITS)) {
      const input = await loadInput(model, path.join(MNIST_DIGITS, f));
      const before = await model.explainer.forward(input.tensor);
      const cls = topK(before.probs, 1)[0];
      assert.equal(cls, Number(f.split('_')[1]));
      for (const id of ['gradcam', 'saliency']) {
        const e = (await methodById(id).run(model.explainer, { input: input.tensor, classes: [cls], target: 'logit' })).explanations[0];
        const g = await gainCheck(model.explainer, input.tensor, explanationHeatmap(e), cls, { before, score: 'logit' });
        assert.ok(g.drop > g.control!.drop + 1, `${f} ${id}: drop ${g.drop.toFixed(2)} vs control ${g.control!.drop.toFixed(2)}`);
      }
    }
    await model.explainer.dispose();
  });
});
