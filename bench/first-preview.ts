/**
 * The extension host's first map of a cold panel (issue 13), outside VS Code: each run is a fresh Node process that
 * does what the extension does at a right-click "Explain Image" on 'auto' — it starts the runtime thread (the bundle
 * dist/ort-thread.js, as activation does), hands it the model (HostPreview.prepare) and the image file (begin) at
 * once, then asks for the map as the panel does — and prints when each step ended on the thread, with onnxruntime-node
 * on the thread (the platform package) and onnxruntime-web's threaded wasm (the universal one).
 *
 *   npx tsc -b && node esbuild.mjs && npx tsx bench/first-preview.ts [--runs N] [--runtimes node,wasm]
 *     [--image FILE] [--model FILE] [--node-flags "--no-wasm-tier-up ..."] [--json]
 *
 * Columns (ms after the "click"): runtime (the thread's runtimeStart answered), load (model loaded), waited (the
 * map's request waited for the load), prepare (prepareImage), forward, explain, map (the host has the answer). A
 * shared 2-core machine is noisy: compare medians of several runs, as ratios.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostPreview } from '../src/extension/host-preview';
import { RuntimeThread } from '../src/node/thread-runtime';
import type { ModelPayload, PreviewAnswer } from '../src/protocol/protocol';

const ROOT = path.resolve(__dirname, '..');

/** One cold run's figures (ms after the click). */
interface Run {
  readonly runtime: number;
  readonly load: number;
  readonly waited: number;
  readonly prepare: number;
  readonly forward: number;
  readonly explain: number;
  readonly map: number;
  readonly backend: string;
  readonly top: string;
  /** With --cpu: per step (until load, waiting, prepare, forward+explain), its wall ms and the CPU ms of each thread group. */
  readonly cpu?: Record<string, Record<string, number>>;
}

/** CPU ms so far of each thread of this process, by thread id (/proc: Linux only; 10 ms ticks). */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Samples every thread's CPU time every 10 ms; `window` gives the CPU each thread group used between two instants
 * (epoch ms): the host's main thread, the threads there before the runtime thread started (V8's platform workers,
 * where it compiles in the background), the runtime thread (the first thread started after it), and the later ones
 * (onnxruntime-web's wasm pool, libuv's pool).
 */
function cpuSampler(): { window(from: number, to: number): Record<string, number>; stop(): void } {
  const before = new Set(threadCpu().keys());
  const samples: { t: number; cpu: Map<number, number> }[] = [];
  const born: number[] = [];
  const take = () => {
    const cpu = threadCpu();
    for (const tid of cpu.keys()) if (!before.has(tid) && !born.includes(tid)) born.push(tid);
    samples.push({ t: Date.now(), cpu });
  };
  take();
  const timer = setInterval(take, 10);
  const group = (tid: number): string => {
    if (tid === process.pid) return 'host main';
    if (before.has(tid)) return 'V8 platform';
    return born.indexOf(tid) === 0 ? 'runtime thread' : 'later threads';
  };
  return {
    window(from, to) {
      const a = [...samples].reverse().find((s) => s.t <= from) ?? samples[0];
      const b = samples.find((s) => s.t >= to) ?? samples[samples.length - 1];
      const out: Record<string, number> = { wall: b.t - a.t };
      for (const [tid, ms] of b.cpu) out[group(tid)] = (out[group(tid)] ?? 0) + ms - (a.cpu.get(tid) ?? 0);
      return out;
    },
    stop: () => clearInterval(timer),
  };
}

const COLUMNS = ['runtime', 'load', 'waited', 'prepare', 'forward', 'explain', 'map'] as const;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** The CPU each thread group used in each step of the first map. */
function phases(s: ReturnType<typeof cpuSampler>, click: number, began: number, a: PreviewAnswer): Record<string, Record<string, number>> {
  const prepared = began + a.ms.waited;
  // Preprocessed while the model loaded: that step is inside 'load', and the forward pass follows the wait.
  const prep = a.preparedWhileLoading ? 0 : a.ms.prepare;
  const edges: [string, number][] = [['load', click + a.ms.load], ['wait', prepared], ['prepare', prepared + prep], ['forward+explain', prepared + prep + a.ms.forward + a.ms.explain]];
  let from = click;
  const out: Record<string, Record<string, number>> = {};
  for (const [name, to] of edges) {
    if (to > from) out[name] = s.window(from, to);
    from = Math.max(from, to);
  }
  return out;
}

