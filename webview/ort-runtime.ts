/**
 * The core's Runtime on onnxruntime-web, running in a worker: the native WebGPU EP when an adapter exists
 * (or the setting asks for it), else WASM. A session that fails on WebGPU is rebuilt on WASM and the
 * reason kept, so the panel can say what ran where.
 */
import { LookCloserError } from '../src/core/errors';
import type { Tensor } from '../src/core/tensor';
import type { Runtime, Session, SessionOptions } from '../src/core/runtime';
import { Envelope, Messenger } from '../src/protocol/messenger';
import type { ExecutionProviderSetting } from '../src/protocol/protocol';
import { KeptFeeds } from './kept-feeds';
import { WorkerParts, endReplica, noReplica, replicate } from './ort-replica';
import { Backend, GpuProbe, PanelToWorker, WorkerToPanel, cleanMessage, isOutOfMemory, wholeBuffers } from './ort-worker-protocol';

export type { Backend, GpuProbe } from './ort-worker-protocol';

/** The worker beside the bundles. */
export const WORKER = 'ort-worker.js';
/**
 * onnxruntime's two glue/wasm pairs: the asyncify build that its WebGPU EP needs (26 MB), and the plain build
 * (14 MB, faster to compile and to run) that a panel without a WebGPU adapter loads instead. `packed`: the wasm's
 * gzip copy (6.6 and 3.7 MB; esbuild.mjs writes it, and the extension ships only it), which the page fetches.
 */
export const PAIRS: Record<Backend, { readonly glue: string; readonly wasm: string; readonly packed: string }> = {
  webgpu: { glue: 'ort/ort-wasm-simd-threaded.asyncify.mjs', wasm: 'ort/ort-wasm-simd-threaded.asyncify.wasm', packed: 'ort/ort-wasm-simd-threaded.asyncify.wasm.gz' },
  wasm: { glue: 'ort/ort-wasm-simd-threaded.mjs', wasm: 'ort/ort-wasm-simd-threaded.wasm', packed: 'ort/ort-wasm-simd-threaded.wasm.gz' },
};

/** A started worker: its messenger, onnxruntime's version, the pair it loaded, and when it started and became ready (performance.now()). */
export interface StartedWorker {
  readonly messenger: Messenger<PanelToWorker, WorkerToPanel>;
  readonly version: string;
  readonly pair: Backend;
  readonly startedAt: number;
  readonly readyAt: number;
  /** When each part of the start ended (performance.now()): the worker script running, the pair known, the wasm compiled. */
  readonly marks: { readonly worker: number; readonly pairKnown: number; readonly compiled: number };
}

let worker: Promise<StartedWorker> | undefined;
/** What the running worker was started with (the replica worker of ort-replica.ts starts from the same). */
let parts: WorkerParts | undefined;
/** The worker object behind `worker`, so that a worker that ran out of memory can be ended. */
let running: { readonly worker: Worker; readonly messenger: Messenger<PanelToWorker, WorkerToPanel> } | undefined;
/** Counts ended workers: a runtime made on an earlier one is lost. */
let generation = 0;

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

/** How the last wasm was compiled: from the gzip copy while it downloads, while the plain file streams, or from bytes fetched again (a server that did not send application/wasm). */
let compiledHow: 'gzip, streaming' | 'streaming' | 'bytes' = 'streaming';

/**
 * Compiles onnxruntime's wasm while it downloads: from its gzip copy `packed` (esbuild.mjs writes it) decompressed
 * on the way, where there is one: in code-server every webview resource crosses the workbench's resource loader,
 * and the 14 MB wasm took 2.5–3.3 s of a 4.3 s runtime start there, its 3.7 MB gzip a quarter of that; else the
 * plain file while it streams (the browser may also reuse code it compiled before); a server that does not send
 * application/wasm gets the bytes compiled.
 */
async function compileWasm(url: string, packed?: string): Promise<WebAssembly.Module> {
  if (packed && typeof DecompressionStream === 'function') {
    const r = await fetch(packed).catch(() => undefined);
    if (r?.ok && r.body) {
      compiledHow = 'gzip, streaming';
      const plain = r.body.pipeThrough(new DecompressionStream('gzip'));
      return WebAssembly.compileStreaming(new Response(plain, { headers: { 'Content-Type': 'application/wasm' } }));
    }
  }
  try {
    const m = await WebAssembly.compileStreaming(fetchOk(url));
    compiledHow = 'streaming';
    return m;
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    compiledHow = 'bytes';
    return WebAssembly.compile(await (await fetchOk(url)).arrayBuffer());
  }
}

