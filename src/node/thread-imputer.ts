/**
 * ROAD's imputations on a worker thread (impute-thread.ts) for the Node front ends (the CLI, the bench): in Node,
 * onnxruntime-web's wasm runs its passes on the main thread and blocks it, so the imputations, started before
 * deletion's and insertion's passes (registry.ts measureAll), are computed beside them on the other core. The same
 * function computes them there, so the values are the same bit for bit. Robust by falling back: a thread that
 * cannot start (no bundle beside the CLI, no tsx from source) leaves every job inline; one that fails or stops
 * mid-job has that job computed inline (and is started again for the next).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { messageOf } from '../core/errors';
import { ImputeReply, RemoteImputer } from '../core/metrics/remote-imputer';
import { setRoadImputer } from '../core/metrics/road';
import type { RuntimeThreadScript } from './thread-runtime';

/** How to start the thread: a script path, or code to eval (as the runtime thread starts). */
export type ImputeThreadScript = RuntimeThreadScript;

/** The thread's script: the bundle beside this one (dist/impute-thread.js beside dist/cli.js), or from source the TypeScript entry through tsx. */
export function imputeThreadScript(): ImputeThreadScript {
  if (!__filename.endsWith('.ts')) return { file: path.join(__dirname, 'impute-thread.js') };
  return { file: `require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs'))}); require(${JSON.stringify(path.join(__dirname, 'impute-thread.ts'))});`, eval: true };
}

/** A RoadImputer that computes on one worker thread (src/core/metrics/remote-imputer.ts), started on the first job, and computes inline when it cannot. */
export class ThreadImputer extends RemoteImputer {
  constructor(script: ImputeThreadScript = imputeThreadScript()) {
    super((events) => {
      const w = new Worker(script.file, { eval: script.eval, name: 'look-closer-impute' });
      // Idle, the thread does not keep the process alive; it is referenced while a job is pending.
      w.unref();
      w.on('message', (r: ImputeReply) => events.reply(r));
      w.on('error', (e) => events.failed(messageOf(e)));
      w.on('exit', (code) => events.failed(`the imputation thread exited with code ${code}`));
      return {
        post: (r, transfer) => w.postMessage(r, transfer),
        busy: (busy) => (busy ? w.ref() : w.unref()),
        close: async () => {
          await w.terminate();
        },
      };
    });
  }
}

/** Makes ROAD compute its imputations on a worker thread from now on (the CLI and the bench call it once); returns the imputer. */
export function useThreadImputer(script?: ImputeThreadScript): ThreadImputer {
  const imputer = new ThreadImputer(script);
  setRoadImputer(imputer);
  return imputer;
}
