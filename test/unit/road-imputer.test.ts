/**
 * ROAD's imputations off the main thread (src/node/thread-imputer.ts) and started before the other metrics' passes
 * (registry.ts measureAll): the worker thread gives the inline values bit for bit on a real model and photo (from
 * source and as the CLI's bundle), a thread that cannot start, fails or dies leaves the job inline with the same
 * values, and measureAll asks for the imputations before the first pass and runs passes while they are pending.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { Explainer } from '../../src/core/explainer';
import { MetricId, measureAll } from '../../src/core/metrics/registry';
import { ImputeJob, RoadImputer, inlineImputer, roadInputs, setRoadImputer } from '../../src/core/metrics/road';
import type { Float32Tensor } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { ThreadImputer } from '../../src/node/thread-imputer';
import type { LoadedModel } from '../../src/node/workbench';
import { ROOT } from '../support/paths';
import { assertSameTensors, pelicanRoadJob } from '../support/road-job';

const runtime = webRuntime();

describe('ROAD imputations on a worker thread and overlapped with the passes', function () {
  this.timeout(300000);
  let model: LoadedModel;
  let x: Float32Tensor;
  let map01: Float32Array;
  let cls: number;
  let job: ImputeJob;
  let inline: Float32Tensor[];
  const threads: ThreadImputer[] = [];

  before(async () => {
    ({ model, x, map01, cls, job, inline } = await pelicanRoadJob(runtime));
  });
  after(async () => {
    setRoadImputer(undefined);
    for (const t of threads) await t.dispose();
    await model.explainer.dispose();
  });
  const thread = (script?: ConstructorParameters<typeof ThreadImputer>[0]) => {
    const t = new ThreadImputer(script);
    threads.push(t);
    return t;
  };

  it('the thread (from source) imputes the same values as inline, bit for bit, and ROAD gives the same numbers through it', async () => {
    assert.equal(inline.length, 6);
    assert.ok(inline.every((t) => t.data.some((v, j) => v !== x.data[j])), 'every mask changes the input');
    const t = thread();
    assertSameTensors(await t.impute(job), inline, 'thread vs inline');
    assertSameTensors(await t.impute(job), inline, 'second job on the same thread');
    assert.deepEqual(t.counts, { thread: 2, inline: 0 });
    assert.equal(t.unavailable, undefined);

    const before = await model.explainer.forward(x);
    const ids: MetricId[] = ['deletion', 'insertion', 'road', 'confidence'];
    const c = { explainer: model.explainer, input: x, map01, classIndex: cls, before };
    setRoadImputer(undefined);
    const here = await measureAll(ids, c);
    setRoadImputer(t);
    try {
      const there = await measureAll(ids, c);
      assert.deepEqual(there, here);
      assert.equal(t.counts.thread, 3, 'measureAll used the thread');
      // road() alone (no measureAll) uses the imputer that was set too.
      assertSameTensors(await roadInputs(x, map01, job.layout), inline, 'roadInputs through the set imputer');
      assert.equal(t.counts.thread, 4);
    } finally {
      setRoadImputer(undefined);
    }
    console.log(`      ROAD combined ${here.road!.combined.toFixed(4)} (MoRF ${here.road!.morf.map((v) => v.toFixed(4)).join(', ')}) the same on the thread`);
  });

  it("the CLI's bundled thread (dist/impute-thread.js, built beside dist/cli.js) imputes the same values", async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
    const t = thread({ file: path.join(ROOT, 'dist', 'impute-thread.js') });
    assertSameTensors(await t.impute(job), inline, 'bundled thread vs inline');
    assert.deepEqual(t.counts, { thread: 1, inline: 0 });
  });

  it('a thread that cannot start leaves every job inline, with the same values', async () => {
    const t = thread({ file: path.join(ROOT, 'dist', 'no-such-impute-thread.js') });
    assertSameTensors(await t.impute(job), inline, 'missing script');
    assertSameTensors(await t.impute(job), inline, 'missing script, second job');
    assert.deepEqual(t.counts, { thread: 0, inline: 2 });
    assert.match(t.unavailable ?? '', /no-such-impute-thread|Cannot find module/);
  });

  it('a thread that dies mid-job, or answers with an error, has the job computed inline', async () => {
    const dies = thread({ file: "require('node:worker_threads').parentPort.on('message', () => process.exit(3));", eval: true });
    assertSameTensors(await dies.impute(job), inline, 'thread exited');
    assert.deepEqual(dies.counts, { thread: 0, inline: 1 });
    assert.match(dies.unavailable ?? '', /exited with code 3/);

    const fails = thread({ file: "const p = require('node:worker_threads').parentPort; p.on('message', (m) => p.postMessage({ id: m.id, error: 'out of memory' }));", eval: true });
    assertSameTensors(await fails.impute(job), inline, 'thread failed');
    assertSameTensors(await fails.impute(job), inline, 'thread failed again');
    assert.deepEqual(fails.counts, { thread: 0, inline: 2 });
    assert.equal(fails.unavailable, undefined, 'a thread that answers is kept');

    // Disposed while its first job is pending: that job is computed inline, and the next starts a thread again.
    const restarted = thread();
    const pending = restarted.impute(job);
    await restarted.dispose();
    assertSameTensors(await pending, inline, 'disposed mid-job');
    assertSameTensors(await restarted.impute(job), inline, 'after dispose');
    assert.deepEqual(restarted.counts, { thread: 1, inline: 1 });

    // A bad job (every pixel removed) fails on the thread and inline alike: the caller gets ROAD's own error.
    const t = thread();
    await assert.rejects(t.impute({ ...job, masks: [new Uint8Array(x.data.length / 3).fill(1)] }), /ROAD would remove every pixel/);
  });

  it('measureAll asks for the imputations before the first pass and runs passes while they are pending', async () => {
    const before = await model.explainer.forward(x);
    const events: string[] = [];
    let firstPass!: () => void;
    const passStarted = new Promise<void>((resolve) => (firstPass = resolve));
    // An imputer that answers only once a pass has run: were the imputations awaited before the other metrics' passes, this would never resolve.
    const gated: RoadImputer = {
      async impute(j) {
        events.push('impute');
        await passStarted;
        events.push('imputed');
        return inlineImputer.impute(j);
      },
    };
    const ex = model.explainer;
    const counting = Object.create(ex, {
      forwardBatch: { value: (xs: readonly Float32Tensor[]) => {
        events.push(`pass ×${xs.length}`);
        firstPass();
        return ex.forwardBatch(xs);
      } },
    }) as Explainer;
    setRoadImputer(gated);
    let m;
    try {
      m = await measureAll(['deletion', 'insertion', 'road', 'confidence'], { explainer: counting, input: x, map01, classIndex: cls, before });
    } finally {
      setRoadImputer(undefined);
    }
    assert.equal(events[0], 'impute', events.join(', '));
    assert.equal(events[1], 'pass ×16', events.join(', '));
    assert.ok(events.indexOf('imputed') > 1, events.join(', '));
    // ROAD's own 6 passes come after the imputations, in one batch.
    assert.equal(events.at(-2), 'pass ×6', events.join(', '));
    assert.equal(m.road!.morf.length, 3);
    console.log(`      ${events.join(', ')}`);
  });
});
