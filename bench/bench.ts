/**
 * `npm run bench`: session creation, forward and every registered method on the bundled models (SqueezeNet
 * float16, MNIST), on random-weight ResNet-18 and MobileNetV2 generated with PyTorch, and on any model given
 * on the command line; on onnxruntime-web (wasm) and onnxruntime-node in Node, and with --browser on
 * onnxruntime-web in headless Chromium. Prints a table with ratios to one forward pass and writes the same
 * as JSON. See README "Benchmarks".
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchRow } from './measure';
import type { CaseResult } from './run-node';

const ROOT = path.resolve(__dirname, '..');
const MODEL_CACHE = path.join(ROOT, '.cache', 'bench-models');
const PHOTO = path.join(ROOT, 'assets', 'samples', 'two_class_both_dog_cat.png');
const DIGIT = path.join(ROOT, 'test', 'fixtures', 'images', 'mnist', 'mnist_7_1055.png');

const USAGE = `npm run bench -- [MODEL.onnx ...] [options]

  --backends wasm,node     backends in Node (default: both, node when onnxruntime-node is installed)
  --browser                also onnxruntime-web (wasm) in headless Chromium (/usr/bin/chromium)
  --browser-webgpu         also onnxruntime-web WebGPU in headless Chromium (SwiftShader without a GPU: slow)
  --only-given             only the models given on the command line
  --no-generated           skip the generated ResNet-18 / MobileNetV2
  --resnet50               also a generated random-weight ResNet-50 (98 MB: memory with every method loaded)
  --methods a,b            method ids (default: every registered method)
  --top5 a,b               methods also measured for the top 5 classes (default: gradcam,guided-backprop)
  --reps N                 timed runs per row after warm-up (default 7)
  --node-threads N         onnxruntime-node intra-op threads (default 2, as the CLI)
  --warmup N               untimed runs before timing (default 1)
  --max-seconds S          stop repeating a row after S seconds once it ran 3 times (default 20)
  --editor-cpu             also Grad-CAM on ResNet-50 in the editor's CPU paths (webview WASM, extension host)
                           against PyTorch on the same CPU (see bench/editor-cpu.ts); --editor-threads N
  --panel-memory           also the panel's memory: every method on ResNet-50 and ViT-B/16 (or the models given
                           with --only-given) in Chromium's WASM worker, its heap after each (bench/panel-memory.ts);
                           --memory-steps N: progress steps a batched method runs (default 2)
  --batch                  also batch throughput: explain DIR vs the single-image command (see --batch-*)
  --batch-images N         images in the batch folder (default 100)
  --single-runs N          single-image command runs to time (default 10; throughput is per image)
  --batch-model NAME       model for the batch check (default resnet18)
  --batch-method ID        method for the batch check (default gradcam)
  --no-metrics             skip the row timing every faithfulness metric of one map (issue 12: ≤ 40 forward passes)
  --no-pytorch-scorecam    skip pytorch-grad-cam's Score-CAM side by side with Look Closer's on ResNet-18
                           (bench/pytorch-gradcam.py --scorecam; needs torch and pytorch-grad-cam in PGC_DIR, see there)
  --out FILE               JSON results (default bench-results/bench.json)`;

/** A model to benchmark and the image to feed it. */
interface BenchModel {
  readonly name: string;
  readonly path: string;
  readonly image: string;
  /** Which performance targets apply ('resnet', 'mobilenet'). */
  readonly family?: 'resnet' | 'mobilenet';
}

/** Which architecture each generated model is. */
const GENERATED: Record<string, 'resnet' | 'mobilenet'> = { resnet18: 'resnet', mobilenet_v2: 'mobilenet' };

