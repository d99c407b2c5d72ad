/**
 * The webview's onnxruntime worker: sessions run here so the panel stays responsive (and its Cancel
 * button works) while a model runs. Loaded from a blob URL, as webviews require for workers.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { Messenger, RequestHandlers } from '../src/protocol/messenger';
import type { Tensor } from '../src/core/tensor';
import { GpuProbe, PanelToWorker, WorkerToPanel, cleanMessage, isOutOfMemory, wholeBuffers } from './ort-worker-protocol';
import { warmUpModel } from './warm-up-model';

interface GpuAdapterLike {
  readonly features: { has(name: string): boolean };
  readonly info?: { readonly architecture?: string; readonly vendor?: string; readonly description?: string };
}

const sessions = new Map<number, ort.InferenceSession>();
/** A model's shared weights, sent once by the panel and fed to every run that names them. */
const kept = new Map<number, ort.Tensor>();
let nextSession = 1;
/** The pair loaded: on the plain WASM pair the WebGPU EP cannot start. */
let pair: 'webgpu' | 'wasm' = 'webgpu';
/** onnxruntime's WebAssembly heap, found among the imports it instantiates with (for messages on memory). */
let heap: WebAssembly.Memory | undefined;

/** The glue module calls this to instantiate (see `init`); set once per init. */
type Instantiate = (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => void;
const HOOK = '__lookCloserInstantiate';

/**
 * A module that wraps onnxruntime's Emscripten glue and adds the `instantiateWasm` hook onnxruntime does not
 * pass: the wasm is instantiated from the module the panel compiled, never fetched or compiled here.
 */
function glueWithHook(glueUrl: string): string {
  return `import factory from ${JSON.stringify(glueUrl)};\n`
    + `export default (config) => factory({ ...config, instantiateWasm: (imports, done) => { globalThis.${HOOK}(imports, done); return {}; } });\n`;
}

/** A session's error as the panel sees it; memory that ran out says how large the heap had grown. */
function failure(e: unknown): Error {
  const m = cleanMessage(e);
  return new Error(heap && isOutOfMemory(m) ? `${m}; the heap had grown to ${Math.round(heap.buffer.byteLength / 2 ** 20)} MB` : m);
}

async function probe(): Promise<GpuProbe> {
  const gpu = (self.navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return { available: false, shaderF16: false, reason: 'this webview has no WebGPU (navigator.gpu is missing)' };
  try {
    const a = await gpu.requestAdapter();
    if (!a) return { available: false, shaderF16: false, reason: 'the browser offers no WebGPU adapter' };
    const name = [a.info?.vendor, a.info?.architecture].filter(Boolean).join(' ') || a.info?.description || 'unknown adapter';
    return { available: true, adapter: name, shaderF16: a.features.has('shader-f16') };
  } catch (e) {
    return { available: false, shaderF16: false, reason: `requesting a WebGPU adapter failed (${cleanMessage(e)})` };
  }
}

function fromOrt(t: ort.Tensor): Tensor {
  let data = t.data as Tensor['data'];
  // Where the browser has Float16Array, onnxruntime-web returns float16 outputs as one; the core reads half bits.
  if (t.type === 'float16' && !(data instanceof Uint16Array)) {
    const v = data as unknown as ArrayBufferView & { length: number };
    data = new Uint16Array(v.buffer, v.byteOffset, v.length);
  }
  return { type: t.type as Tensor['type'], dims: [...t.dims], data };
}

/** The worker's requests, one handler per type. */
const handlers: RequestHandlers<PanelToWorker> = {
  init: async (r) => {
    const t0 = performance.now();
    let instantiated = 0;
    pair = r.pair;
    let failed: (e: unknown) => void = () => undefined;
    const instantiateFailed = new Promise<never>((_, reject) => (failed = reject));
    const hook: Instantiate = (imports, done) => {
      for (const m of Object.values(imports)) for (const v of Object.values(m)) if (v instanceof WebAssembly.Memory) heap = v;
      WebAssembly.instantiate(r.wasm, imports).then((instance) => ((instantiated = performance.now() - t0), done(instance, r.wasm)), failed);
    };
    (globalThis as Record<string, unknown>)[HOOK] = hook;
    // The glue module is imported from a blob URL (wrapped to instantiate the panel's module), so nothing is fetched here.
    const glue = URL.createObjectURL(new Blob([r.glue], { type: 'text/javascript' }));
    ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([glueWithHook(glue)], { type: 'text/javascript' })) };
    // Webviews are not cross-origin isolated: no SharedArrayBuffer, so one thread.
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    // onnxruntime starts on its first session: a one-node model's starts it now, while the host still reads the model.
    const warm = await Promise.race([ort.InferenceSession.create(warmUpModel(), { executionProviders: ['wasm'] }), instantiateFailed]);
    await warm.release();
    return { version: ort.env.versions.web ?? '', marks: { instantiated, ortReady: performance.now() - t0 } };
  },
  probe: async () => probe(),
  create: async (r) => {
    if (r.backend === 'webgpu' && pair !== 'webgpu') throw new Error('this panel loaded onnxruntime without WebGPU (no adapter was found when it started)');
    const ep: ort.InferenceSession.ExecutionProviderConfig = r.backend === 'webgpu'
      // MaxPool with an Indices output is placed on WebGPU but only runs on the CPU: the backward graph names such nodes.
      ? { name: 'webgpu', ...(r.cpuNodes?.length ? { forceCpuNodeNames: [...r.cpuNodes] } : {}) }
      : 'wasm';
    let s: ort.InferenceSession;
    try {
      s = await ort.InferenceSession.create(r.model, { executionProviders: [ep], graphOptimizationLevel: 'all' });
    } catch (e) {
      throw failure(e);
    }
    const id = nextSession++;
    sessions.set(id, s);
    return { session: id, inputNames: s.inputNames, outputNames: s.outputNames };
  },
  run: async (r) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(r.feeds)) feeds[k] = new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims as number[]);
    for (const [k, id] of Object.entries(r.keep ?? {})) if (feeds[k]) kept.set(id, feeds[k]);
    for (const [k, id] of Object.entries(r.kept ?? {})) {
      const t = kept.get(id);
      if (!t) throw new Error(`Kept weight ${id} ('${k}') is not in this worker.`);
      feeds[k] = t;
    }
    const s = sessions.get(r.session);
    if (!s) throw new Error(`Session ${r.session} was released.`);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = r.fetches ? await s.run(feeds, [...r.fetches]) : await s.run(feeds);
    } catch (e) {
      throw failure(e);
    }
    const res: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v);
    return res;
  },
  heap: async () => ({ bytes: heap?.buffer.byteLength ?? 0 }),
  forget: async (r) => {
    for (const id of r.ids) kept.delete(id);
  },
  release: async (r) => {
    const s = sessions.get(r.session);
    sessions.delete(r.session);
    await s?.release();
    return;
  },
};

const scope = self as unknown as { postMessage(m: unknown, transfer: Transferable[]): void; addEventListener(t: 'message', h: (e: MessageEvent) => void): void; removeEventListener(t: 'message', h: (e: MessageEvent) => void): void };
/** The output tensors' buffers of an answer to 'run': they move to the panel instead of being copied. */
function transfers(m: unknown): ArrayBuffer[] {
  const e = m as { lc?: string; ok?: boolean; value?: unknown };
  if (e.lc !== 'response' || !e.ok || typeof e.value !== 'object' || e.value === null) return [];
  return wholeBuffers(Object.values(e.value).map((t) => (t as { data?: unknown } | undefined)?.data));
}

new Messenger<WorkerToPanel, PanelToWorker>({
  post: (m) => scope.postMessage(m, transfers(m)),
  listen: (cb) => {
    const h = (e: MessageEvent) => cb(e.data);
    scope.addEventListener('message', h);
    return { dispose: () => scope.removeEventListener('message', h) };
  },
}, { requests: handlers, notes: {} });
