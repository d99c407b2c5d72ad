/**
 * The panel's ROAD imputations on a Web Worker (webview/impute-client.ts over webview/impute-worker.ts): the page's
 * client, started as the page starts it (the bundle fetched, run from a blob: URL), gives inlineImputer's values bit
 * for bit on a real model's map of a real photo, one id per job (jobs in flight together each get their own), and
 * leaves the job's input intact; a worker that cannot start, errors or is ended mid-job has its jobs computed
 * inline with the same values, and one that cannot start puts ROAD back inline. A Web Worker cannot run in Node:
 * the bundled worker (dist/webview/impute-worker.js) runs here on a node:worker_threads thread whose `self` is its
 * parent port (a MessagePort, an EventTarget as in a browser).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveObjectURL } from 'node:buffer';
import { Worker } from 'node:worker_threads';
import { MetricId, measureAll } from '../../src/core/metrics/registry';
import { RemoteImputer } from '../../src/core/metrics/remote-imputer';
import { inlineImputer, roadImputesElsewhere, roadMasks, setRoadImputer } from '../../src/core/metrics/road';
import { webRuntime } from '../../src/node/ort-runtime';
import { IMPUTE_WORKER, WorkerLike, bundledWorker, useWorkerImputer, workerChannel } from '../../webview/impute-client';
import { ROOT } from '../support/paths';
import { RoadJobFixture, assertSameTensors, pelicanRoadJob } from '../support/road-job';

const runtime = webRuntime();
const BUNDLES = path.join(ROOT, 'dist', 'webview');

/** A browser-like worker running `code` on a node:worker_threads thread whose `self` is its parent port; every thread is recorded to be ended. */
const threads: Worker[] = [];
function nodeWorker(code: string): WorkerLike {
  const w = new Worker(`globalThis.self = require('node:worker_threads').parentPort;\n${code}`, { eval: true });
  threads.push(w);
  const on = (type: string, listener: (e: { data?: unknown; message?: string }) => void) => {
    if (type === 'message') w.on('message', (data) => listener({ data }));
    // A browser reports an uncaught error in a worker as an 'error' event; a thread that exits is the nearest to a crashed one.
    else if (type === 'error') {
      w.on('error', (e) => listener({ message: e.message }));
      w.on('exit', (code) => listener({ message: `exited with code ${code}` }));
    } else w.on('messageerror', () => listener({}));
  };
  return {
    postMessage: (m, transfer) => w.postMessage(m, transfer as ArrayBuffer[]),
    addEventListener: on as WorkerLike['addEventListener'],
    terminate: () => void w.terminate(),
  };
}

/**
 * The page's globals as bundledWorker uses them, in Node: `fetch` answers from dist/webview/, and `Worker` runs the
 * blob: URL's script (read back through Node's Blob registry) on a thread; what the page asked for is recorded.
 */
function withPageGlobals<T>(run: (asked: { fetched: string[]; workers: { url: string; options: unknown }[] }) => Promise<T>): Promise<T> {
  const g = globalThis as unknown as { fetch: typeof fetch; Worker?: unknown };
  const saved = { fetch: g.fetch, Worker: g.Worker };
  const asked = { fetched: [] as string[], workers: [] as { url: string; options: unknown }[] };
  g.fetch = (async (url: string) => {
    asked.fetched.push(url);
    const file = url.startsWith('bundles/') && path.join(BUNDLES, url.slice('bundles/'.length));
    return file && fs.existsSync(file) ? new Response(fs.readFileSync(file, 'utf8')) : new Response('not found', { status: 404 });
  }) as typeof fetch;
  g.Worker = class {
    private readonly started: Promise<WorkerLike>;
    constructor(url: string, options: unknown) {
      asked.workers.push({ url, options });
      const blob = resolveObjectURL(url);
      if (!blob) throw new Error(`no blob behind ${url}`);
      this.started = blob.text().then(nodeWorker);
    }
    postMessage(m: unknown, t: ArrayBuffer[]) {
      void this.started.then((w) => w.postMessage(m, t));
    }
    addEventListener(type: 'message', l: (e: { readonly data: unknown }) => void) {
      void this.started.then((w) => w.addEventListener(type, l));
    }
    terminate() {
      void this.started.then((w) => w.terminate());
    }
  };
  return run(asked).finally(() => {
    g.fetch = saved.fetch;
    g.Worker = saved.Worker;
  });
}

