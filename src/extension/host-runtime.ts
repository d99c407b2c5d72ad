/**
 * The extension host's CPU runtime as the webviews use it (setting `lookCloser.executionProvider`: 'cpu', or
 * 'auto' without WebGPU): one runtime thread per extension host (src/node/thread-runtime.ts, multi-threaded
 * onnxruntime), and per webview a table of the runtime requests it may send. Every request is checked before it
 * reaches onnxruntime (a webview is untrusted: see validate.ts), a webview runs and releases only the sessions
 * it created, and its sessions are released when it closes. No `vscode`: unit-tested in Node
 * (test/unit/host-runtime.test.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { LookCloserError } from '../core/errors';
import type { Tensor } from '../core/tensor';
import type { RequestHandlers } from '../protocol/messenger';
import type { HostRuntimeInfo, RuntimeRequest, RuntimeResponses } from '../protocol/protocol';
import { compactBytes, compactTensor, tensorFromWire } from '../protocol/tensor-wire';
import { RuntimeThread } from '../node/thread-runtime';
import { LIMITS, checkBytes, checkText, isRecord, own, quote } from './validate';

let native: boolean | undefined;

/** Whether onnxruntime-node can be found beside the extension: the host's CPU runtime then runs natively (checked once). */
export function nativeRuntimeFound(): boolean {
  if (native === undefined) {
    try {
      require.resolve('onnxruntime-node');
      native = true;
    } catch {
      native = false;
    }
  }
  return native;
}

/** Limits of what a webview may ask of the host's runtime. */
export const RUNTIME_LIMITS = {
  /** Bytes of a model (protobuf's own limit is 2 GiB). */
  modelBytes: 2 ** 31 - 1,
  /** Sessions one webview may hold at once (a model's forward pass and the backward graphs of its methods). */
  sessions: 256,
  /** Feeds or fetches of one run. */
  names: 1024,
  /** Feeds one webview may keep on the host at once (a model's shared weights, its folded kernels). */
  kept: 65536,
} as const;

/** Ids of kept feeds on the runtime thread, unique across webviews. */
let nextKept = 1;

/** The part of the runtime thread the handlers use (the thread, or in tests a thread started from source). */
export interface RuntimeBackend {
  start(): Promise<HostRuntimeInfo>;
  request<R extends RuntimeRequest>(body: R, signal?: AbortSignal): Promise<RuntimeResponses[R['type']]>;
}

/** A webview's runtime requests, as the host's handler table holds them. */
type RuntimeDirection = { readonly requests: RuntimeRequest; readonly responses: RuntimeResponses; readonly notes: never };

/** The sessions one webview holds on the host's runtime, and the handlers of its runtime requests. */
export class HostRuntimeSessions {
  private readonly sessions = new Set<number>();
  /** The webview's ids of the feeds it keeps on the host → the runtime thread's. */
  private readonly kept = new Map<number, number>();
  private disposed = false;

  /** `from` names the webview in refusals ("The explanation panel"). */
  constructor(private readonly backend: RuntimeBackend, private readonly from: string) {}

  /** The handlers to merge into the webview host's request table. */
  readonly handlers: RequestHandlers<RuntimeDirection> = {
    runtimeStart: () => this.backend.start(),
    runtimeCreate: (r) => this.create(r),
    runtimeRun: (r, signal) => this.run(r, signal),
    runtimeRelease: (r) => this.release(r),
    runtimeForget: (r) => this.forget(r),
  };

  /** Sessions this webview holds now. */
  get size(): number {
    return this.sessions.size;
  }

