/**
 * Input gradients at several inputs stacked along the batch axis in one backward run (Explainer.gradientsStacked,
 * what Integrated Gradients' batched steps use) equal the same gradients run one input at a time, on the reference
 * families (MaxPool with overlapping windows and ceil_mode, dense concatenations, channel shuffles, squeeze-excite
 * gates, LayerNorm), in the plain and guided modes, for logit and softmax seeds; a model with a fixed batch axis
 * falls back to one run per input. Integrated Gradients with its steps batched equals its steps one by one for
 * every score target, and so do SmoothGrad, SmoothGrad² and VarGrad with their noisy copies batched (same seeded noise).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { explainImage } from '../../src/core/app/explain-image';
import { Explainer, GradientResult } from '../../src/core/explainer';
import type { RectifierMode } from '../../src/core/grad/rule';
import { decodeNpy } from '../../src/core/npy';
import { decodeModel, encodeModel } from '../../src/core/onnx/model';
import { float32, Float32Tensor } from '../../src/core/tensor';
import type { Runtime } from '../../src/core/runtime';
import { webRuntime } from '../../src/node/ort-runtime';
import { loadInput, loadModel } from '../../src/node/workbench';
import { ROOT } from '../support/paths';

const REF = path.join(ROOT, 'test', 'fixtures', 'ref');
const npyTensor = (p: string) => {
  const a = decodeNpy(new Uint8Array(fs.readFileSync(p)));
  return float32(a.data, a.shape);
};

/** max |a − b| / max |b|. */
function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  assert.ok(m > 0, 'the reference gradient is all zero');
  return d / m;
}

/** Three different inputs: the family's input scaled and shifted, so every row's activations differ. */
function inputs(x: Float32Tensor): Float32Tensor[] {
  return [1, 0.6, -0.4].map((a, i) => float32(x.data.map((v, j) => a * v + 0.05 * i * Math.sin(j)), x.dims));
}

/**
 * The model with its batch axis made free: input and outputs get a named dim 0 and the inner shapes are dropped
 * (the families were exported with a fixed batch of 1; their graphs reshape by -1 or Flatten, not to a fixed 1).
 */
function freeBatch(file: string): Uint8Array {
  const m = decodeModel(new Uint8Array(fs.readFileSync(file)), file);
  const g = m.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  for (const v of [...(g.input ?? []).filter((i) => !inits.has(i.name)), ...(g.output ?? [])]) {
    const d = v.type?.tensorType?.shape?.dim?.[0];
    if (d) {
      d.dimValue = undefined as unknown as number;
      d.dimParam = 'N';
      delete (d as { value?: unknown }).value;
    }
  }
  g.valueInfo = [];
  return encodeModel(m);
}

/** onnxruntime-web, counting the runs of every session it creates. */
function countingRuntime(): { runtime: Runtime; runs: () => number } {
  const base = webRuntime();
  let runs = 0;
  return {
    runs: () => runs,
    runtime: {
      ...base,
      async createSession(bytes, options) {
        const s = await base.createSession(bytes, options);
        return { ...s, inputNames: s.inputNames, outputNames: s.outputNames, run: (f, o) => (runs++, s.run(f, o)), release: () => s.release() };
      },
    },
  };
}

async function compare(explainer: Explainer, xs: Float32Tensor[], mode: RectifierMode, score: 'logit' | 'softmax', classes: number[], runs: () => number, expectRuns: readonly number[]): Promise<number> {
  const req = { targets: [explainer.input.name], score, mode, method: 'test', classes };
  await explainer.gradients(xs[0], req); // builds the backward session outside the count
  const before = runs();
  const stacked = await explainer.gradientsStacked(xs, req);
  assert.ok(expectRuns.includes(runs() - before), `${runs() - before} backward runs, expected ${expectRuns.join(' or ')}`);
  assert.equal(stacked.length, xs.length);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) {
    const one: GradientResult = await explainer.gradients(xs[i], req);
    assert.deepEqual(stacked[i].classes, one.classes);
    const g = stacked[i].grads[explainer.input.name];
    const r = one.grads[explainer.input.name];
    assert.deepEqual(g.dims, r.dims);
    worst = Math.max(worst, relErr(g.data, r.data), relErr(stacked[i].forward.logits, one.forward.logits));
  }
  return worst;
}

describe('input gradients stacked along the batch axis', function () {
  // se_net's squeeze-excite reshapes to a fixed [1, C, 1, 1]: it cannot run a batch, so the stacked run fails once
  // and every later call runs one input per run.
  for (const family of ['resnet', 'inception', 'densenet', 'shufflenet', 'se_net', 'convnext', 'mobilenetv3']) {
    const expectRuns = family === 'se_net' ? [4, 3] : [1];
    it(`${family}: ${family === 'se_net' ? 'falls back to' : 'equal to'} one input per run (plain and guided, logit and softmax)`, async () => {
      const file = [17, 13].map((o) => path.join(REF, `${family}_op${o}.onnx`)).find((f) => fs.existsSync(f))!;
      const rt = countingRuntime();
      const e = await Explainer.load(rt.runtime, freeBatch(file), family);
      assert.equal(typeof e.input.declared[0], 'string');
      try {
        const xs = inputs(npyTensor(path.join(REF, family, 'input.npy')));
        const n = await e.numClasses();
        const classes = [0, n - 1];
        for (const mode of ['plain', 'guided'] as const) {
          for (const score of ['logit', 'softmax'] as const) {
            const err = await compare(e, xs, mode, score, classes, rt.runs, expectRuns);
            assert.ok(err < 1e-5, `${family} ${mode} ${score}: max relative difference ${err}`);
          }
        }
      } finally {
        await e.dispose();
      }
    });
  }

  it('a model with a fixed batch axis (mnist-8) runs one input per run, with the same result', async () => {
    const file = path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx');
    const rt = countingRuntime();
    const e = await Explainer.load(rt.runtime, new Uint8Array(fs.readFileSync(file)), 'mnist');
    try {
      assert.equal(typeof e.input.declared[0], 'number');
      const x = float32(Float32Array.from({ length: 28 * 28 }, (_, j) => Math.sin(j / 7) * 100 + 50), [1, 1, 28, 28]);
      assert.equal(await compare(e, inputs(x), 'plain', 'logit', [3, 7], rt.runs, [3]), 0);
    } finally {
      await e.dispose();
    }
  });
});

