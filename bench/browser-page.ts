/**
 * The benchmark page for headless Chromium: the same measuring loop as in Node, on the runtime the
 * extension's panel uses (webview/ort-runtime.ts: onnxruntime-web in a worker, WASM or WebGPU). bench/run-browser.ts
 * serves this bundle, the model and the preprocessed input, and calls `window.runBench`.
 */
import { Classifier } from '../src/core/app/classifier';
import type { PreparedInput } from '../src/core/app/explain-image';
import type { CropBox } from '../src/core/preprocess/preprocess';
import { METHODS } from '../src/core/methods/registry';
import { float32 } from '../src/core/tensor';
import { configureOrt, webRuntime } from '../webview/ort-runtime';
import { measureMethods } from './measure';

/** What the Node side asks for. */
export interface PageOptions {
  readonly name: string;
  readonly ep: 'wasm' | 'webgpu';
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

async function runBench(o: PageOptions) {
  // The panel's runtime: onnxruntime-web in a worker that loads /ort-worker.js and /ort/* (see run-browser.ts).
  configureOrt('/');
  const runtime = await webRuntime(o.ep);
  let t = performance.now();
  const tiny = await runtime.createSession(new Uint8Array(await bytes('/tiny.onnx')));
  await tiny.release();
  const runtimeStartMs = performance.now() - t;
  const model = new Uint8Array(await bytes('/model.onnx'));
  t = performance.now();
  const classifier = await Classifier.load(runtime, { path: o.name, name: o.name, bytes: model, preset: o.preset, inputSize: [o.inputSize.height, o.inputSize.width] });
  const loadMs = performance.now() - t;
  const tensor = float32(new Float32Array(await bytes('/input.bin')), o.dims);
  const image = o.image ? { ...o.image, data: new Uint8Array(await bytes('/image.rgba')) } : undefined;
  const input: PreparedInput = { tensor, base: image ?? { width: 1, height: 1, data: new Uint8Array(4) }, crop: o.crop, image };
  const memory = () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
  let peakHeap = memory();
  const rows = await measureMethods(classifier, input, METHODS.filter((m) => !o.methods || o.methods.includes(m.id)), {
    reps: o.reps, warmup: o.warmup, maxSecondsPerRow: o.maxSeconds, top5: o.top5,
    onStep: () => (peakHeap = Math.max(peakHeap, memory())),
    log: (line) => console.log(line),
  });
  await classifier.dispose();
  return { backend: runtime.backend, fallbacks: runtime.fallbacks, runtimeStartMs, loadMs, rows, peakHeapMB: peakHeap / 2 ** 20 };
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
