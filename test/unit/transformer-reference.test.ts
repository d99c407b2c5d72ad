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
import { METHODS, methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { decodeModel, encodeModel } from '../../src/core/onnx/model';
import { upgradeToOpset } from '../../src/core/onnx/upgrade';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertMatches } from '../support/compare';

const REF = path.join(__dirname, '..', 'fixtures', 'transformers');
interface Entry {
  file: string; family: string; opset: number; classes: number[]; layer: string; features: string | null;
  input: string; logits: string; layer_act: string; per_class: Record<string, Record<string, string>>;
  float32_max_rel_error: { saliency: Record<string, number>; layer_grad: Record<string, number>; attention_grad: Record<string, number> };
  attention_grad_tensor: string;
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

      it('gradient at the last attention probabilities (axis 0 = batch × heads or windows in some) matches autograd', async () => {
        const t = m.attention_grad_tensor;
        const r = await ex.gradients(input, { targets: [t], classes: m.classes, score: 'logit', mode: 'plain', method: 'test' });
        const g = r.grads[t];
        const ref0 = npy(m.per_class[m.classes[0]].attention_grad);
        // One row per class: [K, ...shape[1:]] when axis 0 is the batch of 1, else [K, ...shape].
        const s = ref0.shape;
        assert.deepEqual(g.dims, [m.classes.length, ...(s[0] === 1 ? s.slice(1) : s)], 'gradient shape');
        const n = g.data.length / m.classes.length;
        assert.equal(n, ref0.data.length);
        m.classes.forEach((c, k) => {
          const f = m.per_class[c];
          assertMatches(per(g.data, k, n), npy(f.attention_grad).data, `d logit ${c} / d ${t}`);
          assertAsCloseAsTorch(per(g.data, k, n), npy(f.attention_grad_f64).data, m.float32_max_rel_error.attention_grad[c], `${m.file} d logit ${c} / d attention`);
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

  // onnx 1.12 writes opsets ≤ 17: the opset-17 exports upgraded by src/core/onnx/upgrade.ts stand in for newer
  // exporters (ReduceMean/ReduceL2 axes as an input, Split num_outputs).
  for (const m of index.models.filter((e) => e.opset === 17)) {
    for (const opset of [18, 21]) {
      it(`${m.file} upgraded to opset ${opset}: token-layer gradients and saliency as close to float64 as PyTorch float32`, async () => {
        const model = upgradeToOpset(decodeModel(new Uint8Array(fs.readFileSync(path.join(REF, m.file))), m.file), opset);
        const ex = await Explainer.load(runtime, encodeModel(model), m.file);
        try {
          const inp = npy(m.input);
          const r = await ex.gradients(float32(inp.data, inp.shape), { targets: [m.layer, ex.input.name], classes: m.classes, score: 'logit', mode: 'plain', method: 'test' });
          const gl = r.grads[m.layer].data, gx = r.grads[ex.input.name].data;
          const nl = gl.length / m.classes.length, nx = gx.length / m.classes.length;
          m.classes.forEach((c, k) => {
            const f = m.per_class[c];
            assertAsCloseAsTorch(gl.subarray(k * nl, (k + 1) * nl), npy(f.layer_grad_f64).data, m.float32_max_rel_error.layer_grad[c], `${m.file}→${opset} d logit ${c} / d ${m.layer}`);
            assertAsCloseAsTorch(gx.subarray(k * nx, (k + 1) * nx), npy(f.saliency_f64).data, m.float32_max_rel_error.saliency[c], `${m.file}→${opset} saliency, class ${c}`);
          });
        } finally {
          await ex.dispose();
        }
      });
    }
  }

  /** Small settings so that every method runs in seconds on these tiny models. */
  const QUICK = { steps: 4, baseline: 'noise', samples: 3, masks: 24, grid: 4, patch: 8, stride: 8, scales: 2 };
  for (const m of index.models.filter((e) => e.opset === 17)) {
    it(`every registered method runs on ${m.file} (the CAM family at its 4-D layer, where it has one)`, async () => {
      const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(REF, m.file))), m.file);
      try {
        const inp = npy(m.input);
        const input = float32(inp.data, inp.shape);
        for (const method of METHODS) {
          if (method.family === 'cam' && !m.features) continue; // token layers as CAM targets: not in this file
          const options = Object.fromEntries(Object.entries(QUICK).filter(([k]) => method.options?.some((o) => o.name === k)));
          const request = { input, classes: [m.classes[0]], target: 'logit' as const, layer: m.features ?? undefined, options };
          if (method.id === 'cam' && m.family === 'maxvit') {
            // CAM proper needs pooling → one linear layer; MaxViT's head has LayerNorm, Tanh and a second layer.
            await assert.rejects(method.run(ex, request), /CAM needs global average pooling followed by one linear layer/);
            continue;
          }
          if (method.id === 'lrp') {
            // LRP has no rule for LayerNorm, GELU, attention products: refused naming the node.
            await assert.rejects(method.run(ex, request), /has no LRP rule/);
            continue;
          }
          if (method.family === 'attention' && (m.family === 'maxvit' || m.family === 'mobilevit')) {
            // Their attention groups (block/grid partitions, patch pixels) have no place on the image the graph tells.
            await assert.rejects(method.run(ex, request), /cannot place the tokens of attention layer/);
            continue;
          }
          const r = await method.run(ex, request);
          assert.equal(r.explanations.length, 1, method.id);
          const v = r.explanations[0].raw.data;
          if (method.id === 'layercam' && m.features === m.layer) {
            // LayerCAM = ReLU(Σ_k ReLU(∂S/∂A_k)·A_k) from PyTorch's gradient and activation (all zero for MaxViT's class here).
            const g = npy(m.per_class[m.classes[0]].layer_grad).data, a = npy(m.layer_act).data;
            const hw = v.length;
            const ref = Float32Array.from({ length: hw }, (_, p) => {
              let t = 0;
              for (let k = 0; k < g.length / hw; k++) t += Math.max(g[k * hw + p], 0) * a[k * hw + p];
              return Math.max(t, 0);
            });
            assertMatches(v, ref, `LayerCAM on ${m.file}`);
            continue;
          }
          assert.ok(v.every(Number.isFinite), `${method.id} on ${m.file}: ${v.length} values, all finite`);
          // CAM-family maps pass a ReLU and may be all zero for a class (as LayerCAM is for MaxViT above).
          if (method.family !== 'cam') assert.ok(v.some((x) => x !== 0), `${method.id} on ${m.file}: not all zero`);
        }
      } finally {
        await ex.dispose();
      }
    });
  }
});
