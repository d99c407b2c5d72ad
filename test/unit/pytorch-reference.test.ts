/**
 * End to end against PyTorch autograd: small networks in the style of each classifier family, exported at
 * opsets 11/13/17 by scripts/make_reference.py, with reference Grad-CAM maps, layer gradients, saliency,
 * guided backprop and deconvnet gradients. Every model × method must reach cosine ≥ 0.9999 and
 * max |Δ| ≤ 1e-3 · max |reference|; saliency must also be as close to a float64 autograd run on the same
 * weights as PyTorch float32 is.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertMatches } from '../support/compare';

const REF = path.join(__dirname, '..', 'fixtures', 'ref');
const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8')) as {
  models: {
    file: string; family: string; opset: number; classes: number[]; layer: string; input: string; logits: string; per_class: Record<string, Record<string, string>>;
    saliency_float32_max_rel_error: Record<string, number>;
  }[];
};
/** max |a − truth| / max |truth|. */
function maxRelError(a: ArrayLike<number>, truth: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < truth.length; i++) {
    err = Math.max(err, Math.abs(a[i] - truth[i]));
    scale = Math.max(scale, Math.abs(truth[i]));
  }
  return err / scale;
}
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(REF, p))));

describe('gradients match PyTorch autograd on every reference family', function () {
  const runtime = webRuntime();
  for (const m of index.models) {
    describe(m.file, () => {
      let ex: Explainer;
      const inp = npy(m.input);
      const input = float32(inp.data, inp.shape);
      before(async () => {
        ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(REF, m.file))), m.file);
      });
      after(() => ex.dispose());

      it('reproduces the logits', async () => {
        const f = await ex.forward(input);
        assertMatches(f.logits, npy(m.logits).data, 'logits', 0.99999, 1e-4);
      });

      it('picks the reference layer as the default target layer', async () => {
        assert.equal(await ex.defaultLayer(), m.layer);
      });

      it('layer gradients, saliency, guided backprop and deconvnet', async () => {
        const classes = m.classes;
        const layer = await ex.gradients(input, { targets: [m.layer], classes, score: 'logit', mode: 'plain', method: 'test' });
        const n = layer.grads[m.layer].data.length / classes.length;
        classes.forEach((c, k) => assertMatches(layer.grads[m.layer].data.subarray(k * n, (k + 1) * n), npy(m.per_class[c].layer_grad).data, `layer gradient, class ${c}`));
        for (const [mode, key] of [['plain', 'saliency'], ['guided', 'guided'], ['deconvnet', 'deconv']] as const) {
          const r = await ex.gradients(input, { targets: [ex.input.name], classes, score: 'logit', mode, method: 'test' });
          const g = r.grads[ex.input.name].data;
          const per = g.length / classes.length;
          classes.forEach((c, k) => assertMatches(g.subarray(k * per, (k + 1) * per), npy(m.per_class[c][key]).data, `${key}, class ${c}`));
        }
      });

      it('saliency is as close to the float64 truth as PyTorch float32 is', async () => {
        const r = await ex.gradients(input, { targets: [ex.input.name], classes: m.classes, score: 'logit', mode: 'plain', method: 'test' });
        const g = r.grads[ex.input.name].data;
        const per = g.length / m.classes.length;
        m.classes.forEach((c, k) => {
          const truth = npy(m.per_class[c].saliency_f64).data;
          const err = maxRelError(g.subarray(k * per, (k + 1) * per), truth);
          // Float32 rounding alone gives a few 1e-7 here; a wrong rule gives far more.
          const bound = Math.max(4 * m.saliency_float32_max_rel_error[c], 2e-6);
          assert.ok(err <= bound, `saliency class ${c}: max error ${err.toExponential(2)} relative to max |float64 truth|, PyTorch float32 ${m.saliency_float32_max_rel_error[c].toExponential(2)}`);
        });
      });

      it('Grad-CAM maps (the gradcam method)', async () => {
        const r = await methodById('gradcam').run(ex, { input, classes: m.classes, layer: m.layer, target: 'logit' });
        r.explanations.forEach((e) => assertMatches(e.raw.data, npy(m.per_class[e.classIndex].gradcam).data, `Grad-CAM, class ${e.classIndex}`));
      });

      if (m.family === 'resnet' || m.family === 'squeezenet') {
        it('CAM equals ReLU(Σ_k w_ck·A_k) and agrees with Grad-CAM after normalisation', async () => {
          const cam = await methodById('cam').run(ex, { input, classes: m.classes, layer: m.layer, target: 'logit' });
          const gc = await methodById('gradcam').run(ex, { input, classes: m.classes, layer: m.layer, target: 'logit' });
          cam.explanations.forEach((e, i) => {
            const ref = npy(m.per_class[e.classIndex].cam).data.map((v) => Math.max(v, 0));
            assertMatches(e.raw.data, ref, `CAM, class ${e.classIndex}`);
            const a = gc.explanations[i].display, b = e.display;
            assert.ok(a.kind === 'heatmap' && b.kind === 'heatmap');
            assertMatches(a.map, b.map, `normalised CAM vs Grad-CAM, class ${e.classIndex}`, 0.99999, 1e-4);
          });
        });
      }
    });
  }
});
