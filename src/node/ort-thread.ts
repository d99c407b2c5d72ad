/**
 * The runtime thread (a worker_threads entry, bundled as dist/ort-thread.js): runs onnxruntime for the extension
 * host off its event loop, multi-threaded — onnxruntime-node when it is installed beside the extension, else
 * onnxruntime-web's threaded WASM (no native binaries). It answers the same runtime requests the webviews send
 * the host (src/protocol/protocol.ts), which the host has already checked, and the host's first-map requests
 * (preview-thread.ts: the model loaded, the image decoded and explained here); tensors move by transfer, not copy.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Runtime, Session } from '../core/runtime';
import type { Tensor } from '../core/tensor';
import { Messenger, RequestHandlers } from '../protocol/messenger';
import type { HostRuntimeInfo } from '../protocol/protocol';
import { tensorFromWire, transferablesOf } from '../protocol/tensor-wire';
import { nodeRuntime, webRuntime } from './ort-runtime';
import { PreviewModels } from './preview-thread';
import type { FromRuntimeThread, ToRuntimeThread, RuntimeThreadOptions } from './thread-runtime';

const options = (workerData ?? {}) as RuntimeThreadOptions;
const port = parentPort!;

/** Sessions created on the thread's runtime since it started, and those not yet released (threadStats). */
const stats = { created: 0, live: 0 };

/** The runtime as the thread uses it: named as its info says, counting its sessions. */
function counted(runtime: Runtime, backend: string): Runtime {
  return {
    backend,
    sharedWeights: runtime.sharedWeights,
    async createSession(model, o) {
      const s = await runtime.createSession(model, o);
      stats.created++;
      stats.live++;
      let released = false;
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        run: (feeds, fetches) => s.run(feeds, fetches),
        async release() {
          if (released) return;
          released = true;
          stats.live--;
          await s.release();
        },
      };
    },
  };
}

/** Picks onnxruntime-node when it loads (and is allowed), else onnxruntime-web's wasm with `threads` threads. */
function startRuntime() {
  const threads = Math.max(1, options.threads ?? 1);
  const native = options.backend === 'wasm' ? undefined : nodeRuntime(threads);
  const runtime = native ?? webRuntime(threads, options.wasmDir);
  // Emscripten's pthreads and the glue are found from options.wasmDir: the pair is copied beside the bundle (esbuild.mjs).
  const backend = native ? native.backend.replace('(cpu)', `(cpu, ${threads} threads)`) : runtime.backend.replace('(wasm)', `(wasm, ${threads} threads)`);
  return { runtime: counted(runtime, backend), info: { backend, threads } };
}

/**
 * A 68-byte model (x → Identity → y, opset 13). Created once when the runtime starts, it makes onnxruntime load
 * its wasm and start its threads then, while the host still reads the first real model (the extension starts the
 * thread at activation on 'auto' and 'cpu', for the host's first map).
 */
const WARM_UP_MODEL = 'CAc6OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0=';

function warmUp(r: ReturnType<typeof startRuntime>): ReturnType<typeof startRuntime> {
  void r.runtime.createSession(new Uint8Array(Buffer.from(WARM_UP_MODEL, 'base64'))).then((s) => s.release(), () => undefined);
  return r;
}

let started: ReturnType<typeof startRuntime> | undefined;
const sessions = new Map<number, Session>();
let nextSession = 1;
/** Feeds kept across runs (a model's shared weights, sent once), by the host's ids. */
const kept = new Map<number, Tensor>();

function runtime(): ReturnType<typeof startRuntime> {
  return (started ??= warmUp(startRuntime()));
}

// The host's first maps: the preview's Classifier runs on the thread's runtime, its answer says "extension host".
const previews = new PreviewModels(() => {
  const r = runtime();
  return { backend: `${r.info.backend}, extension host`, sharedWeights: r.runtime.sharedWeights, createSession: (m, o) => r.runtime.createSession(m, o) };
});

const handlers: RequestHandlers<ToRuntimeThread> = {
  runtimeStart: async (): Promise<HostRuntimeInfo> => runtime().info,
  runtimeCreate: async (r) => {
    const s = await runtime().runtime.createSession(r.model, { optimization: r.optimization });
    const id = nextSession++;
    sessions.set(id, s);
    return { session: id, inputNames: s.inputNames, outputNames: s.outputNames };
  },
  runtimeRun: async (r) => {
    const s = sessions.get(r.session);
    if (!s) throw new Error(`Session ${r.session} was released.`);
    const feeds = Object.fromEntries(Object.entries(r.feeds).map(([k, t]) => [k, tensorFromWire(t, `feed '${k}'`)]));
    for (const [k, id] of Object.entries(r.keep ?? {})) if (feeds[k]) kept.set(id, feeds[k]);
    for (const [k, id] of Object.entries(r.kept ?? {})) {
      const t = kept.get(id);
      if (!t) throw new Error(`Kept feed ${id} ('${k}') is not on the runtime thread (it restarted?); explain again.`);
      feeds[k] = t;
    }
    return s.run(feeds, r.fetches);
  },
  runtimeForget: async (r) => {
    for (const id of r.ids) kept.delete(id);
  },
  runtimeRelease: async (r) => {
    const s = sessions.get(r.session);
    sessions.delete(r.session);
    await s?.release();
  },
  previewLoad: (r) => previews.load(r),
  // A copy of the answer goes (its buffers transferred): the core may keep what it computed for the next request.
  previewExplain: async (r, signal) => structuredClone(await previews.explain(r, signal)),
  previewBytes: async (r) => previews.bytes(r.id),
  previewRelease: (r) => previews.release(r.id),
  threadStats: async () => ({ sessionsCreated: stats.created, sessionsLive: stats.live, previews: previews.size }),
};

new Messenger<FromRuntimeThread, ToRuntimeThread>({
  post: (m) => {
    try {
      // Deep enough for a PreviewAnswer's maps (envelope → answer → outputs → output → raw → data).
      port.postMessage(m, transferablesOf(m, 6));
    } catch {
      // A buffer the runtime cannot give away (e.g. one onnxruntime-node still owns) is copied instead.
      port.postMessage(m);
    }
  },
  listen: (cb) => {
    port.on('message', cb);
    return { dispose: () => port.off('message', cb) };
  },
}, { requests: handlers, notes: {} });
