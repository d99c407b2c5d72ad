/**
 * Batch mode: `look-closer explain MODEL DIR --method … --out REPORT_DIR` explains every image of a folder
 * with one loaded model. The forward session, the probe and each rewritten backward graph are built once
 * and reused for every image; methods that need only a forward pass (CAM) get the images stacked along
 * the batch axis when the model's batch dimension is free; the next image is decoded while the current one
 * runs. Writes the maps and overlays, `summary.json` and an HTML gallery (src/core/batch-report.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { batchSummary } from '../core/app/batch';
import { ExplainSettings, explainImage, outputRow } from '../core/app/explain-image';
import { INPUT_EXTENSIONS, uniqueStems } from '../core/batch-report';
import { LookCloserError, messageOf } from '../core/errors';
import type { ForwardResult } from '../core/explainer';
import type { Method, ScoreTarget } from '../core/methods/method';
import type { OptionValues } from '../core/methods/options';
import { makeOutputDir, writeOutput } from '../node/files';
import { encodePng } from '../node/image-io';
import { BatchImage, BatchOutput, BatchSummary, writeBatchReport } from '../node/report';
import { LoadedInput, LoadedModel, loadInput, writeExplanation } from '../node/workbench';

export { INPUT_EXTENSIONS };

/** What to run on every image. */
export interface BatchSettings {
  readonly methods: readonly Method[];
  /** Explain these classes in every image; when absent, each image's top `top` predicted classes. */
  readonly classes?: readonly number[];
  readonly top: number;
  /** Target layer of CAM-family methods (default: the model's suggested layer). */
  readonly layer?: string;
  /** The patch grid of token layers where the graph does not tell it (default: the sidecar's `tokenGrid`). */
  readonly grid?: ExplainSettings['grid'];
  readonly target: ScoreTarget;
  readonly colormap: string;
  readonly alpha: number;
  /** Method options per method (flags and sidecar). */
  readonly options: (m: Method) => OptionValues;
  /** Run GAIN's attention-mining check on every output (one or two more forward passes each). */
  readonly gain: boolean;
  /** Faithfulness metrics per output (--metrics; --box is one box for every image, rarely what a folder wants). */
  readonly metrics?: ExplainSettings['metrics'];
  /** Images stacked per forward pass for methods that reuse it; default 8 on onnxruntime-node, 1 on wasm. */
  readonly batchSize?: number;
  readonly outDir: string;
  /** Called after each image. */
  readonly onProgress?: (done: number, total: number, current: string) => void;
  /** Milliseconds spent loading the model, reported in the summary. */
  readonly loadMs?: number;
}

/** The image and tensor files of a folder (not its subfolders), sorted by name. */
export function listInputs(folder: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch (e) {
    throw new LookCloserError('bad-argument', `Cannot read folder '${folder}': ${messageOf(e)}`);
  }
  const files = names
    .filter((n) => INPUT_EXTENSIONS.includes(path.extname(n).toLowerCase()))
    .map((n) => path.join(folder, n))
    // A broken link stays listed: it fails with its own message in the report, and the rest still run.
    .filter((p) => {
      try {
        return fs.statSync(p).isFile();
      } catch {
        return true;
      }
    })
    .sort((a, b) => a.localeCompare(b));
  if (!files.length) throw new LookCloserError('bad-argument', `Folder '${folder}' has no images (${INPUT_EXTENSIONS.join(', ')}).`);
  return files;
}

/** A progress bar on a terminal stream: redrawn in place, cleared at the end; nothing when not a TTY. */
export function terminalProgress(stream: NodeJS.WriteStream): ((done: number, total: number, current: string) => void) | undefined {
  if (!stream.isTTY) return undefined;
  const start = performance.now();
  return (done, total, current) => {
    const s = (performance.now() - start) / 1000;
    const rate = done / Math.max(s, 1e-3);
    const eta = done ? Math.round((total - done) / rate) : 0;
    const width = 24;
    const fill = Math.round((done / total) * width);
    const text = `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${done}/${total}  ${rate.toFixed(2)} img/s  ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, '0')}  ${current}`;
    stream.write(`\r${text.slice(0, Math.max(20, (stream.columns ?? 80) - 1)).padEnd(Math.max(20, (stream.columns ?? 80) - 1))}`);
    if (done === total) stream.write('\n');
  };
}

type Loaded = { input: LoadedInput } | { error: unknown };