  /** Releases every session of the webview (it closed); later requests are refused. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const ids = [...this.sessions];
    this.sessions.clear();
    const kept = [...this.kept.values()];
    this.kept.clear();
    await Promise.all([
      ...ids.map((session) => this.backend.request({ type: 'runtimeRelease', session }).catch(() => undefined)),
      kept.length ? this.backend.request({ type: 'runtimeForget', ids: kept }).catch(() => undefined) : undefined,
    ]);
  }

  private refuse(what: string, v: unknown, why: string): LookCloserError {
    return new LookCloserError('bad-argument', `${this.from} sent ${what} ${quote(v)}, which is refused: ${why}.`);
  }

  private live(): void {
    if (this.disposed) throw new LookCloserError('cancelled', `${this.from} was closed; its sessions were released.`);
  }

  private session(r: Record<string, unknown>): number {
    const id = own(r, 'session');
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || !this.sessions.has(id)) throw this.refuse('session', id, 'it is not a session this view created (or it was released)');
    return id;
  }

  private async create(r: unknown): Promise<RuntimeResponses['runtimeCreate']> {
    this.live();
    if (!isRecord(r)) throw this.refuse('a runtime request', r, 'it is not an object');
    const model = compactBytes(checkBytes(this.from, 'model bytes', own(r, 'model'), RUNTIME_LIMITS.modelBytes));
    const optimization = own(r, 'optimization');
    if (optimization !== undefined && optimization !== 'disabled' && optimization !== 'basic' && optimization !== 'all') {
      throw this.refuse('optimization level', optimization, "it is not 'disabled', 'basic' or 'all'");
    }
    if (this.sessions.size >= RUNTIME_LIMITS.sessions) throw this.refuse('a session request', `${this.sessions.size} sessions`, `a view may hold at most ${RUNTIME_LIMITS.sessions}`);
    // Not cancelled half-way: a session the thread made but the host never heard of would never be released.
    const created = await this.backend.request({ type: 'runtimeCreate', model, optimization });
    if (this.disposed) {
      // The view closed while the model loaded: nobody will release this session.
      await this.backend.request({ type: 'runtimeRelease', session: created.session }).catch(() => undefined);
      this.live();
    }
    this.sessions.add(created.session);
    return created;
  }

  private async run(r: unknown, signal: AbortSignal): Promise<RuntimeResponses['runtimeRun']> {
    this.live();
    if (!isRecord(r)) throw this.refuse('a runtime request', r, 'it is not an object');
    const session = this.session(r);
    const rawFeeds = own(r, 'feeds');
    if (!isRecord(rawFeeds)) throw this.refuse('feeds', rawFeeds, 'they are not an object of tensors');
    const names = Object.keys(rawFeeds);
    if (names.length > RUNTIME_LIMITS.names) throw this.refuse('feeds', `${names.length} feeds`, `a run takes at most ${RUNTIME_LIMITS.names}`);
    const feeds: Record<string, Tensor> = {};
    for (const k of names) {
      checkText(this.from, 'a feed name', k, LIMITS.name);
      feeds[k] = compactTensor(tensorFromWire(rawFeeds[k], `${this.from}'s feed ${quote(k)}`));
    }
    const rawFetches = own(r, 'fetches');
    let fetches: string[] | undefined;
    if (rawFetches !== undefined) {
      if (!Array.isArray(rawFetches)) throw this.refuse('fetches', rawFetches, 'they are not a list of output names');
      if (rawFetches.length > RUNTIME_LIMITS.names) throw this.refuse('fetches', `${rawFetches.length} names`, `a run fetches at most ${RUNTIME_LIMITS.names}`);
      fetches = rawFetches.map((f) => checkText(this.from, 'a fetch name', f, LIMITS.name));
    }
    const keptIds = this.keptFeeds(own(r, 'kept'), 'kept', feeds);
    const keepIds = this.keptFeeds(own(r, 'keep'), 'keep', feeds);
    const kept: Record<string, number> = {};
    for (const [k, id] of keptIds) {
      const t = this.kept.get(id);
      if (t === undefined) throw this.refuse('a kept feed id', id, `feed ${quote(k)} names no feed this view keeps on the host (or it was forgotten)`);
      kept[k] = t;
    }
    const keep: Record<string, number> = {};
    if (this.kept.size + keepIds.length > RUNTIME_LIMITS.kept) throw this.refuse('feeds to keep', `${this.kept.size + keepIds.length} feeds`, `a view may keep at most ${RUNTIME_LIMITS.kept}`);
    for (const [k, id] of keepIds) {
      if (this.kept.has(id)) throw this.refuse('a kept feed id', id, 'the view already keeps a feed under it');
      const t = nextKept++;
      this.kept.set(id, t);
      keep[k] = t;
    }
    return this.backend.request({ type: 'runtimeRun', session, feeds, fetches, ...(keptIds.length ? { kept } : {}), ...(keepIds.length ? { keep } : {}) }, signal);
  }

  /**
   * A run's `kept` or `keep` map, checked: feed names (a kept feed is not sent again; a feed to keep is one of
   * this request's) → the webview's ids (positive safe integers).
   */
  private keptFeeds(raw: unknown, which: 'kept' | 'keep', feeds: Record<string, Tensor>): [string, number][] {
    if (raw === undefined) return [];
    if (!isRecord(raw)) throw this.refuse(`${which} feeds`, raw, 'they are not an object of feed names to ids');
    const names = Object.keys(raw);
    if (names.length > RUNTIME_LIMITS.names) throw this.refuse(`${which} feeds`, `${names.length} feeds`, `a run takes at most ${RUNTIME_LIMITS.names}`);
    return names.map((k) => {
      checkText(this.from, 'a feed name', k, LIMITS.name);
      const id = raw[k];
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw this.refuse(`the ${which} feed id of ${quote(k)}:`, id, 'it is not a positive integer');
      if (which === 'keep' && !(k in feeds)) throw this.refuse('a feed to keep', k, 'the request does not send it');
      if (which === 'kept' && k in feeds) throw this.refuse('a kept feed', k, 'the request sends it too');
      return [k, id];
    });
  }

