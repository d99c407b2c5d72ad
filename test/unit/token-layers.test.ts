/**
 * Transformer token layers as CAM targets (src/core/token-layout.ts) on the random-weight transformers of
 * scripts/make_transformer_models.py: the grid and prefix of every named block output against the generator's
 * index; the default layer of the class-token models (the last block's norm1 output); CAM maps at token and
 * channels-last layers against pytorch-grad-cam in float64 with its reshape_transform
 * (scripts/make_token_cam_reference.py); and the token grid given where the graph cannot tell it.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { parseSidecar } from '../../src/core/model-config';
import { methodById } from '../../src/core/methods/registry';
import { targetGradients } from '../../src/core/methods/score-target';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { fromChannelsFirst, mapLayout, parseGrid, toChannelsFirst } from '../../src/core/token-layout';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertMatches } from '../support/compare';
import { ROOT } from '../support/paths';

const FIX = path.join(ROOT, 'test', 'fixtures', 'transformers');
const REF = path.join(ROOT, 'test', 'fixtures', 'token-cam-ref');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const fixtures = JSON.parse(fs.readFileSync(path.join(FIX, 'index.json'), 'utf8')) as {
  models: { file: string; family: string; token_layers: { name: string; shape: number[]; layout: string; grid: number[]; prefix_tokens?: number }[] }[];
};
interface RefLayer { tensor?: string; default_scope?: string; map_shape: number[]; maps: Record<string, string> }
const refs = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8')) as {
  families: Record<string, { models: string[]; input: string; classes: number[]; layers: Record<string, RefLayer> }>;
  reshape_models: Record<string, { model: string; input: string; classes: number[]; layer: string; grid: [number, number]; prefix_tokens: number; maps: Record<string, string> }>;
};
const npy = (p: string) => decodeNpy(new Uint8Array(fs.readFileSync(p)));
const tensorOf = (p: string) => {
  const a = npy(p);
  return float32(Float32Array.from(a.data), a.shape);
};
const runtime = webRuntime();
const load = async (file: string) => Explainer.load(runtime, new Uint8Array(fs.readFileSync(file)), path.basename(file));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('Transformer token layers', function () {
  describe('grid inference: every named block output of every family, as the generator laid it out', () => {
    for (const m of fixtures.models) {
      it(m.file, async () => {
        const ex = await load(path.join(FIX, m.file));
        try {
          const shapes = await ex.shapes();
          for (const t of m.token_layers) {
            const layout = mapLayout(ex.graph, shapes, ex.inputSize, t.name);
            if (t.layout === 'BNC') {
              assert.deepEqual(layout, { kind: 'tokens', prefix: t.prefix_tokens, height: t.grid[0], width: t.grid[1], source: 'graph' }, `${m.file} ${t.name}`);
            } else {
              assert.deepEqual(layout, { kind: t.layout === 'BHWC' ? 'nhwc' : 'nchw' }, `${m.file} ${t.name}`);
            }
          }
        } finally {
          await ex.dispose();
        }
      });
    }
  });

  it('token rows become [K, C, h, w] maps and back (prefix tokens kept), as pytorch-grad-cam reshapes them', () => {
    // Two rows of 2 prefix + 2×3 patches, 2 channels: value = row·100 + token·10 + channel.
    const n = 8, c = 2;
    const data = Float32Array.from({ length: 2 * n * c }, (_, i) => Math.floor(i / (n * c)) * 100 + Math.floor((i % (n * c)) / c) * 10 + (i % c));
    const layout = { kind: 'tokens', prefix: 2, height: 2, width: 3, source: 'grid' } as const;
    const m = toChannelsFirst(float32(data, [2, n, c]), layout);
    assert.deepEqual(m.dims, [2, 2, 2, 3]);
    // Row 1, channel 1, patch (1, 2) is token 2 + 1·3 + 2 = 7.
    assert.equal(m.data[1 * 12 + 1 * 6 + 1 * 3 + 2], 171);
    const back = fromChannelsFirst(m.data, 2, layout, float32(data.subarray(0, n * c), [1, n, c]));
    // The prefix tokens of every row come from the original (row 0), the patches from the maps.
    assert.deepEqual(Array.from(back.subarray(n * c, n * c + 4)), [0, 1, 10, 11]);
    assert.deepEqual(Array.from(back.subarray(n * c + 4)), Array.from(data.subarray(n * c + 4)));
    const nhwc = toChannelsFirst(float32(Float32Array.from({ length: 12 }, (_, i) => i), [1, 2, 3, 2]), { kind: 'nhwc' });
    assert.deepEqual(Array.from(nhwc.data), [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11]);
  });

  describe('the default layer of class-token models is the last block\'s norm1 output', () => {
    for (const [file, scope] of [['vit_op14.onnx', '/encoder_layer_1/ln_1/'], ['vit_op17.onnx', '/encoder_layer_1/ln_1/'],
      ['deit_op14.onnx', '/blocks.1/norm1/'], ['deit_op17.onnx', '/blocks.1/norm1/'], ['beit_op17.onnx', '/blocks.1/norm1/']]) {
      it(file, async () => {
        const ex = await load(path.join(FIX, file));
        try {
          const layer = await ex.defaultLayer();
          const node = ex.graph.producer.get(layer)!;
          assert.ok(node.name!.startsWith(scope), `${file}: default layer '${layer}' (node '${node.name}') is not the output of ${scope}`);
          // The whole norm: LayerNormalization at opset 17, the decomposition's last Add at opset 14.
          assert.ok(node.opType === 'LayerNormalization' || (node.opType === 'Add' && !(ex.graph.consumers.get(layer) ?? []).some((c) => c.name!.startsWith(scope))), `${file}: '${layer}' is inside the norm`);
        } finally {
          await ex.dispose();
        }
      });
    }

    it('Swin and MaxViT keep the map feeding their global pooling; ViT\'s patch convolution is no longer the default', async () => {
      for (const [file, want] of [['swin_op17.onnx', '/Transpose_output_0'], ['maxvit_op17.onnx', 'block1']]) {
        const ex = await load(path.join(FIX, file));
        try {
          assert.equal(await ex.defaultLayer(), want, file);
        } finally {
          await ex.dispose();
        }
      }
    });

    it('ViT: the gradient reaches every patch token at the default layer, and only the class token after the last block', async () => {
      const ex = await load(path.join(FIX, 'vit_op17.onnx'));
      try {
        const layer = await ex.defaultLayer();
        const input = tensorOf(path.join(FIX, 'vit', 'input.npy'));
        const r = await targetGradients(ex, input, { targets: [layer, 'block1'], mode: 'plain', method: 'test', classes: [2] }, 'logit');
        const tokenNorms = (name: string) => {
          const [, n, c] = r.grads[name].dims;
          return Array.from({ length: n }, (_, t) => Math.hypot(...r.grads[name].data.subarray(t * c, (t + 1) * c)));
        };
        const atDefault = tokenNorms(layer);
        assert.ok(atDefault.slice(1).every((v) => v > 1e-4 * atDefault[0]), `default layer: patch-token gradient norms ${atDefault.map((v) => v.toExponential(1))}`);
        const after = tokenNorms('block1');
        assert.ok(after[0] > 0 && after.slice(1).every((v) => v === 0), `block1: ${after.map((v) => v.toExponential(1))}`);
      } finally {
        await ex.dispose();
      }
    });
  });

  // Grad-CAM and Score-CAM by pytorch-grad-cam; ReciproCAM and Ablation-CAM (prefix tokens ablated too) by the script's own PyTorch code.
  describe('CAM maps at token and channels-last layers match pytorch-grad-cam (float64, reshape_transform)', () => {
    for (const [family, f] of Object.entries(refs.families)) {
      for (const file of f.models) {
        for (const [key, l] of Object.entries(f.layers)) {
          for (const [method, rel] of Object.entries(l.maps)) {
            it(`${file} ${key} ${method}`, async () => {
              const ex = await load(path.join(FIX, file));
              try {
                const layer = l.tensor ?? (await ex.defaultLayer());
                if (l.default_scope) assert.ok(ex.graph.producer.get(layer)!.name!.startsWith(l.default_scope));
                const input = tensorOf(path.join(FIX, f.input));
                const r = await methodById(method).run(ex, { input, classes: f.classes, layer, target: 'logit' });
                const ref = npy(path.join(REF, rel));
                const [h, w] = l.map_shape;
                r.explanations.forEach((e, i) => {
                  assert.deepEqual(e.raw.dims, [h, w]);
                  const expected = ref.data.subarray(i * h * w, (i + 1) * h * w).map((v) => Math.max(v, 0));
                  assertMatches(e.raw.data, expected, `${family} ${key} ${method} class ${e.classIndex}`, 0.9999, 2e-3);
                });
              } finally {
                await ex.dispose();
              }
            });
          }
        }
      }
    }
  });

  describe('grids the graph does not tell', () => {
    const ref8x4 = refs.reshape_models.patch8x4;
    const ref8x8 = refs.reshape_models.patch8x8;

    it('17 tokens of a 32×32 input with no patch convolution factor into one grid: 1 prefix + 4×4', async () => {
      const ex = await load(path.join(REF, ref8x8.model));
      try {
        assert.deepEqual(mapLayout(ex.graph, await ex.shapes(), ex.inputSize, 'tokens'), { kind: 'tokens', prefix: 1, height: 4, width: 4, source: 'factorised' });
        const r = await methodById('gradcam').run(ex, { input: tensorOf(path.join(REF, ref8x8.input)), classes: ref8x8.classes, layer: 'tokens', target: 'logit' });
        const ref = npy(path.join(REF, ref8x8.maps.gradcam));
        r.explanations.forEach((e, i) => assertMatches(e.raw.data, ref.data.subarray(i * 16, (i + 1) * 16).map((v) => Math.max(v, 0)), `patch8x8 class ${e.classIndex}`, 0.9999, 2e-3));
      } finally {
        await ex.dispose();
      }
    });

    it('a 4×8 grid (8×4 patches) is not inferred: the error names the shape and --token-grid; with the grid the map matches PyTorch', async () => {
      const ex = await load(path.join(REF, ref8x4.model));
      const input = tensorOf(path.join(REF, ref8x4.input));
      try {
        await assert.rejects(methodById('gradcam').run(ex, { input, classes: ref8x4.classes, layer: 'tokens', target: 'logit' }),
          (e: Error) => /token tensor of shape \[1, 33, 16\]/.test(e.message) && /--token-grid HxW/.test(e.message) && /"tokenGrid"/.test(e.message));
        const grid = { height: ref8x4.grid[0], width: ref8x4.grid[1] };
        const r = await methodById('gradcam').run(ex, { input, classes: ref8x4.classes, layer: 'tokens', grid, target: 'logit' });
        const ref = npy(path.join(REF, ref8x4.maps.gradcam));
        r.explanations.forEach((e, i) => {
          assert.deepEqual(e.raw.dims, [4, 8]);
          assertMatches(e.raw.data, ref.data.subarray(i * 32, (i + 1) * 32).map((v) => Math.max(v, 0)), `patch8x4 class ${e.classIndex}`, 0.9999, 2e-3);
        });
      } finally {
        await ex.dispose();
      }
    });

    it('--token-grid and the sidecar\'s tokenGrid: strict parsing, and the grid reaches the map', () => {
      for (const bad of ['14', '0x4', '4x', 'axb', '4x4x4', '-4x4', '1x1', '5000x2', '']) {
        assert.throws(() => parseGrid(bad), /--token-grid must be HxW/, `'${bad}'`);
      }
      assert.deepEqual(parseGrid(' 4 × 8 '), { height: 4, width: 8 });
      assert.deepEqual(parseSidecar('{"tokenGrid": [4, 8]}', 's.json').tokenGrid, [4, 8]);
      assert.throws(() => parseSidecar('{"tokenGrid": [4.5, 8]}', 's.json'), /Sidecar 's.json': "tokenGrid" must be HxW/);
      assert.throws(() => parseSidecar('{"tokenGrid": 14}', 's.json'), /"tokenGrid" must be \[height, width\]/);
      assert.throws(() => parseSidecar('{"tokengrid": [4, 8]}', 's.json'), /unknown field "tokengrid" \(did you mean 'tokenGrid'\?\)/);

      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-tokens-'));
      try {
        const model = path.join(REF, ref8x4.model);
        const input = path.join(REF, ref8x4.input);
        const base = ['explain', model, input, '--method', 'gradcam', '--layer', 'tokens', '--class', String(ref8x4.classes[0]), '--json'];
        const bad = cli([...base, '--token-grid', '4by8', '--out', tmp]);
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, /--token-grid must be HxW.*got '4by8'/);
        const missing = cli([...base, '--out', tmp]);
        assert.equal(missing.code, 1, missing.stderr);
        assert.match(missing.stderr, /shape \[1, 33, 16\].*--token-grid HxW/);
        const tooMany = cli([...base, '--token-grid', '6x6', '--out', tmp]);
        assert.match(tooMany.stderr, /token grid 6x6 .* has 36 patches, more than its 33 tokens/);
        const ok = cli([...base, '--token-grid', '4x8', '--out', tmp]);
        assert.equal(ok.code, 0, ok.stderr);
        const out = JSON.parse(ok.stdout).outputs[0];
        assert.deepEqual(out.shape, [4, 8]);
        const ref = npy(path.join(REF, ref8x4.maps.gradcam));
        assertMatches(npy(out.npy).data, ref.data.subarray(0, 32).map((v) => Math.max(v, 0)), 'CLI --token-grid 4x8', 0.9999, 2e-3);
        // The sidecar's tokenGrid does the same; `layers` shows the grid and prefix.
        const copy = path.join(tmp, 'm.onnx');
        fs.copyFileSync(model, copy);
        fs.writeFileSync(`${copy}.json`, JSON.stringify({ tokenGrid: '4x8' }));
        const side = cli(['explain', copy, input, '--method', 'gradcam', '--layer', 'tokens', '--class', String(ref8x4.classes[0]), '--json', '--out', tmp]);
        assert.equal(side.code, 0, side.stderr);
        assert.deepEqual(Array.from(npy(JSON.parse(side.stdout).outputs[0].npy).data), Array.from(npy(out.npy).data));
        const layers = cli(['layers', copy, '--json']);
        const row = (JSON.parse(layers.stdout).layers as { name: string; grid?: number[]; prefixTokens?: number; gridSource?: string }[]).find((l) => l.name === 'tokens')!;
        assert.deepEqual([row.grid, row.prefixTokens, row.gridSource], [[4, 8], 1, 'grid']);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });

    it('`layers` on ViT shows each token layer\'s grid and why the default layer was chosen', () => {
      const r = cli(['layers', path.join(FIX, 'vit_op17.onnx')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /block0 .*\[1, 17, 32\]\s+tokens: 4×4 grid \+ 1 prefix token \(from the patch embedding\)/);
      assert.match(r.stdout, /default target layer: \/encoder_layer_1\/ln_1\/LayerNormalization_output_0: the input of the last self-attention/);
      const j = JSON.parse(cli(['layers', path.join(FIX, 'deit_op17.onnx'), '--json']).stdout);
      const block0 = j.layers.find((l: { name: string }) => l.name === 'block0');
      assert.deepEqual([block0.layout, block0.grid, block0.prefixTokens, block0.gridSource], ['tokens', [4, 4], 2, 'graph']);
      assert.match(j.defaultLayerReason, /last self-attention/);
    });
  });
});
