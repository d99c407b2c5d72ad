/**
 * LRP against scripts/make_lrp_reference.py — its own PyTorch code of the ε- and z⁺-rules (Montavon et al. 2019,
 * §10.2.2), in float64, on the reference families of scripts/make_reference.py with the BatchNorms folded as the
 * export folds them: each family × composite × class must reach cosine ≥ 0.9999 and the same relevance sum. Then
 * conservation (Σ R_input = z_c) on the same networks with every bias zeroed, the ε = 0 case against
 * Input × Gradient, the contrast target, and the named refusals. LRP_REF_TABLE=1 prints 1 − the lowest cosine.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LookCloserError } from '../../src/core/errors';
import { Explainer } from '../../src/core/explainer';
import type { ScoreTarget } from '../../src/core/methods/method';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { withoutBiases } from '../support/bias-free';
import { cosine } from '../support/compare';

const DIR = path.join(__dirname, '..', 'fixtures', 'lrp-ref');
interface Case { file: string; relevance_sum: number[] }
interface BiasFree { logits: number[]; cases: Record<string, { relevance_sum: number[]; absorbed: number[]; zplus_dropped: number[] }> }
interface Family { model: string; input: string; classes: number[]; logits: number[]; cases: Record<string, Case>; bias_free: BiasFree }
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as {
  composites: Record<string, { conv: string; dense: string; epsilon: number }>;
  families: Record<string, Family>;
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
const bytesOf = (f: Family) => new Uint8Array(fs.readFileSync(path.join(DIR, f.model)));
const inputOf = (f: Family) => {
  const x = npy(f.input);
  return float32(x.data, x.shape);
};
const MIN_COS = 0.9999;
const table = new Map<string, Map<string, number>>();
let worstBalance = 0;

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

describe('LRP matches an independent PyTorch implementation and conserves relevance', function () {
  const runtime = webRuntime();

  for (const [family, f] of Object.entries(index.families)) {
    describe(family, () => {
      let ex: Explainer;
      const input = inputOf(f);
      before(async () => {
        ex = await Explainer.load(runtime, bytesOf(f), family);
      });
      after(() => ex.dispose());

      for (const [composite, c] of Object.entries(f.cases)) {
        it(`lrp ${composite}`, async () => {
          const ref = npy(c.file);
          const options = { composite, epsilon: index.composites[composite].epsilon };
          const r = await methodById('lrp').run(ex, { input, classes: f.classes, target: 'logit', options });
          assert.deepEqual(r.explanations.map((e) => e.classIndex), f.classes);
          const per = ref.data.length / f.classes.length;
          r.explanations.forEach((e, i) => {
            const expected = ref.data.subarray(i * per, (i + 1) * per);
            const cos = cosine(e.raw.data, expected);
            const row = table.get(family) ?? new Map<string, number>();
            table.set(family, row.set(composite, Math.min(row.get(composite) ?? 1, cos)));
            assert.ok(cos >= MIN_COS, `${family} ${composite} class ${e.classIndex}: cosine ${cos.toFixed(7)} < ${MIN_COS}`);
            const s = sum(e.raw.data);
            assert.ok(Math.abs(s - c.relevance_sum[i]) <= 1e-3 * (1 + Math.abs(c.relevance_sum[i])),
              `${family} ${composite} class ${e.classIndex}: Σ R ${s} vs PyTorch ${c.relevance_sum[i]}`);
          });
        });
      }

      // Ancona et al. 2018, §3.1: on a ReLU network LRP-ε with ε = 0 is Input × Gradient. MobileNetV2's ReLU6 saturates
      // (its batch norms are drawn to make it), where LRP passes the relevance on and the gradient is zero.
      const relu6 = family === 'mobilenetv2';
      it(relu6 ? 'LRP-ε with ε = 0 differs from Input × Gradient where ReLU6 saturates (the pass rule)' : 'LRP-ε with ε = 0 is Input × Gradient (Ancona et al. 2018, §3.1)', async () => {
        const a = await methodById('lrp').run(ex, { input, classes: f.classes, target: 'logit', options: { composite: 'epsilon', epsilon: 0 } });
        const b = await methodById('input-x-gradient').run(ex, { input, classes: f.classes, target: 'logit' });
        a.explanations.forEach((e, i) => {
          const cos = cosine(e.raw.data, b.explanations[i].raw.data);
          if (relu6) assert.ok(cos < 0.99, `${family} class ${e.classIndex}: cosine ${cos}`);
          else assert.ok(cos >= 0.999999, `${family} class ${e.classIndex}: cosine ${cos}`);
        });
      });
    });
  }

  /**
   * Without biases, what reaches the input is the logit less what the rules' denominators keep: Σ R_input + absorbed =
   * z_c, absorbed = Σ_j R_j·(1 − d_j/stab(d_j)) over every unit of every rule layer (d = z for ε, z⁺ for z⁺), which the
   * reference tallies in float64 (its own balance closes to 1e-15). Checked within 1e-4 (relative, absolute below 1)
   * for each composite at the reference's ε, and with ε = 1e-6 as Σ R_input = z_c outright for LRP-ε. Most of what
   * z⁺ absorbs is dropped: a unit without a positive contribution (z⁺_j = 0, possible only where z_j ≤ 0, so at
   * convolutions no ReLU follows: before ResNet's Add, MobileNetV2's and ShuffleNet's projections) passes nothing on.
   */
  describe('conservation: Σ R_input = z_c on the families with every bias zeroed', () => {
    for (const [family, f] of Object.entries(index.families)) {
      it(family, async () => {
        const ex = await Explainer.load(runtime, withoutBiases(bytesOf(f)), `${family} without biases`);
        const balance = (what: string, s: number, absorbed: number, z: number) => {
          const gap = Math.abs(s + absorbed - z) / Math.max(1, Math.abs(z));
          worstBalance = Math.max(worstBalance, gap);
          assert.ok(gap <= 1e-4, `${family} ${what}: Σ R ${s} + absorbed ${absorbed} vs logit ${z} (gap ${(s + absorbed - z).toExponential(2)})`);
        };
        try {
          const input = inputOf(f);
          for (const composite of ['epsilon-plus', 'epsilon', 'zplus']) {
            const options = { composite, epsilon: index.composites[composite].epsilon };
            const r = await methodById('lrp').run(ex, { input, classes: f.classes, target: 'logit', options });
            const ref = f.bias_free.cases[composite];
            r.explanations.forEach((e, i) => {
              const z = r.forward.logits[e.classIndex];
              assert.ok(Math.abs(z - f.bias_free.logits[i]) <= 1e-5 * Math.max(1, Math.abs(z)), `${family}: the bias-free logit ${z} vs PyTorch ${f.bias_free.logits[i]}`);
              balance(`${composite} class ${e.classIndex}`, sum(e.raw.data), ref.absorbed[i], z);
            });
          }
          const r = await methodById('lrp').run(ex, { input, classes: f.classes, target: 'logit', options: { composite: 'epsilon', epsilon: 1e-6 } });
          for (const e of r.explanations) balance(`epsilon 1e-6 class ${e.classIndex}`, sum(e.raw.data), 0, r.forward.logits[e.classIndex]);
        } finally {
          await ex.dispose();
        }
      });
    }

    it('nothing is dropped on the families whose every convolution feeds a rectifier', () => {
      for (const family of ['vgg', 'densenet', 'inception', 'squeezenet']) {
        for (const c of ['epsilon-plus', 'zplus']) assert.deepEqual(index.families[family].bias_free.cases[c].zplus_dropped, [0, 0], `${family} ${c}`);
      }
    });
  });

  it('explains a contrast of two logits as the difference of their relevances (LRP is linear in its seed)', async () => {
    const f = index.families.resnet;
    const ex = await Explainer.load(runtime, withoutBiases(bytesOf(f)), 'resnet without biases');
    try {
      const [a, b] = f.classes;
      const input = inputOf(f);
      const options = { composite: 'epsilon' };
      const r = await methodById('lrp').run(ex, { input, classes: [a], target: `contrast:${b}` as ScoreTarget, options });
      const [ra, rb] = (await methodById('lrp').run(ex, { input, classes: [a, b], target: 'logit', options })).explanations.map((e) => e.raw.data);
      const diff = ra.map((v, i) => v - rb[i]);
      assert.ok(cosine(r.explanations[0].raw.data, diff) >= 0.999999);
      const z = r.forward.logits;
      assert.ok(Math.abs(sum(r.explanations[0].raw.data) - (z[a] - z[b])) <= 1e-4 * Math.max(1, Math.abs(z[a] - z[b])));
      await assert.rejects(methodById('lrp').run(ex, { input: inputOf(f), classes: [a], target: 'softmax' }),
        (e: unknown) => e instanceof LookCloserError && e.kind === 'method-not-applicable' && /LRP cannot explain target 'softmax'/.test(e.message));
    } finally {
      await ex.dispose();
    }
  });

  it('refuses a model with a gate (squeeze-excitation Mul of two activations) by naming the node, and lists LRP as unavailable', async () => {
    const ref = path.join(__dirname, '..', 'fixtures', 'ref');
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(ref, 'efficientnet_op17.onnx'))), 'efficientnet');
    try {
      const x = decodeNpy(new Uint8Array(fs.readFileSync(path.join(ref, 'efficientnet', 'input.npy'))));
      await assert.rejects(methodById('lrp').run(ex, { input: float32(x.data, x.shape), classes: [3], target: 'logit' }),
        (e: unknown) => e instanceof LookCloserError && e.kind === 'unsupported-operator' && /^(Mul|Sigmoid) '.+'.*(no LRP rule|two activations).*input-x-gradient or integrated-gradients/s.test(e.message));
      assert.match(methodById('lrp').unavailableOn!(ex)!, /^(Mul|Sigmoid) '.+' (has no LRP rule|multiplies two activations)/);
    } finally {
      await ex.dispose();
    }
  });

  after(() => {
    if (!process.env.LRP_REF_TABLE) return;
    const ids = Object.keys(index.composites);
    const lines = [`| family | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`];
    for (const [family, row] of table) lines.push(`| ${family} | ${ids.map((id) => (row.has(id) ? (1 - row.get(id)!).toExponential(1) : '—')).join(' | ')} |`);
    console.log(`${lines.join('\n')}\nlargest conservation gap (relative): ${worstBalance.toExponential(2)}`);
  });
});
