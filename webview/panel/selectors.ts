/** What the panel derives from its state: the class and layer shown, the summary for the host, explain settings, class search. */
import type { ExplainSettings } from '../../src/core/app/explain-image';
import { RANK_KEYS, rankCells } from '../../src/core/compare/compare-methods';
import { METHODS } from '../../src/core/methods/registry';
import type { MetricId } from '../../src/core/metrics/registry';
import { labelOf as labelIn } from '../../src/core/model-config';
import type { CompareSummaryRow, ExplainOptions, ExplainSummary, ImagePayload, ModelHeld, ModelPayload } from '../../src/protocol/protocol';
import type { Choices, CompareCellView, OutcomeView, OutputView, PanelState, Persisted, Step } from './state';

/** Classes explained besides the chosen one: the top 5, as the predictions list shows them. */
export const TOP = 5;

/** A class's label, or "class N". */
export function labelOf(s: PanelState, index: number): string {
  return labelIn(s.model?.labels ?? s.preview?.labels, index);
}

/** The explained output of a class, if the outcome has one. */
export function outputOf(o: OutcomeView | undefined, classIndex: number): OutputView | undefined {
  return o?.outputs.find((x) => x.classIndex === classIndex);
}

/** The class shown: the chosen one when it was explained, else the top-1; -1 before any outcome. */
export function shownClass(s: PanelState): number {
  const o = s.outcome;
  if (!o) return -1;
  const k = s.choices.classIndex;
  return k !== undefined && outputOf(o, k) ? k : o.predictions[0].index;
}

/** The output shown. */
export function shownOutput(s: PanelState): OutputView | undefined {
  return outputOf(s.outcome, shownClass(s));
}

/** Whether a CAM-family method can target the layer. */
export function isTargetLayer(s: PanelState, layer: string | undefined): layer is string {
  return !!layer && !!s.model?.targetLayers.some((l) => l.name === layer);
}

/** The layer the layer picker shows: the one being explained while a job runs, else the outcome's (or the chosen or default one). */
export function shownLayer(s: PanelState): string {
  const chosen = isTargetLayer(s, s.choices.layer) ? s.choices.layer : undefined;
  if (s.job && chosen) return chosen;
  return s.outcome?.layer ?? chosen ?? s.model?.defaultLayer ?? '';
}

/** The settings for explainImage: the chosen method (or the first that applies), a valid target layer, the chosen class and the top 5. */
export function explainSettings(s: PanelState): ExplainSettings {
  const c = s.choices;
  const family = c.method === undefined ? undefined : METHODS.find((m) => m.id === c.method)?.family;
  const layer = (c.method === undefined || family === 'cam') && isTargetLayer(s, c.layer) ? c.layer : undefined;
  const k = c.classIndex;
  const classes = k !== undefined && Number.isInteger(k) && k >= 0 && k < (s.model?.classes ?? 0) ? [k] : undefined;
  return { method: c.method, layer, classes, top: TOP, target: c.target ?? 'logit' };
}

/** The metrics measured beside every map once it is shown (the pointing game only with a box). */
export const SHOWN_METRICS: readonly MetricId[] = ['deletion', 'insertion', 'road', 'confidence'];

/**
 * The metrics each cell of "Compare methods" measures, as the CLI's `--method all` does: ROAD only when the
 * comparison is ranked by it (its noisy linear imputation is a sparse solve in JavaScript, about 9 s per 224² map
 * on this project's 2-core machine, where deletion, insertion and confidence cost 33 batched forward passes).
 */
export function comparedMetrics(rankBy: MetricId, box: boolean): MetricId[] {
  const ids: MetricId[] = ['deletion', 'insertion', 'confidence'];
  if (!ids.includes(rankBy) && (rankBy !== 'pointing' || box)) ids.push(rankBy);
  if (box && !ids.includes('pointing')) ids.push('pointing');
  return ids;
}

