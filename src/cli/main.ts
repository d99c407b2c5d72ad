/** The `look-closer` command line: predict, layers, explain, demo. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_INPUT_SIDE } from '../core/app/classifier';
import { methodAvailability } from '../core/app/availability';
import { explainImage, outputRow } from '../core/app/explain-image';
import { METHOD_OPTION_NAMES, methodOptionsFor } from '../core/app/method-options';
import { gateValues, listGates } from '../core/attention/gates';
import { projectChannel } from '../core/attention/projection';
import { LookCloserError, messageOf } from '../core/errors';
import type { Method, ScoreTarget } from '../core/methods/method';
import { parseScoreTarget } from '../core/methods/score-target';
import { METHODS, methodById } from '../core/methods/registry';
import { MetricId, MetricValues, metricsLine, parseBox, parseMetrics } from '../core/metrics/registry';
import type { PointingBox } from '../core/metrics/pointing';
import { COLORMAPS } from '../core/render/colormap';
import { type Grid, describeLayout, parseGrid } from '../core/token-layout';
import { writeAttentionCrops, writeGates, writeProjection } from '../node/attention-io';
import { makeOutputDir } from '../node/files';
import { selectRuntime } from '../node/ort-runtime';
import { ThreadImputer, useThreadImputer } from '../node/thread-imputer';
import { explainFolder, listInputs, terminalProgress } from './batch';
import { compareMethods, isMethodList, methodList } from './compare';
import { runSanity, sanityMethod, sanityText } from './sanity';
import { DEFAULT_RANK_BY, parseRankBy } from '../core/compare/compare-methods';
import { ASSETS_DIR, LoadedModel, SAMPLE_MODEL, loadInput, loadModel, writeExplanation } from '../node/workbench';

const USAGE = `look-closer — see what an image classifier looks at

Usage:
  look-closer predict MODEL INPUT [--top K] [--json]
  look-closer layers MODEL [--token-grid HxW] [--json]
  look-closer explain MODEL INPUT --method METHOD [--layer TENSOR] [--token-grid HxW] [--class C ...|--top K]
                      [--target logit|softmax|sigmoid|contrast:B] [--preset P] [--labels FILE] [--out DIR]
                      [--colormap jet|turbo|viridis|inferno] [--alpha A] [--gain] [--metrics LIST] [--box x,y,w,h] [--json]
                      [method options, below]
  look-closer explain MODEL INPUT --method all|METHOD,METHOD… [--rank-by METRIC] [--metrics LIST] [explain options]
  look-closer explain MODEL DIR --method METHOD[,METHOD…]|all [--out REPORT_DIR] [--batch-size N] [explain options]
  look-closer attention MODEL INPUT [--out DIR] [--colormap C] [--alpha A] [--json]
  look-closer project MODEL INPUT --layer TENSOR --channel K [--position Y,X] [--out DIR] [--json]
  look-closer sanity MODEL INPUT --method METHOD[,METHOD…]|all [--class C] [--layer TENSOR] [--cascade-steps N]
                      [--sanity-seed S] [--flag-above R] [--json]
  look-closer demo [--out DIR]

INPUT is an image (PNG, JPEG, WebP, BMP, GIF, TIFF) or a .npy float32 tensor fed as is. With a folder DIR,
explain runs every image in it with one loaded model and writes REPORT_DIR/index.html (a gallery) and
REPORT_DIR/summary.json (default REPORT_DIR: look-closer-out/<folder name>).
Methods: ${METHODS.map((m) => m.id).join(', ')}
  ('look-closer layers MODEL' lists which apply to a model, and why the others do not)
Method options (also per model in the sidecar under "methodOptions": {"<method>": {"<option>": value}}):
${METHODS.filter((m) => m.options?.length).map((m) => `  ${m.id}: ${m.options!.map((o) => `--${o.name}${o.choices ? ` ${o.choices.join('|')}` : ''}${o.default !== undefined ? ` (${typeof o.default === 'number' ? +o.default.toFixed(3) : o.default})` : ''}`).join(', ')}`).join('\n')}
--metrics deletion,insertion,road,confidence,pointing|all measures each output's faithfulness (README "Metrics"); --box x,y,w,h is the pointing game's box in image pixels.
--token-grid HxW is the patch grid of transformer token layers [1,N,C] where the graph does not tell it (README "Token layers").
With several methods (or all) for one image, explain compares them for one class: every method's files, plus
  <image>_compare_c<class>.png (a grid) and .html, ranked by --rank-by deletion|insertion|road|averageDrop|increase|pointing
  (default deletion; --metrics defaults to deletion,insertion,confidence plus the ranking metric).
--gain adds GAIN's attention-mining check per output: the class probability before and after erasing what the map attends to.
attention lists built-in attention gates (SE, CBAM, residual attention) and writes their maps;
project backprojects one channel's strongest activation to the pixels (Zeiler–Fergus deconvnet).
sanity runs Adebayo et al.'s sanity checks: the model's weights randomised from the top layer down (--cascade-steps,
  default 8) and another class explained instead; Spearman and SSIM against the original map, a flag when it barely
  changes (Spearman of |map| above --flag-above, default 0.5). --method edge-detector is the model-blind control.
Common options: --preset P (torchvision, caffe-bgr, mnist, mnist-normalized, unit, symmetric, inception),
  --labels FILE, --input-size N, --backend auto|node|wasm, --debug (stack traces).`;

const OPTIONS = {
  top: { type: 'string' },
  json: { type: 'boolean' },
  method: { type: 'string' },
  layer: { type: 'string' },
  class: { type: 'string', multiple: true },
  target: { type: 'string' },
  preset: { type: 'string' },
  labels: { type: 'string' },
  out: { type: 'string' },
  colormap: { type: 'string' },
  alpha: { type: 'string' },
  'input-size': { type: 'string' },
  'token-grid': { type: 'string' },
  'batch-size': { type: 'string' },
  gain: { type: 'boolean' },
  metrics: { type: 'string' },
  box: { type: 'string' },
  channel: { type: 'string' },
  position: { type: 'string' },
  'rank-by': { type: 'string' },
  'cascade-steps': { type: 'string' },
  'sanity-seed': { type: 'string' },
  'flag-above': { type: 'string' },
  backend: { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Every method option as a string flag (`--patch 16`), or a bare switch for boolean ones (`--eigen-smooth`), straight from the registry. */