/** The page's fetches of `file` (resource timing, ms after the page's start): more than one means the preload was not reused. */
function fetchesOf(url: string): string {
  const abs = new URL(url, location.href).href;
  const es = performance.getEntriesByType('resource').filter((e) => e.name === abs) as PerformanceResourceTiming[];
  return es.length ? es.map((e) => `${e.initiatorType} ${e.startTime.toFixed(0)}–${e.responseEnd.toFixed(0)} ms${e.transferSize ? ` ${(e.transferSize / 2 ** 20).toFixed(1)} MB` : ''}`).join(', ') : 'no resource timing';
}

/** The buffers a message to the worker moves instead of copying. */
function transfers(m: Envelope): ArrayBuffer[] {
  if (m.lc !== 'request') return [];
  const body = m.body as PanelToWorker['requests'];
  return body.type === 'create' && body.backend === 'wasm' ? wholeBuffers([body.model]) : [];
}

/**
 * Starts the worker once: webviews only allow workers from blob URLs, so the panel fetches the worker and
 * onnxruntime's glue, compiles the wasm of the pair the worker's WebGPU probe calls for, and hands both over.
 * `setting` (the page's lookCloser.executionProvider when it starts): 'wasm' needs no WebGPU, so the plain pair
 * is fetched and compiled at once, beside the worker's own start, without waiting for the probe.
 */
export function startWorker(base: string, setting?: ExecutionProviderSetting): Promise<StartedWorker> {
  worker ??= (async () => {
    const startedAt = performance.now();
    const known: Backend | undefined = setting === 'wasm' ? 'wasm' : undefined;
    const text = (file: string) => fetchOk(base + file).then((r) => r.text());
    // Only the glue of a known pair; both while the probe decides.
    const glues = { webgpu: known === 'wasm' ? undefined : text(PAIRS.webgpu.glue), wasm: text(PAIRS.wasm.glue) };
    glues.webgpu?.catch(() => undefined);
    glues.wasm.catch(() => undefined);
    let compiledAt = 0;
    const early = known && compileWasm(base + PAIRS[known].wasm, base + PAIRS[known].packed).then((m) => ((compiledAt = performance.now()), m));
    early?.catch(() => undefined);
    let w: Worker | undefined;
    try {
      const code = await text(WORKER);
      w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module', name: 'onnxruntime' });
      const started = w;
      const messenger = new Messenger<PanelToWorker, WorkerToPanel>({
        // A WASM session's model bytes move to the worker (see WebRuntime): a large model is not copied. A WebGPU
        // one keeps them: its fallback rebuilds the session on WASM from the same bytes.
        post: (m) => started.postMessage(m, transfers(m)),
        listen: (cb) => {
          const h = (e: MessageEvent) => cb(e.data);
          started.addEventListener('message', h);
          return { dispose: () => started.removeEventListener('message', h) };
        },
      }, { requests: {}, notes: {} });
      running = { worker: w, messenger };
      const workerAt = performance.now();
      let pair: Backend;
      if (known) pair = known;
      else {
        const gpu = messenger.request({ type: 'probe' });
        probed ??= gpu;
        pair = (await gpu).available ? 'webgpu' : 'wasm';
      }
      const pairKnown = performance.now();
      const [glue, wasm] = await Promise.all([glues[pair]!, early ?? compileWasm(base + PAIRS[pair].wasm, base + PAIRS[pair].packed).then((m) => ((compiledAt = performance.now()), m))]);
      const initAt = performance.now();
      const { version, marks: inWorker } = await messenger.request({ type: 'init', glue, wasm, pair });
      parts = { code, glue, wasm, pair };
      const readyAt = performance.now();
      const ms = (t: number) => `${(t - startedAt).toFixed(0)} ms`;
      const worker = inWorker ? ` (in the worker: instantiated ${inWorker.instantiated.toFixed(0)} ms, onnxruntime's first session ${inWorker.ortReady.toFixed(0)} ms after init)` : '';
      console.info(`[look-closer] onnxruntime ${pair} worker ready: script ${ms(workerAt)}, pair known ${ms(pairKnown)}, wasm compiled ${ms(compiledAt)} (${compiledHow}), init sent ${ms(initAt)}, ready ${ms(readyAt)}${worker} after its start (${startedAt.toFixed(0)} ms after the page's); `
        + `fetches of the wasm: ${fetchesOf(base + (compiledHow === 'gzip, streaming' ? PAIRS[pair].packed : PAIRS[pair].wasm))}; of the worker: ${fetchesOf(base + WORKER)}`);
      return { messenger, version, pair, startedAt, readyAt, marks: { worker: workerAt, pairKnown, compiled: compiledAt } };
    } catch (e) {
      w?.terminate();
      running = undefined;
      worker = undefined;
      probed = undefined;
      parts = undefined;
      throw new LookCloserError('runtime', `onnxruntime-web could not start in the panel: ${e instanceof Error ? e.message : e}`, e);
    }
  })();
  return worker;
}