/**
 * The methods "Compare methods" runs when the user picked none: eight that cover the CAM family and the input
 * gradients and take a second or two each with their metrics on a small CNN (occlusion, Score-CAM, RISE, the
 * SmoothGrad family and Integrated Gradients take 5–90 s each on SqueezeNet on WASM: picked on request).
 */
export const DEFAULT_COMPARED: readonly string[] = ['gradcam', 'gradcam-plusplus', 'layercam', 'eigencam', 'saliency', 'input-x-gradient', 'guided-backprop', 'guided-gradcam'];

/** Methods that take several seconds or more per map (many forward or backward passes): a comparison runs them last. */
const SLOW_METHODS: readonly string[] = ['ablationcam', 'occlusion', 'integrated-gradients', 'smoothgrad', 'smoothgrad-squared', 'vargrad', 'scorecam', 'rise'];

/** The methods that can run on the loaded model, in the order a comparison runs them (registry order, the slow ones last). */
export function comparableMethods(s: PanelState): string[] {
  const unavailable = new Set((s.model?.unavailable ?? []).map((u) => u.method));
  const rank = (id: string) => (SLOW_METHODS.includes(id) ? METHODS.length + SLOW_METHODS.indexOf(id) : METHODS.findIndex((m) => m.id === id));
  return METHODS.map((m) => m.id).filter((id) => !unavailable.has(id)).sort((a, b) => rank(a) - rank(b));
}

/**
 * The methods the comparison runs, fast ones first: those the user picked (remembered), else the default eight,
 * topped up from the other available methods where some of the eight do not apply to the model.
 */
export function comparedMethods(s: PanelState): string[] {
  const all = comparableMethods(s);
  const picked = s.compareChoice?.filter((id) => all.includes(id));
  if (picked?.length) return all.filter((id) => picked.includes(id));
  const chosen = all.filter((id) => DEFAULT_COMPARED.includes(id));
  for (const id of all) if (chosen.length < DEFAULT_COMPARED.length && !chosen.includes(id) && !SLOW_METHODS.includes(id)) chosen.push(id);
  return all.filter((id) => chosen.includes(id));
}

/** The deferred checks of class `k` of outcome `outcome`: GAIN and the metrics, the pointing game when a box is drawn. */
export function measureStep(s: PanelState, outcome: number, k: number): Step {
  return { kind: 'measure', outcome, classIndex: k, ids: s.box ? [...SHOWN_METRICS, 'pointing'] : SHOWN_METRICS, gain: true, box: s.box };
}

/** Whether the shown class still lacks its checks (GAIN, the metrics, or the pointing game for a drawn box). */
export function needsMeasure(s: PanelState, k: number): boolean {
  return s.gains[k] === undefined || s.metrics[k] === undefined || (!!s.box && s.metrics[k].pointing === undefined);
}

/** The comparison's cells ranked by its key, best first (unfinished and unmeasured last). */
export function rankedCompare(s: PanelState): (CompareCellView & { rank: number | null; value: number | null })[] {
  const c = s.compare;
  if (!c) return [];
  const key = RANK_KEYS.find((k) => k.key === c.rankBy) ?? RANK_KEYS[0];
  const byMethod = new Map(c.cells.map((x) => [x.method, x]));
  const ranked = rankCells(c.cells.map((x) => ({ method: x.method, title: x.title, png: '', metrics: x.metrics })), key);
  return ranked.map((r) => ({ ...byMethod.get(r.method)!, rank: r.rank, value: r.value }));
}

/** The comparison in one line: running, stopped, or "N methods in X s". */
export function compareStatus(s: PanelState): string {
  const c = s.compare;
  if (!c) return '';
  const finished = c.cells.filter((x) => x.status !== 'pending').length;
  const maps = c.cells.filter((x) => x.status === 'done').length;
  if (c.totalMs !== undefined) return `compare view: ${maps} methods in ${(c.totalMs / 1000).toFixed(1)} s (${c.cells.length - maps} skipped or failed)`;
  const so = c.elapsedMs === undefined ? '' : ` (${maps} maps in ${(c.elapsedMs / 1000).toFixed(1)} s)`;
  if (s.job?.id === c.job) return `Comparing: ${finished} of ${c.cells.length} methods${so}…`;
  return `Stopped after ${finished} of ${c.cells.length} methods${so}.`;
}

