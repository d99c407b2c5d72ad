/**
 * ROAD's imputations on a Web Worker (impute-worker.ts) for the panel: with the imputer set (setRoadImputer),
 * measureAll starts a map's imputations before the other metrics' passes, which run in onnxruntime's worker (or the
 * extension host's runtime), so the three overlap and the page's thread stays free for the user's next click.
 * The client is src/core/metrics/remote-imputer.ts over a worker the page starts from a blob: URL (webviews allow
 * no other): one request id per job, the buffers moved, every pending job computed inline when the worker fails,
 * and ROAD put back inline, at its own turn, when the worker cannot start at all.
 */
import { messageOf } from '../src/core/errors';
import { ImputeReply, OpenImputeChannel, RemoteImputer } from '../src/core/metrics/remote-imputer';
import { setRoadImputer } from '../src/core/metrics/road';

/** The worker beside the bundles. */
export const IMPUTE_WORKER = 'impute-worker.js';

/** What the client needs of a worker: a browser Worker, or in Node's tests one over node:worker_threads. */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: { readonly data: unknown }) => void): void;
  addEventListener(type: 'error' | 'messageerror', listener: (e: { readonly message?: string; preventDefault?(): void }) => void): void;
  terminate(): void;
}

/** Starts the worker from the bundle under `base`: fetched, then run from a blob: URL (the CSP's `worker-src blob:`). */
export function bundledWorker(base: string): () => Promise<WorkerLike> {
  return async () => {
    const at = performance.now();
    const r = await fetch(base + IMPUTE_WORKER);
    if (!r.ok) throw new Error(`${base + IMPUTE_WORKER}: HTTP ${r.status}`);
    const url = URL.createObjectURL(new Blob([await r.text()], { type: 'text/javascript' }));
    const w = new Worker(url, { type: 'module', name: 'look-closer-impute' });
    console.info(`[look-closer] ROAD's imputation worker started (its script fetched in ${(performance.now() - at).toFixed(0)} ms)`);
    return w;
  };
}

/** A channel to a worker that `start` makes (asynchronously: requests wait for it); a worker that cannot start or errors fails the channel. */
export function workerChannel(start: () => Promise<WorkerLike>): OpenImputeChannel {
  return (events) => {
    let closed = false;
    let worker: WorkerLike | undefined;
    const started = start().then((w) => {
      if (closed) {
        w.terminate();
        return undefined;
      }
      worker = w;
      w.addEventListener('message', (e) => events.reply(e.data as ImputeReply));
      w.addEventListener('error', (e) => {
        e.preventDefault?.();
        events.failed(`ROAD's imputation worker failed: ${e.message || 'an error in the worker'}`);
      });
      w.addEventListener('messageerror', () => events.failed("ROAD's imputation worker could not read a message"));
      return w;
    });
    started.catch((e) => events.failed(`ROAD's imputation worker could not start: ${messageOf(e)}`));
    return {
      post: (request, transfer) => {
        void started.then((w) => w?.postMessage(request, transfer), () => undefined);
      },
      // A worker still starting is ended as it comes (a fetch that never ends holds up nothing).
      close: () => {
        closed = true;
        worker?.terminate();
      },
    };
  };
}

/** Makes ROAD compute the page's imputations on a worker from now on (the panel calls it once); a worker that cannot start puts them back inline. */
export function useWorkerImputer(start: () => Promise<WorkerLike>): RemoteImputer {
  const imputer = new RemoteImputer(workerChannel(start), (why) => {
    console.warn(`[look-closer] ROAD's imputations run on the page's thread: ${why}`);
    setRoadImputer(undefined);
  });
  setRoadImputer(imputer);
  return imputer;
}