/** Ends the worker (after it ran out of memory: its WebAssembly instance cannot be trusted any more); the next runtime starts a fresh one. */
function endWorker(): void {
  if (!running) return;
  running.messenger.dispose();
  running.worker.terminate();
  running = undefined;
  worker = undefined;
  parts = undefined;
  generation++;
  endReplica();
}

let base = './';

/** Sets where the worker and onnxruntime's files are (the webview URI of dist/webview/). */
export function configureOrt(webviewBase: string): void {
  base = webviewBase;
}

/** The worker the page started (rejects when none was: the extension host's CPU runs this page's models). */
export function currentWorker(): Promise<StartedWorker> {
  return worker ?? Promise.reject(new LookCloserError('runtime', 'No onnxruntime worker was started in this page.'));
}

/**
 * How large the page's onnxruntime WebAssembly heap has grown, in bytes (it never shrinks, so this is its peak; at
 * most 4 GB on wasm32); undefined when no worker was started.
 */
export async function workerHeapBytes(): Promise<number | undefined> {
  if (!worker) return undefined;
  const w = await worker;
  return (await w.messenger.request({ type: 'heap' })).bytes;
}

/** Starts onnxruntime while the host reads the model, for the page's setting: none for 'cpu' (the extension host's runtime runs it). */
export function startEarly(webviewBase: string, setting: string | undefined): void {
  configureOrt(webviewBase);
  if (setting === 'cpu') return;
  void startWorker(webviewBase, setting === 'wasm' ? 'wasm' : undefined).catch(() => undefined);
}

let probed: Promise<GpuProbe> | undefined;

/** Asks the worker's browser context for a WebGPU adapter once (starting the worker asks first, unless it was started for WASM only). */
export function probeWebGpu(): Promise<GpuProbe> {
  return probed ?? startWorker(base).then((w) => (probed ??= w.messenger.request({ type: 'probe' })));
}

/**
 * The worker for a runtime of `setting`: one started for WASM alone (the plain pair, on which the WebGPU EP
 * cannot start) is ended and started again with the probe when a WebGPU adapter is wanted and present.
 */
async function workerFor(setting: ExecutionProviderSetting): Promise<StartedWorker> {
  const w = await startWorker(base);
  if (setting === 'wasm' || w.pair === 'webgpu' || !(await probeWebGpu()).available) return w;
  endWorker();
  probed = undefined;
  return startWorker(base);
}

/**
 * A runtime that knows which backend it chose and records every fallback. `createSession` on WASM moves
 * (detaches) model bytes that own their whole buffer to the worker, as onnxruntime-web's proxy mode does:
 * the core hands every session fresh bytes (src/core/onnx/derived-model.ts).
 */
export interface WebRuntime extends Runtime {
  readonly preferred: Backend;
  /** Reasons sessions left WebGPU, newest last. */
  readonly fallbacks: string[];
  /** Backends that ran since the last reset. */
  readonly used: Set<Backend>;
  /** True once its worker was ended (it ran out of memory): its sessions are gone, the model must be loaded again. */
  readonly lost: boolean;
}

/** wasm32: onnxruntime-web's heap can never grow past 4 GB. */
const HEAP_LIMIT = 4 * 2 ** 30;

/**
 * The largest model the panel tries to load: onnxruntime-web copies the model into its heap and unpacks the
 * weights beside it, so a model needs about twice its size there, with the explanation's sessions on top.
 */
export const MAX_MODEL_BYTES = 1.5 * 2 ** 30;