function hasTorch(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The generated models, exported with PyTorch into .cache/bench-models/ when missing. */
function generatedModels(notes: string[], resnet50 = false): BenchModel[] {
  const generated: Record<string, 'resnet' | 'mobilenet'> = resnet50 ? { ...GENERATED, resnet50: 'resnet' } : GENERATED;
  const missing = Object.keys(generated).filter((n) => !fs.existsSync(path.join(MODEL_CACHE, `${n}.onnx`)));
  if (missing.length) {
    if (!hasTorch()) {
      notes.push(`ResNet-18 and MobileNetV2 skipped: /usr/bin/python3 cannot import torch and torchvision (Debian: apt-get install python3-torch python3-torchvision).`);
      return [];
    }
    process.stderr.write(`Exporting ${missing.join(', ')} with PyTorch into ${path.relative(ROOT, MODEL_CACHE)}/ (random weights, once)…\n`);
    execFileSync('/usr/bin/python3', [path.join(ROOT, 'scripts', 'bench-models.py'), MODEL_CACHE, ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return Object.entries(generated).map(([n, family]) => ({ name: n, path: path.join(MODEL_CACHE, `${n}.onnx`), image: PHOTO, family }));
}

function nodeBackendInstalled(): boolean {
  try {
    require.resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

/** Runs one case in a child process; its progress goes to stderr, its result is the last stdout line. */
function runCase(script: string, args: string[]): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    // --import tsx (not the tsx CLI, which runs the script in a grandchild) so that --expose-gc reaches it.
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(__dirname, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as CaseResult);
      else reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
    });
  });
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits));

/** One table per model: a row per step, a column group per backend. */
function printTable(model: BenchModel, cases: CaseResult[]): void {
  const first = cases[0];
  console.log(`\n${model.name}  (${fmt(first.modelMB)} MB, input ${first.inputDims.join('×')})`);
  const ids: string[] = [];
  for (const c of cases) for (const r of c.rows) if (!ids.includes(r.id)) ids.push(r.id);
  const W = 22;
  const col = 47;
  console.log(' '.repeat(W) + cases.map((c) => `${c.backend}${c.environment === 'node' ? '' : ` in ${c.environment}`}`.padEnd(col)).join(''));
  console.log('step'.padEnd(W) + cases.map(() => `${'median ms'.padStart(10)}${'×fwd'.padStart(7)}${'(min)'.padStart(7)}${'cpu×'.padStart(7)}${'first ms'.padStart(10)}`.padEnd(col)).join(''));
  const line = (label: string, cells: string[]) => console.log(label.padEnd(W) + cells.map((c) => c.padEnd(col)).join(''));
  line('runtime start', cases.map((c) => fmt(c.runtimeStartMs, 0).padStart(10)));
  line('load (session)', cases.map((c) => fmt(c.loadMs, 0).padStart(10)));
  if (cases.some((c) => c.coldStart)) {
    // The panel's path in a fresh page: ms since nothing was loaded (runtime → session → layer probe → first CAM map).
    const cold = (pick: (x: NonNullable<CaseResult['coldStart']>) => number) => cases.map((c) => (c.coldStart ? fmt(pick(c.coldStart), 0).padStart(10) : ''));
    line('cold: runtime at', cold((x) => x.runtime));
    line('cold: session at', cold((x) => x.session));
    line('cold: layers at', cold((x) => x.layers));
    line('cold: first map at', cold((x) => x.firstMap));
    line('warm: next image', cold((x) => x.nextImageMs));
    line('warm: next class', cold((x) => x.nextClassMs));
  }
  for (const id of ids) {
    line(id, cases.map((c) => {
      const r = c.rows.find((x) => x.id === id);
      if (!r) return '';
      if (r.status !== 'ok') return `${r.status}`.padStart(10);
      return `${fmt(r.medianMs).padStart(10)}${fmt(r.ratio, 2).padStart(7)}${fmt(r.minRatio, 2).padStart(7)}${fmt(r.cpuRatio, 2).padStart(7)}${(r.firstMs === undefined ? '' : fmt(r.firstMs, 0)).padStart(10)}`;
    }));
  }
  line('peak RSS / heap MB', cases.map((c) => `${fmt(c.memory.peakRssMB, 0)} / ${fmt(c.memory.peakHeapMB, 0)}`.padStart(10)));
  // Forward-only: the peak up to the forward rows (runtime, model bytes, forward session); every method: the peak of the whole run.
  line('RSS fwd / all MB', cases.map((c) => c.memory.forwardRssMB === undefined ? '' : `${fmt(c.memory.forwardRssMB, 0)} / ${fmt(c.memory.peakRssMB, 0)} = ${fmt(c.memory.peakRssMB / c.memory.forwardRssMB, 2)}×`.padStart(10)));
  for (const c of cases) for (const r of c.rows) if (r.status !== 'ok') console.log(`  ${c.backend} ${r.id}: ${r.note}`);
}

