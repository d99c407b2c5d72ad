/**
 * The runtime thread (a worker_threads entry, bundled as dist/ort-thread.js): runs onnxruntime for the extension
 * host off its event loop, multi-threaded — onnxruntime-node when it is installed beside the extension, else
 * onnxruntime-web's threaded WASM (no native binaries). It answers the same runtime requests the webviews send
 * the host (src/protocol/protocol.ts), which the host has already checked; tensors move by transfer, not copy.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Session } from '../core/runtime';
import type { Tensor } from '../core/tensor';
import { Messenger, RequestHandlers } from '../protocol/messenger';
import type { HostRuntimeInfo } from '../protocol/protocol';
import { tensorFromWire, transferablesOf } from '../protocol/tensor-wire';
import { nodeRuntime, webRuntime } from './ort-runtime';
import type { FromRuntimeThread, ToRuntimeThread, RuntimeThreadOptions } from './thread-runtime';

const options = (workerData ?? {}) as RuntimeThreadOptions;
const port = parentPort!;

/** Picks onnxruntime-node when it loads (and is allowed), else onnxruntime-web's wasm with `threads` threads. */
function startRuntime() {
  const threads = Math.max(1, options.threads ?? 1);
  const native = options.backend === 'wasm' ? undefined : nodeRuntime(threads);
  if (native) return { runtime: native, info: { backend: native.backend.replace('(cpu)', `(cpu, ${threads} threads)`), threads } };
  // Emscripten's pthreads and the glue are found from here: the pair is copied beside the bundle (esbuild.mjs).
  const runtime = webRuntime(threads, options.wasmDir);
  return { runtime, info: { backend: runtime.backend.replace('(wasm)', `(wasm, ${threads} threads)`), threads } };
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

const handlers: RequestHandlers<ToRuntimeThread> = {
  runtimeStart: async (): Promise<HostRuntimeInfo> => (started ??= warmUp(startRuntime())).info,
  runtimeCreate: async (r) => {
    started ??= warmUp(startRuntime());
    const s = await started.runtime.createSession(r.model, { optimization: r.optimization });
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
};

new Messenger<FromRuntimeThread, ToRuntimeThread>({
  post: (m) => {
    try {
      port.postMessage(m, transferablesOf(m));
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
