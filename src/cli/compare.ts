/** `explain MODEL IMAGE --method all` (or a list): every method on one image and class, ranked by a metric, as one grid PNG and one HTML page. */
import * as path from 'node:path';
import { methodAvailability } from '../core/app/availability';
import { explainImage, outputRow } from '../core/app/explain-image';
import type { OutputRow } from '../core/app/types';
import { CompareCell, RankKey, explanationPicture, rankCells, renderCompareGrid, renderCompareHtml } from '../core/compare/compare-methods';
import { LookCloserError } from '../core/errors';
import { topK } from '../core/explainer';
import type { Method, ScoreTarget } from '../core/methods/method';
import type { OptionValues } from '../core/methods/options';
import { METHODS, methodById } from '../core/methods/registry';
import { type MetricId, metricShare } from '../core/metrics/registry';
import type { PointingBox } from '../core/metrics/pointing';
import type { Grid } from '../core/token-layout';
import type { RgbaImage } from '../core/preprocess/image';
import { makeOutputDir, writeOutput } from '../node/files';
import { encodePng } from '../node/image-io';
import { LoadedModel, loadInput, writeExplanation } from '../node/workbench';

/** True when `--method` names several methods or `all` (comparison mode for one image). */
export function isMethodList(spec: string | undefined): boolean {
  if (spec === undefined) return false;
  const ids = spec.split(',').map((s) => s.trim()).filter(Boolean);
  return ids.length > 1 || ids[0] === 'all';
}

/** The methods `--method` names: a comma-separated list of registry ids, or `all` (every method that applies to the model; the others listed as skipped). */
export async function methodList(spec: string, model: LoadedModel): Promise<{ methods: Method[]; skipped: { method: string; reason: string }[] }> {
  const ids = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.includes('all')) {
    if (ids.length > 1) throw new LookCloserError('bad-argument', `--method all already names every method; drop the others ('${spec}').`);
    const av = await methodAvailability(model);
    return {
      methods: METHODS.filter((m) => av.find((a) => a.method === m.id)?.available),
      skipped: av.filter((a) => !a.available).map((a) => ({ method: a.method, reason: a.reason ?? 'does not apply' })),
    };
  }
  const methods = ids.map(methodById);
  const dup = methods.find((m, i) => methods.indexOf(m) !== i);
  if (dup) throw new LookCloserError('bad-argument', `--method names '${dup.id}' twice.`);
  return { methods, skipped: [] };
}

/** What the comparison was asked. */
export interface CompareArgs {
  readonly spec: string;
  readonly classIndex?: number;
  readonly layer?: string;
  /** The token layers' patch grid (`--token-grid`), where the graph does not tell it. */
  readonly grid?: Grid;
  readonly target: ScoreTarget;
  readonly options: (m: Method) => OptionValues;
  readonly metrics: { readonly ids: readonly MetricId[]; readonly box?: PointingBox };
  readonly rankBy: RankKey;
  readonly colormap: string;
  readonly alpha: number;
  readonly progress?: (line: string) => void;
}

/** Runs every method on one input for one class, writes each method's files, the grid PNG and the page; returns the --json report. */
export async function compareMethods(model: LoadedModel, inputPath: string, outDir: string, a: CompareArgs) {
  const t0 = performance.now();
  const { methods, skipped } = await methodList(a.spec, model);
  makeOutputDir(outDir);
  const input = await loadInput(model, inputPath);
  const tf = performance.now();
  const forward = await model.explainer.forward(input.tensor);
  model.checkScores(forward);
  const classIndex = a.classIndex ?? topK(forward.probs, 1)[0];
  const tExplain = performance.now();
  const stem = path.basename(inputPath).replace(/\.[^.]+$/, '');
  const channelOrder = model.preprocessing.preprocessing.channels;
  const outputs: OutputRow[] = [];
  const cells: (CompareCell & { picture: RgbaImage })[] = [];
  const failed: { method: string; error: string }[] = [];
  let layer: string | null = null;
  // One input, one class: the methods' maps share the metrics' substrate passes and any identical curve.
  const metrics = a.metrics && { ...a.metrics, share: metricShare() };
  for (const [i, m] of methods.entries()) {
    const t = performance.now();
    let o;
    try {
      o = await explainImage(model, input, { method: m.id, classes: [classIndex], layer: a.layer, grid: a.grid, target: a.target, options: a.options(m), metrics, forward });
    } catch (e) {
      if (e instanceof LookCloserError && e.kind === 'method-not-applicable') {
        skipped.push({ method: m.id, reason: e.message });
        continue;
      }
      // One method (or one of its metrics) failing does not lose the others; the command then exits 1.
      if (!(e instanceof LookCloserError) || e.kind === 'cancelled') throw e;
      failed.push({ method: m.id, error: e.message });
      continue;
    }
    layer ??= o.layer ?? null;
    for (const out of o.outputs) {
      const files = await writeExplanation(out.explanation, input, outDir, stem, { colormap: a.colormap, alpha: a.alpha, channelOrder });
      outputs.push(outputRow(out, files));
      cells.push({
        method: m.id, title: m.title, png: path.basename(files.png), metrics: out.metrics,
        picture: explanationPicture(out.explanation, input.base, { colormap: a.colormap, alpha: a.alpha, channelOrder }),
      });
    }
    a.progress?.(`${i + 1}/${methods.length} ${m.id} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }
  const ranked = rankCells(cells, a.rankBy);
  const pictures = new Map(cells.map((c) => [c.method, c.picture]));
  const base = `${stem}_compare_c${classIndex}`;
  const png = path.join(outDir, `${base}.png`);
  const html = path.join(outDir, `${base}.html`);
  await writeOutput(png, await encodePng(renderCompareGrid(ranked.map((c) => ({ ...c, picture: pictures.get(c.method)! })), a.rankBy)));
  await writeOutput(html, renderCompareHtml({
    model: model.path, input: input.path, class: classIndex, label: model.label(classIndex), target: a.target, layer,
    rankBy: a.rankBy.key, grid: path.basename(png), cells: ranked.map(({ method, title, png: p, metrics, rank, value }) => ({ method, title, png: p, metrics, rank, value })), skipped, failed,
  }));
  const tEnd = performance.now();
  return {
    model: model.path, input: input.path, backend: model.explainer.runtime.backend,
    preprocessing: model.preprocessingInfo(), predictions: model.predictions(forward.probs, 5),
    method: a.spec, methods: cells.map((c) => c.method), layer, target: a.target, outputs,
    ...(skipped.length ? { skipped } : {}),
    ...(failed.length ? { failed } : {}),
    compare: {
      class: classIndex, label: model.label(classIndex), rankBy: a.rankBy.key, higherIsBetter: a.rankBy.higher,
      ranking: ranked.map((c) => ({ rank: c.rank, method: c.method, value: c.value })), png, html,
    },
    timings: { preprocess: tf - t0, forward: tExplain - tf, explain: tEnd - tExplain, total: tEnd - t0 },
  };
}