/** Explains every image of `folder`; writes the maps, overlays, summary.json and index.html into `settings.outDir`. */
export async function explainFolder(model: LoadedModel, folder: string, settings: BatchSettings): Promise<BatchSummary> {
  const t0 = performance.now();
  const ex = model.explainer;
  const files = listInputs(folder);
  const names = uniqueStems(files);
  const outDir = settings.outDir;
  const mapsDir = path.join(outDir, 'maps');
  const viewsDir = path.join(outDir, 'inputs');
  makeOutputDir(mapsDir);
  makeOutputDir(viewsDir);
  const needsLayer = settings.methods.some((m) => m.family === 'cam');
  const layer = settings.layer ?? (needsLayer ? await model.defaultLayer() : undefined);
  const stacked = settings.methods.some((m) => m.reusesForward);
  const native = !ex.runtime.backend.includes('wasm');
  // Measured on 2 cores: stacking 8 ResNet-18 inputs is ≈1.5× faster per image on onnxruntime-node but no
  // faster (MobileNetV2: slower) on wasm, so wasm runs one at a time unless asked.
  const batchSize = stacked ? Math.max(1, settings.batchSize ?? (native ? 8 : 1)) : 1;
  const n = files.length;
  const images: BatchImage[] = new Array(n);
  /** Methods that do not apply to this model, with the reason: skipped for every image, the others still run. */
  const skipped = new Map<string, string>();
  const load = (i: number): Promise<Loaded> => loadInput(model, files[i]).then((input) => ({ input }), (error) => ({ error }));

  let next: Promise<Loaded>[] = files.slice(0, batchSize).map((_, i) => load(i));
  let done = 0;
  for (let start = 0; start < n; start += batchSize) {
    const chunk = await Promise.all(next);
    // Decode the next chunk while this one runs.
    next = files.slice(start + batchSize, start + 2 * batchSize).map((_, i) => load(start + batchSize + i));
    const ok = chunk.map((c, i) => ({ c, i: start + i })).filter((x): x is { c: { input: LoadedInput }; i: number } => 'input' in x.c);
    let forwards: (ForwardResult | undefined)[] = [];
    const tChunk = performance.now();
    if (stacked && ok.length) {
      try {
        forwards = await ex.forwardBatch(ok.map((x) => x.c.input.tensor), layer ? [layer] : []);
      } catch {
        forwards = [];
      }
    }
    const chunkForwardMs = (performance.now() - tChunk) / Math.max(1, ok.length);
    for (let k = 0; k < chunk.length; k++) {
      const i = start + k;
      const tImage = performance.now();
      const c = chunk[k];
      if ('error' in c) {
        images[i] = { input: files[i], view: null, predictions: [], outputs: [], ms: 0, error: messageOf(c.error) };
      } else {
        try {
          const img = await explainOne(model, c.input, names[i], forwards[ok.findIndex((x) => x.i === i)], { ...settings, layer }, { mapsDir, viewsDir, outDir, skipped });
          images[i] = { ...img, ms: performance.now() - tImage + (stacked ? chunkForwardMs : 0) };
        } catch (e) {
          images[i] = { input: files[i], view: null, predictions: [], outputs: [], ms: performance.now() - tImage, error: messageOf(e) };
        }
      }
      done++;
      settings.onProgress?.(done, n, path.basename(files[i]));
    }
  }
  const summary = batchSummary({
    model: model.path, backend: ex.runtime.backend, folder, methods: settings.methods.map((m) => m.id), layer: layer ?? null,
    target: settings.target, classes: settings.classes ?? null, top: settings.top, preprocessing: model.preprocessingInfo(),
    batchSize, loadMs: settings.loadMs ?? 0, totalMs: performance.now() - t0,
  }, images, [...skipped].map(([method, reason]) => ({ method, reason })));
  await writeBatchReport(summary, outDir);
  return summary;
}

/** Where one image's files go, and the methods found not to apply. */
interface ImageContext {
  readonly mapsDir: string;
  readonly viewsDir: string;
  readonly outDir: string;
  readonly skipped: Map<string, string>;
}

/**
 * Runs every method on one image (src/core/app/explain-image.ts) and writes its files, awaiting each write here
 * so a failed write fails this image only. A method that does not apply to the model is skipped (and remembered);
 * `ms` is left to the caller.
 */
async function explainOne(model: LoadedModel, input: LoadedInput, stem: string, forward: ForwardResult | undefined, s: BatchSettings, ctx: ImageContext): Promise<BatchImage> {
  let first: ForwardResult | undefined = forward;
  const outputs: BatchOutput[] = [];
  const rel = (p: string) => path.relative(ctx.outDir, p);
  for (const m of s.methods) {
    if (ctx.skipped.has(m.id)) continue;
    let o;
    try {
      o = await explainImage(model, input, {
        method: m.id, ...(s.classes ? { classes: s.classes } : { top: s.top }), layer: m.family === 'cam' ? s.layer : undefined, grid: s.grid, target: s.target,
        options: s.options(m), forward: m.reusesForward ? forward : undefined, gain: s.gain ? { control: true } : undefined,
        metrics: s.metrics,
      });
    } catch (e) {
      if (!(e instanceof LookCloserError && e.kind === 'method-not-applicable')) throw e;
      ctx.skipped.set(m.id, e.message);
      continue;
    }
    first ??= o.forward;
    for (const out of o.outputs) {
      const files = await writeExplanation(out.explanation, input, ctx.mapsDir, stem, { colormap: s.colormap, alpha: s.alpha, channelOrder: model.preprocessing.preprocessing.channels });
      outputs.push(outputRow(out, { png: rel(files.png), npy: rel(files.npy) }));
    }
  }
  if (!outputs.length && ctx.skipped.size === s.methods.length) {
    throw new LookCloserError('method-not-applicable', [...ctx.skipped.values()].join(' '));
  }
  const view = path.join(ctx.viewsDir, `${stem}.png`);
  await writeOutput(view, await encodePng(input.base));
  return { input: input.path, view: rel(view), predictions: first ? model.predictions(first.probs, 5) : [], outputs, ms: 0 };
}
