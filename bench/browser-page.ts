/**
 * The benchmark page for headless Chromium: the same measuring loop as in Node, on the runtime the
 * extension's panel uses (webview/ort-runtime.ts: onnxruntime-web in a worker, WASM or WebGPU). bench/run-browser.ts
 * serves this bundle, the model and the preprocessed input, and calls `window.runBench`.
 */
import { Classifier } from '../src/core/app/classifier';
import { PreparedInput, explainImage } from '../src/core/app/explain-image';
import type { CropBox } from '../src/core/preprocess/preprocess';
import { METHODS } from '../src/core/methods/registry';
import { float32 } from '../src/core/tensor';
import { configureOrt, startEarly, webRuntime, workerHeapBytes } from '../webview/ort-runtime';
import { measureMethods } from './measure';

/** What the Node side asks for. */
export interface PageOptions {
  readonly name: string;
  readonly ep: 'wasm' | 'webgpu' | 'auto';
  readonly dims: number[];
  readonly inputSize: { height: number; width: number };
  readonly image?: { width: number; height: number };
  readonly crop?: CropBox;
  /** The preset the Node side chose, so the page's classifier preprocesses (and crops) the same way. */
  readonly preset: string;
  readonly methods?: string[];
  readonly reps: number;
  readonly warmup: number;
  readonly maxSeconds: number;
  readonly top5: string[];
}

async function bytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

/** The panel's cold start, from a page that has nothing loaded: ms since the start for each step. */
export interface ColdStart {
  /** onnxruntime's worker started, its wasm compiled and instantiated. */
  readonly runtime: number;
  /** The model's forward session (Classifier.load). */
  readonly session: number;
  /** The layer list the panel's model line and CAM need (Classifier.layers: inferred shapes, else a probe pass). */
  readonly layers: number;
  /** The first map: the panel's first explanation (CAM at the default layer, top 5). */
  readonly firstMap: number;
  /** A second image on the loaded model (the input mirrored), and another class on it, in ms each. */
  readonly nextImageMs: number;
  readonly nextClassMs: number;
}

/** Times the panel's path to a first CAM map, then a second image and another class on the loaded model. */
async function coldStart(o: PageOptions, input: PreparedInput): Promise<{ cold: ColdStart; runtime: Awaited<ReturnType<typeof webRuntime>> }> {
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  // As the panel does when its page starts: onnxruntime starts for the setting (WASM: no WebGPU probe first).
  startEarly('/', o.ep);
  const runtime = await webRuntime(o.ep);
  const model = bytes('/model.onnx');
  const tiny = await runtime.createSession(new Uint8Array(await bytes('/tiny.onnx')));
  await tiny.release();
  const runtimeMs = since();
  const classifier = await Classifier.load(runtime, { path: o.name, name: o.name, bytes: new Uint8Array(await model), preset: o.preset, inputSize: [o.inputSize.height, o.inputSize.width] });
  const session = since();
  await classifier.layers();
  const layers = since();
  const first = await explainImage(classifier, input, { method: 'cam', top: 5, target: 'logit' });
  const firstMap = since();
  const d = input.tensor.dims;
  const mirrored = new Float32Array(input.tensor.data.length);
  const w = d[d.length - 1];
  for (let i = 0; i < mirrored.length; i++) mirrored[i] = input.tensor.data[i - (i % w) + (w - 1 - (i % w))];
  let t = performance.now();
  await explainImage(classifier, { ...input, tensor: float32(mirrored, [...d]) }, { method: 'cam', top: 5, target: 'logit' });
  const nextImageMs = performance.now() - t;
  t = performance.now();
  await explainImage(classifier, input, { method: 'cam', classes: [first.predictions[1].index], target: 'logit' });
  const nextClassMs = performance.now() - t;
  await classifier.dispose();
  return { cold: { runtime: runtimeMs, session, layers, firstMap, nextImageMs, nextClassMs }, runtime };
}

