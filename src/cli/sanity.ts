/** `look-closer sanity`: the sanity checks of src/core/sanity/ on one input, as text or --json, with progress on stderr and Ctrl-C to cancel. */
import { inputSource } from '../core/app/explain-image';
import { LookCloserError } from '../core/errors';
import { topK } from '../core/explainer';
import type { Method, ScoreTarget } from '../core/methods/method';
import type { OptionValues } from '../core/methods/options';
import { methodById } from '../core/methods/registry';
import { edgeDetector } from '../core/sanity/edge-detector';
import { SanityReport, sanityCheck } from '../core/sanity/sanity-check';
import { LoadedModel, loadInput } from '../node/workbench';

/** A method for the sanity check: a registry id, or `edge-detector` (the model-blind control). */
export function sanityMethod(id: string): Method {
  return id === edgeDetector.id ? edgeDetector : methodById(id);
}

/** What `look-closer sanity` was asked. */
export interface SanityArgs {
  readonly methods: readonly Method[];
  readonly classIndex?: number;
  readonly layer?: string;
  readonly target: ScoreTarget;
  readonly options: (m: Method) => OptionValues | undefined;
  readonly steps?: number;
  readonly seed?: number;
  readonly threshold?: number;
  readonly progress: (line: string) => void;
}

/** Runs the check on one input; Ctrl-C (SIGINT) cancels between method runs. */
export async function runSanity(model: LoadedModel, inputPath: string, a: SanityArgs) {
  const t0 = performance.now();
  const input = await loadInput(model, inputPath);
  const fw = await model.explainer.forward(input.tensor);
  model.checkScores(fw);
  const classIndex = a.classIndex ?? topK(fw.probs, 1)[0];
  if (classIndex < 0 || classIndex >= model.classes) throw new LookCloserError('bad-argument', `--class ${classIndex} is not a class index of this model (0–${model.classes - 1}).`);
  const abort = new AbortController();
  const onInt = () => {
    a.progress('cancelling (Ctrl-C again to quit at once)…');
    abort.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onInt);
  let report: SanityReport;
  try {
    report = await sanityCheck(model.explainer.runtime, model.explainer, input.tensor, {
      methods: a.methods, classIndex, layer: a.layer, source: inputSource(model, input), target: a.target, options: a.options, steps: a.steps, seed: a.seed, threshold: a.threshold,
      signal: abort.signal, onProgress: (done, total, what) => a.progress(`${done}/${total} ${what}`),
    });
  } finally {
    process.removeListener('SIGINT', onInt);
  }
  const labelOf = (k: number) => model.label(k);
  return {
    model: model.path, input: input.path, backend: model.explainer.runtime.backend,
    predictions: model.predictions(fw.probs, 5), target: a.target,
    ...report, label: labelOf(classIndex),
    methods: report.methods.map((m) => (m.labelControl ? { ...m, labelControl: { ...m.labelControl, label: labelOf(m.labelControl.class) } } : m)),
    timings: { total: performance.now() - t0 },
  };
}

const f2 = (v: number | null | undefined) => (typeof v === 'number' ? v.toFixed(2).padStart(6) : '     –');

/** The report as text: one table per method (a row per cascade step), the control and the verdict. */
export function sanityText(r: Awaited<ReturnType<typeof runSanity>>): string {
  const lines = [`class ${r.class} (${r.label}); ${r.layers.length} learnable layers, randomised from the top in ${r.steps.length} steps (seed ${r.seed}); flag above Spearman ${r.threshold}, notes above ${r.noteThreshold}`];
  for (const m of r.methods) {
    lines.push('', `${m.method}${m.layer ? ` (layer ${m.layer})` : ''}${m.flagged ? '  ⚑ FLAGGED: insensitive to the model' : ''}`);
    lines.push('  step  random  down to                       ρ |map|  ρ signed    SSIM');
    r.steps.forEach((s, i) => lines.push(`  ${String(i + 1).padStart(4)}  ${`${s.randomised}/${r.layers.length}`.padStart(6)}  ${s.deepest.slice(0, 28).padEnd(28)}  ${f2(m.cascade.spearmanAbs[i])}  ${f2(m.cascade.spearmanSigned[i])}  ${f2(m.cascade.ssim[i])}`));
    const c = m.labelControl as (typeof m.labelControl & { label?: string }) | undefined;
    if (c) lines.push(`  class ${c.class} (${c.label}) instead: ρ |map| ${f2(c.spearmanAbs).trim()}, ρ signed ${f2(c.spearmanSigned).trim()}, SSIM ${f2(c.ssim).trim()}`);
    lines.push(`  ${m.verdict}`);
  }
  return lines.join('\n');
}
