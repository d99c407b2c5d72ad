/**
 * One benchmark case in its own Node process (so peak memory belongs to one model and one backend):
 * runtime start-up, model load, forward and every registered method. Prints one JSON line.
 *
 *   tsx bench/run-node.ts --model M.onnx --backend wasm|node|host|host-native --image IMG [--reps N] [--warmup N]
 *
 * host and host-native run the editor's CPU path (bench/host-path.ts): onnxruntime-web's threaded wasm (as the
 * .vsix ships) or onnxruntime-node in the extension host's runtime thread, reached as the webview reaches it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { METHODS } from '../src/core/methods/registry';
import { hostThreads } from '../src/extension/host-runtime';
import { nodeRuntime, webRuntime } from '../src/node/ort-runtime';
import { useThreadImputer } from '../src/node/thread-imputer';
import { loadInput, loadModel } from '../src/node/workbench';
import { hostPathRuntime } from './host-path';
import { BenchRow, measureMethods } from './measure';

/** What one case reports. */
export interface CaseResult {
  readonly model: string;
  readonly backend: string;
  /** Where it ran: Node, or headless Chromium (bench/run-browser.ts). */
  readonly environment: 'node' | 'chromium';
  readonly modelMB: number;
  readonly inputDims: readonly number[];
  /** First session of a tiny model: the runtime's own start-up (wasm compilation for onnxruntime-web). */
  readonly runtimeStartMs: number;
  /** Reading the model, its forward session and what the CLI's loadModel does (labels, class count). */
  readonly loadMs: number;
  readonly rows: BenchRow[];
  /**
   * Peak resident memory with only the forward session loaded (after the forward rows) and at the end with
   * every method's sessions loaded; peak JS heap and ArrayBuffer memory (the wasm heap included) over the run.
   */
  readonly memory: { readonly peakRssMB: number; readonly forwardRssMB?: number; readonly peakHeapMB: number; readonly peakExternalMB: number };
  /** The panel's cold start in a fresh page (browser cases only): ms from nothing loaded to each step. */
  readonly coldStart?: {
    readonly runtime: number; readonly session: number; readonly layers: number; readonly firstMap: number;
    readonly nextImageMs: number; readonly nextClassMs: number;
  };
}

const TINY = path.resolve(__dirname, '..', 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, backend: { type: 'string' }, image: { type: 'string' },
      reps: { type: 'string' }, warmup: { type: 'string' }, 'max-seconds': { type: 'string' },
      top5: { type: 'string' }, methods: { type: 'string' }, threads: { type: 'string' }, metrics: { type: 'boolean' },
    },
  });
  const backend = values.backend ?? 'wasm';
  // As the CLI: ROAD's imputations on a worker thread beside the metrics' passes.
  if (values.metrics) useThreadImputer();
  const threads = values.threads ? Number(values.threads) : undefined;
  const host = backend === 'host' || backend === 'host-native' ? await hostPathRuntime(threads ?? hostThreads(), backend === 'host' ? 'wasm' : 'auto') : undefined;
  const runtime = host?.runtime ?? (backend === 'node' ? nodeRuntime(threads ?? 2) : webRuntime(threads ?? 1));
  if (!runtime) throw new Error('onnxruntime-node is not installed');
  let peakHeap = 0;
  let peakExternal = 0;
  let forwardRss: number | undefined;
  const sample = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
  };

  let t = performance.now();
  const tiny = await runtime.createSession(new Uint8Array(fs.readFileSync(TINY)));
  await tiny.release();
  const runtimeStartMs = performance.now() - t;

  const modelPath = values.model!;
  t = performance.now();
  const model = await loadModel(runtime, modelPath);
  const loadMs = performance.now() - t;
  sample();
  const input = await loadInput(model, values.image!);
  const wanted = values.methods?.split(',');
  const methods = METHODS.filter((m) => !wanted || wanted.includes(m.id));
  const rows = await measureMethods(model, input, methods, {
    reps: Number(values.reps ?? 7),
    warmup: Number(values.warmup ?? 1),
    maxSecondsPerRow: Number(values['max-seconds'] ?? 20),
    top5: (values.top5 ?? 'gradcam,guided-backprop').split(',').filter(Boolean),
    metrics: values.metrics,
    onStep: (label) => {
      sample();
      if (label === 'forward') forwardRss = process.resourceUsage().maxRSS;
    },
    beforeRun: () => (globalThis as { gc?: () => void }).gc?.(),
    cpuMs: () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1000;
    },
    log: (line) => process.stderr.write(`  [${path.basename(modelPath)} ${backend}] ${line}\n`),
  });
  await model.explainer.dispose();
  await host?.dispose();
  sample();
  const result: CaseResult = {
    model: modelPath, backend: runtime.backend, environment: 'node',
    modelMB: fs.statSync(modelPath).size / 2 ** 20, inputDims: input.tensor.dims,
    runtimeStartMs, loadMs, rows,
    memory: { peakRssMB: process.resourceUsage().maxRSS / 1024, forwardRssMB: forwardRss === undefined ? undefined : forwardRss / 1024, peakHeapMB: peakHeap / 2 ** 20, peakExternalMB: peakExternal / 2 ** 20 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
