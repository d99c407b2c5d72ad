/**
 * Attention maps of transformers against the script's own PyTorch implementation of the papers' equations
 * (scripts/make_attention_reference.py, float64, dense matrix products over all tokens or positions) on the
 * transformer families of test/fixtures/transformers (ViT, DeiT with a distillation token, BEiT, Swin, Swin V2)
 * and the script's Swin with shifted windows in both stages: attention rollout (Abnar & Zuidema 2020) with
 * mean/max/min head fusion, gradient-weighted rollout (Chefer et al. 2021) per class and target, and each
 * layer's raw attention for the class token (the Layers view's tiles). Each must reach cosine ≥ 0.9999 with
 * the reference. Also: the attention tensors are found in the graph with their token layout; Swin's window
 * shift is read from the probabilities; models whose attention groups have no known place on the image
 * (MaxViT, MobileViT) and models without attention are refused with the reason.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { methodAvailability } from '../../src/core/app/availability';
import { layerActivations } from '../../src/core/app/layer-activations';
import { findAttentionLayers } from '../../src/core/attention-maps/attention-layers';
import { attentionTiles } from '../../src/core/attention-maps/attention-tiles';
import { windowShift } from '../../src/core/attention-maps/token-positions';
import { LookCloserError } from '../../src/core/errors';
import { Explainer } from '../../src/core/explainer';
import type { ScoreTarget } from '../../src/core/methods/method';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { loadInput, loadModel } from '../../src/node/workbench';
import { cosine } from '../support/compare';
import { MNIST_BURN } from '../support/paths';

const DIR = path.join(__dirname, '..', 'fixtures', 'attention-ref');
const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as {
  families: Record<string, { model: string; input: string; classes: number[]; prefix: number; grid: number[]; layers: number; maps: Record<string, string> }>;
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(path.join(DIR, p))));
const MIN_COS = 0.9999;
const TRANSFORMERS = path.join(__dirname, '..', 'fixtures', 'transformers');

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

      if (f.maps['attention-rollout:mean:query1']) {
        it('attention-rollout for the distillation token (--query-token 1)', async () => {
          const r = await methodById('attention-rollout').run(ex, { input, target: 'logit', options: { 'query-token': '1' } });
          const c = cosine(r.explanations[0].raw.data, npy(f.maps['attention-rollout:mean:query1']).data);
          assert.ok(c >= MIN_COS, `cosine ${c}`);
          const cls = await methodById('attention-rollout').run(ex, { input, target: 'logit' });
          assert.ok(cosine(cls.explanations[0].raw.data, r.explanations[0].raw.data) < MIN_COS, 'the class token\'s row differs');
          await assert.rejects(methodById('attention-rollout').run(ex, { input, target: 'logit', options: { 'query-token': '18' } }), /Query token 18 is out of range: the last attention layer has 18 tokens/);
        });
      }

      const raws = Object.keys(f.maps).filter((k) => k.startsWith('raw:'));
      if (raws.length) {
        it('raw attention of each layer for the class token, one map per head', async () => {
          const layers = findAttentionLayers(ex.graph, await ex.shapes(), ex.inputSize);
          const fw = await ex.forward(input, layers.map((l) => l.tensor));
          for (const key of raws) {
            const l = layers[Number(key.slice(4))];
            const t = attentionTiles(l, fw.tensors[l.tensor].data);
            const want = npy(f.maps[key]);
            assert.deepEqual([t.heads, t.height, t.width], want.shape);
            assert.equal(t.query, 0);
            const c = cosine(t.data, want.data);
            assert.ok(c >= MIN_COS, `${key}: cosine ${c}`);
          }
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

describe('attention maps at opset 14 (the same weights exported again)', function () {
  const runtime = webRuntime();
  for (const [family, f] of Object.entries(index.families)) {
    if (!f.model.endsWith('_op17.onnx')) continue;
    it(`${family}: attention-rollout matches the reference`, async () => {
      const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(DIR, f.model.replace('_op17', '_op14')))), family);
      try {
        const inp = npy(f.input);
        const r = await methodById('attention-rollout').run(ex, { input: float32(inp.data, inp.shape), target: 'logit', classes: [f.classes[0]] });
        const c = cosine(r.explanations[0].raw.data, npy(f.maps['attention-rollout:mean']).data);
        assert.ok(c >= MIN_COS, `cosine ${c}`);
      } finally {
        await ex.dispose();
      }
    });
  }
});

describe('attention layers in graphs', function () {
  const runtime = webRuntime();
  const load = async (file: string) => Explainer.load(runtime, new Uint8Array(fs.readFileSync(file)), path.basename(file));

  it("Swin's shifted windows: the shift is read from the masked probabilities, and only shifted blocks have one", async () => {
    const ex = await load(path.join(DIR, 'swin-shifted.onnx'));
    try {
      const layers = findAttentionLayers(ex.graph, await ex.shapes(), ex.inputSize);
      assert.deepEqual(layers.map((l) => [l.layout, l.groups, l.heads, l.grid.height, l.window?.height]),
        [['windows', 16, 2, 16, 4], ['windows', 16, 2, 16, 4], ['windows', 4, 3, 8, 4], ['windows', 4, 3, 8, 4]]);
      const inp = npy(index.families['swin-shifted'].input);
      const fw = await ex.forward(float32(inp.data, inp.shape), layers.map((l) => l.tensor));
      assert.deepEqual(layers.map((l) => windowShift(l, fw.tensors[l.tensor].data)),
        [{ rows: 0, cols: 0 }, { rows: 2, cols: 2 }, { rows: 0, cols: 0 }, { rows: 2, cols: 2 }]);
    } finally {
      await ex.dispose();
    }
  });

  for (const family of ['maxvit', 'mobilevit']) {
    it(`${family}: attention found, but its groups have no known place on the image, so rollout is refused with the reason`, async () => {
      const ex = await load(path.join(TRANSFORMERS, `${family}_op17.onnx`));
      try {
        const layers = findAttentionLayers(ex.graph, await ex.shapes(), ex.inputSize);
        assert.equal(layers.length, 4);
        assert.ok(layers.some((l) => l.layout === 'grouped'));
        const inp = decodeNpy(new Uint8Array(fs.readFileSync(path.join(TRANSFORMERS, family, 'input.npy'))));
        await assert.rejects(methodById('attention-rollout').run(ex, { input: float32(inp.data, inp.shape), target: 'logit' }),
          (e: unknown) => e instanceof LookCloserError && e.kind === 'method-not-applicable' && /no known place|cannot place/.test(e.message) && e.message.includes(layers.find((l) => l.layout === 'grouped')!.node));
      } finally {
        await ex.dispose();
      }
    });
  }

  it('availability: offered on a ViT, refused with the reason on a CNN', async () => {
    const vit = await loadModel(runtime, path.join(TRANSFORMERS, 'vit_op17.onnx'));
    const cnn = await loadModel(runtime, MNIST_BURN);
    try {
      const ids = ['attention-rollout', 'grad-rollout'];
      const onVit = (await methodAvailability(vit)).filter((a) => ids.includes(a.method));
      assert.deepEqual(onVit.map((a) => a.available), [true, true]);
      const onCnn = (await methodAvailability(cnn)).filter((a) => ids.includes(a.method));
      assert.deepEqual(onCnn.map((a) => a.available), [false, false]);
      assert.match(onCnn[0].reason!, /no self-attention layer/);
    } finally {
      await vit.dispose();
      await cnn.dispose();
    }
  });

  it('the Layers view shows an attention tensor as one tile per head: the class token\'s row on the patch grid', async () => {
    const vit = await loadModel(runtime, path.join(TRANSFORMERS, 'vit_op17.onnx'));
    try {
      const input = await loadInput(vit, path.join(TRANSFORMERS, 'vit', 'input.npy'));
      const layer = '/encoder_layer_1/self_attention/Softmax_output_0';
      const a = await layerActivations(vit, input, layer);
      assert.deepEqual([a.channels.length, a.height, a.width, a.attention?.heads, a.attention?.query, a.targetable], [2, 4, 4, 2, 0, false]);
      const want = npy(index.families.vit.maps['raw:1']);
      assert.ok(cosine(a.data, want.data) >= MIN_COS);
    } finally {
      await vit.dispose();
    }
  });
});