/** The child: one cold first map, its figures as one JSON line on stdout. */
async function child(backend: 'auto' | 'wasm', dist: string, modelFile: string, imageFile: string): Promise<void> {
  const bundle = path.join(dist, 'ort-thread.js');
  const threads = Math.max(1, Math.min(16, os.availableParallelism()));
  const sampler = process.argv.includes('--cpu') ? cpuSampler() : undefined;
  const click = Date.now();
  const thread = new RuntimeThread({ file: bundle }, { threads, backend, wasmDir: path.join(dist, 'ort-node') });
  const started = thread.start().then(() => Date.now() - click);
  const preview = new HostPreview(thread, 'The benchmark');
  const labels = (n: string) => fs.readFileSync(path.join(ROOT, 'assets', 'labels', n), 'utf8');
  const model: ModelPayload = {
    key: `file://${modelFile}`, name: path.basename(modelFile), origin: 'bundled', bytes: new Uint8Array(fs.readFileSync(modelFile)),
    fingerprint: `["${modelFile}"]`, writable: false,
    fallbackLabels: { imagenet: labels('imagenet-simple-labels.json'), digits: labels('mnist_labels.txt') },
  };
  const lease = preview.prepare(model);
  const imageKey = `file://${imageFile}`;
  const began = Date.now();
  if (!preview.begin({ key: imageKey, bytes: new Uint8Array(fs.readFileSync(imageFile)) })) throw new Error(`${imageFile}: not a PNG or JPEG the host decodes`);
  const a: PreviewAnswer = await preview.explain({ type: 'preview', key: model.key, imageKey, top: 1 });
  const map = Date.now() - click;
  const run: Run = {
    runtime: await started, load: a.ms.load, waited: a.ms.waited, prepare: a.ms.prepare, forward: a.ms.forward, explain: a.ms.explain, map,
    backend: a.backend, top: a.predictions[0]?.label ?? '',
    cpu: sampler && phases(sampler, click, began, a),
  };
  sampler?.stop();
  await lease();
  await thread.dispose();
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  const runs = Number(arg('runs', '5'));
  const runtimes = arg('runtimes', 'node,wasm').split(',') as ('node' | 'wasm')[];
  const modelFile = path.resolve(arg('model', path.join(ROOT, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx')));
  const imageFile = path.resolve(arg('image', path.join(ROOT, 'assets', 'samples', 'wm_cat.jpg')));
  const cpu = process.argv.includes('--cpu');
  const nodeFlags = arg('node-flags', '').split(/\s+/).filter(Boolean);
  const dists = arg('dist', path.join(ROOT, 'dist')).split(',').map((d) => path.resolve(d));
  for (const d of dists) if (!fs.existsSync(path.join(d, 'ort-thread.js'))) throw new Error(`${d}/ort-thread.js is missing: run \`npx tsc -b && node esbuild.mjs\` first.`);
  const all: Record<string, Run[]> = {};
  // Interleaved (node, wasm, node, wasm…) so that load from elsewhere on the machine hits both alike.
  for (let i = 0; i < runs; i++) {
    for (const [rt, dist] of runtimes.flatMap((r) => dists.map((d) => [r, d] as const))) {
      const backend = rt === 'node' ? 'auto' : 'wasm';
      const name = dists.length > 1 ? `${rt} ${path.basename(path.dirname(dist))}` : rt;
      const p = spawnSync(process.execPath, [...nodeFlags, '--require', 'tsx/cjs', __filename, '--child', backend, dist, modelFile, imageFile, ...(cpu ? ['--cpu'] : [])], { cwd: ROOT, encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`run ${i + 1} (${name}) failed: ${p.stderr}`);
      const run = JSON.parse(p.stdout.trim().split('\n').pop()!) as Run;
      (all[name] ??= []).push(run);
      const during = run.cpu ? `\n  CPU ms by thread: ${Object.entries(run.cpu).map(([step, g]) => `${step}: ${Object.entries(g).map(([k, v]) => `${k} ${v}`).join(', ')}`).join('\n                    ')}` : '';
      process.stderr.write(`${name} ${i + 1}/${runs}: ${COLUMNS.map((c) => `${c} ${Math.round(run[c])}`).join(', ')}${during}\n`);
    }
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(all, null, 1)}\n`);
    return;
  }
  console.log(`first map of ${path.basename(imageFile)} with ${path.basename(modelFile)}, ${runs} cold runs each${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''} (ms after the click: median, min–max)`);
  console.log(['runtime thread'.padEnd(20), ...COLUMNS.map((c) => c.padStart(17))].join(''));
  for (const [rt, rs] of Object.entries(all)) {
    const cell = (c: (typeof COLUMNS)[number]) => {
      const v = rs.map((r) => r[c]);
      return `${Math.round(median(v))} (${Math.round(Math.min(...v))}–${Math.round(Math.max(...v))})`.padStart(17);
    };
    console.log([rt.padEnd(20), ...COLUMNS.map(cell)].join(''));
    console.log(`  ${rs[0].backend}; top class: ${[...new Set(rs.map((r) => r.top))].join(', ')}`);
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as 'auto' | 'wasm', process.argv[4], process.argv[5], process.argv[6]).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
} else {
  main();
}
