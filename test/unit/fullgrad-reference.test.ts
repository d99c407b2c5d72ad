/**
 * FullGrad against pytorch-grad-cam's FullGrad (jacobgil/pytorch-grad-cam@084273b, run in float64 by
 * scripts/make_fullgrad_reference.py) on the reference families of scripts/make_reference.py: each family × class ×
 * target must reach cosine ≥ 0.9999 with the reference at the input's resolution, and agree within 1e-3 of its
 * largest value. The reference is compute_cam_per_layer's sum before the final min-max scaling, which is the raw
 * map of the registry method. The ONNX exports have their BatchNorms folded into the convolutions, so this also
 * checks that a folded convolution's bias and output stand for the BatchNorm's. Families where pytorch-grad-cam's
 * FullGrad itself fails are listed in the index with the reason. FULLGRAD_REF_TABLE=1 prints 1 − the lowest cosine.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { LookCloserError } from '../../src/core/errors';
import { fullGrad, fullGradLayers } from '../../src/core/methods/fullgrad';
import { decodeModel, encodeModel } from '../../src/core/onnx/model';
import type { ScoreTarget } from '../../src/core/methods/method';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertMatches, cosine } from '../support/compare';

const DIR = path.join(__dirname, '..', 'fixtures', 'fullgrad-ref');
interface Family { model: string; input: string; classes: number[]; bias_layers: number; maps: Partial<Record<ScoreTarget, string>>; skipped?: string }
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as { families: Record<string, Family> };
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
const MIN_COS = 0.9999;
const table: string[] = [];

describe('FullGrad matches pytorch-grad-cam on the reference families', function () {
  const runtime = webRuntime();
  const families = Object.entries(index.families).filter(([, f]) => !f.skipped);

  it('has references on at least 10 families', () => {
    assert.ok(families.length >= 10, `${families.length} families`);
  });

  for (const [family, f] of families) {
    describe(family, () => {
      let ex: Explainer;
      const inp = npy(f.input);
      const input = float32(inp.data, inp.shape);
      before(async () => {
        ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, f.model))), family);
      });
      after(() => ex.dispose());

      for (const [target, file] of Object.entries(f.maps) as [ScoreTarget, string][]) {
        it(`fullgrad (${target})`, async () => {
          const ref = npy(file);
          const r = await methodById('fullgrad').run(ex, { input, classes: f.classes, target });
          assert.deepEqual(r.explanations.map((e) => e.classIndex), f.classes);
          const per = ref.data.length / f.classes.length;
          let worst = 1;
          r.explanations.forEach((e, i) => {
            const expected = ref.data.subarray(i * per, (i + 1) * per);
            assert.deepEqual(e.raw.dims, ref.shape.slice(1));
            worst = Math.min(worst, cosine(e.raw.data, expected));
            assertMatches(e.raw.data, expected, `${family} fullgrad (${target}) class ${e.classIndex}`, MIN_COS, 1e-3);
          });
          table.push(`| ${family} | ${target} | ${(1 - worst).toExponential(1)} |`);
        });
      }
    });
  }

  it('uses the biased layers of each 2-D map with a spatial extent (1×1 maps normalise to zero and are skipped)', async () => {
    // resnet: stem, layer1.conv1/conv2, layer2.conv1/conv2/downsample — six folded BatchNorms, as pytorch-grad-cam counts.
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, index.families.resnet.model))), 'resnet');
    try {
      assert.equal((await fullGradLayers(ex)).length, index.families.resnet.bias_layers);
    } finally {
      await ex.dispose();
    }
  });

  it('is unavailable, with the reason, on a model without biases, and refuses to run there', async () => {
    // The resnet export with its convolutions' bias inputs removed (its BatchNorms were folded into them).
    const model = decodeModel(new Uint8Array(fs.readFileSync(path.join(DIR, index.families.resnet.model))), 'resnet');
    for (const n of model.graph!.node!) if (n.opType === 'Conv') n.input = n.input!.slice(0, 2);
    const ex = await Explainer.load(runtime, encodeModel(model), 'resnet without biases');
    try {
      assert.match(fullGrad.unavailableOn!(ex)!, /has no convolution or BatchNormalization with a bias; FullGrad would be input × gradient alone/);
      const x = npy(index.families.resnet.input);
      await assert.rejects(fullGrad.run(ex, { input: float32(x.data, x.shape), classes: [3], target: 'logit' }),
        (e: unknown) => e instanceof LookCloserError && e.kind === 'method-not-applicable');
    } finally {
      await ex.dispose();
    }
  });

  after(() => {
    if (process.env.FULLGRAD_REF_TABLE) console.log(['| family | target | 1 − cos |', '|---|---|---|', ...table].join('\n'));
  });
});
