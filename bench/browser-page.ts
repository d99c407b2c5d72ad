/**
 * The benchmark page for headless Chromium: the same measuring loop as in Node, on the runtime the
 * extension's panel uses (webview/ort-runtime.ts: onnxruntime-web in a worker, WASM or WebGPU). bench/run-browser.ts
 * serves this bundle, the model and the preprocessed input, and calls `window.runBench`.
 */
import type { ExplainRequest } from '../src/core/methods/method';
import { Explainer } from '../src/core/explainer';
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
  readonly crop?: unknown;
  readonly preprocessing: unknown;
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
  const ex = await Explainer.load(runtime, model, o.name);
  ex.inputSize = o.inputSize;
  await ex.numClasses();
  const loadMs = performance.now() - t;
  const x = float32(new Float32Array(await bytes('/input.bin')), o.dims);
  const image = o.image ? { ...o.image, data: new Uint8Array(await bytes('/image.rgba')) } : undefined;
  const extra = { source: { image, region: o.crop, preprocessing: o.preprocessing } } as unknown as Partial<ExplainRequest>;
  const memory = () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
  let peakHeap = memory();
  const rows = await measureMethods(ex, x, METHODS.filter((m) => !o.methods || o.methods.includes(m.id)), {
    reps: o.reps, warmup: o.warmup, maxSecondsPerRow: o.maxSeconds, top5: o.top5, extra,
    onStep: () => (peakHeap = Math.max(peakHeap, memory())),
    log: (line) => console.log(line),
  });
  await ex.dispose();
  return { backend: runtime.backend, fallbacks: runtime.fallbacks, runtimeStartMs, loadMs, rows, peakHeapMB: peakHeap / 2 ** 20 };
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
