/**
 * The extension host's side of the runtime thread (ort-thread.ts): starts it once, forwards runtime requests to it
 * with their tensors transferred, and restarts it on the next request if it dies. Keeps onnxruntime's work (which
 * on onnxruntime-web blocks the calling thread) off the extension host's event loop. No `vscode`: unit-tested in Node.
 */
import { Worker } from 'node:worker_threads';
import { LookCloserError } from '../core/errors';
import { CancelledError, Direction, Messenger, RequestHandlers } from '../protocol/messenger';
import type { HostRuntimeInfo, RuntimeRequest, RuntimeResponses } from '../protocol/protocol';
import { transferablesOf } from '../protocol/tensor-wire';
import type { PreviewThreadRequest, PreviewThreadResponses } from './preview-thread';

/** A request the runtime thread answers: a webview's runtime request, or the host's first-map requests (preview-thread.ts). */
export type ThreadRequest = RuntimeRequest | PreviewThreadRequest;

/** The answer to each request the runtime thread takes. */
export interface ThreadResponses extends RuntimeResponses, PreviewThreadResponses {}

/** What the host sends the runtime thread: the webviews' runtime requests and the host's preview requests, already checked. */
export interface ToRuntimeThread extends Direction {
  readonly requests: ThreadRequest;
  readonly responses: ThreadResponses;
  readonly notes: never;
}

/** What the runtime thread sends the host (answers only). */
export interface FromRuntimeThread extends Direction {
  readonly requests: never;
  readonly responses: Record<never, never>;
  readonly notes: never;
}

function stopped(why: string, cause: unknown): LookCloserError {
  return new LookCloserError('runtime', `The extension host's onnxruntime thread stopped (${why}); the next run starts it again.`, cause);
}

/** How the thread starts (its workerData). */
export interface RuntimeThreadOptions {
  /** onnxruntime threads (onnxruntime-node intra-op threads, or onnxruntime-web wasm threads). */
  readonly threads?: number;
  /** 'wasm' never tries onnxruntime-node. */
  readonly backend?: 'auto' | 'wasm';
  /** Folder of onnxruntime-web's ort-wasm-simd-threaded.{mjs,wasm} when bundled (dist/ort-node/). */
  readonly wasmDir?: string;
}

/** How to start the thread: a script path, or (tests) code to eval. */
export interface RuntimeThreadScript {
  readonly file: string;
  readonly eval?: boolean;
}

interface ThreadState {
  readonly worker: Worker;
  readonly messenger: Messenger<ToRuntimeThread, FromRuntimeThread>;
  info: Promise<HostRuntimeInfo>;
  /** Why the thread stopped, once it did. */
  death?: string;
}

/** The runtime thread, started on first use. */
export class RuntimeThread {
  private current?: ThreadState;

  constructor(private readonly script: RuntimeThreadScript, private readonly options: RuntimeThreadOptions) {}

  /** Starts the thread (once) and says which runtime it runs. */
  start(): Promise<HostRuntimeInfo> {
    return this.ensure().info;
  }

  /** Sends a checked runtime or preview request to the thread. */
  async request<R extends ThreadRequest>(body: R, signal?: AbortSignal): Promise<ThreadResponses[R['type']]> {
    const t = this.ensure();
    try {
      await t.info;
      return await (t.messenger.request(body, signal) as Promise<ThreadResponses[R['type']]>);
    } catch (e) {
      // The messenger rejects what was pending as cancelled when the thread dies; that is a failure, not a cancel.
      if (t.death !== undefined && !signal?.aborted) throw stopped(t.death, e);
      throw e;
    }
  }

  /** Stops the thread; sessions on it are gone. */
  async dispose(): Promise<void> {
    const t = this.current;
    this.current = undefined;
    if (!t) return;
    t.messenger.dispose();
    await t.worker.terminate();
  }

  private ensure() {
    if (this.current) return this.current;
    const worker = new Worker(this.script.file, { eval: this.script.eval, workerData: this.options, name: 'look-closer-onnxruntime' });
    const messenger = new Messenger<ToRuntimeThread, FromRuntimeThread>({
      post: (m) => worker.postMessage(m, transferablesOf(m)),
      listen: (cb) => {
        worker.on('message', cb);
        return { dispose: () => worker.off('message', cb) };
      },
    }, { requests: {} as RequestHandlers<FromRuntimeThread>, notes: {} });
    const t: ThreadState = { worker, messenger, info: messenger.request({ type: 'runtimeStart' }) };
    // A thread that dies (out of memory, a crash in onnxruntime) fails what it was doing; the next request starts a new one.
    const died = (why: string) => {
      if (t.death !== undefined) return;
      t.death = why;
      if (this.current === t) this.current = undefined;
      messenger.dispose();
      void worker.terminate();
    };
    worker.on('error', (e) => died(e.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    t.info = t.info.catch((e: unknown) => {
      throw e instanceof CancelledError && t.death !== undefined ? stopped(t.death, e) : e;
    });
    this.current = t;
    return t;
  }
}
