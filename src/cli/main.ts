/** The `look-closer` command line: predict, layers, explain, demo. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { LookCloserError, messageOf } from '../core/errors';
import { Prediction, topK } from '../core/explainer';
import { labelOf } from '../core/model-config';
import { METHODS, methodById } from '../core/methods/registry';
import type { ScoreTarget } from '../core/methods/method';
import { COLORMAPS } from '../core/render/colormap';
import { selectRuntime } from '../node/ort-runtime';
import { ASSETS_DIR, LoadedModel, SAMPLE_MODEL, loadInput, loadModel, writeExplanation } from '../node/workbench';

const USAGE = `look-closer — see what an image classifier looks at

Usage:
  look-closer predict MODEL INPUT [--top K] [--json]
  look-closer layers MODEL [--json]
  look-closer explain MODEL INPUT --method METHOD [--layer TENSOR] [--class C ...|--top K]
                      [--target logit|softmax] [--preset P] [--labels FILE] [--out DIR]
                      [--colormap jet|turbo|viridis|inferno] [--alpha A] [--json]
  look-closer demo [--out DIR]

INPUT is an image (PNG, JPEG, WebP, BMP, GIF, TIFF) or a .npy float32 tensor fed as is.
Methods: ${METHODS.map((m) => m.id).join(', ')}
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
  backend: { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function intArg(v: string | undefined, name: string, def: number, min = 1): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new LookCloserError('bad-argument', `--${name} must be an integer ≥ ${min}, got '${v}'.`);
  return n;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new LookCloserError('bad-argument', `Missing ${what}.\n\n${USAGE}`);
  return v;
}

function predictions(model: LoadedModel, probs: Float32Array, k: number): Prediction[] {
  return topK(probs, k).map((i) => ({ index: i, label: labelOf(model.labels, i), score: probs[i] }));
}

async function open(values: Values, modelPath: string): Promise<LoadedModel> {
  const backend = (values.backend ?? 'auto') as 'auto' | 'node' | 'wasm';
  if (!['auto', 'node', 'wasm'].includes(backend)) throw new LookCloserError('bad-argument', `--backend must be auto, node or wasm, got '${backend}'.`);
  const inputSize = values['input-size'] ? intArg(values['input-size'], 'input-size', 224, 8) : undefined;
  return loadModel(selectRuntime(backend), modelPath, { preset: values.preset, labels: values.labels, inputSize });
}

function preprocessingJson(model: LoadedModel) {
  return { ...model.preprocessing.preprocessing, source: model.preprocessing.source, reason: model.preprocessing.reason, inputSize: model.explainer.inputSize, layout: model.spec.layout };
}

async function cmdPredict(values: Values, args: string[]): Promise<void> {
  const t0 = performance.now();
  const model = await open(values, need(args[0], 'MODEL'));
  const input = await loadInput(model, need(args[1], 'INPUT'));
  const fw = await model.explainer.forward(input.tensor);
  const top = predictions(model, fw.probs, intArg(values.top, 'top', 5));
  if (values.json) {
    console.log(JSON.stringify({ model: model.path, input: input.path, backend: model.explainer.runtime.backend, preprocessing: preprocessingJson(model), predictions: top, timings: { total: performance.now() - t0 } }, null, 2));
  } else {
    for (const p of top) console.log(`${(p.score * 100).toFixed(2).padStart(6)}%  ${String(p.index).padStart(4)}  ${p.label}`);
  }
  await model.explainer.dispose();
}

async function cmdLayers(values: Values, args: string[]): Promise<void> {
  const model = await open(values, need(args[0], 'MODEL'));
  const layers = await model.explainer.layers();
  let def: string | undefined;
  try {
    def = await model.explainer.defaultLayer();
  } catch {
    def = undefined;
  }
  if (values.json) {
    console.log(JSON.stringify({ model: model.path, defaultLayer: def, layers }, null, 2));
  } else {
    const w = Math.max(...layers.map((l) => l.name.length), 6);
    console.log(`${'tensor'.padEnd(w)}  ${'op'.padEnd(20)}  shape`);
    for (const l of layers) console.log(`${l.name.padEnd(w)}  ${l.op.padEnd(20)}  [${l.shape.join(', ')}]${l.name === def ? '  ← default target layer' : ''}`);
  }
  await model.explainer.dispose();
}

/** Explains one input with one model; returns the JSON report. */
async function explainOne(values: Values, model: LoadedModel, inputPath: string, outDir: string, tLoad: number, t0: number) {
  const tp = performance.now();
  const input = await loadInput(model, inputPath);
  const tf = performance.now();
  const method = methodById(need(values.method, '--method'));
  const target = (values.target ?? 'logit') as ScoreTarget;
  if (target !== 'logit' && target !== 'softmax') throw new LookCloserError('bad-argument', `--target must be logit or softmax, got '${target}'.`);
  const layer = values.layer ?? (method.family === 'cam' ? await model.explainer.defaultLayer() : undefined);
  const forward = await model.explainer.forward(input.tensor, layer ? [layer] : []);
  const te = performance.now();
  const nClasses = forward.logits.length;
  const classes = values.class?.length
    ? values.class.flatMap((c) => c.split(',')).map((c) => {
      const n = Number(c);
      if (!Number.isInteger(n) || n < 0 || n >= nClasses) throw new LookCloserError('bad-argument', `--class ${c} is not a class index of this model (0–${nClasses - 1}).`);
      return n;
    })
    : topK(forward.probs, intArg(values.top, 'top', 1));
  const { explanations: results } = await method.run(model.explainer, { input: input.tensor, classes, layer, target, forward });
  const colormap = values.colormap ?? 'jet';
  if (!COLORMAPS[colormap]) throw new LookCloserError('bad-argument', `Unknown colormap '${colormap}'. Available: ${Object.keys(COLORMAPS).join(', ')}.`);
  const alpha = values.alpha !== undefined ? Number(values.alpha) : 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new LookCloserError('bad-argument', `--alpha must be between 0 and 1, got '${values.alpha}'.`);
  const stem = path.basename(inputPath).replace(/\.[^.]+$/, '');
  const outputs = [];
  for (const r of results) {
    const files = await writeExplanation(r, input, outDir, stem, { colormap, alpha, channelOrder: model.preprocessing.preprocessing.channels });
    let lo = Infinity, hi = -Infinity;
    for (const v of r.raw.data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    outputs.push({ method: r.method, class: r.classIndex, label: labelOf(model.labels, r.classIndex), layer: r.layer ?? null, shape: r.raw.dims, min: lo, max: hi, ...files });
  }
  const tEnd = performance.now();
  return {
    model: model.path, input: input.path, backend: model.explainer.runtime.backend,
    preprocessing: preprocessingJson(model),
    predictions: predictions(model, forward.probs, 5),
    method: method.id, layer: layer ?? null, target, outputs,
    timings: { load: tLoad, preprocess: tf - tp, forward: te - tf, explain: tEnd - te, total: tEnd - t0 },
  };
}

async function cmdExplain(values: Values, args: string[]): Promise<void> {
  const t0 = performance.now();
  const model = await open(values, need(args[0], 'MODEL'));
  const tLoad = performance.now() - t0;
  const report = await explainOne(values, model, need(args[1], 'INPUT'), values.out ?? 'look-closer-out', tLoad, t0);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`top-1: ${report.predictions[0].label} (${(report.predictions[0].score * 100).toFixed(1)}%)  method: ${report.method}${report.layer ? `  layer: ${report.layer}` : ''}`);
    for (const o of report.outputs) console.log(`  class ${o.class} ${o.label}: ${o.png}  ${o.npy}`);
  }
  await model.explainer.dispose();
}

async function cmdDemo(values: Values): Promise<void> {
  const outDir = path.resolve(values.out ?? path.join('look-closer-out', 'demo'));
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

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let values: Values = {};
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values as Values;
    const [cmd, ...rest] = parsed.positionals;
    if (values.help || !cmd) {
      console.log(USAGE);
      return values.help ? 0 : 2;
    }
    switch (cmd) {
      case 'predict': await cmdPredict(values, rest); break;
      case 'layers': await cmdLayers(values, rest); break;
      case 'explain': await cmdExplain(values, rest); break;
      case 'demo': await cmdDemo(values); break;
      default: throw new LookCloserError('bad-argument', `Unknown command '${cmd}'.\n\n${USAGE}`);
    }
    return 0;
  } catch (e) {
    const msg = messageOf(e);
    console.error(`look-closer: ${msg}`);
    if (values.debug && e instanceof Error) console.error(e.stack);
    return e instanceof LookCloserError ? (e.kind === 'bad-argument' ? 2 : 1) : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