describe("the panel's ROAD imputations on a Web Worker", function () {
  this.timeout(300000);
  let f: RoadJobFixture;
  let bundle: string;
  const imputers: RemoteImputer[] = [];
  const track = (i: RemoteImputer) => (imputers.push(i), i);

  before(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'webview'], { cwd: ROOT });
    bundle = fs.readFileSync(path.join(BUNDLES, IMPUTE_WORKER), 'utf8');
    f = await pelicanRoadJob(runtime);
  });
  after(async () => {
    setRoadImputer(undefined);
    for (const i of imputers) await i.dispose();
    for (const t of threads) await t.terminate();
    await f.model.explainer.dispose();
  });

  it('the bundled worker, started as the page starts it, imputes the same values as inline, bit for bit, and ROAD gives the same numbers', async () => {
    const { model, x, map01, cls, job, inline } = f;
    assert.equal(inline.length, 6);
    assert.ok(inline.every((t) => t.data.some((v, j) => v !== x.data[j])), 'every mask changes the input');
    assert.match(fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8'), /^!dist\/webview\/impute-worker\.js$/m, 'the .vsix ships the worker');
    await withPageGlobals(async (asked) => {
      const before = await model.explainer.forward(x);
      const ids: MetricId[] = ['deletion', 'insertion', 'road', 'confidence'];
      const c = { explainer: model.explainer, input: x, map01, classIndex: cls, before };
      setRoadImputer(undefined);
      const here = await measureAll(ids, c);
      const copy = Float32Array.from(x.data);
      const t = track(useWorkerImputer(bundledWorker('bundles/')));
      try {
        assert.ok(roadImputesElsewhere(), 'the page set the worker as ROAD imputer');
        assertSameTensors(await t.impute(job), inline, 'worker vs inline');
        assert.deepEqual(x.data, copy, "the job's input is copied to the worker, not moved: the other metrics still read it");
        assertSameTensors(await t.impute(job), inline, 'second job on the same worker');
        const there = await measureAll(ids, c);
        assert.deepEqual(there, here);
        assert.deepEqual(t.counts, { thread: 3, inline: 0 });
        assert.equal(t.unavailable, undefined);
      } finally {
        setRoadImputer(undefined);
      }
      assert.deepEqual(asked.fetched, [`bundles/${IMPUTE_WORKER}`], 'the bundle is fetched once');
      assert.equal(asked.workers.length, 1, 'one worker for every job');
      assert.match(asked.workers[0].url, /^blob:/);
      assert.deepEqual(asked.workers[0].options, { type: 'module', name: 'look-closer-impute' });
      console.log(`      ROAD combined ${here.road!.combined.toFixed(4)} (MoRF ${here.road!.morf.map((v) => v.toFixed(4)).join(', ')}) the same on the worker`);
    });
  });

  it('jobs in flight together each get their own answer (one id per job), and one abandoned mid-way neither blocks nor leaks', async () => {
    const { map01, job, inline } = f;
    const other = { ...job, masks: roadMasks(map01, [10, 90]), seed: 7 };
    const otherInline = await inlineImputer.impute(other);
    const t = track(new RemoteImputer(workerChannel(async () => nodeWorker(bundle))));
    // The first is abandoned as the panel moves on (its result never awaited); the two after it are answered as theirs.
    const abandoned = t.impute(other);
    const [a, b] = await Promise.all([t.impute(job), t.impute(other)]);
    assertSameTensors(a, inline, 'first of two in flight');
    assertSameTensors(b, otherInline, 'second of two in flight');
    assertSameTensors(await abandoned, otherInline, 'the abandoned job still resolves');
    assert.deepEqual(t.counts, { thread: 3, inline: 0 });
  });

  it('a worker that cannot start leaves every job inline, with the same values, and puts ROAD back inline', async () => {
    const { job, inline } = f;
    await withPageGlobals(async (asked) => {
      const t = track(useWorkerImputer(bundledWorker('missing/')));
      try {
        assertSameTensors(await t.impute(job), inline, 'no bundle');
        assertSameTensors(await t.impute(job), inline, 'no bundle, second job');
        assert.deepEqual(t.counts, { thread: 0, inline: 2 });
        assert.match(t.unavailable ?? '', /could not start: missing\/impute-worker\.js: HTTP 404/);
        assert.equal(roadImputesElsewhere(), false, 'ROAD imputes inline again, at its own turn');
        assert.equal(asked.fetched.length, 1, 'not fetched again after it failed');
      } finally {
        setRoadImputer(undefined);
      }
    });
    const refused = track(new RemoteImputer(workerChannel(() => Promise.reject(new Error("Refused to create a worker: Content Security Policy")))));
    assertSameTensors(await refused.impute(job), inline, 'worker refused');
    assert.match(refused.unavailable ?? '', /Content Security Policy/);
  });

  it('a worker that errors mid-job, answers with an error, or is ended mid-job has the job computed inline', async () => {
    const { x, job, inline } = f;
    // Throws on its first job, before answering any: it cannot be used, the job goes inline.
    let unavailable = '';
    const throws = track(new RemoteImputer(workerChannel(async () => nodeWorker("self.addEventListener('message', () => { throw new Error('out of memory'); });")), (why) => (unavailable = why)));
    assertSameTensors(await throws.impute(job), inline, 'worker threw');
    assert.deepEqual(throws.counts, { thread: 0, inline: 1 });
    assert.match(unavailable, /imputation worker failed: out of memory/);

    // Answers its first job with an error, then throws: both inline; it answered once, so the next job starts a new worker.
    let started = 0;
    const flaky = track(new RemoteImputer(workerChannel(async () => (started++, nodeWorker(`let n = 0;
      self.addEventListener('message', (e) => { if (n++ === 0) self.postMessage({ id: e.data.id, error: 'out of memory' }); else throw new Error('crashed'); });`)))));
    assertSameTensors(await flaky.impute(job), inline, 'worker answered an error');
    assertSameTensors(await flaky.impute(job), inline, 'worker crashed after answering');
    assert.equal(flaky.unavailable, undefined, 'a worker that answered is started again');
    assertSameTensors(await flaky.impute(job), inline, 'third job');
    assert.equal(started, 2);
    assert.deepEqual(flaky.counts, { thread: 0, inline: 3 });

    // Ended (the page goes) while its first job is pending: that job is computed inline, and the next starts a worker again.
    const ended = track(new RemoteImputer(workerChannel(async () => nodeWorker(bundle))));
    const pending = ended.impute(job);
    await ended.dispose();
    assertSameTensors(await pending, inline, 'ended mid-job');
    assertSameTensors(await ended.impute(job), inline, 'after the end');
    assert.deepEqual(ended.counts, { thread: 1, inline: 1 });
    // Ended while its worker is still starting (its fetch never ends): the end does not wait for it, the job goes inline.
    const starting = track(new RemoteImputer(workerChannel(() => new Promise<WorkerLike>(() => undefined))));
    const waiting = starting.impute(job);
    await starting.dispose();
    assertSameTensors(await waiting, inline, 'ended while starting');

    // A bad job (every pixel removed) fails on the worker and inline alike: the caller gets ROAD's own error.
    const t = track(new RemoteImputer(workerChannel(async () => nodeWorker(bundle))));
    await assert.rejects(t.impute({ ...job, masks: [new Uint8Array(x.data.length / 3).fill(1)] }), /ROAD would remove every pixel/);
  });
});