async function runBench(o: PageOptions) {
  // The panel's runtime: onnxruntime-web in a worker that loads /ort-worker.js and /ort/* (see run-browser.ts).
  configureOrt('/');
  const tensor0 = float32(new Float32Array(await bytes('/input.bin')), o.dims);
  const image0 = o.image ? { ...o.image, data: new Uint8Array(await bytes('/image.rgba')) } : undefined;
  const input0: PreparedInput = { tensor: tensor0, base: image0 ?? { width: 1, height: 1, data: new Uint8Array(4) }, crop: o.crop, image: image0 };
  // CAM-less models (no 4-D map before a linear head) have no cold-start figure.
  const { cold, runtime } = await coldStart(o, input0).catch((e) => {
    console.log(`cold start: ${e instanceof Error ? e.message : String(e)}`);
    return { cold: undefined, runtime: undefined };
  });
  if (cold) console.log(`cold start: runtime ${cold.runtime.toFixed(0)} ms, session ${cold.session.toFixed(0)} ms, layers ${cold.layers.toFixed(0)} ms, first map ${cold.firstMap.toFixed(0)} ms; next image ${cold.nextImageMs.toFixed(0)} ms, next class ${cold.nextClassMs.toFixed(0)} ms`);
  const rt = runtime ?? (await webRuntime(o.ep));
  let t = performance.now();
  const tiny = await rt.createSession(new Uint8Array(await bytes('/tiny.onnx')));
  await tiny.release();
  const runtimeStartMs = performance.now() - t;
  const model = new Uint8Array(await bytes('/model.onnx'));
  t = performance.now();
  const classifier = await Classifier.load(rt, { path: o.name, name: o.name, bytes: model, preset: o.preset, inputSize: [o.inputSize.height, o.inputSize.width] });
  const loadMs = performance.now() - t;
  const input = input0;
  const memory = () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
  let peakHeap = memory();
  const rows = await measureMethods(classifier, input, METHODS.filter((m) => !o.methods || o.methods.includes(m.id)), {
    reps: o.reps, warmup: o.warmup, maxSecondsPerRow: o.maxSeconds, top5: o.top5,
    onStep: () => (peakHeap = Math.max(peakHeap, memory())),
    log: (line) => console.log(line),
  });
  await classifier.dispose();
  return { backend: rt.backend, fallbacks: rt.fallbacks, runtimeStartMs, loadMs, rows, peakHeapMB: peakHeap / 2 ** 20, coldStart: cold };
}

/** One method's line of the memory check: the worker's heap after it ran (with every earlier method's sessions still loaded). */
export interface MemoryRow {
  readonly method: string;
  readonly status: 'ok' | 'stopped' | 'n/a' | 'out of memory' | 'error';
  readonly heapMB: number;
  readonly ms: number;
  /** Progress steps run of the method's total, when it was stopped early (its batches repeat the same sizes). */
  readonly steps?: string;
  readonly note?: string;
}

/**
 * The panel's memory with every method loaded (issue 13): the model on the panel's runtime (WASM), one forward pass,
 * then every registered method once on the top class, in registry order, keeping each one's sessions (as a panel
 * that used them all would). After each, the size of onnxruntime's WebAssembly heap: it never shrinks, so it is the
 * high-water mark, and wasm32 stops it at 4 GB. A method that reports progress (batches of perturbed inputs,
 * integration steps, samples) is stopped after `steps` reports: its later batches have the sizes of its first.
 */
async function runMemory(o: PageOptions & { readonly steps: number }) {
  configureOrt('/');
  const tensor = float32(new Float32Array(await bytes('/input.bin')), o.dims);
  const image = o.image ? { ...o.image, data: new Uint8Array(await bytes('/image.rgba')) } : undefined;
  const input: PreparedInput = { tensor, base: image ?? { width: 1, height: 1, data: new Uint8Array(4) }, crop: o.crop, image };
  const rt = await webRuntime('wasm');
  const mb = async () => ((await workerHeapBytes()) ?? 0) / 2 ** 20;
  const started = await mb();
  const model = new Uint8Array(await bytes('/model.onnx'));
  let t = performance.now();
  const classifier = await Classifier.load(rt, { path: o.name, name: o.name, bytes: model, preset: o.preset, inputSize: [o.inputSize.height, o.inputSize.width] });
  await classifier.explainer.forward(input.tensor);
  const forwardOnly = { heapMB: await mb(), ms: performance.now() - t };
  console.log(`runtime ${started.toFixed(0)} MB; model loaded and one forward pass: heap ${forwardOnly.heapMB.toFixed(0)} MB`);
  const rows: MemoryRow[] = [];
  for (const m of METHODS.filter((x) => !o.methods || o.methods.includes(x.id))) {
    const ac = new AbortController();
    let reports = 0;
    let last = '';
    t = performance.now();
    let status: MemoryRow['status'] = 'ok';
    let note: string | undefined;
    try {
      await explainImage(classifier, input, {
        method: m.id, top: 1, target: 'logit', signal: ac.signal,
        onProgress: (done, total) => {
          last = `${done} of ${total}`;
          if (done > 0 && ++reports >= o.steps && done < total) ac.abort();
        },
      });
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      note = e instanceof Error ? e.message : String(e);
      status = ac.signal.aborted ? 'stopped' : kind === 'method-not-applicable' || kind === 'unsupported-operator' ? 'n/a' : /out of memory/i.test(note) ? 'out of memory' : 'error';
      if (status === 'stopped') note = undefined;
    }
    const row: MemoryRow = { method: m.id, status, heapMB: await mb(), ms: performance.now() - t, ...(status === 'stopped' ? { steps: last } : {}), ...(note ? { note } : {}) };
    rows.push(row);
    console.log(`${m.id}: ${status}${row.steps ? ` after ${row.steps}` : ''}, heap ${row.heapMB.toFixed(0)} MB, ${(row.ms / 1000).toFixed(1)} s${note ? ` (${note})` : ''}`);
    if (status === 'out of memory') break;
  }
  await classifier.dispose();
  return { backend: rt.backend, runtimeMB: started, forwardOnly, rows };
}

(window as unknown as { runBench: typeof runBench; runMemory: typeof runMemory }).runBench = runBench;
(window as unknown as { runMemory: typeof runMemory }).runMemory = runMemory;
