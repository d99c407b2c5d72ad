/**
 * One copy of the weights per model: every session an Explainer derives from a model (backward graphs, the
 * shape probe, layer tails) is created from bytes without the weights, which are fed from one shared set of
 * tensors; one forward session serves every set of exposed outputs; dispose releases every session. Checked on
 * the bundled SqueezeNet (float16) through onnxruntime-web, with a runtime that records what it was given.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Explainer } from '../../src/core/explainer';
import { LayerTail } from '../../src/core/methods/layer-tail';
import { methodById } from '../../src/core/methods/registry';
import { decodeModel, onnx } from '../../src/core/onnx/model';
import { shallowCloneModel } from '../../src/core/onnx/derived-model';
import { SharedWeights, adoptInitializers } from '../../src/core/onnx/shared-weights';
import { upgradeToOpset } from '../../src/core/onnx/upgrade';
import type { Runtime } from '../../src/core/runtime';
import type { Float32Tensor } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { loadInput, loadModel } from '../../src/node/workbench';
import { assertMatches } from '../support/compare';
import { SQUEEZENET, TWO_CLASS } from '../support/paths';

/** onnxruntime-web, recording the size of every model it loads and whether its session was released. */
function recording(): { runtime: Runtime; sessions: { bytes: number; released: boolean }[] } {
  const inner = webRuntime();
  const sessions: { bytes: number; released: boolean }[] = [];
  const runtime: Runtime = {
    backend: inner.backend,
    async createSession(model, options) {
      const rec = { bytes: model.length, released: false };
      const s = await inner.createSession(model, options);
      sessions.push(rec);
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        run: (feeds, fetches) => s.run(feeds, fetches),
        release: async () => {
          assert.equal(rec.released, false, 'a session is released twice');
          rec.released = true;
          await s.release();
        },
      };
    },
  };
  return { runtime, sessions };
}