/** A target check: what, the measured value, the limit, and whether it holds. */
interface TargetCheck {
  readonly target: string;
  readonly model: string;
  readonly backend: string;
  readonly value: number;
  /** The same from the fastest runs (min/min), less sensitive to other load. */
  readonly valueMin?: number;
  /** The same from process CPU time (Node), which other processes disturb less than wall time. */
  readonly valueCpu?: number;
  readonly limit: number;
  readonly direction: '≤' | '≥';
  readonly met: boolean;
}

function check(target: string, model: string, backend: string, value: number | undefined, limit: number, direction: '≤' | '≥', valueMin?: number, valueCpu?: number): TargetCheck[] {
  if (value === undefined || !Number.isFinite(value)) return [];
  return [{ target, model, backend, value, valueMin, valueCpu, limit, direction, met: direction === '≤' ? value <= limit : value >= limit }];
}

function targetChecks(models: BenchModel[], results: Record<string, CaseResult[]>): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const m of models) {
    if (!m.family) continue;
    const cases = results[m.name] ?? [];
    for (const c of cases) {
      const row = (id: string): BenchRow | undefined => c.rows.find((r) => r.id === id && r.status === 'ok');
      const where = c.environment === 'node' ? c.backend : `${c.backend} in ${c.environment}`;
      out.push(...check('Grad-CAM (default layer) / forward', m.name, where, row('gradcam')?.ratio, 1.15, '≤', row('gradcam')?.minRatio, row('gradcam')?.cpuRatio));
      out.push(...check('guided backprop / forward', m.name, where, row('guided-backprop')?.ratio, 2.3, '≤', row('guided-backprop')?.minRatio, row('guided-backprop')?.cpuRatio));
      const one = row('gradcam');
      const five = row('gradcam ×5');
      // Each row's ratio to its paired forward passes, so that load drifting between the two rows cancels.
      if (one && five) out.push(...check('Grad-CAM top-5 / one class', m.name, where, five.ratio! / one.ratio!, 1.5, '≤', five.minRatio! / one.minRatio!, five.cpuRatio! / one.cpuRatio!));
      const gb1 = row('guided-backprop');
      const gb5 = row('guided-backprop ×5');
      if (m.family === 'resnet' && gb1 && gb5) out.push(...check('guided backprop top-5 / one class', m.name, where, gb5.ratio! / gb1.ratio!, 2.5, '≤', gb5.minRatio! / gb1.minRatio!, gb5.cpuRatio! / gb1.cpuRatio!));
      const ig = row('integrated-gradients');
      if (m.family === 'resnet' && ig) out.push(...check('Integrated Gradients (32 steps) / forward', m.name, where, ig.ratio, 12, '≤', ig.minRatio, ig.cpuRatio));
      const mt = row('metrics (all)');
      if (m.family === 'resnet' && mt) out.push(...check('all metrics of one map / forward', m.name, where, mt.ratio, 40, '≤', mt.minRatio, mt.cpuRatio));
    }
    if (m.family === 'resnet') {
      const wasm = cases.find((c) => c.backend.includes('wasm') && c.environment === 'node');
      const native = cases.find((c) => c.backend.startsWith('onnxruntime-node'));
      const fw = (c?: CaseResult) => c?.rows.find((r) => r.id === 'forward')?.medianMs;
      const gb = (c?: CaseResult) => c?.rows.find((r) => r.id === 'guided-backprop')?.medianMs;
      if (wasm && native) {
        const mn = (c: CaseResult, id: string) => c.rows.find((r) => r.id === id)?.minMs;
        out.push(...check('native speed-up over wasm (forward)', m.name, 'node vs wasm', fw(wasm)! / fw(native)!, 3, '≥', mn(wasm, 'forward')! / mn(native, 'forward')!));
        out.push(...check('native speed-up over wasm (guided backprop)', m.name, 'node vs wasm', gb(wasm)! / gb(native)!, 3, '≥', mn(wasm, 'guided-backprop')! / mn(native, 'guided-backprop')!));
      }
    }
  }
  return out;
}