  private async forget(r: unknown): Promise<void> {
    if (!isRecord(r)) throw this.refuse('a runtime request', r, 'it is not an object');
    if (this.disposed) return;
    const ids = own(r, 'ids');
    if (!Array.isArray(ids) || ids.length > RUNTIME_LIMITS.kept) throw this.refuse('ids to forget', ids, `they are not a list of at most ${RUNTIME_LIMITS.kept} ids`);
    const threadIds: number[] = [];
    for (const id of ids) {
      const t = typeof id === 'number' ? this.kept.get(id) : undefined;
      if (t === undefined) continue;
      this.kept.delete(id as number);
      threadIds.push(t);
    }
    if (threadIds.length) await this.backend.request({ type: 'runtimeForget', ids: threadIds });
  }

  private async release(r: unknown): Promise<void> {
    if (!isRecord(r)) throw this.refuse('a runtime request', r, 'it is not an object');
    if (this.disposed) return;
    const session = this.session(r);
    this.sessions.delete(session);
    await this.backend.request({ type: 'runtimeRelease', session });
  }
}

/** Threads the host's runtime uses: every core the machine offers, at most 16. */
export function hostThreads(): number {
  return Math.max(1, Math.min(16, os.availableParallelism()));
}

let shared: RuntimeThread | undefined;

/** The extension host's one runtime thread (started on first use), from the bundle beside the extension's. */
export function sharedRuntimeThread(extensionPath: string): RuntimeThread {
  shared ??= new RuntimeThread(
    { file: path.join(extensionPath, 'dist', 'ort-thread.js') },
    { threads: hostThreads(), wasmDir: path.join(extensionPath, 'dist', 'ort-node') },
  );
  return shared;
}

/** Stops the runtime thread (the extension deactivates). */
export async function disposeSharedRuntimeThread(): Promise<void> {
  const t = shared;
  shared = undefined;
  await t?.dispose();
}