/** The comparison as the summary reports it. */
export function compareSummary(s: PanelState): CompareSummaryRow | undefined {
  const c = s.compare;
  if (!c) return undefined;
  return {
    classIndex: c.classIndex, target: c.target, rankBy: c.rankBy, methods: c.cells.length,
    finished: c.cells.filter((x) => x.status !== 'pending').length, filled: c.cells.filter((x) => x.status === 'done').length,
    totalMs: c.totalMs, elapsedMs: c.elapsedMs, ranking: rankedCompare(s).filter((x) => x.status === 'done').map((x) => ({ method: x.method, rank: x.rank, value: x.value })),
  };
}

/** What the panel shows, as the host and the tests read it; undefined before the first explanation. */
export function summaryOf(s: PanelState): ExplainSummary | undefined {
  const { outcome: o, model: m, image } = s;
  const k = shownClass(s);
  const out = outputOf(o, k);
  if (!o || !m || !image || !out) return undefined;
  const row = (p: { index: number; score: number }) => ({ index: p.index, label: labelOf(s, p.index), score: p.score });
  return {
    model: m.name, image: image.name,
    backend: m.backend === 'WASM' || m.backend === 'CPU' ? m.backend : 'WebGPU',
    backendReason: m.backendReason,
    fallback: m.fallbacks.length ? m.fallbacks.join(' ') : undefined,
    preset: { name: m.preprocessing.name, source: m.preprocessing.source, reason: m.preprocessing.reason },
    labelsSource: m.labelsSource,
    predictions: o.predictions.map(row),
    method: o.method.id, layer: o.layer, defaultLayer: m.defaultLayer,
    classIndex: k, label: labelOf(s, k), rawRange: out.rawRange, display: out.display, peak: out.peak,
    gain: s.gains[k], target: o.target ?? 'logit', metrics: s.metrics[k], compare: compareSummary(s),
    crops: out.crops && { scales: out.crops.scales.map(row), fused: row(out.crops.fused) },
    rendered: out.rendered, timings: s.timings,
  };
}

/** Classes whose label contains the query, or whose index is it (at most 30). */
export function classMatches(s: PanelState, query: string): { index: number; label: string }[] {
  const q = query.trim().toLowerCase();
  const out: { index: number; label: string }[] = [];
  if (!s.model || !q) return out;
  for (let i = 0; i < s.model.classes && out.length < 30; i++) {
    const label = labelOf(s, i);
    if (label.toLowerCase().includes(q) || String(i) === q) out.push({ index: i, label });
  }
  return out;
}

/** What to persist: the image, the model and the explain options. */
export function persistedOf(s: PanelState): Persisted {
  const { method, layer, classIndex, colormap, opacity, target } = s.choices;
  return {
    imageUri: s.image?.key, modelUri: s.model?.key, options: { method, layer, classIndex, colormap, opacity, ...(target !== undefined ? { target } : {}) },
    ...(s.compareChoice ? { compareMethods: s.compareChoice } : {}),
  };
}

/** The options the host gave, as a change of choices (absent fields keep the current choice). */
export function choicesFrom(o: ExplainOptions): Partial<Choices> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<Choices>;
}

/** Identity of a model payload: the same key, bytes (the host's fingerprint: size and mtime), sidecar and labels load the same model. */
export function modelFingerprint(p: ModelPayload | ModelHeld): string {
  return JSON.stringify([p.key, p.fingerprint ?? p.bytes?.byteLength ?? null, p.sidecarText ?? null, p.labels?.text ?? null]);
}

/** Identity of an image payload. */
export function imageFingerprint(p: ImagePayload): string {
  return JSON.stringify([p.key, p.bytes.byteLength]);
}
