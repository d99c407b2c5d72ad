/**
 * `npm run bench -- --editor-cpu`: Grad-CAM on ResNet-50 (random weights, exported with PyTorch; ResNet-18 or the
 * bundled SqueezeNet when it cannot be) in the editor's CPU paths — the webview's single-threaded WASM (measured as
 * onnxruntime-web wasm with one thread in Node, the same kernels), the extension host's runtime thread as the
 * .vsix ships it (onnxruntime-web threaded wasm) and with onnxruntime-node where it is installed — against
 * Grad-CAM in PyTorch on the same CPU with as many threads (bench/pytorch-gradcam.py). Every figure comes from
 * the same run, so the ratios hold on a busy machine where the times do not.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostThreads } from '../src/extension/host-runtime';
import type { CaseResult } from './run-node';

/** One backend's Grad-CAM time. */
export interface EditorCpuRow {
  readonly path: string;
  readonly backend: string;
  readonly medianMs?: number;
  readonly minMs?: number;
  readonly forwardMs?: number;
  readonly note?: string;
}

/** What the check found. */
export interface EditorCpuResult {
  readonly model: string;
  readonly threads: number;
  readonly rows: EditorCpuRow[];
  /** Ratios of Grad-CAM times (medians, and fastest runs). */
  readonly ratios: Record<string, { readonly median: number; readonly fastest: number }>;
}

/** What the check needs from bench.ts. */
export interface EditorCpuOptions {
  readonly root: string;
  readonly modelCache: string;
  readonly image: string;
  readonly threads?: number;
  /** --reps/--warmup/--max-seconds as given to bench. */
  readonly timing: string[];
  readonly nativeInstalled: boolean;
  readonly hasTorch: boolean;
  readonly notes: string[];
  runCase(script: string, args: string[]): Promise<CaseResult>;
}

function pickModel(o: EditorCpuOptions): { name: string; path: string; arch?: string } {
  for (const arch of ['resnet50', 'resnet18']) {
    const p = path.join(o.modelCache, `${arch}.onnx`);
    if (!fs.existsSync(p) && o.hasTorch) {
      process.stderr.write(`Exporting ${arch} with PyTorch into ${path.relative(o.root, o.modelCache)}/ (random weights, once)…\n`);
      execFileSync('/usr/bin/python3', [path.join(o.root, 'scripts', 'bench-models.py'), o.modelCache, arch], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    if (fs.existsSync(p)) return { name: arch, path: p, arch };
  }
  o.notes.push('Editor CPU check: no ResNet could be exported (PyTorch is missing); it ran on the bundled SqueezeNet, without a PyTorch figure.');
  return { name: 'squeezenet1.0-fp16', path: path.join(o.root, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx') };
}

/** Runs the check and prints its section. */
export async function editorCpu(o: EditorCpuOptions): Promise<EditorCpuResult> {
  const model = pickModel(o);
  const threads = o.threads ?? hostThreads();
  const rows: EditorCpuRow[] = [];
  const cases: [string, string, string[]][] = [
    ['webview WASM (1 thread)', 'wasm', ['--threads', '1']],
    [`extension host, as shipped (${threads} threads)`, 'host', ['--threads', String(threads)]],
    ...(o.nativeInstalled ? [[`extension host, onnxruntime-node (${threads} threads)`, 'host-native', ['--threads', String(threads)]] as [string, string, string[]]] : []),
  ];
  for (const [label, backend, extra] of cases) {
    process.stderr.write(`${model.name}: Grad-CAM on the ${label}…\n`);
    try {
      const r = await o.runCase('run-node.ts', ['--model', model.path, '--backend', backend, '--image', o.image, '--methods', 'gradcam', '--top5', '', ...extra, ...o.timing]);
      const g = r.rows.find((x) => x.id === 'gradcam' && x.status === 'ok');
      const f = r.rows.find((x) => x.id === 'forward' && x.status === 'ok');
      rows.push({ path: label, backend: r.backend, medianMs: g?.medianMs, minMs: g?.minMs, forwardMs: f?.medianMs, note: g ? undefined : 'Grad-CAM did not run' });
    } catch (e) {
      rows.push({ path: label, backend, note: e instanceof Error ? e.message : String(e) });
    }
  }
  if (model.arch && o.hasTorch) {
    process.stderr.write(`${model.name}: Grad-CAM in PyTorch (${threads} threads)…\n`);
    try {
      const out = execFileSync('/usr/bin/python3', [path.join(o.root, 'bench', 'pytorch-gradcam.py'), model.arch, String(threads), '7', '30'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      const j = JSON.parse(out.trim().split('\n').pop()!) as { medianMs: number; minMs: number; threads: number; torch: string };
      rows.push({ path: `PyTorch Grad-CAM (${j.threads} threads)`, backend: `torch ${j.torch}`, medianMs: j.medianMs, minMs: j.minMs });
    } catch (e) {
      rows.push({ path: 'PyTorch Grad-CAM', backend: 'torch', note: e instanceof Error ? e.message : String(e) });
    }
  }
  const find = (prefix: string) => rows.find((r) => r.path.startsWith(prefix) && r.medianMs !== undefined);
  const ratios: EditorCpuResult['ratios'] = {};
  const ratio = (name: string, a?: EditorCpuRow, b?: EditorCpuRow) => {
    if (a && b) ratios[name] = { median: a.medianMs! / b.medianMs!, fastest: a.minMs! / b.minMs! };
  };
  const wasm = find('webview WASM');
  const shipped = find('extension host, as shipped');
  const native = find('extension host, onnxruntime-node');
  const torch = find('PyTorch');
  ratio('webview WASM / PyTorch', wasm, torch);
  ratio('host (as shipped) / PyTorch', shipped, torch);
  ratio('host (onnxruntime-node) / PyTorch', native, torch);
  ratio('webview WASM / host (as shipped)', wasm, shipped);
  ratio('webview WASM / host (onnxruntime-node)', wasm, native);
  return { model: model.name, threads, rows, ratios };
}

/** Prints the check's section of the report. */
export function printEditorCpu(e: EditorCpuResult): void {
  const fmt = (v?: number) => (v === undefined ? '' : v.toFixed(0));
  console.log(`\nEditor CPU path: Grad-CAM (one class, default layer) on ${e.model}, ${e.threads} threads where threaded`);
  for (const r of e.rows) console.log(`  ${r.path.padEnd(48)}${fmt(r.medianMs).padStart(8)} ms median${fmt(r.minMs).padStart(8)} ms fastest  ${r.note ? `(${r.note})` : r.backend}`);
  for (const [k, v] of Object.entries(e.ratios)) console.log(`  ${k.padEnd(48)}${v.median.toFixed(2).padStart(8)} × median ${v.fastest.toFixed(2).padStart(6)} × fastest runs`);
}