const METHOD_FLAGS = Object.fromEntries(METHODS.flatMap((m) => m.options ?? []).map((o) => [o.name, { type: o.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]));

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function intArg(v: string | undefined, name: string, def: number, min = 1, max = 1_000_000): number {
  if (v === undefined) return def;
  const n = /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new LookCloserError('bad-argument', `--${name} must be a whole number from ${min} to ${max}, got '${v}'.`);
  return n;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new LookCloserError('bad-argument', `Missing ${what}.\n\n${USAGE}`);
  return v;
}

async function open(values: Values, modelPath: string): Promise<LoadedModel> {
  const backend = (values.backend ?? 'auto') as 'auto' | 'node' | 'wasm';
  if (!['auto', 'node', 'wasm'].includes(backend)) throw new LookCloserError('bad-argument', `--backend must be auto, node or wasm, got '${backend}'.`);
  const inputSize = values['input-size'] !== undefined ? intArg(values['input-size'], 'input-size', 224, 8, MAX_INPUT_SIDE) : undefined;
  return loadModel(selectRuntime(backend), modelPath, { preset: values.preset, labels: values.labels, inputSize });
}

async function cmdPredict(values: Values, args: string[]): Promise<void> {
  const t0 = performance.now();
  const model = await open(values, need(args[0], 'MODEL'));
  const input = await loadInput(model, need(args[1], 'INPUT'));
  const fw = await model.explainer.forward(input.tensor);
  model.checkScores(fw);
  const top = model.predictions(fw.probs, intArg(values.top, 'top', 5));
  if (values.json) {
    console.log(JSON.stringify({ model: model.path, input: input.path, backend: model.explainer.runtime.backend, preprocessing: model.preprocessingInfo(), predictions: top, timings: { total: performance.now() - t0 } }, null, 2));
  } else {
    for (const p of top) console.log(`${(p.score * 100).toFixed(2).padStart(6)}%  ${String(p.index).padStart(4)}  ${p.label}`);
  }
  await model.explainer.dispose();
}

/** --token-grid, or the sidecar's tokenGrid, or undefined (RISE owns --grid). */
function gridArg(values: Values, model?: LoadedModel): Grid | undefined {
  return values['token-grid'] !== undefined ? parseGrid(values['token-grid']) : model?.grid;
}

async function cmdLayers(values: Values, args: string[]): Promise<void> {
  gridArg(values);
  const model = await open(values, need(args[0], 'MODEL'));
  const layouts = await model.layerLayouts(gridArg(values, model));
  // Token tensors and channels-last maps say how they are read as maps: their grid and prefix tokens.
  const layers = (await model.layers()).map((l) => {
    const layout = layouts.get(l.name);
    if (layout?.kind === 'tokens') return { ...l, layout: 'tokens', grid: [layout.height, layout.width], prefixTokens: layout.prefix, gridSource: layout.source };
    return layout?.kind === 'nhwc' ? { ...l, layout: 'nhwc' } : l;
  });
  const choice = await model.defaultLayerChoice();
  const def = choice?.layer;
  const methods = await methodAvailability(model);
  if (values.json) {
    console.log(JSON.stringify({ model: model.path, defaultLayer: def, ...(choice ? { defaultLayerReason: choice.reason } : {}), layers, methods }, null, 2));
  } else {
    const w = Math.max(...layers.map((l) => l.name.length), 6);
    console.log(`${'tensor'.padEnd(w)}  ${'op'.padEnd(20)}  shape`);
    for (const l of layers) {
      const layout = layouts.get(l.name);
      const how = layout && layout.kind !== 'nchw' ? `  ${describeLayout(layout)}` : '';
      console.log(`${l.name.padEnd(w)}  ${l.op.padEnd(20)}  [${l.shape.join(', ')}]${how}${l.name === def ? '  ← default target layer' : ''}`);
    }
    if (choice) console.log(`\ndefault target layer: ${choice.layer}: ${choice.reason}`);
    console.log(`\nmethods: ${methods.filter((m) => m.available).map((m) => m.method).join(', ')}`);
    for (const m of methods.filter((x) => !x.available)) console.log(`unavailable: ${m.method}: ${m.reason}`);
  }
  await model.explainer.dispose();
}

/** Parses --class values (repeatable, comma-separated) as class indices of the model. */
function classesArg(values: Values, model: LoadedModel): number[] | undefined {
  if (!values.class?.length) return undefined;
  return values.class.flatMap((c) => c.split(',')).map((c) => {
    const n = c.trim() === '' ? NaN : Number(c);
    if (!Number.isInteger(n) || n < 0 || n >= model.classes) throw new LookCloserError('bad-argument', `--class ${c === '' ? '""' : c} is not a class index of this model (0–${model.classes - 1}).`);
    return n;
  });
}

function targetArg(values: Values): ScoreTarget {
  try {
    return parseScoreTarget(values.target ?? 'logit');
  } catch (e) {
    throw new LookCloserError('bad-argument', `--target must be logit, softmax, sigmoid or contrast:B (B a class index: explain each class minus class B), got '${values.target}'.`, e);
  }
}

/** Explains one input with one model (src/core/app/explain-image.ts) and writes its files; returns the JSON report. */
async function explainOne(values: Values, model: LoadedModel, inputPath: string, outDir: string, tLoad: number, t0: number) {
  const method = methodById(need(values.method, '--method'));
  const target = targetArg(values);
  const { colormap, alpha } = overlayChoice(values);
  const classes = classesArg(values, model);
  const options = methodOptionsFor(model, method, values);
  const grid = gridArg(values, model);
  const tp = performance.now();
  const input = await loadInput(model, inputPath);
  const tf = performance.now();
  const o = await explainImage(model, input, {
    method: method.id, ...(classes ? { classes } : { top: intArg(values.top, 'top', 1) }), layer: values.layer, grid, target, options,
    gain: values.gain ? { control: true } : undefined, metrics: metricsArg(values),
  });
  const stem = path.basename(inputPath).replace(/\.[^.]+$/, '');
  const outputs = [];
  for (const out of o.outputs) {
    const e = out.explanation;
    const files = await writeExplanation(e, input, outDir, stem, { colormap, alpha, channelOrder: model.preprocessing.preprocessing.channels });
    const attentionCrop = e.payload?.kind === 'attention-crops' ? await writeAttentionCrops(model, e.payload.crops, outDir, stem) : undefined;
    outputs.push({ ...outputRow(out, files), ...(attentionCrop ? { attentionCrop } : {}) });
  }
  const tEnd = performance.now();
  return {
    model: model.path, input: input.path, backend: model.explainer.runtime.backend,
    preprocessing: model.preprocessingInfo(),
    predictions: o.predictions,
    method: method.id, layer: o.layer ?? null, target, outputs,
    timings: { load: tLoad, preprocess: tf - tp, forward: o.timings.forward, explain: o.timings.explain + o.timings.metrics, total: tEnd - t0 },
  };
}

async function cmdExplain(values: Values, args: string[]): Promise<void> {
  const t0 = performance.now();
  const inputArg = need(args[1], 'INPUT');
  if (fs.existsSync(inputArg) && fs.statSync(inputArg).isDirectory()) return cmdExplainFolder(values, need(args[0], 'MODEL'), inputArg);
  if (isMethodList(values.method)) return cmdCompare(values, need(args[0], 'MODEL'), inputArg);
  if (values['rank-by'] !== undefined) throw new LookCloserError('bad-argument', '--rank-by ranks the methods of a comparison; give --method all or a list of methods.');
  const outDir = values.out ?? 'look-closer-out';
  gridArg(values);
  makeOutputDir(outDir);
  const model = await open(values, need(args[0], 'MODEL'));
  const tLoad = performance.now() - t0;
  const report = await explainOne(values, model, inputArg, outDir, tLoad, t0);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`top-1: ${report.predictions[0].label} (${(report.predictions[0].score * 100).toFixed(1)}%)  method: ${report.method}${report.layer ? `  layer: ${report.layer}` : ''}`);
    for (const o of report.outputs) {
      console.log(`  class ${o.class} ${o.label}: ${o.png}  ${o.npy}`);
      printExtras(o);
    }
  }
  await model.explainer.dispose();
}

