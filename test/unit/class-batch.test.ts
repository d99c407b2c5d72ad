/**
 * Gradients for K classes come from one batched backward pass (one row per class, the forward activations
 * shared): on every reference family, for saliency, guided backprop and deconvnet and K = 2…5, each row equals
 * the gradient of that class computed alone, and the K classes cost one session run.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { decodeNpy } from '../../src/core/npy';
import type { Runtime } from '../../src/core/runtime';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertMatches } from '../support/compare';

const REF = path.join(__dirname, '..', 'fixtures', 'ref');
const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8')) as {
  models: { file: string; family: string; opset: number; input: string }[];
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(REF, p))));

/** A runtime whose sessions count their runs. */
function countingRuntime(inner: Runtime): { runtime: Runtime; runs: () => number } {
  let n = 0;
  return {
    runs: () => n,
    runtime: {
      ...inner,
      async createSession(model, options) {
        const s = await inner.createSession(model, options);
        return { ...s, inputNames: s.inputNames, outputNames: s.outputNames, run: (feeds, fetches) => (n++, s.run(feeds, fetches)), release: () => s.release() };
      },
    },
  };
}

// One export per family (the newest opset) keeps the run short; the opsets share their PyTorch modules.
const models = index.models.filter((m) => !index.models.some((o) => o.family === m.family && o.opset > m.opset));

describe('K classes in one batched backward pass equal K one-class passes', function () {
  const counting = countingRuntime(webRuntime());
  for (const m of models) {
    it(`${m.file}: saliency, guided backprop and deconvnet, K = 2…5`, async () => {
      const ex = await Explainer.load(counting.runtime, new Uint8Array(fs.readFileSync(path.join(REF, m.file))), m.file);
      try {
        const inp = npy(m.input);
        const input = float32(inp.data, inp.shape);
        // Classes in a scrambled order, so that a row mix-up cannot pass.
        const classes = [7, 2, 9, 0, 4];
        for (const mode of ['plain', 'guided', 'deconvnet'] as const) {
          const req = { targets: [ex.input.name], score: 'logit' as const, mode, method: 'test' };
          const alone = [];
          for (const c of classes) alone.push((await ex.gradients(input, { ...req, classes: [c] })).grads[ex.input.name].data);
          for (let k = 2; k <= classes.length; k++) {
            const before = counting.runs();
            const r = await ex.gradients(input, { ...req, classes: classes.slice(0, k) });
            assert.equal(counting.runs() - before, 1, `${mode}, K = ${k}: one session run`);
            assert.deepEqual(r.classes, classes.slice(0, k));
            const g = r.grads[ex.input.name];
            assert.equal(g.dims[0], k);
            const per = g.data.length / k;
            for (let i = 0; i < k; i++) assertMatches(g.data.subarray(i * per, (i + 1) * per), alone[i], `${mode}, K = ${k}, class ${classes[i]}`, 0.999999, 1e-5);
          }
          // The top-K seed explains the same rows as naming the top K classes.
          const top = await ex.gradients(input, { ...req, top: 3 });
          const named = await ex.gradients(input, { ...req, classes: top.classes });
          assertMatches(top.grads[ex.input.name].data, named.grads[ex.input.name].data, `${mode}, top 3`, 0.999999, 1e-5);
        }
      } finally {
        await ex.dispose();
      }
    });
  }
});
