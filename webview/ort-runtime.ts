/**
 * The core's Runtime on onnxruntime-web, running in a worker: the native WebGPU EP when an adapter exists
 * (or the setting asks for it), else WASM. A session that fails on WebGPU is rebuilt on WASM and the
 * reason kept, so the panel can say what ran where.
 */
import { LookCloserError } from '../src/core/errors';
import type { Runtime, Session, SessionOptions } from '../src/core/runtime';
import { Messenger } from '../src/protocol/messenger';
import type { ExecutionProviderSetting } from '../src/protocol/protocol';
import type { Backend, GpuProbe, PanelToWorker, WorkerToPanel } from './ort-worker-protocol';

export type { Backend, GpuProbe } from './ort-worker-protocol';

/** The files beside the bundles: the worker and exactly the onnxruntime pair the webgpu entry loads. */
const WORKER = 'ort-worker.js';
const GLUE = 'ort/ort-wasm-simd-threaded.asyncify.mjs';
const WASM = 'ort/ort-wasm-simd-threaded.asyncify.wasm';

let worker: Promise<{ messenger: Messenger<PanelToWorker, WorkerToPanel>; version: string }> | undefined;

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

/** Starts the worker once: webviews only allow workers from blob URLs, so the panel fetches the worker and onnxruntime's files and hands them over. */
export function startWorker(base: string): Promise<{ messenger: Messenger<PanelToWorker, WorkerToPanel>; version: string }> {
  worker ??= (async () => {
    try {
      const [code, glue, wasm] = await Promise.all([
        fetchOk(base + WORKER).then((r) => r.text()),
        fetchOk(base + GLUE).then((r) => r.text()),
        fetchOk(base + WASM).then((r) => r.arrayBuffer()),
      ]);
      const w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module', name: 'onnxruntime' });
      const messenger = new Messenger<PanelToWorker, WorkerToPanel>({
        post: (m) => w.postMessage(m),
        listen: (cb) => {
          const h = (e: MessageEvent) => cb(e.data);
          w.addEventListener('message', h);
          return { dispose: () => w.removeEventListener('message', h) };
        },
      }, { requests: {}, notes: {} });
      const { version } = await messenger.request({ type: 'init', glue, wasm });
      return { messenger, version };
    } catch (e) {
      worker = undefined;
      throw new LookCloserError('runtime', `onnxruntime-web could not start in the panel: ${e instanceof Error ? e.message : e}`, e);
    }
  })();
  return worker;
}

let base = './';

/** Sets where the worker and onnxruntime's files are (the webview URI of dist/webview/). */
export function configureOrt(webviewBase: string): void {
  base = webviewBase;
}

let probed: Promise<GpuProbe> | undefined;

/** Asks the worker's browser context for a WebGPU adapter once. */
export function probeWebGpu(): Promise<GpuProbe> {
  probed ??= startWorker(base).then(({ messenger }) => messenger.request({ type: 'probe' }));
  return probed;
}

/** A runtime that knows which backend it chose and records every fallback. */
export interface WebRuntime extends Runtime {
  readonly preferred: Backend;
  /** Reasons sessions left WebGPU, newest last. */
  readonly fallbacks: string[];
  /** Backends that ran since the last reset. */
  readonly used: Set<Backend>;
}

function clean(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/^Error: /, '').replace(/\s+/g, ' ').trim();
}

/** Builds the runtime for a setting (float16 models reach it as float32 copies where the adapter lacks shader-f16). */
export async function webRuntime(setting: ExecutionProviderSetting): Promise<WebRuntime> {
  const { messenger, version } = await startWorker(base);
  const fallbacks: string[] = [];
  const used = new Set<Backend>();
  let preferred: Backend = 'wasm';
  if (setting !== 'wasm') {
    const gpu = await probeWebGpu();
    if (!gpu.available) {
      if (setting === 'webgpu') fallbacks.push(`WebGPU was requested but ${gpu.reason}; running on WASM.`);
    } else preferred = 'webgpu';
  }
  const create = async (model: Uint8Array, backend: Backend, options?: SessionOptions) =>
    messenger.request({ type: 'create', model, backend, cpuNodes: options?.cpuNodes });
  return {
    preferred,
    fallbacks,
    used,
    backend: `onnxruntime-web ${version} (${preferred}, worker)`,
    async createSession(model: Uint8Array, options?: SessionOptions): Promise<Session> {
      let backend: Backend = preferred;
      const onWasm = async (why: string) => {
        fallbacks.push(`WebGPU failed (${why}); this step runs on WASM.`);
        backend = 'wasm';
        try {
          return await create(model, 'wasm');
        } catch (e) {
          throw new LookCloserError('runtime', `onnxruntime could not load the model: ${clean(e)}`, e);
        }
      };
      let s: Awaited<ReturnType<typeof create>>;
      try {
        s = await create(model, backend, options);
      } catch (e) {
        if (backend !== 'webgpu') throw new LookCloserError('runtime', `onnxruntime could not load the model: ${clean(e)}`, e);
        s = await onWasm(clean(e));
      }
      let proven = backend === 'wasm';
      return {
        get inputNames() {
          return s.inputNames;
        },
        get outputNames() {
          return s.outputNames;
        },
        async run(feeds, fetches) {
          let out;
          try {
            out = await messenger.request({ type: 'run', session: s.session, feeds, fetches });
          } catch (e) {
            if (proven || backend !== 'webgpu') throw new LookCloserError('runtime', `onnxruntime failed to run the model: ${clean(e)}`, e);
            // The first run on WebGPU failed (e.g. an operator the EP cannot run): rebuild on WASM and retry.
            void messenger.request({ type: 'release', session: s.session }).catch(() => undefined);
            s = await onWasm(clean(e));
            try {
              out = await messenger.request({ type: 'run', session: s.session, feeds, fetches });
            } catch (e2) {
              throw new LookCloserError('runtime', `onnxruntime failed to run the model: ${clean(e2)}`, e2);
            }
          }
          proven = true;
          used.add(backend);
          return out;
        },
        release: () => messenger.request({ type: 'release', session: s.session }),
      };
    },
  };
}
