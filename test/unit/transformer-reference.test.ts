/**
 * End to end against PyTorch autograd on transformer classifiers: small random-weight ViT, DeiT (distilled),
 * BEiT, Swin, Swin V2, MaxViT and MobileViT, exported at opsets 14 and 17 by scripts/make_transformer_models.py
 * with float32 and float64 autograd references. Saliency and the gradient at the last block's tokens (what
 * Grad-CAM-style methods use) must match PyTorch float32 (cosine ≥ 0.9999, max |Δ| ≤ 1e-3 · max |ref|) and be
 * as close to the float64 truth as PyTorch float32 is; the other gradient methods must run and obey their own
 * identities (Input × Gradient = x · saliency; Integrated Gradients = the Riemann sum of gradients on the path).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { integratedGradientsBaseline } from '../../src/core/methods/integrated-gradients';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertMatches } from '../support/compare';

const REF = path.join(__dirname, '..', 'fixtures', 'transformers');
interface Entry {
  file: string; family: string; opset: number; classes: number[]; layer: string; features: string | null;
  input: string; logits: string; per_class: Record<string, Record<string, string>>;
  float32_max_rel_error: { saliency: Record<string, number>; layer_grad: Record<string, number> };
}
const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8')) as { models: Entry[] };
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(REF, p))));

/** max |a − truth| / max |truth|. */
function maxRelError(a: ArrayLike<number>, truth: ArrayLike<number>): number {
  let err = 0, scale = 0;
  for (let i = 0; i < truth.length; i++) {
    err = Math.max(err, Math.abs(a[i] - truth[i]));
    scale = Math.max(scale, Math.abs(truth[i]));
  }
  return err / scale;
}

/** Float32 rounding alone gives PyTorch's own error; a wrong rule gives far more. */
function assertAsCloseAsTorch(g: ArrayLike<number>, truth: ArrayLike<number>, torchErr: number, what: string): void {
  const err = maxRelError(g, truth);
  measured.push(`${what}: ${err.toExponential(2)} (PyTorch float32 ${torchErr.toExponential(2)})`);
  const bound = Math.max(4 * torchErr, 2e-6);
  assert.ok(err <= bound, `${what}: max error ${err.toExponential(2)} relative to max |float64 truth|, PyTorch float32 ${torchErr.toExponential(2)}`);
}

/** Errors against float64, printed after the run when LC_REPORT is set (the numbers in README's table). */
const measured: string[] = [];

describe('transformer gradients match PyTorch autograd', function () {
  const runtime = webRuntime();
  after(() => {
    if (process.env.LC_REPORT) console.log(measured.join('\n'));
  });
  for (const m of index.models) {
    describe(m.file, () => {
      let ex: Explainer;
      const inp = npy(m.input);
      const input = float32(inp.data, inp.shape);
      const per = (data: Float32Array, k: number, n: number) => data.subarray(k * n, (k + 1) * n);
      before(async () => {
        ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(REF, m.file))), m.file);
      });
      after(() => ex.dispose());

      it('reproduces the logits', async () => {
        const f = await ex.forward(input);
        assertMatches(f.logits, npy(m.logits).data, 'logits', 0.99999, 1e-4);
      });

      it('token-layer gradients and saliency match float32 autograd and are as close to float64 as it is', async () => {
        const { classes } = m;
        const r = await ex.gradients(input, { targets: [m.layer, ex.input.name], classes, score: 'logit', mode: 'plain', method: 'test' });
        const gl = r.grads[m.layer].data, gx = r.grads[ex.input.name].data;
        const nl = gl.length / classes.length, nx = gx.length / classes.length;
        classes.forEach((c, k) => {
          const f = m.per_class[c];
          assertMatches(per(gl, k, nl), npy(f.layer_grad).data, `d logit ${c} / d ${m.layer}`);
          assertMatches(per(gx, k, nx), npy(f.saliency).data, `saliency, class ${c}`);
          assertAsCloseAsTorch(per(gl, k, nl), npy(f.layer_grad_f64).data, m.float32_max_rel_error.layer_grad[c], `${m.file} d logit ${c} / d ${m.layer}`);
          assertAsCloseAsTorch(per(gx, k, nx), npy(f.saliency_f64).data, m.float32_max_rel_error.saliency[c], `${m.file} saliency, class ${c}`);
        });
      });

      it('guided backprop and deconvnet equal the saliency (no Relu or Clip(min 0) in these models)', async () => {
        for (const mode of ['guided', 'deconvnet'] as const) {
          const r = await ex.gradients(input, { targets: [ex.input.name], classes: m.classes, score: 'logit', mode, method: 'test' });
          const g = r.grads[ex.input.name].data;
          const n = g.length / m.classes.length;
          m.classes.forEach((c, k) => assertMatches(per(g, k, n), npy(m.per_class[c].saliency).data, `${mode}, class ${c}`));
        }
      });

      it('Input × Gradient is x · saliency; Integrated Gradients is the Riemann sum of gradients on the path', async () => {
        const ixg = await methodById('input-x-gradient').run(ex, { input, classes: m.classes, target: 'logit' });
        ixg.explanations.forEach((e) => {
          const s = npy(m.per_class[e.classIndex].saliency).data;
          assertMatches(e.raw.data, s.map((v, i) => v * inp.data[i]), `Input × Gradient, class ${e.classIndex}`);
        });
        const steps = 6;
        const request = { input, classes: m.classes, target: 'logit' as const, options: { steps, baseline: 'noise' } };
        const ig = await methodById('integrated-gradients').run(ex, request);
        // (x − x')/m · Σ_k ∇S(x' + k/m (x − x')), k = 1..m, from plain gradient runs on the path points.
        const xb = integratedGradientsBaseline(ex, request).tensor;
        const sum = new Float64Array(inp.data.length * m.classes.length);
        for (let k = 1; k <= steps; k++) {
          const xk = float32(Float32Array.from(inp.data, (v, i) => xb.data[i] + (k / steps) * (v - xb.data[i])), inp.shape);
          const r = await ex.gradients(xk, { targets: [ex.input.name], classes: m.classes, score: 'logit', mode: 'plain', method: 'test' });
          r.grads[ex.input.name].data.forEach((v, i) => (sum[i] += v));
        }
        ig.explanations.forEach((e, ci) => {
          const n = inp.data.length;
          const ref = Float32Array.from({ length: n }, (_, j) => ((inp.data[j] - xb.data[j]) * sum[ci * n + j]) / steps);
          assertMatches(e.raw.data, ref, `Integrated Gradients, class ${e.classIndex}`);
        });
      });

      if (m.features) {
        it(`Grad-CAM at the 4-D layer '${m.features}'`, async () => {
          const r = await methodById('gradcam').run(ex, { input, classes: m.classes, layer: m.features!, target: 'logit' });
          r.explanations.forEach((e) => assertMatches(e.raw.data, npy(m.per_class[e.classIndex].gradcam).data, `Grad-CAM, class ${e.classIndex}`));
        });
      }
    });
  }
});
