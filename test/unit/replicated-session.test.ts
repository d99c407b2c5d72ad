/**
 * The forward session replicated on a second runtime (the panel's replica worker, src/core/replicated-session.ts),
 * modelled in Node by two onnxruntime-web runtimes: the metrics issue their batches concurrently through it and
 * give bit for bit the numbers of the sequential path on one runtime (bundled SqueezeNet, a real photo); results
 * come back in order; a replica that cannot start, or fails a run, leaves the runs to the first runtime.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { explainImage, measureFaithfulness } from '../../src/core/app/explain-image';
import { METRIC_CHUNK, classProbs } from '../../src/core/metrics/perturb';
import { replicatedSession, withReplica } from '../../src/core/replicated-session';
import type { Runtime, Session } from '../../src/core/runtime';
import { Float32Tensor, Tensor, float32, float32ToHalf } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { SAMPLES, SQUEEZENET } from '../support/paths';

const CAP = 64 * 2 ** 20;

/** `rt` with a count of the runs its sessions ran. */
function counted(rt: Runtime): { runtime: Runtime; runs: () => number } {
  let runs = 0;
  return {
    runs: () => runs,
    runtime: {
      backend: rt.backend,
      sharedWeights: rt.sharedWeights,
      async createSession(model, options) {
        const s = await rt.createSession(model, options);
        return { inputNames: s.inputNames, outputNames: s.outputNames, run: (f, x) => ((runs++), s.run(f, x)), release: () => s.release() };
      },
    },
  };
}

/** Copies of the input faded towards 0 by a different step each (distinct inputs, distinct probabilities). */
function variants(x: Float32Tensor, n: number): Float32Tensor[] {
  return Array.from({ length: n }, (_, i) => float32(x.data.map((v) => v * (1 - (0.9 * i) / n)), x.dims));
}