/** A size as people read it: "812 MB", "2.3 GB". */
export function sizeText(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MB`;
}

/** What to try when a model does not fit in the panel. */
const TRY = 'Try a smaller input size (the sidecar\'s "inputSize"), a float16 or smaller model, or the command line (look-closer, on onnxruntime-node, has no 4 GB limit).';

/** The error for a model the panel will not try to load. */
export function tooLargeError(bytes: number): LookCloserError {
  return new LookCloserError('unsupported-model',
    `This model is ${sizeText(bytes)}: onnxruntime-web in the panel holds a model and the weights it unpacks from it in one WebAssembly heap of at most ${sizeText(HEAP_LIMIT)}, so it cannot load it. ${TRY}`);
}

/** The error for a session that ran out of memory (the worker is ended, so the panel stays usable). */
function outOfMemoryError(doing: 'load' | 'run', bytes: number, e: unknown): LookCloserError {
  const step = doing === 'load' ? 'loading' : 'running';
  return new LookCloserError('runtime',
    `onnxruntime-web ran out of memory ${step} a ${sizeText(bytes)} model (${cleanMessage(e)}); its WebAssembly heap cannot grow past ${sizeText(HEAP_LIMIT)}. `
    + `The runtime was restarted: the next explanation loads the model again. ${TRY}`, e);
}

/** The shared weights the current worker keeps (a new set with each new worker). */
let kept = { gen: -1, feeds: undefined as KeptFeeds | undefined };

/** A run's feeds for the worker: a model's shared weights go once and are named by id afterwards (no copy per run). */
function wireFeeds(feeds: Readonly<Record<string, Tensor>>) {
  if (kept.gen !== generation || !kept.feeds) {
    kept.feeds?.close();
    const gen = generation;
    kept = { gen, feeds: new KeptFeeds((ids) => {
      if (gen === generation) void running?.messenger.request({ type: 'forget', ids }).catch(() => undefined);
    }) };
  }
  return kept.feeds!.wire(feeds);
}

/** Builds the runtime for a setting (float16 models reach it as float32 copies where the adapter lacks shader-f16). */
export async function webRuntime(setting: ExecutionProviderSetting): Promise<WebRuntime> {
  const { messenger, version } = await workerFor(setting);
  const gen = generation;
  const fallbacks: string[] = [];
  const used = new Set<Backend>();
  let preferred: Backend = 'wasm';
  if (setting !== 'wasm') {
    const gpu = await probeWebGpu();
    if (!gpu.available) {
      if (setting === 'webgpu') fallbacks.push(`WebGPU was requested but ${gpu.reason}; running on WASM.`);
    } else preferred = 'webgpu';
  }
  const lostError = () => new LookCloserError('runtime', 'onnxruntime-web was restarted after it ran out of memory; explain again to load the model again.');
  /** A runtime error; memory that ran out ends the worker. */
  const failure = (doing: 'load' | 'run', bytes: number, e: unknown) => {
    if (gen !== generation) return lostError();
    if (isOutOfMemory(e)) {
      endWorker();
      return outOfMemoryError(doing, bytes, e);
    }
    return new LookCloserError('runtime', doing === 'load' ? `onnxruntime could not load the model: ${cleanMessage(e)}` : `onnxruntime failed to run the model: ${cleanMessage(e)}`, e);
  };
  const create = async (model: Uint8Array, backend: Backend, options?: SessionOptions) => {
    if (gen !== generation) throw lostError();
    return messenger.request({ type: 'create', model, backend, cpuNodes: options?.cpuNodes });
  };
  return {
    preferred,
    fallbacks,
    used,
    get lost() {
      return gen !== generation;
    },
    backend: `onnxruntime-web ${version} (${preferred}, worker)`,
    async createSession(model: Uint8Array, options?: SessionOptions): Promise<Session> {
      if (model.byteLength > MAX_MODEL_BYTES) throw tooLargeError(model.byteLength);
      const bytes = model.byteLength;
      let backend: Backend = preferred;
      const onWasm = async (why: string) => {
        fallbacks.push(`WebGPU failed (${why}); this step runs on WASM.`);
        backend = 'wasm';
        try {
          return await create(model, 'wasm');
        } catch (e) {
          throw failure('load', bytes, e);
        }
      };
      // The forward session on WASM gets a copy on the replica worker (ort-replica.ts), made from its own bytes:
      // `create` moves these to the first worker.
      const replicable = options?.replicable === true && backend === 'wasm';
      const copy = replicable && !noReplica(bytes) ? model.slice() : undefined;
      let s: Awaited<ReturnType<typeof create>>;
      try {
        s = await create(model, backend, options);
      } catch (e) {
        if (backend !== 'webgpu' || isOutOfMemory(e) || gen !== generation) throw failure('load', bytes, e);
        s = await onWasm(cleanMessage(e));
      }
      let proven = backend === 'wasm';
      const session: Session = {
        get inputNames() {
          return s.inputNames;
        },
        get outputNames() {
          return s.outputNames;
        },
        async run(feeds, fetches) {
          if (gen !== generation) throw lostError();
          let out;
          try {
            out = await messenger.request({ type: 'run', session: s.session, ...wireFeeds(feeds), fetches });
          } catch (e) {
            if (proven || backend !== 'webgpu' || isOutOfMemory(e) || gen !== generation) throw failure('run', bytes, e);
            // The first run on WebGPU failed (e.g. an operator the EP cannot run): rebuild on WASM and retry.
            void messenger.request({ type: 'release', session: s.session }).catch(() => undefined);
            s = await onWasm(cleanMessage(e));
            try {
              out = await messenger.request({ type: 'run', session: s.session, ...wireFeeds(feeds), fetches });
            } catch (e2) {
              throw failure('run', bytes, e2);
            }
          }
          proven = true;
          used.add(backend);
          return out;
        },
        release: async () => {
          if (gen === generation) await messenger.request({ type: 'release', session: s.session });
        },
      };
      return replicable ? replicate(session, bytes, copy, parts) : session;
    },
  };
}
