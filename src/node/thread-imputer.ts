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
import { ImputeJob, RoadImputer, inlineImputer, setRoadImputer } from '../core/metrics/road';
import { Float32Tensor, float32 } from '../core/tensor';
import type { RuntimeThreadScript } from './thread-runtime';

/** A job sent to the thread: the input's data and shape, the masks and the noise. */
export interface ImputeRequest {
  readonly id: number;
  readonly data: Float32Array;
  readonly dims: readonly number[];
  readonly layout: 'NCHW' | 'NHWC';
  readonly masks: readonly Uint8Array[];
  readonly noise: number;
  readonly seed: number;
}

/** The thread's answer: the imputed inputs' data, one per mask, or why it failed. */
export type ImputeReply = { readonly id: number; readonly outs: Float32Array[]; readonly error?: undefined } | { readonly id: number; readonly error: string; readonly outs?: undefined };

/** How to start the thread: a script path, or code to eval (as the runtime thread starts). */
export type ImputeThreadScript = RuntimeThreadScript;

/** The thread's script: the bundle beside this one (dist/impute-thread.js beside dist/cli.js), or from source the TypeScript entry through tsx. */
export function imputeThreadScript(): ImputeThreadScript {
  if (!__filename.endsWith('.ts')) return { file: path.join(__dirname, 'impute-thread.js') };
  return { file: `require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs'))}); require(${JSON.stringify(path.join(__dirname, 'impute-thread.ts'))});`, eval: true };
}

interface Pending {
  readonly resolve: (outs: Float32Array[]) => void;
  readonly reject: (e: Error) => void;
}

/** A RoadImputer that computes on one worker thread, started on the first job, and computes inline when it cannot. */
export class ThreadImputer implements RoadImputer {
  private worker?: Worker;
  /** Why the thread could not start; from then on every job is computed inline. */
  private broken?: string;
  private answered = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Jobs computed by the thread and inline (for tests and logs). */
  readonly counts = { thread: 0, inline: 0 };

  constructor(private readonly script: ImputeThreadScript = imputeThreadScript()) {}

  /** Why the thread is not used (it could not start), else undefined. */
  get unavailable(): string | undefined {
    return this.broken;
  }

  async impute(job: ImputeJob): Promise<Float32Tensor[]> {
    const w = this.thread();
    if (w) {
      try {
        const outs = await this.send(w, job);
        this.counts.thread++;
        return outs.map((d) => float32(d, job.x.dims));
      } catch {
        // The thread failed or stopped: inline gives the same values (or, for a bad job, the error itself).
      }
    }
    this.counts.inline++;
    return inlineImputer.impute(job);
  }

  /** Stops the thread (a later job starts it again). */
  async dispose(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.stopped(w, 'the imputation thread was disposed', false);
    await w.terminate();
  }

  private thread(): Worker | undefined {
    if (this.broken !== undefined) return undefined;
    if (this.worker) return this.worker;
    let w: Worker;
    try {
      w = new Worker(this.script.file, { eval: this.script.eval, name: 'look-closer-impute' });
    } catch (e) {
      this.broken = messageOf(e);
      return undefined;
    }
    // Idle, the thread does not keep the process alive; it is referenced while a job is pending.
    w.unref();
    w.on('message', (r: ImputeReply) => {
      this.answered = true;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if (r.error !== undefined) p.reject(new Error(r.error));
      else p.resolve(r.outs);
    });
    w.on('error', (e) => this.stopped(w, messageOf(e)));
    w.on('exit', (code) => this.stopped(w, `the imputation thread exited with code ${code}`));
    this.worker = w;
    return w;
  }

  private stopped(w: Worker, why: string, failed = true): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    // A thread that failed before it ever answered could not start (a missing bundle, no tsx): jobs stay inline from then on.
    if (failed && !this.answered) this.broken = why;
    for (const p of this.pending.values()) p.reject(new Error(why));
    this.pending.clear();
  }

  private send(w: Worker, job: ImputeJob): Promise<Float32Array[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) w.ref();
      this.pending.set(id, { resolve, reject });
      const request: ImputeRequest = { id, data: job.x.data, dims: job.x.dims, layout: job.layout, masks: job.masks, noise: job.noise, seed: job.seed };
      w.postMessage(request);
    });
  }
}

/** Makes ROAD compute its imputations on a worker thread from now on (the CLI and the bench call it once); returns the imputer. */
export function useThreadImputer(script?: ImputeThreadScript): ThreadImputer {
  const imputer = new ThreadImputer(script);
  setRoadImputer(imputer);
  return imputer;
}