type Loaded = Awaited<ReturnType<typeof loadModel>>;
type Explained = Awaited<ReturnType<typeof explainImage>>;

/**
 * The ResNet-style reference with a free batch axis, on a run-counting runtime: `fn` gets the model, its input, the
 * run counter and the least likely class (a contrast target's B).
 */
async function onFreeBatchResnet(tag: string, fn: (m: Loaded, input: Awaited<ReturnType<typeof loadInput>>, runs: () => number, least: number) => Promise<void>) {
  const file = path.join(os.tmpdir(), `lc-stacked-${tag}-${process.pid}.onnx`);
  fs.writeFileSync(file, freeBatch(path.join(REF, 'resnet_op17.onnx')));
  const rt = countingRuntime();
  const model = await loadModel(rt.runtime, file);
  fs.rmSync(file);
  try {
    const input = await loadInput(model, path.join(REF, 'resnet', 'input.npy'));
    const probs = (await model.explainer.forward(input.tensor)).probs;
    await fn(model, input, rt.runs, probs.indexOf(Math.min(...probs)));
  } finally {
    await model.dispose();
  }
}

/**
 * Batches of 3 and 8 give the classes and maps of batch 1 (max relative difference < 1e-5) in `saved(batch)` fewer
 * runs; `explain(batch)` runs the method once with that batch size.
 */
async function assertBatchedEqual(label: string, runs: () => number, explain: (batch: number) => Promise<Explained>, saved: (batch: number) => number) {
  const counted = async (batch: number) => {
    const before = runs();
    const r = await explain(batch);
    return { r, runs: runs() - before };
  };
  const { r: one, runs: oneRuns } = await counted(1);
  for (const batch of [3, 8]) {
    const { r, runs: n } = await counted(batch);
    assert.equal(oneRuns - n, saved(batch), `${label}, batch ${batch}: runs`);
    assert.deepEqual(r.outputs.map((o) => o.explanation.classIndex), one.outputs.map((o) => o.explanation.classIndex));
    r.outputs.forEach((o, i) => {
      const err = relErr(o.explanation.raw.data, one.outputs[i].explanation.raw.data);
      assert.ok(err < 1e-5, `${label}, batch ${batch}, class ${o.explanation.classIndex}: max relative difference ${err}`);
    });
  }
}

describe('Integrated Gradients: batched steps equal steps one by one', function () {
  it('on the ResNet-style reference, for logit, softmax, sigmoid and contrast targets', async () => {
    await onFreeBatchResnet('ig', async (model, input, runs, least) => {
      for (const target of ['logit', 'softmax', 'sigmoid', `contrast:${least}`] as const) {
        const explain = (batch: number) => explainImage(model, input, { method: 'integrated-gradients', top: 2, target, options: { steps: 7, baseline: 'noise', 'batch-size': batch } });
        if (target === 'logit') await explain(1); // builds the sessions outside the count
        // Steps 1–6 in ⌈6/batch⌉ runs instead of 6.
        await assertBatchedEqual(target, runs, explain, (batch) => 6 - Math.ceil(6 / batch));
      }
    });
  });
});

describe('SmoothGrad, SmoothGrad² and VarGrad: batched noisy copies equal copies one by one', function () {
  it('on the ResNet-style reference, same seeded noise, for each inner attribution and score target', async () => {
    await onFreeBatchResnet('tunnel', async (model, input, runs, least) => {
      const cases: [string, string, string][] = [
        ['smoothgrad', 'saliency', 'logit'], ['smoothgrad', 'guided-backprop', 'softmax'], ['smoothgrad-squared', 'input-x-gradient', 'sigmoid'],
        ['vargrad', 'saliency', `contrast:${least}`], ['vargrad', 'guided-backprop', 'logit'], ['smoothgrad', 'deconvnet', 'logit'],
      ];
      for (const [method, inner, target] of cases) {
        const explain = (batch: number) => explainImage(model, input, { method, top: 2, target: target as 'logit', options: { samples: 5, noise: 0.2, seed: 7, inner, 'batch-size': batch } });
        await explain(3); // builds the sessions outside the count
        // Copies 2–5 in ⌈4/batch⌉ runs instead of 4.
        await assertBatchedEqual(`${method} (${inner}, ${target})`, runs, explain, (batch) => 4 - Math.ceil(4 / batch));
      }
    });
  });
});
