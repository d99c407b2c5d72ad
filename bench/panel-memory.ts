/**
 * `npm run bench -- --panel-memory`: issue 13's memory check on the panel's own runtime. In headless Chromium
 * (bench/run-browser.ts --memory, bench/browser-page.ts runMemory), onnxruntime-web on WASM in the panel's worker
 * loads the model, runs one forward pass, then every registered method once on the top class, keeping each
 * method's sessions loaded, and reads the size of its WebAssembly heap after each (wasm32: at most 4 GB; a heap
 * never shrinks, so the last figure is the peak). Models: the random-weight ResNet-50 and ViT-B/16 exported by
 * scripts/bench-models.py (or those given with --only-given). Methods that report progress stop after a few
 * steps (`--memory-steps`, default 2): their later batches have the shapes of their first, and would take an
 * hour on ViT-B/16 in single-threaded WASM.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MemoryRow } from './browser-page';
import type { CaseResult } from './run-node';

/** What the page reported for one model. */
export interface PanelMemory {
  readonly model: string;
  readonly modelMB: number;
  readonly backend: string;
  readonly runtimeMB: number;
  readonly forwardOnly: { readonly heapMB: number; readonly ms: number };
  readonly rows: readonly MemoryRow[];
}

/** What the check needs from bench.ts. */
export interface PanelMemoryOptions {
  readonly root: string;
  readonly modelCache: string;
  readonly image: string;
  /** Models given on the command line; empty: ResNet-50 and ViT-B/16. */
  readonly given: readonly string[];
  readonly methods?: string;
  readonly steps?: string;
  readonly hasTorch: boolean;
  readonly notes: string[];
  runCase(script: string, args: string[]): Promise<CaseResult>;
}

/** The models to check: those given, else the generated ResNet-50 and ViT-B/16 (exported once when missing). */
function models(o: PanelMemoryOptions): string[] {
  if (o.given.length) return [...o.given];
  const out: string[] = [];
  for (const arch of ['resnet50', 'vit_b_16']) {
    const p = path.join(o.modelCache, `${arch}.onnx`);
    if (!fs.existsSync(p) && o.hasTorch) {
      process.stderr.write(`Exporting ${arch} with PyTorch into ${path.relative(o.root, o.modelCache)}/ (random weights, once)…\n`);
      execFileSync('/usr/bin/python3', [path.join(o.root, 'scripts', 'bench-models.py'), o.modelCache, arch], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    if (fs.existsSync(p)) out.push(p);
    else o.notes.push(`Panel memory: ${arch} skipped (PyTorch is missing to export it).`);
  }
  return out;
}

/** Runs the check on each model, one Chromium per model. */
export async function panelMemory(o: PanelMemoryOptions): Promise<PanelMemory[]> {
  const out: PanelMemory[] = [];
  for (const m of models(o)) {
    process.stderr.write(`${path.basename(m)}: every method in the panel's runtime (Chromium, WASM), heap after each…\n`);
    try {
      const args = ['--memory', '--model', m, '--image', o.image, ...(o.methods ? ['--methods', o.methods] : []), ...(o.steps ? ['--steps', o.steps] : [])];
      out.push((await o.runCase('run-browser.ts', args)) as unknown as PanelMemory);
    } catch (e) {
      o.notes.push(`Panel memory on ${path.basename(m)} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}

/** The peak heap and its ratio to the forward-only heap, and whether any method ran out of memory. */
export function summary(r: PanelMemory): { peakMB: number; ratio: number; outOfMemory: string[]; errors: string[] } {
  const peakMB = Math.max(r.forwardOnly.heapMB, ...r.rows.map((x) => x.heapMB));
  return {
    peakMB, ratio: peakMB / r.forwardOnly.heapMB,
    outOfMemory: r.rows.filter((x) => x.status === 'out of memory').map((x) => x.method),
    errors: r.rows.filter((x) => x.status === 'error').map((x) => `${x.method}: ${x.note ?? ''}`),
  };
}

/** Prints the check's section of the report. */
export function printPanelMemory(rs: readonly PanelMemory[]): void {
  for (const r of rs) {
    const s = summary(r);
    console.log(`\nPanel memory: ${path.basename(r.model)} (${r.modelMB.toFixed(0)} MB) on ${r.backend}, onnxruntime's WebAssembly heap (at most 4096 MB)`);
    console.log(`  ${'runtime started'.padEnd(28)}${r.runtimeMB.toFixed(0).padStart(7)} MB`);
    console.log(`  ${'model + one forward pass'.padEnd(28)}${r.forwardOnly.heapMB.toFixed(0).padStart(7)} MB  (${(r.forwardOnly.ms / 1000).toFixed(1)} s)`);
    for (const x of r.rows) {
      const what = x.status === 'stopped' ? `stopped after ${x.steps}` : x.status;
      console.log(`  ${x.method.padEnd(28)}${x.heapMB.toFixed(0).padStart(7)} MB  ${(x.ms / 1000).toFixed(1).padStart(6)} s  ${what}${x.note && x.status !== 'n/a' ? ` (${x.note.slice(0, 160)})` : ''}`);
    }
    console.log(`  peak ${s.peakMB.toFixed(0)} MB = ${s.ratio.toFixed(2)}× the forward-only heap; ${s.outOfMemory.length ? `OUT OF MEMORY in ${s.outOfMemory.join(', ')}` : 'no method ran out of memory'}${s.errors.length ? `; errors: ${s.errors.join('; ')}` : ''}`);
  }
}
