/**
 * The input attributions (Input × Gradient, Integrated Gradients, SmoothGrad, SmoothGrad², VarGrad, RISE) and the
 * sigmoid and contrast targets against scripts/make_attribution_reference.py: its own PyTorch code of each
 * paper's equation, in float64, on the reference families of scripts/make_reference.py, with the same seeded
 * random numbers (the script reimplements prng.ts; the first test checks both draw the same). Each family × case
 * × class must reach cosine ≥ 0.9999. Set ATTRIB_REF_TABLE=1 to print 1 − the lowest cosine per family and method.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import type { IntegratedGradientsPayload, ScoreTarget } from '../../src/core/methods/method';
import { mulberry32, normals } from '../../src/core/methods/prng';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { PRESETS } from '../../src/core/preprocess/presets';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { cosine } from '../support/compare';

const DIR = path.join(__dirname, '..', 'fixtures', 'attribution-ref');
interface Case { method: string; target: ScoreTarget; options: Record<string, string | number>; file: string; completeness_gap?: number[] }
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as {
  prng: { seed: number; mulberry32: number[]; normals: number[] };
  families: Record<string, { model: string; input: string; classes: number[]; cases: Case[] }>;
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
const MIN_COS = 0.9999;
const table = new Map<string, Map<string, number>>();

describe('input attributions and score targets match PyTorch on the reference families', function () {
  const runtime = webRuntime();

  it('prng.ts draws what the reference script draws', () => {
    const u = mulberry32(index.prng.seed);
    assert.deepEqual(index.prng.mulberry32.map(() => u()), index.prng.mulberry32);
    const z = normals(mulberry32(index.prng.seed));
    index.prng.normals.forEach((v) => assert.ok(Math.abs(z() - v) < 1e-12));
  });

  for (const [family, f] of Object.entries(index.families)) {
    describe(family, () => {
      let ex: Explainer;
      const inp = npy(f.input);
      const input = float32(inp.data, inp.shape);
      before(async () => {
        ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, f.model))), family);
      });
      after(() => ex.dispose());

      for (const c of f.cases) {
        const name = `${c.method} (${c.target}${Object.keys(c.options).length ? `, ${JSON.stringify(c.options)}` : ''})`;
        it(name, async () => {
          const ref = npy(c.file);
          const m = methodById(c.method);
          const r = await m.run(ex, {
            input, classes: f.classes, target: c.target, options: c.options, layer: m.family === 'cam' ? 'features' : undefined,
            source: { preprocessing: PRESETS.torchvision },
          });
          assert.deepEqual(r.explanations.map((e) => e.classIndex), f.classes);
          const per = ref.data.length / f.classes.length;
          r.explanations.forEach((e, i) => {
            let expected = ref.data.subarray(i * per, (i + 1) * per);
            if (m.family === 'cam') expected = expected.map((v) => Math.max(v, 0));
            assert.equal(e.raw.data.length, per);
            const cos = cosine(e.raw.data, expected);
            const row = table.get(family) ?? new Map<string, number>();
            table.set(family, row);
            const key = c.method === 'integrated-gradients' ? `ig-${c.options.baseline}` : c.method;
            row.set(key, Math.min(row.get(key) ?? 1, cos));
            assert.ok(cos >= MIN_COS, `${family} ${name} class ${e.classIndex}: cosine ${cos.toFixed(7)} < ${MIN_COS}`);
            if (c.completeness_gap) {
              const p = e.payload as IntegratedGradientsPayload;
              assert.equal(p.kind, 'integrated-gradients');
              // The gap of 16 steps, as PyTorch measures it: within float32's reach of the attribution sum.
              assert.ok(Math.abs(p.completenessGap - c.completeness_gap[i]) <= 1e-3 * (1 + Math.abs(p.attributionSum)),
                `${family} ${name} class ${e.classIndex}: gap ${p.completenessGap} vs PyTorch ${c.completeness_gap[i]}`);
            }
          });
        });
      }
    });
  }

  after(() => {
    if (!process.env.ATTRIB_REF_TABLE) return;
    const ids = [...new Set([...table.values()].flatMap((r) => [...r.keys()]))];
    const lines = [`| family | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`];
    for (const [family, row] of table) lines.push(`| ${family} | ${ids.map((id) => (row.has(id) ? (1 - row.get(id)!).toExponential(1) : '—')).join(' | ')} |`);
    console.log(lines.join('\n'));
  });
});
