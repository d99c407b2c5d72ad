/** ROAD and the confidence change against pytorch-grad-cam's metric classes (scripts/make_metrics_reference.py) on the same maps and inputs. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { confidenceChange } from '../../src/core/metrics/confidence';
import { road } from '../../src/core/metrics/road';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { ROOT } from '../support/paths';

const runtime = webRuntime();
const REF = path.join(ROOT, 'test', 'fixtures', 'ref');
const DIR = path.join(ROOT, 'test', 'fixtures', 'metrics-ref');

interface ClassRef { map: string; before: number; road_morf_diff: number[]; road_lerf_diff: number[]; confidence_diff: number }
interface Index { percentiles: number[]; families: Record<string, { model: string; input: string; classes: Record<string, ClassRef> }> }

const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(p)));
/** Relative difference of two probabilities. */
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describe('metrics vs pytorch-grad-cam (ROAD with noise 0, CamMultImageConfidenceChange; softmax target)', function () {
  this.timeout(120000);
  const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as Index;
  for (const [family, f] of Object.entries(index.families)) {
    it(`${family} (${f.model})`, async () => {
      const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(REF, f.model))), f.model);
      try {
        const xi = npy(path.join(REF, f.input));
        const x = float32(xi.data, xi.shape);
        const before = await ex.forward(x);
        for (const [k, c] of Object.entries(f.classes)) {
          const cls = Number(k);
          const map = npy(path.join(DIR, c.map)).data;
          assert.ok(rel(before.probs[cls], c.before) < 1e-4, `${family} c${k}: p ${before.probs[cls]} vs ${c.before}`);
          const r = await road(ex, x, map, cls, { percentiles: index.percentiles, noise: 0, before });
          let worst = 0;
          index.percentiles.forEach((p, i) => {
            const pairs: [string, number, number][] = [['MoRF', r.morf[i], c.before + c.road_morf_diff[i]], ['LeRF', r.lerf[i], c.before + c.road_lerf_diff[i]]];
            for (const [name, ours, theirs] of pairs) {
              worst = Math.max(worst, rel(ours, theirs));
              assert.ok(rel(ours, theirs) < 1e-4, `${family} c${k} ${name} ${p}: ${ours} vs ${theirs}`);
            }
          });
          const conf = await confidenceChange(ex, x, map, cls, before);
          const theirs = c.before + c.confidence_diff;
          assert.ok(rel(conf.after, theirs) < 1e-4, `${family} c${k} confidence: ${conf.after} vs ${theirs}`);
          assert.ok(Math.abs(conf.drop * conf.before - Math.max(0, -c.confidence_diff)) < 1e-5, 'DropInConfidence = max(0, −diff)');
          assert.equal(conf.increase, c.confidence_diff > 0);
          console.log(`      ${family} c${k}: largest relative difference ROAD ${worst.toExponential(1)}, confidence ${rel(conf.after, theirs).toExponential(1)}`);
        }
      } finally {
        await ex.dispose();
      }
    });
  }
});