/** What bench/pytorch-gradcam.py --scorecam prints. */
interface PytorchScoreCam {
  readonly medianMs: number;
  readonly minMs: number;
  readonly cpuMs: number;
  readonly forwardMedianMs: number;
  readonly threads: number;
  readonly reps: number;
}

/**
 * Score-CAM side by side (issue 15: at most 0.1× pytorch-grad-cam's time): pytorch-grad-cam's ScoreCAM (batch 16,
 * 2 threads) on the same random weights as the generated ResNet-18 and the same photo, run here right after Look
 * Closer's rows, against Look Closer's Score-CAM row on each backend. Wall times, and process CPU times (both
 * sides' CPU seconds, which other processes on the machine disturb less).
 */
function scoreCamSideBySide(models: BenchModel[], results: Record<string, CaseResult[]>, notes: string[]): { line: string; targets: TargetCheck[]; pytorch: PytorchScoreCam } | undefined {
  const m = models.find((x) => x.path === path.join(MODEL_CACHE, 'resnet18.onnx'));
  const cases = (m && results[m.name]?.filter((c) => c.rows.some((r) => r.id === 'scorecam' && r.status === 'ok'))) ?? [];
  if (!m || !cases.length) return undefined;
  if (!hasTorch()) {
    notes.push('Score-CAM side by side skipped: /usr/bin/python3 cannot import torch and torchvision.');
    return undefined;
  }
  process.stderr.write('pytorch-grad-cam Score-CAM on resnet18 (batch 16, 2 threads)…\n');
  let py: PytorchScoreCam;
  try {
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'pytorch-gradcam.py'), '--scorecam', 'resnet18', '2', m.image, '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    py = JSON.parse(out.trim().split('\n').pop()!) as PytorchScoreCam;
  } catch (e) {
    notes.push(`Score-CAM side by side skipped: bench/pytorch-gradcam.py --scorecam failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); pytorch-grad-cam must be extracted into PGC_DIR (default /tmp/pgc), see scripts/README-cam-reference.md.`);
    return undefined;
  }
  const lines: string[] = [];
  const targets: TargetCheck[] = [];
  for (const c of cases) {
    const r = c.rows.find((x) => x.id === 'scorecam')!;
    const ratio = r.medianMs! / py.medianMs;
    lines.push(`Score-CAM: Look Closer ${fmt(r.medianMs! / 1000, 1)} s vs pytorch-grad-cam ${fmt(py.medianMs / 1000, 1)} s = ${fmt(ratio, 3)} `
      + `(${c.backend}; CPU time ${fmt(r.cpuMs! / 1000, 1)} s vs ${fmt(py.cpuMs / 1000, 1)} s = ${fmt(r.cpuMs! / py.cpuMs, 3)}; `
      + `pytorch-grad-cam = ${fmt(py.medianMs / py.forwardMedianMs, 0)}× a PyTorch forward pass, ${py.threads} threads, batch 16)`);
    targets.push(...check('Score-CAM / pytorch-grad-cam ScoreCAM (side by side)', m.name, c.backend, ratio, 0.1, '≤', r.minMs! / py.minMs, r.cpuMs! / py.cpuMs));
  }
  return { line: lines.join('\n'), targets, pytorch: py };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      backends: { type: 'string' }, browser: { type: 'boolean' }, 'browser-webgpu': { type: 'boolean' }, 'only-given': { type: 'boolean' }, 'no-generated': { type: 'boolean' }, resnet50: { type: 'boolean' },
      methods: { type: 'string' }, top5: { type: 'string' }, reps: { type: 'string' }, warmup: { type: 'string' }, 'max-seconds': { type: 'string' },
      batch: { type: 'boolean' }, 'batch-images': { type: 'string' }, 'single-runs': { type: 'string' }, 'batch-model': { type: 'string' }, 'batch-method': { type: 'string' }, 'node-threads': { type: 'string' },
      'editor-cpu': { type: 'boolean' }, 'editor-threads': { type: 'string' }, 'no-metrics': { type: 'boolean' }, 'no-pytorch-scorecam': { type: 'boolean' },
      'panel-memory': { type: 'boolean' }, 'memory-steps': { type: 'string' },
      out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const notes: string[] = [];
  const models: BenchModel[] = [];
  const memoryOnly = values['panel-memory'] && values['only-given'];
  if (!values['only-given']) {
    models.push({ name: 'squeezenet1.0-fp16', path: path.join(ROOT, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx'), image: PHOTO });
    models.push({ name: 'mnist-8', path: path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx'), image: DIGIT });
    if (!values['no-generated']) models.push(...generatedModels(notes, values.resnet50));
  }
  // Targets apply by architecture name (resnet…, mobilenet…), also to models given on the command line.
  const family = (name: string) => (/resnet/i.test(name) ? 'resnet' : /mobilenet/i.test(name) ? 'mobilenet' : undefined);
  if (!memoryOnly) for (const p of positionals) models.push({ name: path.basename(p), path: path.resolve(p), image: PHOTO, family: family(path.basename(p)) });

  let backends = (values.backends ?? 'wasm,node').split(',').filter(Boolean);
  if (backends.includes('node') && !nodeBackendInstalled()) {
    backends = backends.filter((b) => b !== 'node');
    notes.push('onnxruntime-node is not installed: the native backend was skipped (ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node).');
  }
  const timing = [
    ...(values.reps ? ['--reps', values.reps] : []), ...(values.warmup ? ['--warmup', values.warmup] : []),
    ...(values['max-seconds'] ? ['--max-seconds', values['max-seconds']] : []),
  ];
  const common = [
    ...timing,
    ...(values.methods ? ['--methods', values.methods] : []), ...(values.top5 !== undefined ? ['--top5', values.top5] : []),
  ];

  const startLoad = os.loadavg();
  const results: Record<string, CaseResult[]> = {};
  for (const m of models) {
    const image = m.image;
    for (const b of backends) {
      process.stderr.write(`${m.name} on ${b}…\n`);
      try {
        const threads = b === 'node' && values['node-threads'] ? ['--threads', values['node-threads']] : [];
        const metrics = values['no-metrics'] ? [] : ['--metrics'];
        (results[m.name] ??= []).push(await runCase('run-node.ts', ['--model', m.path, '--backend', b, '--image', image, ...threads, ...metrics, ...common]));
      } catch (e) {
        notes.push(`${m.name} on ${b} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    for (const ep of [...(values.browser ? ['wasm'] : []), ...(values['browser-webgpu'] ? ['webgpu'] : [])]) {
      process.stderr.write(`${m.name} in Chromium (${ep})…\n`);
      try {
        (results[m.name] ??= []).push(await runCase('run-browser.ts', ['--model', m.path, '--image', image, '--ep', ep, ...common]));
      } catch (e) {
        notes.push(`${m.name} in Chromium (${ep}) failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  let batch: Awaited<ReturnType<typeof import('./batch-throughput').measureBatch>> | undefined;
  if (values.batch) {
    const { measureBatch } = await import('./batch-throughput');
    const name = values['batch-model'] ?? 'resnet18';
    const m = models.find((x) => x.name === name) ?? models.find((x) => x.path === path.resolve(name));
    if (!m) notes.push(`Batch check skipped: no model '${name}' in this run.`);
    else batch = await measureBatch({ model: m.path, images: Number(values['batch-images'] ?? 100), singleRuns: Number(values['single-runs'] ?? 10), backends, method: values['batch-method'], notes });
  }

  let editor: Awaited<ReturnType<typeof import('./editor-cpu').editorCpu>> | undefined;
  if (values['editor-cpu']) {
    const { editorCpu } = await import('./editor-cpu');
    editor = await editorCpu({
      root: ROOT, modelCache: MODEL_CACHE, image: PHOTO, threads: values['editor-threads'] ? Number(values['editor-threads']) : undefined,
      timing, nativeInstalled: nodeBackendInstalled(), hasTorch: hasTorch(), notes, runCase,
    });
  }

  let memory: Awaited<ReturnType<typeof import('./panel-memory').panelMemory>> | undefined;
  if (values['panel-memory']) {
    const { panelMemory } = await import('./panel-memory');
    memory = await panelMemory({
      root: ROOT, modelCache: MODEL_CACHE, image: PHOTO, given: memoryOnly ? positionals.map((p) => path.resolve(p)) : [], methods: values.methods,
      steps: values['memory-steps'], hasTorch: hasTorch(), notes, runCase,
    });
  }

  const scoreCam = values['no-pytorch-scorecam'] ? undefined : scoreCamSideBySide(models, results, notes);

  const machine = {
    cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGB: os.totalmem() / 2 ** 30, platform: `${os.platform()} ${os.release()}`,
    node: process.version, loadAverageBefore: startLoad, loadAverageAfter: os.loadavg(),
  };
  console.log(`\nLook Closer benchmark — ${machine.cpus} × ${machine.cpu}, ${machine.memoryGB.toFixed(0)} GB, Node ${machine.node}; load average ${startLoad.map((v) => v.toFixed(1)).join(' ')} → ${machine.loadAverageAfter.map((v) => v.toFixed(1)).join(' ')}`);
  console.log('Times are medians of repeated runs after warm-up; ×fwd is the median ratio to a forward pass run just before each run, (min) the ratio of the fastest runs, cpu× the median ratio of process CPU time; "first" includes building and loading the rewritten graph.');
  if (Math.max(startLoad[0], os.loadavg()[0]) > os.cpus().length) console.log(`warning: the load average exceeded the ${os.cpus().length} CPUs during the run; wall times are disturbed by other processes (compare the cpu× and (min) columns).`);
  for (const m of models) if (results[m.name]?.length) printTable(m, results[m.name]);
  const targets = targetChecks(models, results);
  if (batch?.results.length) {
    console.log('\nBatch throughput (explain MODEL DIR vs the single-image command per image, each a fresh process)');
    for (const r of batch.results) {
      console.log(`  ${r.backend}: ${r.method} on ${r.images} images: single ${fmt(r.singleMeanMs, 0)} ms/image (${r.singleRuns} runs) = ${fmt(r.singleImagesPerSecond, 2)} images/s; batch ${fmt(r.batchWallMs / 1000)} s = ${fmt(r.batchImagesPerSecond, 2)} images/s (${fmt(r.speedup, 2)}×)`);
    }
  }
  if (batch) targets.push(...batch.targets);
  if (editor) {
    const { printEditorCpu } = await import('./editor-cpu');
    printEditorCpu(editor);
    for (const k of ['host (as shipped) / PyTorch', 'host (onnxruntime-node) / PyTorch']) {
      const v = editor.ratios[k];
      if (v) targets.push(...check(`Grad-CAM in the editor, ${k}`, editor.model, 'editor CPU', v.median, 1, '≤', v.fastest));
    }
  }
  if (memory?.length) {
    const { printPanelMemory, summary } = await import('./panel-memory');
    printPanelMemory(memory);
    for (const r of memory) {
      const sm = summary(r);
      targets.push(...check('Every method in the panel (WASM) without running out of memory: methods out of memory', path.basename(r.model), 'chromium wasm', sm.outOfMemory.length, 0, '≤'));
    }
  }
  if (scoreCam) {
    console.log(`\n${scoreCam.line}`);
    targets.push(...scoreCam.targets);
  }
  if (targets.length) {
    console.log('\nTargets');
    for (const t of targets) {
      const extra = [
        t.valueMin !== undefined && Number.isFinite(t.valueMin) ? `fastest runs ${t.valueMin.toFixed(2)}` : '',
        t.valueCpu !== undefined && Number.isFinite(t.valueCpu) ? `CPU time ${t.valueCpu.toFixed(2)}` : '',
      ].filter(Boolean);
      const min = extra.length ? ` (${extra.join(', ')})` : '';
      console.log(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target} ${t.direction} ${t.limit}: ${t.value.toFixed(2)}${min}  (${t.model}, ${t.backend})`);
    }
  }
  for (const n of notes) console.log(`note: ${n}`);
  const out = path.resolve(values.out ?? path.join(ROOT, 'bench-results', 'bench.json'));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), machine, models, results, batch, editor, memory, scoreCam: scoreCam?.pytorch, targets, notes }, null, 2)}\n`);
  console.log(`\nWrote ${path.relative(process.cwd(), out)}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
