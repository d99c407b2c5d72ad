/**
 * LRP's Zennit composites against Zennit itself (scripts/make_lrp_zennit_reference.py runs Zennit at a pinned commit in
 * float64 on the reference families): EpsilonPlus, EpsilonAlpha2Beta1 (and α1β0 through --lrp-alpha/--lrp-beta),
 * EpsilonPlusFlat, EpsilonAlpha2Beta1Flat and EpsilonGammaBox (default per-channel bounds, and --lrp-low per channel, --lrp-high as one
 * value, --lrp-gamma) must reach cosine ≥ 0.9999 and max |Δ| ≤ 1e-3·max|ref| for every family × case × class; then, on the
 * same nets with every bias zeroed, Σ R matches Zennit's and equals the logit within 1e-4 wherever Zennit's float64
 * relevance conserves it. LRP_ZENNIT_TABLE=1 prints 1 − the lowest cosine per case.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LookCloserError } from '../../src/core/errors';
import { Explainer } from '../../src/core/explainer';
import { decodeModel, encodeModel, onnx, tensorToProto } from '../../src/core/onnx/model';
import { methodById } from '../../src/core/methods/registry';
import { lrpMode } from '../../src/core/methods/lrp';
import { LRP_COMPOSITES } from '../../src/core/grad/rules/lrp';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { withoutBiases } from '../support/bias-free';
import { assertMatches, cosine } from '../support/compare';

const DIR = path.join(__dirname, '..', 'fixtures', 'lrp-ref', 'zennit');
type Options = Record<string, string | number>;
interface Case { file: string; options: Options; relevance_sum: number[] }
interface Family {
  model: string; input: string; classes: number[]; logits: number[]; cases: Record<string, Case>;
  bias_free: { logits: number[]; cases: Record<string, { relevance_sum: number[] }> };
}
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as { zennit: { commit: string }; families: Record<string, Family> };
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
const bytesOf = (f: Family) => new Uint8Array(fs.readFileSync(path.join(DIR, f.model)));
const inputOf = (f: Family) => {
  const x = npy(f.input);
  return float32(x.data, x.shape);
};
const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
const table = new Map<string, Map<string, number>>();
const conserving: string[] = [];

describe(`LRP composites match Zennit (${index.zennit.commit.slice(0, 7)}) on the reference families`, function () {
  const runtime = webRuntime();

  for (const [family, f] of Object.entries(index.families)) {
    describe(family, () => {
      let ex: Explainer;
      const input = inputOf(f);
      before(async () => {
        ex = await Explainer.load(runtime, bytesOf(f), family);
      });
      after(() => ex.dispose());

      for (const [name, c] of Object.entries(f.cases)) {
        it(`${name} (${Object.entries(c.options).map(([k, v]) => `--${k} ${v}`).join(' ')})`, async () => {
          const ref = npy(c.file);
          const r = await methodById('lrp').run(ex, { input, classes: f.classes, target: 'logit', options: c.options });
          const per = ref.data.length / f.classes.length;
          r.explanations.forEach((e, i) => {
            assert.equal(e.classIndex, f.classes[i]);
            const expected = ref.data.subarray(i * per, (i + 1) * per);
            const row = table.get(family) ?? new Map<string, number>();
            table.set(family, row.set(name, Math.min(row.get(name) ?? 1, cosine(e.raw.data, expected))));
            assertMatches(e.raw.data, expected, `${family} ${name} class ${e.classIndex}`);
            const s = sum(e.raw.data);
            assert.ok(Math.abs(s - c.relevance_sum[i]) <= 1e-3 * Math.max(1, Math.abs(c.relevance_sum[i])), `${family} ${name} class ${e.classIndex}: Σ R ${s} vs Zennit ${c.relevance_sum[i]}`);
          });
        });
      }

      it('conserves relevance without biases wherever Zennit does, and sums as Zennit elsewhere', async () => {
        const free = await Explainer.load(runtime, withoutBiases(bytesOf(f)), `${family} without biases`);
        try {
          for (const [name, c] of Object.entries(f.cases)) {
            const r = await methodById('lrp').run(free, { input, classes: f.classes, target: 'logit', options: c.options });
            r.explanations.forEach((e, i) => {
              const z = r.forward.logits[e.classIndex];
              const zennit = f.bias_free.cases[name].relevance_sum[i];
              const s = sum(e.raw.data);
              const scale = Math.max(1, Math.abs(z));
              assert.ok(Math.abs(z - f.bias_free.logits[i]) <= 1e-5 * scale, `${family}: bias-free logit ${z} vs PyTorch ${f.bias_free.logits[i]}`);
              assert.ok(Math.abs(s - zennit) <= 1e-4 * Math.max(1, Math.abs(zennit)), `${family} ${name} class ${e.classIndex}: Σ R ${s} vs Zennit ${zennit}`);
              if (Math.abs(zennit - z) <= 1e-5 * scale) {
                conserving.push(`${family} ${name}`);
                assert.ok(Math.abs(s - z) <= 1e-4 * scale, `${family} ${name} class ${e.classIndex}: Σ R ${s} vs logit ${z}`);
              }
            });
          }
        } finally {
          await free.dispose();
        }
      });
    });
  }

  // A suite after the families' suites: mocha runs a suite's own tests before its child suites.
  describe('across the families', () => it('conservation was checked where the rules conserve: zB + γ on every family, flat and z⁺ where every convolution feeds a rectifier', () => {
    for (const family of Object.keys(index.families)) {
      for (const c of ['epsilon-gamma-box', 'epsilon-gamma-box-bounds']) assert.ok(conserving.includes(`${family} ${c}`), `${family} ${c}`);
    }
    for (const family of ['vgg', 'densenet', 'inception', 'squeezenet']) {
      for (const c of ['epsilon-plus', 'epsilon-plus-flat', 'epsilon-alpha1-beta0']) assert.ok(conserving.includes(`${family} ${c}`), `${family} ${c}`);
    }
    for (const c of ['epsilon-alpha2-beta1', 'epsilon-alpha2-beta1-flat']) assert.ok(conserving.includes(`vgg ${c}`), `vgg ${c}`);
  }));

  it('α1β0 is z⁺: epsilon-alpha2-beta1 with --lrp-alpha 1 --lrp-beta 0 gives epsilon-plus', async () => {
    const f = index.families.resnet;
    const ex = await Explainer.load(runtime, bytesOf(f), 'resnet');
    try {
      const run = (options: Options) => methodById('lrp').run(ex, { input: inputOf(f), classes: f.classes, target: 'logit', options });
      const [a, b] = await Promise.all([run({ composite: 'epsilon-alpha2-beta1', 'lrp-alpha': 1, 'lrp-beta': 0 }), run({ composite: 'epsilon-plus' })]);
      a.explanations.forEach((e, i) => assert.deepEqual(Array.from(e.raw.data), Array.from(b.explanations[i].raw.data)));
    } finally {
      await ex.dispose();
    }
  });

  it('rejects rule parameters a composite does not use, α − β ≠ 1, and inverted zB bounds', () => {
    const bad = (options: Options, re: RegExp) => assert.throws(() => lrpMode(options), (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-argument' && re.test(e.message));
    bad({ composite: 'epsilon-plus', 'lrp-alpha': 2 }, /option 'lrp-alpha' applies to the epsilon-alpha2-beta1 composites only; composite 'epsilon-plus'/);
    bad({ composite: 'epsilon-alpha2-beta1', 'lrp-gamma': 0.5 }, /option 'lrp-gamma' applies to epsilon-gamma-box only/);
    bad({ composite: 'epsilon-alpha2-beta1', 'lrp-alpha': 3, 'lrp-beta': 1 }, /α − β = 1.*α = 3, β = 1/);
    bad({ composite: 'epsilon-gamma-box', 'lrp-low': 2, 'lrp-high': -2 }, /--lrp-low below --lrp-high, got 2 and -2\./);
    bad({ composite: 'epsilon-gamma-box', 'lrp-low': '-1,3,-1', 'lrp-high': 2 }, /--lrp-low below --lrp-high, got 3 and 2 for channel 1/);
    bad({ composite: 'epsilon-gamma-box', 'lrp-low': '-1,-1', 'lrp-high': '1,1,1' }, /got 2 values for --lrp-low and 3 for --lrp-high/);
    bad({ composite: 'epsilon-gamma-box', 'lrp-low': '-1,,1' }, /'lrp-low' must be a number or comma-separated numbers \(one per channel\), got '-1,,1'/);
    assert.deepEqual(lrpMode({ composite: 'epsilon-gamma-box', 'lrp-low': '-2.1, -2,-1.8', 'lrp-high': 2.5 }),
      { kind: 'lrp', composite: 'epsilon-gamma-box', epsilon: 1e-6, gamma: 0.25, low: [-2.1, -2, -1.8], high: [2.5] });
    bad({ composite: 'epsilon-gamma-bx' }, /must be one of epsilon-plus, epsilon, zplus, epsilon-alpha2-beta1, epsilon-plus-flat, epsilon-gamma-box, epsilon-alpha2-beta1-flat/);
    assert.deepEqual(lrpMode({ composite: 'epsilon-alpha2-beta1', 'lrp-beta': 0.5 }), { kind: 'lrp', composite: 'epsilon-alpha2-beta1', epsilon: 1e-6, alpha: 1.5, beta: 0.5 });
    assert.deepEqual(lrpMode({}), { kind: 'lrp', composite: 'epsilon-plus', epsilon: 1e-6 });
  });

  /** The model with `op`(input[, constant c]) inserted before its first convolution. */
  function withPrefix(bytes: Uint8Array, op: 'Sub' | 'Sigmoid', c = 0.5): Uint8Array {
    const model = decodeModel(bytes, 'prefixed');
    const g = model.graph!;
    const input = g.input![0].name!;
    const conv = g.node!.find((n) => n.opType === 'Conv' && n.input![0] === input)!;
    conv.input![0] = 'prefixed';
    if (op === 'Sub') g.initializer!.push(tensorToProto('prefix_c', { type: 'float32', dims: [], data: new Float32Array([c]) }));
    g.node!.unshift(onnx.NodeProto.create({ opType: op, name: `prefix_${op}`, input: op === 'Sub' ? [input, 'prefix_c'] : [input], output: ['prefixed'] }));
    return encodeModel(model);
  }

  it('passes the first layer\'s relevance back through a constant shift before it (Sub), and refuses other ops there by name', async () => {
    const f = index.families.vgg;
    const x = inputOf(f);
    const shifted = float32(x.data.map((v) => v + 0.5), x.dims);
    const plain = await Explainer.load(runtime, bytesOf(f), 'vgg');
    const sub = await Explainer.load(runtime, withPrefix(bytesOf(f), 'Sub'), 'vgg with Sub');
    const sig = await Explainer.load(runtime, withPrefix(bytesOf(f), 'Sigmoid'), 'vgg with Sigmoid');
    try {
      for (const composite of ['epsilon-plus-flat', 'epsilon-gamma-box', 'epsilon-alpha2-beta1-flat']) {
        const a = await methodById('lrp').run(plain, { input: x, classes: f.classes, target: 'logit', options: { composite } });
        const b = await methodById('lrp').run(sub, { input: shifted, classes: f.classes, target: 'logit', options: { composite } });
        a.explanations.forEach((e, i) => assertMatches(b.explanations[i].raw.data, e.raw.data, `${composite} behind Sub`, 0.999999, 1e-4));
        if (composite === 'epsilon-gamma-box') {
          await assert.rejects(methodById('lrp').run(plain, { input: x, classes: f.classes, target: 'logit', options: { composite, 'lrp-low': '-3,-3', 'lrp-high': 3 } }),
            (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-argument' && /^Conv '.+': the zB-rule got 2 values for --lrp-low, but the layer's input has 3 channels/.test(e.message));
        }
        await assert.rejects(methodById('lrp').run(sig, { input: x, classes: f.classes, target: 'logit', options: { composite } }),
          (e: unknown) => e instanceof LookCloserError && e.kind === 'unsupported-operator' && new RegExp(`^Sigmoid 'prefix_Sigmoid'.* lies between the input and the first layer, where LRP composite '${composite}'`).test(e.message),
          composite);
      }
    } finally {
      await Promise.all([plain.dispose(), sub.dispose(), sig.dispose()]);
    }
  });

  it('runs every composite on a float16 model (SqueezeNet 1.0 fp16); LRP-ε with ε = 0 is Input × Gradient there too', async () => {
    const model = path.join(__dirname, '..', '..', 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx');
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(model)), 'squeezenet fp16');
    try {
      const n = ex.inputDims.reduce((a, b) => a * b, 1);
      const input = float32(Float32Array.from({ length: n }, (_, i) => 60 * Math.sin(i * 0.37) + 20 * Math.cos(i * 0.011)), ex.inputDims);
      for (const composite of Object.keys(LRP_COMPOSITES)) {
        const r = await methodById('lrp').run(ex, { input, classes: [1], target: 'logit', options: { composite } });
        const d = r.explanations[0].raw.data;
        assert.ok(d.every(Number.isFinite) && d.some((v) => v !== 0), `${composite}: relevance not finite or all zero`);
      }
      const a = await methodById('lrp').run(ex, { input, classes: [1], target: 'logit', options: { composite: 'epsilon', epsilon: 0 } });
      const b = await methodById('input-x-gradient').run(ex, { input, classes: [1], target: 'logit' });
      assert.ok(cosine(a.explanations[0].raw.data, b.explanations[0].raw.data) >= 0.999);
    } finally {
      await ex.dispose();
    }
  });

  it('refuses a model with an unsupported op by naming the node, for the new composites too', async () => {
    const ref = path.join(__dirname, '..', 'fixtures', 'ref');
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(ref, 'efficientnet_op17.onnx'))), 'efficientnet');
    try {
      const x = decodeNpy(new Uint8Array(fs.readFileSync(path.join(ref, 'efficientnet', 'input.npy'))));
      for (const composite of ['epsilon-alpha2-beta1', 'epsilon-plus-flat', 'epsilon-gamma-box', 'epsilon-alpha2-beta1-flat']) {
        await assert.rejects(methodById('lrp').run(ex, { input: float32(x.data, x.shape), classes: [3], target: 'logit', options: { composite } }),
          (e: unknown) => e instanceof LookCloserError && e.kind === 'unsupported-operator' && /^(Mul|Sigmoid) '.+'.*(no LRP rule|two activations).*input-x-gradient or integrated-gradients/s.test(e.message),
          composite);
      }
    } finally {
      await ex.dispose();
    }
  });

  after(() => {
    if (!process.env.LRP_ZENNIT_TABLE) return;
    const ids = [...new Set([...table.values()].flatMap((r) => [...r.keys()]))];
    const lines = [`| family | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`];
    for (const [family, row] of table) lines.push(`| ${family} | ${ids.map((id) => (row.has(id) ? (1 - row.get(id)!).toExponential(1) : '—')).join(' | ')} |`);
    console.log(lines.join('\n'));
  });
});