/** `explain MODEL IMAGE --method all|a,b,…`: every method for one class, ranked by a metric (src/cli/compare.ts). */
async function cmdCompare(values: Values, modelPath: string, inputPath: string): Promise<void> {
  const t0 = performance.now();
  const target = targetArg(values);
  const { colormap, alpha } = overlayChoice(values);
  const rankBy = parseRankBy(values['rank-by'] ?? DEFAULT_RANK_BY);
  const asked = metricsArg(values);
  if (rankBy.metric === 'pointing' && !asked?.box) throw new LookCloserError('bad-argument', 'Ranking by the pointing game needs --box x,y,w,h (and --metrics pointing or all).');
  const ids = [...new Set([...(asked?.ids ?? ['deletion', 'insertion', 'confidence'] as const), rankBy.metric])];
  const outDir = values.out ?? 'look-closer-out';
  makeOutputDir(outDir);
  const model = await open(values, modelPath);
  try {
    const tLoad = performance.now() - t0;
    const classes = classesArg(values, model);
    if ((classes && classes.length > 1) || (values.top !== undefined && intArg(values.top, 'top', 1) > 1)) {
      throw new LookCloserError('bad-argument', 'Comparing methods shows one class: give at most one --class (default: the top prediction), no --top above 1.');
    }
    const { methods } = await methodList(need(values.method, '--method'), model);
    // Each method gets only the method flags it (or the map method it names) declares, as in folder mode.
    const flags = values as Record<string, unknown>;
    for (const name of METHOD_OPTION_NAMES) {
      if (flags[name] !== undefined && !methods.some((m) => m.options?.some((o) => o.name === name || o.name === 'map-method'))) {
        const owners = METHODS.filter((m) => m.options?.some((o) => o.name === name)).map((m) => m.id).join(', ');
        throw new LookCloserError('bad-argument', `--${name} is an option of ${owners}; it does nothing with --method ${values.method}.`);
      }
    }
    const optionsFor = (m: Method) => {
      if (m.options?.some((o) => o.name === 'map-method')) return methodOptionsFor(model, m, values);
      return methodOptionsFor(model, m, Object.fromEntries(Object.entries(values).filter(([k]) => !METHOD_OPTION_NAMES.includes(k) || m.options?.some((o) => o.name === k))));
    };
    const r = await compareMethods(model, inputPath, outDir, {
      spec: values.method!, classIndex: classes?.[0], layer: values.layer, grid: gridArg(values, model), target, options: optionsFor, metrics: { ids, box: asked?.box }, rankBy, colormap, alpha,
      progress: process.stderr.isTTY ? (line) => process.stderr.write(`compare: ${line}\n`) : undefined,
    });
    const report = { ...r, timings: { load: tLoad, ...r.timings, total: performance.now() - t0 } };
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(`top-1: ${report.predictions[0].label} (${(report.predictions[0].score * 100).toFixed(1)}%)  class ${r.compare.class} (${r.compare.label}) ranked by ${rankBy.title}`);
      for (const x of r.compare.ranking) {
        const o = r.outputs.find((y) => y.method === x.method);
        console.log(`  ${x.rank === null ? ' –' : `#${x.rank}`.padStart(3)} ${x.method.padEnd(22)} ${o?.metrics ? metricsLine(o.metrics) : ''}`);
      }
      for (const k of r.skipped ?? []) console.log(`  skipped ${k.method}: ${k.reason}`);
      for (const k of r.failed ?? []) console.log(`  failed ${k.method}: ${k.error}`);
      console.log(`  grid: ${r.compare.png}  page: ${r.compare.html}`);
    }
    if (r.failed?.length) throw new LookCloserError('bad-input', `${r.failed.length} of ${r.failed.length + r.methods.length} methods failed on ${inputPath}; the others are compared in ${r.compare.html}.`);
  } finally {
    await model.explainer.dispose();
  }
}

