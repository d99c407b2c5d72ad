/**
 * ROAD's imputations (road.ts) on another thread, whichever front end starts it: the messages (one request per job,
 * by id), the thread's answer (answerImpute: the same noisyLinearImpute as inline, so the values are the same bit
 * for bit), and the RoadImputer over a channel to the thread. The Node front ends open the channel on a
 * worker_threads thread (src/node/thread-imputer.ts), the panel on a Web Worker (webview/impute-client.ts).
 * Robust by falling back: a thread that cannot start leaves every job inline; one that fails or stops mid-job has
 * its pending jobs computed inline (and is started again for the next job).
 */
import { messageOf } from '../errors';
import type { Float32Tensor } from '../tensor';
import { float32 } from '../tensor';
import { ImputeJob, RoadImputer, inlineImputer, noisyLinearImpute } from './road';

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

/**
 * The request of a job, and the buffers it moves: copies of the input and the masks, since the input is the other
 * metrics' too (their passes run meanwhile) and a job the thread fails is computed inline from the originals.
 */
export function imputeRequest(id: number, job: ImputeJob): { readonly request: ImputeRequest; readonly transfer: ArrayBuffer[] } {
  const data = job.x.data.slice();
  const masks = job.masks.map((m) => m.slice());
  const request: ImputeRequest = { id, data, dims: job.x.dims, layout: job.layout, masks, noise: job.noise, seed: job.seed };
  return { request, transfer: [data.buffer, ...masks.map((m) => m.buffer)] };
}

/** The thread's answer to a request (both threads' entries call it): the imputed data, moved back, or the error's message. */
export function answerImpute(m: ImputeRequest): { readonly reply: ImputeReply; readonly transfer: ArrayBuffer[] } {
  try {
    const x = float32(m.data, m.dims);
    const outs = m.masks.map((mask) => noisyLinearImpute(x, mask, m.layout, m.noise, m.seed).data);
    return { reply: { id: m.id, outs }, transfer: outs.map((o) => o.buffer as ArrayBuffer) };
  } catch (e) {
    return { reply: { id: m.id, error: messageOf(e) }, transfer: [] };
  }
}

/** What the imputer hears from an open channel: each reply, and that the thread failed or stopped (why). */
export interface ImputeChannelEvents {
  reply(r: ImputeReply): void;
  failed(why: string): void;
}

/** An open channel to the thread. */
export interface ImputeChannel {
  /** Sends a request, moving the buffers listed. */
  post(request: ImputeRequest, transfer: ArrayBuffer[]): void;
  /** Told when the first job becomes pending and when none is left (a Node thread keeps its process alive only while busy). */
  busy?(busy: boolean): void;
  /** Ends the thread. */
  close(): void | Promise<void>;
}

/** Opens a channel to a new thread: throws when it cannot start at once, else reports a later failure through `failed`. */
export type OpenImputeChannel = (events: ImputeChannelEvents) => ImputeChannel;

interface Pending {
  readonly resolve: (outs: Float32Array[]) => void;
  readonly reject: (e: Error) => void;
}

/** A RoadImputer that computes on one thread, opened at the first job, and inline when it cannot. */
export class RemoteImputer implements RoadImputer {
  private channel?: ImputeChannel;
  /** Why the thread could not start; from then on every job is computed inline. */
  private broken?: string;
  private answered = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Jobs computed by the thread and inline (for tests and logs). */
  readonly counts = { thread: 0, inline: 0 };

  /** `onUnavailable` is told once, when the thread cannot start (a front end then puts ROAD back inline, at its turn). */
  constructor(private readonly open: OpenImputeChannel, private readonly onUnavailable?: (why: string) => void) {}

  /** Why the thread is not used (it could not start), else undefined. */
  get unavailable(): string | undefined {
    return this.broken;
  }

  async impute(job: ImputeJob): Promise<Float32Tensor[]> {
    const ch = this.current();
    if (ch) {
      try {
        const outs = await this.send(ch, job);
        this.counts.thread++;
        return outs.map((d) => float32(d, job.x.dims));
      } catch {
        // The thread failed or stopped: inline gives the same values (or, for a bad job, the error itself).
      }
    }
    this.counts.inline++;
    return inlineImputer.impute(job);
  }

  /** Ends the thread; its pending jobs are computed inline, and a later job starts a new one. */
  async dispose(): Promise<void> {
    const ch = this.channel;
    if (ch) await this.stopped(ch, 'the imputation thread was disposed', false);
  }

  /** The open channel, opening one if none is; undefined once the thread could not start. */
  private current(): ImputeChannel | undefined {
    if (this.broken !== undefined) return undefined;
    if (this.channel) return this.channel;
    let ch: ImputeChannel | undefined;
    let early: string | undefined;
    const events: ImputeChannelEvents = {
      reply: (r) => {
        if (ch && ch === this.channel) this.answer(ch, r);
      },
      failed: (why) => {
        if (ch) void this.stopped(ch, why);
        else early ??= why;
      },
    };
    try {
      ch = this.open(events);
    } catch (e) {
      this.unusable(messageOf(e));
      return undefined;
    }
    this.channel = ch;
    if (early === undefined) return ch;
    void this.stopped(ch, early);
    return undefined;
  }

  private answer(ch: ImputeChannel, r: ImputeReply): void {
    this.answered = true;
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) ch.busy?.(false);
    if (r.error !== undefined) p.reject(new Error(r.error));
    else p.resolve(r.outs);
  }

  /** Forgets a channel that failed, stopped or is disposed: its pending jobs go inline, and the thread is ended. */
  private async stopped(ch: ImputeChannel, why: string, failed = true): Promise<void> {
    if (this.channel !== ch) return;
    this.channel = undefined;
    // A thread that failed before it ever answered could not start (a missing bundle, a refused worker): jobs stay inline from then on.
    if (failed && !this.answered) this.unusable(why);
    for (const p of this.pending.values()) p.reject(new Error(why));
    this.pending.clear();
    try {
      await ch.close();
    } catch {
      // Ending a thread that already stopped.
    }
  }

  private unusable(why: string): void {
    if (this.broken !== undefined) return;
    this.broken = why;
    this.onUnavailable?.(why);
  }

  private send(ch: ImputeChannel, job: ImputeJob): Promise<Float32Array[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) ch.busy?.(true);
      this.pending.set(id, { resolve, reject });
      const { request, transfer } = imputeRequest(id, job);
      try {
        ch.post(request, transfer);
      } catch (e) {
        void this.stopped(ch, messageOf(e));
      }
    });
  }
}
