/**
 * One benchmark case in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): bundles
 * bench/browser-page.ts, serves it with the onnxruntime-web files, the model and the input preprocessed in
 * Node, and runs the measuring loop in the page. Prints one JSON line like bench/run-node.ts.
 *
 *   tsx bench/run-browser.ts --model M.onnx --image IMG [--ep wasm|webgpu|auto] [--reps N] [--wasm gzip|plain] …
 *   tsx bench/run-browser.ts --memory [--steps N] --model M.onnx --image IMG [--methods a,b]
 *
 * `--memory` runs the page's memory check instead (browser-page.ts runMemory: every method once on WASM, the
 * worker's WebAssembly heap after each) and prints its JSON line.
 *
 * `--wasm plain` serves no gzip copy of onnxruntime's wasm, so the page compiles the plain file as it streams
 * (the panel before it fetched the gzip copy); the default serves both, as the extension's dist/webview/ort does.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { webRuntime } from '../src/node/ort-runtime';
import { loadInput, loadModel } from '../src/node/workbench';
import type { ColdStart, MemoryRow, PageOptions } from './browser-page';
import type { CaseResult } from './run-node';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, '.cache', 'bench-browser');
const CHROMIUM = '/usr/bin/chromium';
const ORT_DIST = path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const TINY = path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx');

/** Debian's Chromium, installed with apt when missing (as root). */
function ensureChromium(): void {
  if (fs.existsSync(CHROMIUM)) return;
  process.stderr.write('Chromium is missing: apt-get install -y chromium…\n');
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, image: { type: 'string' }, ep: { type: 'string' },
      reps: { type: 'string' }, warmup: { type: 'string' }, 'max-seconds': { type: 'string' },
      top5: { type: 'string' }, methods: { type: 'string' }, wasm: { type: 'string' }, memory: { type: 'boolean' }, steps: { type: 'string' },
    },
  });
  ensureChromium();
  const modelPath = values.model!;
  // Preprocess exactly as the Node cases do (sidecar, preset, labels), then hand the page the tensor.
  const model = await loadModel(webRuntime(), modelPath);
  const input = await loadInput(model, values.image!);
  const image = (input as typeof input & { image?: { width: number; height: number; data: Uint8Array } }).image;
  await model.explainer.dispose();

  fs.mkdirSync(OUT, { recursive: true });
  // The page and the panel's onnxruntime worker (webview/ort-worker.ts), built as the webview target builds them.
  await esbuild.build({
    entryPoints: { page: path.join(__dirname, 'browser-page.ts'), 'ort-worker': path.join(ROOT, 'webview', 'ort-worker.ts') }, outdir: OUT, bundle: true,
    platform: 'browser', format: 'esm', target: 'chrome120', conditions: ['onnxruntime-web-use-extern-wasm'], logLevel: 'warning',
  });
  // The gzip copies esbuild.mjs writes beside the webview's wasm (made once here, kept while the file is unchanged).
  const gz = (n: string) => {
    const from = path.join(ORT_DIST, n);
    const to = path.join(OUT, `${n}.gz`);
    if (!fs.existsSync(to) || fs.statSync(to).mtimeMs < fs.statSync(from).mtimeMs) fs.writeFileSync(to, zlib.gzipSync(fs.readFileSync(from), { level: 9 }));
    return to;
  };
  const packed = values.wasm === 'plain' ? [] : ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.asyncify.wasm'].map((n) => [`/ort/${n}.gz`, gz(n)] as const);
  const files: Record<string, () => Buffer> = {
    ...Object.fromEntries(packed.map(([url, file]) => [url, () => fs.readFileSync(file)])),
    '/': () => Buffer.from('<!DOCTYPE html><meta charset="utf-8"><title>Look Closer bench</title><script type="module" src="/page.js"></script>'),
    '/page.js': () => fs.readFileSync(path.join(OUT, 'page.js')),
    '/ort-worker.js': () => fs.readFileSync(path.join(OUT, 'ort-worker.js')),
    '/model.onnx': () => fs.readFileSync(modelPath),
    '/tiny.onnx': () => fs.readFileSync(TINY),
    '/input.bin': () => Buffer.from(input.tensor.data.buffer, input.tensor.data.byteOffset, input.tensor.data.byteLength),
    '/image.rgba': () => Buffer.from(image?.data ?? new Uint8Array()),
  };
  const types: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '/': 'text/html' };
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    let body: Buffer | undefined;
    if (files[url]) body = files[url]();
    else if (url.startsWith('/ort/') && /^[\w.-]+$/.test(url.slice(5)) && fs.existsSync(path.join(ORT_DIST, url.slice(5)))) body = fs.readFileSync(path.join(ORT_DIST, url.slice(5)));
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    // Cross-origin isolation, as a page needs it for SharedArrayBuffer (the webview has none; one thread either way).
    res.writeHead(200, {
      'Content-Type': types[path.extname(url)] ?? types[url] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const ep = values.ep === 'webgpu' || values.ep === 'auto' ? values.ep : 'wasm';
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', ep === 'webgpu' ? '--enable-unsafe-webgpu' : '--disable-gpu', '--enable-precise-memory-info'],
  });
  try {
    const page = await browser.newPage();
    // onnxruntime's warnings about initializers a rewritten graph leaves unused are noise here.
    page.on('console', (m) => {
      if (!/\[W:onnxruntime:/.test(m.text())) process.stderr.write(`  [${path.basename(modelPath)} chromium ${ep}] ${m.text()}\n`);
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => 'runBench' in window);
    const opts: PageOptions = {
      name: path.basename(modelPath), ep, dims: [...input.tensor.dims], inputSize: model.explainer.inputSize,
      image: image ? { width: image.width, height: image.height } : undefined, crop: input.crop, preset: model.preprocessing.preprocessing.name,
      methods: values.methods?.split(','), reps: Number(values.reps ?? 7), warmup: Number(values.warmup ?? 1), maxSeconds: Number(values['max-seconds'] ?? 20),
      top5: (values.top5 ?? 'gradcam,guided-backprop').split(',').filter(Boolean),
    };
    if (values.memory) {
      type Memory = { backend: string; runtimeMB: number; forwardOnly: { heapMB: number; ms: number }; rows: MemoryRow[] };
      const m = await page.evaluate((o) => (window as unknown as { runMemory(o: unknown): Promise<Memory> }).runMemory(o), { ...opts, steps: Number(values.steps ?? 2) });
      process.stdout.write(`${JSON.stringify({ model: modelPath, modelMB: fs.statSync(modelPath).size / 2 ** 20, ...m })}\n`);
      return;
    }
    const r = await page.evaluate((o) => (window as unknown as { runBench(o: unknown): Promise<{ backend: string; fallbacks: string[]; runtimeStartMs: number; loadMs: number; rows: CaseResult['rows']; peakHeapMB: number; coldStart?: ColdStart }> }).runBench(o), opts);
    for (const f of r.fallbacks) process.stderr.write(`  note: ${f}\n`);
    const result: CaseResult = {
      model: modelPath, backend: r.backend, environment: 'chromium', modelMB: fs.statSync(modelPath).size / 2 ** 20,
      inputDims: input.tensor.dims, runtimeStartMs: r.runtimeStartMs, loadMs: r.loadMs, rows: r.rows,
      memory: { peakRssMB: NaN, peakHeapMB: r.peakHeapMB, peakExternalMB: NaN }, coldStart: r.coldStart,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