/** `explain MODEL DIR`: every image of a folder with one or more methods, one report (src/cli/batch.ts). */
async function cmdExplainFolder(values: Values, modelPath: string, folder: string): Promise<void> {
  const t0 = performance.now();
  if (values['rank-by'] !== undefined) throw new LookCloserError('bad-argument', '--rank-by ranks the methods compared on one image; batch mode reports every metric per method (metricSummary).');
  const spec = need(values.method, '--method');
  const listed = spec.split(',').map((id) => id.trim()).includes('all') ? undefined : spec.split(',').map((id) => methodById(id.trim()));
  const target = targetArg(values);
  const { colormap, alpha } = overlayChoice(values);
  const batchSize = values['batch-size'] !== undefined ? intArg(values['batch-size'], 'batch-size', 1) : undefined;
  gridArg(values);
  listInputs(folder);
  const outDir = values.out ?? path.join('look-closer-out', path.basename(path.resolve(folder)));
  makeOutputDir(outDir);
  const model = await open(values, modelPath);
  const loadMs = performance.now() - t0;
  const methods = listed ?? (await methodList(spec, model)).methods;
  const classes = classesArg(values, model);
  // With several methods, each gets only the method flags it (or the map method it names) declares.
  const flags = values as Record<string, unknown>;
  // --batch-size is also batch mode's own flag (images stacked per forward pass), so it never does nothing here.
  for (const name of METHOD_OPTION_NAMES.filter((n) => n !== 'batch-size')) {
    if (flags[name] !== undefined && !methods.some((m) => m.options?.some((o) => o.name === name || o.name === 'map-method'))) {
      const owners = METHODS.filter((m) => m.options?.some((o) => o.name === name)).map((m) => m.id).join(', ');
      throw new LookCloserError('bad-argument', `--${name} is an option of ${owners}; it does nothing with --method ${methods.map((m) => m.id).join(',')}.`);
    }
  }
  const optionsFor = (m: Method) => {
    if (m.options?.some((o) => o.name === 'map-method')) return methodOptionsFor(model, m, values);
    const own = Object.fromEntries(Object.entries(values).filter(([k]) => !METHOD_OPTION_NAMES.includes(k) || m.options?.some((o) => o.name === k)));
    return methodOptionsFor(model, m, own);
  };
  const summary = await explainFolder(model, folder, {
    methods, classes, top: intArg(values.top, 'top', 1), layer: values.layer, grid: gridArg(values, model), target, colormap, alpha,
    options: optionsFor, gain: !!values.gain, metrics: metricsArg(values), batchSize, outDir, onProgress: terminalProgress(process.stderr), loadMs,
  });
  await model.explainer.dispose();
  if (values.json) console.log(JSON.stringify(summary, null, 2));
  else {
    const secs = (summary.timings.total / 1000).toFixed(1);
    console.log(`${summary.explained} of ${summary.images.length} images explained with ${summary.methods.join(', ')} in ${secs} s (${summary.timings.imagesPerSecond.toFixed(2)} images/s, ${summary.backend})`);
    console.log(`  report: ${path.join(outDir, summary.report)}  summary: ${path.join(outDir, 'summary.json')}`);
    for (const k of summary.skipped ?? []) console.log(`  skipped ${k.method}: ${k.reason}`);
    for (const i of summary.images) if (i.error) console.log(`  failed: ${i.input}: ${i.error}`);
  }
  if (summary.failed) throw new LookCloserError('bad-input', `${summary.failed} of ${summary.images.length} images could not be explained; see ${path.join(outDir, 'summary.json')}.`);
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** --metrics (and --box, the pointing game's) as the explain setting. */
function metricsArg(values: Values): { ids: MetricId[]; box?: PointingBox } | undefined {
  const box = values.box !== undefined ? parseBox(values.box) : undefined;
  if (values.metrics === undefined) {
    if (box) throw new LookCloserError('bad-argument', '--box is the pointing game\'s box; add --metrics pointing (or all).');
    return undefined;
  }
  const ids = parseMetrics(values.metrics);
  if (ids.includes('pointing') && !box && values.metrics.split(',').map((s) => s.trim()).includes('pointing')) {
    throw new LookCloserError('bad-argument', 'The pointing game needs --box x,y,w,h (the object in original-image pixels).');
  }
  return { ids, box };
}

/** Prints the GAIN check and attention crops of one explain output, when present. */
function printExtras(out: object): void {
  const o = out as { gain?: unknown; attentionCrop?: unknown };
  const g = o.gain as { score: string; before: number; after: number; drop: number; control?: { after: number } } | undefined;
  if (g) {
    const f = g.score === 'softmax' ? pct : (v: number) => v.toFixed(3);
    const ctl = g.control ? `; erasing as much where it attends least: ${f(g.control.after)}` : '';
    console.log(`    GAIN: ${g.score} ${f(g.before)} → ${f(g.after)} after erasing the attended region (drop ${f(g.drop)}${ctl})`);
  }
  const m = (out as { metrics?: MetricValues }).metrics;
  if (m) console.log(`    metrics: ${metricsLine(m)}`);
  const a = o.attentionCrop as Awaited<ReturnType<typeof writeAttentionCrops>> | undefined;
  if (!a) return;
  for (const s of a.scales) {
    const box = s.box ? `  box tx ${s.box.tx.toFixed(1)} ty ${s.box.ty.toFixed(1)} tl ${s.box.tl.toFixed(1)}` : '';
    console.log(`    scale ${s.scale}: ${s.predictions[0].label} ${pct(s.predictions[0].score)}, class ${pct(s.classScore)}${box}  ${s.png ?? ''}`);
  }
  console.log(`    fused: ${a.fused.predictions[0].label} ${pct(a.fused.predictions[0].score)}, class ${pct(a.fused.classScore)}  ${a.strip ?? ''}  ${a.boxes}`);
}

function overlayChoice(values: Values): { colormap: string; alpha: number } {
  const colormap = values.colormap ?? 'jet';
  if (!Object.prototype.hasOwnProperty.call(COLORMAPS, colormap)) throw new LookCloserError('bad-argument', `Unknown colormap '${colormap}'. Available: ${Object.keys(COLORMAPS).join(', ')}.`);
  // Number('') is 0: an empty --alpha is an error, not a transparent overlay.
  const alpha = values.alpha === undefined ? 0.5 : values.alpha.trim() === '' ? NaN : Number(values.alpha);
  if (!(alpha >= 0 && alpha <= 1)) throw new LookCloserError('bad-argument', `--alpha must be between 0 and 1, got '${values.alpha}'.`);
  return { colormap, alpha };
}

async function cmdAttention(values: Values, args: string[]): Promise<void> {
  makeOutputDir(values.out ?? 'look-closer-out');
  const model = await open(values, need(args[0], 'MODEL'));
  const inputPath = need(args[1], 'INPUT');
  const input = await loadInput(model, inputPath);
  const gates = await gateValues(model.explainer, input.tensor, await listGates(model.explainer));
  const stem = path.basename(inputPath).replace(/\.[^.]+$/, '');
  const rows = await writeGates(gates, input, values.out ?? 'look-closer-out', stem, overlayChoice(values));
  if (values.json) {
    console.log(JSON.stringify({ model: model.path, input: input.path, backend: model.explainer.runtime.backend, gates: rows }, null, 2));
  } else if (!rows.length) {
    console.log(`No attention gates in ${path.basename(model.path)}: no Sigmoid or HardSigmoid output multiplies a feature map (SE, CBAM and residual-attention modules do).`);
  } else {
    for (const r of rows) {
      console.log(`gate ${r.index}: ${r.kind} [${r.shape.join('×')}] on ${r.feature} [${r.featureShape.join('×')}]  ${r.path.join(' → ')}`);
      console.log(`    ${r.tensor}  min ${r.min.toFixed(3)} mean ${r.mean.toFixed(3)} max ${r.max.toFixed(3)}  ${r.png}  ${r.npy}`);
    }
  }
  await model.explainer.dispose();
}

async function cmdProject(values: Values, args: string[]): Promise<void> {
  makeOutputDir(values.out ?? 'look-closer-out');
  const model = await open(values, need(args[0], 'MODEL'));
  const inputPath = need(args[1], 'INPUT');
  const input = await loadInput(model, inputPath);
  const layer = need(values.layer, '--layer');
  const channel = intArg(need(values.channel, '--channel'), 'channel', 0, 0);
  let position: { y: number; x: number } | undefined;
  if (values.position !== undefined) {
    const [y, x] = values.position.split(',').map(Number);
    if (!Number.isInteger(y) || !Number.isInteger(x)) throw new LookCloserError('bad-argument', `--position must be Y,X (two whole numbers), got '${values.position}'.`);
    position = { y, x };
  }
  const p = await projectChannel(model.explainer, input.tensor, { layer, channel, position });
  const stem = path.basename(inputPath).replace(/\.[^.]+$/, '');
  const files = await writeProjection(p, model, input, values.out ?? 'look-closer-out', stem);
  const report = { model: model.path, input: input.path, layer, channel, position: p.position, activation: p.activation, receptiveField: p.receptiveField, ...files };
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    const rf = p.receptiveField;
    console.log(`${layer} channel ${channel}: strongest activation ${p.activation.toFixed(3)} at (y ${p.position.y}, x ${p.position.x}); receptive field ${rf.width}×${rf.height} px at (x ${rf.x}, y ${rf.y})`);
    console.log(`  ${files.pair}  (reconstruction | image patch)  ${files.npy}`);
  }
  await model.explainer.dispose();
}

async function cmdSanity(values: Values, args: string[]): Promise<void> {
  const spec = need(values.method, '--method');
  const listed = spec.trim() === 'all' ? undefined : spec.split(',').map((id) => sanityMethod(id.trim()));
  const target = targetArg(values);
  const steps = values['cascade-steps'] !== undefined ? intArg(values['cascade-steps'], 'cascade-steps', 8, 1, 10000) : undefined;
  const seed = values['sanity-seed'] !== undefined ? intArg(values['sanity-seed'], 'sanity-seed', 0, 0, 2 ** 31 - 1) : undefined;
  const threshold = values['flag-above'] === undefined ? undefined : values['flag-above'].trim() === '' ? NaN : Number(values['flag-above']);
  if (threshold !== undefined && !(threshold >= -1 && threshold <= 1)) throw new LookCloserError('bad-argument', `--flag-above must be a correlation between -1 and 1, got '${values['flag-above']}'.`);
  const model = await open(values, need(args[0], 'MODEL'));
  try {
    const methods = listed ?? (await methodList(spec, model)).methods;
    const classes = classesArg(values, model);
    if (classes && classes.length > 1) throw new LookCloserError('bad-argument', 'sanity explains one class; give one --class.');
    const options = new Map(methods.map((m) => [m, m.options?.length ? methodOptionsFor(model, m, Object.fromEntries(Object.entries(values).filter(([k]) => !METHOD_OPTION_NAMES.includes(k) || m.options?.some((o) => o.name === k)))) : undefined]));
    const r = await runSanity(model, need(args[1], 'INPUT'), {
      methods, classIndex: classes?.[0], layer: values.layer, target, options: (m) => options.get(m), steps, seed, threshold,
      progress: (line) => process.stderr.write(`sanity: ${line}\n`),
    });
    console.log(values.json ? JSON.stringify(r, null, 2) : sanityText(r));
  } finally {
    await model.explainer.dispose();
  }
}

async function cmdDemo(values: Values): Promise<void> {
  const outDir = makeOutputDir(values.out ?? path.join('look-closer-out', 'demo'));
  const model = await open(values, SAMPLE_MODEL);
  const samples = fs.readdirSync(path.join(ASSETS_DIR, 'samples')).sort();
  console.log(`Look Closer demo: ${path.basename(SAMPLE_MODEL)} on ${samples.length} photos (${model.explainer.runtime.backend})`);
  const methods = METHODS.filter((m) => m.id === 'cam' || m.id === 'gradcam').map((m) => m.id);
  for (const s of samples) {
    const input = path.join(ASSETS_DIR, 'samples', s);
    for (const m of methods) {
      const classes = s.startsWith('two_class') ? ['243', '281'] : undefined;
      const r = await explainOne({ ...values, method: m, class: classes }, model, input, outDir, 0, performance.now());
      if (m === methods[0]) console.log(`  ${s}: ${r.predictions[0].label} (${(r.predictions[0].score * 100).toFixed(1)}%)`);
      for (const o of r.outputs) console.log(`    ${m} class ${o.class} (${o.label}) → ${path.relative(process.cwd(), o.png)}`);
    }
  }
  console.log(`\nOverlays and raw maps are in ${outDir}`);
  await model.explainer.dispose();
}

let threadImputer: ThreadImputer | undefined;

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // ROAD's imputations run on a worker thread beside the metrics' passes (started on the first ROAD measured).
  threadImputer ??= useThreadImputer();
  let values: Values = {};
  let cmd: string | undefined;
  let rest: string[] = [];
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: { ...METHOD_FLAGS, ...OPTIONS }, allowPositionals: true, strict: true });
    } catch (e) {
      // Node's own wording ("argument is ambiguous …") names the flag; it is a usage error (exit 2).
      throw new LookCloserError('bad-argument', `${messageOf(e)}\nRun 'look-closer --help' for the options.`);
    }
    values = parsed.values as Values;
    // An empty value (`--preset ""`) is never a choice: it would quietly mean the default.
    for (const [k, v] of Object.entries(values)) {
      if (k !== 'class' && typeof v === 'string' && v.trim() === '') throw new LookCloserError('bad-argument', `--${k} needs a value; it was given an empty one.`);
    }
    [cmd, ...rest] = parsed.positionals;
    if (values.help || !cmd) {
      console.log(USAGE);
      return values.help ? 0 : 2;
    }
    switch (cmd) {
      case 'predict': await cmdPredict(values, rest); break;
      case 'layers': await cmdLayers(values, rest); break;
      case 'explain': await cmdExplain(values, rest); break;
      case 'attention': await cmdAttention(values, rest); break;
      case 'project': await cmdProject(values, rest); break;
      case 'sanity': await cmdSanity(values, rest); break;
      case 'demo': await cmdDemo(values); break;
      default: throw new LookCloserError('bad-argument', `Unknown command '${cmd}'.\n\n${USAGE}`);
    }
    return 0;
  } catch (e) {
    let msg = messageOf(e);
    // onnxruntime's own words name a node, not the file: say which model failed to run.
    if (e instanceof LookCloserError && e.kind === 'runtime' && cmd !== 'demo' && rest[0]) msg = `Model '${rest[0]}' failed to run: ${msg}`;
    console.error(`look-closer: ${msg}`);
    if (values.debug && e instanceof Error) console.error(e.stack);
    return e instanceof LookCloserError ? (e.kind === 'bad-argument' ? 2 : 1) : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