describe('Shared weights', function () {
  const modelBytes = fs.statSync(SQUEEZENET).size;
  let rec: ReturnType<typeof recording>;
  let explainer: Explainer;
  let input: Float32Tensor;
  /** Sessions holding a copy of the weights (created from at least half the model's bytes) still open. */
  const heavyOpen = () => rec.sessions.filter((s) => !s.released && s.bytes >= modelBytes / 2).length;

  before(async () => {
    rec = recording();
    const model = await loadModel(rec.runtime, SQUEEZENET);
    explainer = model.explainer;
    input = (await loadInput(model, TWO_CLASS)).tensor;
  });
  after(() => explainer?.dispose());

  it('moves only large float initializers into inputs, as views of the model bytes or aligned copies', () => {
    const model = decodeModel(new Uint8Array(fs.readFileSync(SQUEEZENET)), 'squeezenet');
    const initializers = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
    const derived = shallowCloneModel(model);
    const feeds = new SharedWeights().detach(derived);
    const moved = Object.keys(feeds);
    assert.ok(moved.length > 0);
    for (const name of moved) {
      const t = initializers.get(name)!;
      assert.ok(t.rawData!.length >= 4096, `${name} is small`);
      assert.equal(t.dataType, onnx.TensorProto.DataType.FLOAT16);
      // The same bits as the initializer, in a typed array the runtime can take.
      assert.deepEqual(new Uint8Array(feeds[name].data.buffer, feeds[name].data.byteOffset, feeds[name].data.byteLength), new Uint8Array(t.rawData!));
      assert.deepEqual(feeds[name].dims, t.dims!.map(Number));
      assert.ok(derived.graph!.input!.some((i) => i.name === name), `${name} is a graph input`);
      assert.ok(!derived.graph!.initializer!.some((i) => i.name === name), `${name} is still an initializer`);
    }
    const movedBytes = moved.reduce((n, k) => n + feeds[k].data.byteLength, 0);
    assert.ok(movedBytes > 0.95 * modelBytes, `only ${movedBytes} of ${modelBytes} bytes moved`);
    // The base model keeps its initializers.
    assert.equal(model.graph!.initializer!.length, initializers.size);
  });

  it('gives an upgraded copy of the model the original\'s weight protos back, and only where the bytes match', () => {
    const model = decodeModel(new Uint8Array(fs.readFileSync(SQUEEZENET)), 'squeezenet');
    const upgraded = upgradeToOpset(model, 17);
    const originals = new Set(model.graph!.initializer!);
    assert.ok(upgraded.graph!.initializer!.every((t) => !originals.has(t)));
    // One weight changed in the copy keeps its own proto.
    const changed = upgraded.graph!.initializer![0];
    changed.rawData = Uint8Array.from(changed.rawData!, (v, i) => (i === 0 ? v ^ 1 : v));
    const n = adoptInitializers(model, upgraded);
    assert.equal(n, model.graph!.initializer!.length - 1);
    assert.equal(upgraded.graph!.initializer![0], changed);
    assert.ok(upgraded.graph!.initializer!.slice(1).every((t) => originals.has(t)));
  });

  it('creates backward sessions without the weights and keeps one forward session', async () => {
    const layer = await explainer.defaultLayer();
    await methodById('gradcam').run(explainer, { input, top: 1, layer, target: 'logit' });
    await methodById('guided-backprop').run(explainer, { input, top: 1, target: 'logit' });
    await methodById('saliency').run(explainer, { input, top: 1, target: 'logit' });
    // Two more output sets: the forward session is replaced by one exposing the union, not joined by another.
    const a = await explainer.forward(input, [layer]);
    const b = await explainer.forward(input, ['fire9/concat_1']);
    const c = await explainer.forward(input, [layer]);
    // Exposing another tensor may change which float16 nodes onnxruntime fuses: the same values up to float16 rounding.
    assertMatches(c.tensors[layer].data, a.tensors[layer].data, `${layer} from the union session`, 0.99999, 2e-3);
    assertMatches(b.logits, a.logits, 'logits from the union session', 0.99999, 2e-3);
    assert.equal(heavyOpen(), 1, `open sessions: ${JSON.stringify(rec.sessions)}`);
    const light = rec.sessions.filter((s) => s.bytes < modelBytes / 2);
    // Probe, Grad-CAM's, guided backprop's and saliency's backward graphs: each well under a tenth of the model.
    assert.ok(light.length >= 4, `sessions: ${JSON.stringify(rec.sessions)}`);
    for (const s of light) assert.ok(s.bytes < modelBytes / 10, `a derived session was given ${s.bytes} bytes`);
  });

  it('gives the gradients of sessions that embed the weights, with weight-only nodes folded once and shared', async () => {
    const inner = webRuntime();
    // The same runtime, told to embed the weights in every session (what onnxruntime-node gets).
    const embedded = await Explainer.load({ ...inner, sharedWeights: false }, new Uint8Array(fs.readFileSync(SQUEEZENET)), 'squeezenet-embedded');
    try {
      for (const mode of ['guided', 'plain', 'deconvnet'] as const) {
        const req = { targets: [explainer.input.name], score: 'logit', mode, method: 'test', classes: [243, 281] } as const;
        const before = explainer.weights.byteLength;
        const a = await explainer.gradients(input, req);
        const b = await embedded.gradients(input, req);
        assert.deepEqual(a.classes, b.classes);
        assertMatches(a.grads[explainer.input.name].data, b.grads[explainer.input.name].data, `${mode} input gradient`, 0.999999, 1e-5);
        // The transposed, flipped kernels are folded for the first graph and reused by the others.
        if (mode !== 'guided') assert.equal(explainer.weights.byteLength, before, `${mode} folded its kernels again`);
      }
    } finally {
      await embedded.dispose();
    }
  });

  it('runs a layer tail on the shared weights: the forward pass\'s activations give its logits back', async () => {
    const layer = 'fire9/concat_1';
    const fwd = await explainer.forward(input, [layer]);
    const act = fwd.tensors[layer];
    const before = rec.sessions.length;
    const tail = await LayerTail.open(explainer, layer, act.dims);
    try {
      assert.ok(rec.sessions[before].bytes < modelBytes / 10, `the tail was given ${rec.sessions[before].bytes} bytes`);
      const two = new Float32Array(act.data.length * 2);
      two.set(act.data);
      two.set(act.data, act.data.length);
      const rows = await tail.scores(two, 2, act.dims, input, [243, 281], 'logit');
      for (const r of rows) {
        assert.ok(Math.abs(r[0] - fwd.logits[243]) <= 1e-3 * Math.abs(fwd.logits[243]) + 1e-3, `${r[0]} vs ${fwd.logits[243]}`);
        assert.ok(Math.abs(r[1] - fwd.logits[281]) <= 1e-3 * Math.abs(fwd.logits[281]) + 1e-3, `${r[1]} vs ${fwd.logits[281]}`);
      }
    } finally {
      await tail.release();
    }
    assert.ok(rec.sessions[before].released);
  });

  it('releases every session on dispose', async () => {
    await explainer.dispose();
    assert.deepEqual(rec.sessions.filter((s) => !s.released), []);
    // A disposed explainer's forward session is gone; a new request opens a fresh one.
    const r = await explainer.forward(input);
    assert.equal(r.logits.length, 1000);
    await explainer.dispose();
    assert.deepEqual(rec.sessions.filter((s) => !s.released), []);
  });
});
