/**
 * The CAM family against pytorch-grad-cam (jacobgil/pytorch-grad-cam@084273b, run in float64 by
 * scripts/make_cam_reference.py) on the reference families of scripts/make_reference.py: every registered CAM
 * method with a reference, each family × class × target, must reach cosine ≥ 0.9999 with the reference at the
 * layer's resolution. The reference is get_cam_image's map before pytorch-grad-cam's ReLU, upsampling and
 * scaling; the registry method's raw map is compared with its ReLU. Eigen-CAM and EigenGrad-CAM are compared with
 * pytorch-grad-cam's sign-corrected projection (get_2d_projection_with_sign_correction), which the script checks
 * is ± get_2d_projection's. ReciproCAM's reference is the script's own PyTorch code (not in pytorch-grad-cam).
 * Set CAM_REF_TABLE=1 to print the lowest cosine per family and method.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import type { ScoreTarget } from '../../src/core/methods/method';
import { METHODS } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { cosine } from '../support/compare';

const DIR = path.join(__dirname, '..', 'fixtures', 'cam-ref');
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as {
  families: Record<string, {
    model: string; input: string; layer: string; layer_shape: number[]; classes: number[];
    maps: Record<string, Partial<Record<ScoreTarget, string>>>; skipped: Record<string, string>;
  }>;
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
/** Which reference a method is held to: the sign-corrected projection for the Eigen methods. */
const REFERENCE_KEY: Record<string, string> = { eigencam: 'eigencam-signed', eigengradcam: 'eigengradcam-signed' };
const MIN_COS = 0.9999;
const table = new Map<string, Map<string, number>>();

describe('CAM family matches pytorch-grad-cam on the reference families', function () {
  const runtime = webRuntime();
  const camMethods = METHODS.filter((m) => m.family === 'cam');

  it('every CAM-family method with a pytorch-grad-cam counterpart has references', () => {
    const families = Object.values(index.families);
    // CAM (no pytorch-grad-cam class; test/unit/pytorch-reference.test.ts), Guided Grad-CAM (an input-space map) and attention crops (a wrapper).
    const elsewhere = new Set(['cam', 'guided-gradcam', 'attention-crop']);
    for (const m of camMethods) {
      if (elsewhere.has(m.id)) continue;
      const key = REFERENCE_KEY[m.id] ?? m.id;
      const covered = families.filter((f) => f.maps[key]).length;
      assert.ok(covered >= 10, `${m.id}: references on ${covered} families`);
    }
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

      for (const m of camMethods) {
        const refs = f.maps[REFERENCE_KEY[m.id] ?? m.id];
        if (!refs) continue;
        for (const [target, file] of Object.entries(refs) as [ScoreTarget, string][]) {
          it(`${m.id} (${target})`, async () => {
            const ref = npy(file);
            const [, , h, w] = f.layer_shape;
            assert.deepEqual(ref.shape, [f.classes.length, h, w]);
            const r = await m.run(ex, { input, classes: f.classes, layer: f.layer, target });
            assert.deepEqual(r.explanations.map((e) => e.classIndex), f.classes);
            r.explanations.forEach((e, i) => {
              assert.deepEqual(e.raw.dims, [h, w]);
              const expected = ref.data.subarray(i * h * w, (i + 1) * h * w).map((v) => Math.max(v, 0));
              const cos = cosine(e.raw.data, expected);
              const row = table.get(family) ?? new Map<string, number>();
              table.set(family, row);
              row.set(m.id, Math.min(row.get(m.id) ?? 1, cos));
              assert.ok(cos >= MIN_COS, `${family} ${m.id} (${target}) class ${e.classIndex}: cosine ${cos.toFixed(7)} < ${MIN_COS}`);
            });
          });
        }
      }
    });
  }

  after(() => {
    if (!process.env.CAM_REF_TABLE) return;
    const ids = [...new Set([...table.values()].flatMap((r) => [...r.keys()]))];
    const lines = [`| family | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`];
    for (const [family, row] of table) lines.push(`| ${family} | ${ids.map((id) => (row.has(id) ? (1 - row.get(id)!).toExponential(1) : '—')).join(' | ')} |`);
    console.log(lines.join('\n'));
  });
});
