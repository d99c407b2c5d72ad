/**
 * The CAM family against pytorch-grad-cam (jacobgil/pytorch-grad-cam@084273b, run in float64 by
 * scripts/make_cam_reference.py) on the reference families of scripts/make_reference.py: every registered CAM
 * method with a reference, each family × class × target, must reach cosine ≥ 0.9999 with the reference at the
 * layer's resolution. The reference is get_cam_image's map before pytorch-grad-cam's ReLU, upsampling and
 * scaling; the registry method's raw map is compared with its ReLU. Eigen-CAM and EigenGrad-CAM are compared with
 * pytorch-grad-cam's sign-corrected projection (get_2d_projection_with_sign_correction), which the script checks
 * is ± get_2d_projection's. ReciproCAM's reference is the script's own PyTorch code (not in pytorch-grad-cam).
 * The smoothing options on a few families (logit target): eigen-smooth against get_cam_image with eigen_smooth=True,
 * held to its sign-corrected projection as the Eigen methods; aug-smooth against the mean over ttach's six transforms of
 * scale_cam_image(ReLU(map)) de-augmented at the layer's resolution, and its display map against pytorch-grad-cam's
 * aug_smooth output at the input size (which scales each transform's map again after upsampling, so only close).
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
    smooth?: Record<string, Partial<Record<ScoreTarget, string>>>;
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

  it('eigen-smooth is an option of the channel-weight methods only, aug-smooth of every CAM-family method; other values than true/false are refused', async () => {
    const declares = (id: string, name: string) => !!METHODS.find((m) => m.id === id)!.options?.some((o) => o.name === name && o.kind === 'boolean');
    for (const id of ['cam', 'gradcam', 'gradcam-plusplus', 'xgradcam', 'scorecam', 'ablationcam']) assert.ok(declares(id, 'eigen-smooth'), id);
    // pytorch-grad-cam's Eigen-CAM and EigenGrad-CAM ignore eigen_smooth; HiResCAM, Grad-CAM element-wise and LayerCAM project their own element-wise maps (not offered here).
    for (const id of ['eigencam', 'eigengradcam', 'hirescam', 'gradcam-elementwise', 'layercam', 'reciprocam']) assert.ok(!declares(id, 'eigen-smooth'), id);
    for (const id of ['gradcam', 'eigencam', 'hirescam', 'layercam', 'scorecam', 'reciprocam']) assert.ok(declares(id, 'aug-smooth'), id);
    const [family, f] = Object.entries(index.families).find(([, x]) => x.smooth)!;
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, f.model))), family);
    try {
      const inp = npy(f.input);
      const gradcam = METHODS.find((m) => m.id === 'gradcam')!;
      await assert.rejects(gradcam.run(ex, { input: float32(inp.data, inp.shape), layer: f.layer, target: 'logit', options: { 'eigen-smooth': 'yes' } }),
        (e: Error & { kind?: string }) => e.kind === 'bad-argument' && /eigen-smooth' must be true or false, got 'yes'/.test(e.message));
    } finally {
      ex.dispose();
    }
  });

  for (const [family, f] of Object.entries(index.families)) {
    if (!f.smooth) continue;
    const smooth = f.smooth;
    describe(`${family}: smoothing options`, () => {
      let ex: Explainer;
      const inp = npy(f.input);
      const input = float32(inp.data, inp.shape);
      const [, , h, w] = f.layer_shape;
      before(async () => {
        ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, f.model))), family);
      });
      after(() => ex.dispose());
      const check = (what: string, got: Float32Array, expected: Float32Array) => {
        const cos = cosine(got, expected);
        const row = table.get(family) ?? new Map<string, number>();
        table.set(family, row);
        row.set(what, Math.min(row.get(what) ?? 1, cos));
        return cos;
      };

      for (const key of Object.keys(smooth).filter((k) => k.endsWith('+eigen-smooth-signed'))) {
        const id = key.slice(0, -'+eigen-smooth-signed'.length);
        it(`${id} --eigen-smooth`, async () => {
          const m = METHODS.find((x) => x.id === id)!;
          const ref = npy(smooth[key].logit!);
          const plain = npy(smooth[`${id}+eigen-smooth`].logit!);
          const r = await m.run(ex, { input, classes: f.classes, layer: f.layer, target: 'logit', options: { 'eigen-smooth': true } });
          r.explanations.forEach((e, i) => {
            assert.deepEqual(e.raw.dims, [h, w]);
            const expected = ref.data.subarray(i * h * w, (i + 1) * h * w).map((v) => Math.max(v, 0));
            const cos = check(`${id}+eigen`, e.raw.data, expected);
            assert.ok(cos >= MIN_COS, `${family} ${id} eigen-smooth class ${e.classIndex}: cosine ${cos.toFixed(7)} < ${MIN_COS}`);
            // The projection is ± pytorch-grad-cam's own eigen_smooth map (LAPACK's sign), and differs from the plain map.
            const lapack = plain.data.subarray(i * h * w, (i + 1) * h * w);
            const signed = ref.data.subarray(i * h * w, (i + 1) * h * w);
            assert.ok(Math.abs(Math.abs(cosine(lapack, signed)) - 1) < 1e-6);
          });
          const unsmoothed = await m.run(ex, { input, classes: f.classes, layer: f.layer, target: 'logit' });
          assert.ok(unsmoothed.explanations.some((e, i) => cosine(e.raw.data, r.explanations[i].raw.data) < 0.9999), 'eigen-smooth changed nothing');
        });
      }

      for (const key of Object.keys(smooth).filter((k) => k.endsWith('+aug-smooth'))) {
        const id = key.slice(0, -'+aug-smooth'.length);
        it(`${id} --aug-smooth`, async () => {
          const m = METHODS.find((x) => x.id === id)!;
          const ref = npy(smooth[key].logit!);
          const out = npy(smooth[`${id}+aug-smooth-output`].logit!);
          const { height, width } = ex.inputSize;
          assert.deepEqual(out.shape, [f.classes.length, height, width]);
          const r = await m.run(ex, { input, classes: f.classes, layer: f.layer, target: 'logit', options: { 'aug-smooth': 'true' } });
          r.explanations.forEach((e, i) => {
            assert.deepEqual(e.raw.dims, [h, w]);
            const cos = check(`${id}+aug`, e.raw.data, ref.data.subarray(i * h * w, (i + 1) * h * w));
            assert.ok(cos >= MIN_COS, `${family} ${id} aug-smooth class ${e.classIndex}: cosine ${cos.toFixed(7)} < ${MIN_COS}`);
            assert.equal(e.display.kind, 'heatmap');
            if (e.display.kind !== 'heatmap') return;
            const cosOut = check(`${id}+aug@input`, e.display.map, out.data.subarray(i * height * width, (i + 1) * height * width));
            assert.ok(cosOut >= 0.995, `${family} ${id} aug-smooth class ${e.classIndex} at the input size: cosine ${cosOut.toFixed(7)} < 0.995`);
          });
        });
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