describe('the forward session replicated on a second runtime (SqueezeNet, a real photo)', function () {
  this.timeout(600000);
  let plain: LoadedModel;
  let input: LoadedInput;
  let plainInput: LoadedInput;
  before(async () => {
    plain = await loadModel(webRuntime(1), SQUEEZENET);
    plainInput = await loadInput(plain, path.join(SAMPLES, 'wm_pelican.jpg'));
  });
  after(() => plain.dispose());

  describe('with a replica that starts', () => {
    let model: LoadedModel;
    const fallbacks: string[] = [];
    const main = counted(webRuntime(1));
    const replica = counted(webRuntime(1));
    let started = 0;
    before(async () => {
      const rt = withReplica(main.runtime, async () => ((started++), replica.runtime), { maxBytes: CAP, onFallback: (why) => fallbacks.push(why) });
      model = await loadModel(rt, SQUEEZENET);
      input = await loadInput(model, path.join(SAMPLES, 'wm_pelican.jpg'));
    });
    after(() => model.dispose());

    it('says two runs may be in flight, and starts the replica only when a run waits for the first copy', async () => {
      assert.equal(await model.explainer.parallelRuns(), 2);
      assert.equal(await plain.explainer.parallelRuns(), 1, 'a runtime without a replica: one run at a time, as before');
      await model.explainer.forward(input.tensor);
      assert.equal(started, 0, 'one run at a time never starts the replica');
    });

    it("gives Grad-CAM's deletion and insertion curves, ROAD and confidence bit for bit as the sequential path on one runtime, with the replica running passes", async () => {
      const ids = ['deletion', 'insertion', 'road', 'confidence'] as const;
      const o = await explainImage(model, input, { method: 'gradcam', top: 1 });
      const ref = await explainImage(plain, plainInput, { method: 'gradcam', top: 1 });
      assert.deepEqual(o.outputs[0].explanation.raw.data, ref.outputs[0].explanation.raw.data, 'the same map to measure');
      const before = replica.runs();
      const got = await measureFaithfulness(model, input, o.outputs[0].explanation, o.forward, { ids: [...ids] });
      const want = await measureFaithfulness(plain, plainInput, ref.outputs[0].explanation, ref.forward, { ids: [...ids] });
      assert.ok(replica.runs() > before, `the replica ran ${replica.runs() - before} of the metrics' batches`);
      assert.equal(started, 1);
      assert.deepEqual(fallbacks, []);
      // deepStrictEqual compares numbers with Object.is: every probability and area is the same double.
      assert.deepStrictEqual(got, want);
      assert.equal(got.deletion!.probs.length, 17);
      assert.ok(got.deletion!.auc < got.insertion!.auc, `Grad-CAM's map on the pelican: deletion AUC ${got.deletion!.auc} below insertion AUC ${got.insertion!.auc}`);
    });

    it(`keeps the inputs' order across ${METRIC_CHUNK}-input chunks run on both copies`, async () => {
      const xs = variants(input.tensor, 3 * METRIC_CHUNK + 5);
      const k = (await model.explainer.forward(input.tensor)).probs.reduce((b, p, i, a) => (p > a[b] ? i : b), 0);
      const runs = [main.runs(), replica.runs()];
      const got = await classProbs(model.explainer, xs, k);
      const want = await classProbs(plain.explainer, xs, k);
      assert.ok(main.runs() > runs[0] && replica.runs() > runs[1], 'both copies ran chunks');
      assert.deepStrictEqual(got, want);
      assert.equal(new Set(got).size, got.length, 'distinct inputs, distinct probabilities: a swapped pair would show');
      assert.ok(got[0] > got[got.length - 1], `the photo ${got[0]} scores its class above its faded copy ${got[got.length - 1]}`);
    });
  });

  it('keeps the order when the first chunk comes back last', async () => {
    const xs = variants(plainInput.tensor, 3 * METRIC_CHUNK);
    const want = await classProbs(plain.explainer, xs, 0);
    let calls = 0;
    // Two lanes; the first chunk's answer is held until the others are back.
    const others: Promise<unknown>[] = [];
    const slowFirst = Object.create(plain.explainer, {
      parallelRuns: { value: async () => 2 },
      forwardBatch: {
        value: async (chunk: readonly Float32Tensor[]) => {
          const first = calls++ === 0;
          const r = plain.explainer.forwardBatch(chunk);
          if (!first) others.push(r);
          else while (others.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
          if (first) await Promise.all(others);
          return r;
        },
      },
    }) as typeof plain.explainer;
    const got = await classProbs(slowFirst, xs, 0);
    assert.equal(calls, 3);
    assert.deepStrictEqual(got, want);
  });

  it('falls back to the first runtime, with the same numbers, when the replica cannot start', async () => {
    const fallbacks: string[] = [];
    const main = counted(webRuntime(1));
    const rt = withReplica(main.runtime, () => Promise.reject(new Error('no second worker here')), { maxBytes: CAP, onFallback: (why) => fallbacks.push(why) });
    const model = await loadModel(rt, SQUEEZENET);
    try {
      const o = await explainImage(model, plainInput, { method: 'gradcam', top: 1 });
      const ref = await explainImage(plain, plainInput, { method: 'gradcam', top: 1 });
      const got = await measureFaithfulness(model, plainInput, o.outputs[0].explanation, o.forward, { ids: ['deletion', 'insertion', 'confidence'] });
      const want = await measureFaithfulness(plain, plainInput, ref.outputs[0].explanation, ref.forward, { ids: ['deletion', 'insertion', 'confidence'] });
      assert.deepStrictEqual(got, want);
      assert.equal(fallbacks.length, 1, fallbacks.join('; '));
      assert.match(fallbacks[0], /could not start \(no second worker here\)/);
      assert.equal(await model.explainer.parallelRuns(), 1, 'after the failure the runs go one after another');
    } finally {
      await model.dispose();
    }
  });

  it('replicates no model above the size cap', async () => {
    let asked = 0;
    const rt = withReplica(webRuntime(1), async () => ((asked++), webRuntime(1)), { maxBytes: 1024 });
    const model = await loadModel(rt, SQUEEZENET);
    try {
      assert.equal(await model.explainer.parallelRuns(), 1);
      await classProbs(model.explainer, variants(plainInput.tensor, 2 * METRIC_CHUNK), 0);
      assert.equal(asked, 0);
    } finally {
      await model.dispose();
    }
  });

  it('answers each run with its own result when the replica finishes before the first copy', async () => {
    const order: string[] = [];
    let releaseMain: () => void = () => undefined;
    const mainGate = new Promise<void>((resolve) => (releaseMain = resolve));
    const echo = (name: string, gate?: Promise<void>): Session => ({
      inputNames: ['x'], outputNames: ['y'], release: async () => undefined,
      run: async (feeds) => {
        await gate;
        order.push(`${name} ${(feeds.x.data as Float32Array)[0]}`);
        return { y: feeds.x };
      },
    });
    const s = replicatedSession(echo('main', mainGate), async () => echo('replica'));
    const x = (v: number): Tensor => ({ type: 'float32', dims: [1], data: Float32Array.of(v) });
    const runs = [1, 2, 3].map((v) => s.run({ x: x(v) }));
    await runs[2];
    releaseMain();
    const got = await Promise.all(runs);
    assert.deepEqual(got.map((o) => (o.y.data as Float32Array)[0]), [1, 2, 3]);
    assert.deepEqual(order, ['replica 2', 'replica 3', 'main 1'], 'the replica ran the second and third runs while the first copy held the first');
  });

  it('runs a batch the replica failed on the first copy, says why once, and answers every run with its own result', async () => {
    const rt = webRuntime(1);
    const plainSession = await rt.createSession(new Uint8Array(fs.readFileSync(SQUEEZENET)));
    const inputName = plainSession.inputNames[0];
    const out = plainSession.outputNames[0];
    const feeds = variants(plainInput.tensor, 6).map((x) => ({ [inputName]: { type: 'float16' as const, dims: x.dims, data: float32ToHalf(x.data) } }));
    const want: Record<string, Tensor>[] = [];
    for (const f of feeds) want.push(await plainSession.run(f, [out]));
    const fallbacks: string[] = [];
    let replicaRuns = 0;
    const broken: Session = { inputNames: plainSession.inputNames, outputNames: plainSession.outputNames, run: async () => ((replicaRuns++), Promise.reject(new Error('memory access out of bounds'))), release: async () => undefined };
    const main = await rt.createSession(new Uint8Array(fs.readFileSync(SQUEEZENET)));
    const s = replicatedSession(main, async () => broken, (why) => fallbacks.push(why));
    assert.equal(s.parallelRuns, 2);
    const got = await Promise.all(feeds.map((f) => s.run(f, [out])));
    assert.equal(replicaRuns, 1, 'the replica was tried once');
    assert.deepEqual(fallbacks, ['a run on it failed (memory access out of bounds)']);
    assert.equal(s.parallelRuns, 1);
    got.forEach((g, i) => assert.deepStrictEqual(g[out].data, want[i][out].data, `run ${i}`));
    await s.release();
    await plainSession.release();
  });
});

