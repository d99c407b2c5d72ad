/**
 * The batch report: one JSON summary of a folder explained with one model, and a static HTML gallery of it
 * (each image, its overlays per method and class, its top-k predictions and, when measured, GAIN's score
 * drop). The page has no scripts, no inline style attributes, and links its images relatively, so the folder
 * can be moved or served as is, and a webview can show it under its own CSP. Pure: the CLI writes it with
 * node:fs (src/node/report.ts), the extension with vscode.workspace.fs.
 */
import type { BatchImageRow, OutputRow, PreprocessingInfo } from './app/types';
import type { GainJson } from './metrics/gain';
import { METRIC_COLUMNS } from './metrics/registry';

/** File types batch mode reads from a folder (the CLI reads all; the extension's webview decodes only browser images). */
export const INPUT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.gif', '.tif', '.tiff', '.npy'];

export { valueRange } from './app/explain-image';

/**
 * Unique file stems for the report's file names: 'cat', then 'cat_2', 'cat_3', … for later inputs with the same
 * stem; a suffixed name never takes a stem another input has ('b.png', 'b.jpg', 'b_2.png' → 'b', 'b_3', 'b_2').
 */
export function uniqueStems(fileNames: readonly string[]): string[] {
  const stems = fileNames.map((f) => baseName(f).replace(/\.[^.]+$/, ''));
  const taken = new Set(stems);
  const used = new Set<string>();
  return stems.map((s) => {
    let name = s;
    for (let n = 2; used.has(name) || (name !== s && taken.has(name)); n++) name = `${s}_${n}`;
    used.add(name);
    return name;
  });
}

/** GAIN's check of one output, as the summary stores it (the one GAIN result type). */
export type ScoreDrop = GainJson;

/** One explanation written for one image; paths relative to the report folder. */
export type BatchOutput = OutputRow<string>;

/** One image of the folder. */
export type BatchImage = BatchImageRow<string>;

/** The batch summary (`summary.json`). */
export interface BatchSummary {
  /** Identifies the format: 'look-closer-batch', version 1. */
  readonly format: 'look-closer-batch';
  readonly version: 1;
  readonly model: string;
  readonly backend: string;
  readonly folder: string;
  readonly methods: readonly string[];
  readonly layer: string | null;
  readonly target: string;
  /** Explicit classes (--class), or null when each image's top K are explained. */
  readonly classes: readonly number[] | null;
  readonly top: number | null;
  readonly preprocessing: PreprocessingInfo;
  /** Images stacked per forward pass when a method reuses it (1: one at a time). */
  readonly batchSize: number;
  readonly images: readonly BatchImage[];
  readonly explained: number;
  readonly failed: number;
  readonly timings: { readonly load: number; readonly total: number; readonly perImage: number; readonly imagesPerSecond: number };
  /** The HTML gallery, relative to the report folder. */
  readonly report: string;
  /** Methods that do not apply to the model, with the reason; the others ran on every image. */
  readonly skipped?: readonly { readonly method: string; readonly reason: string }[];
  /** True when the run was cancelled: `images` lists only the images that ran. */
  readonly cancelled?: boolean;
  /** Per method, each measured metric's mean and spread over the folder (present with --metrics). */
  readonly metricSummary?: readonly MetricSummaryRow[];
}

/** One method's summary of one metric column over the folder's outputs. */
export interface MetricSummaryRow {
  readonly method: string;
  /** A METRIC_COLUMNS key: deletion, insertion, road, averageDrop, increase, pointing. */
  readonly metric: string;
  /** Outputs measured. */
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (0 for one output). */
  readonly std: number;
  readonly higherIsBetter: boolean;
}

/** The per-method mean and spread of each metric column over the images' outputs; empty when no output has metrics. */
export function metricSummary(images: readonly BatchImage[], methods: readonly string[]): MetricSummaryRow[] {
  const out: MetricSummaryRow[] = [];
  for (const method of methods) {
    const ms = rows(images).flatMap((i) => rows(i.outputs)).filter((o) => o.method === method && o.metrics && typeof o.metrics === 'object').map((o) => o.metrics!);
    for (const c of METRIC_COLUMNS) {
      const v = ms.map((m) => c.value(m)).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      if (!v.length) continue;
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
      out.push({ method, metric: c.key, n: v.length, mean, std, higherIsBetter: c.higher });
    }
  }
  return out;
}

/** The per-method metric table of the report, or nothing. */
function metricTable(s: BatchSummary): string {
  const r = metricSummary(list(s.images), list(s.methods).map(String));
  if (!r.length) return '';
  const cols = METRIC_COLUMNS.filter((c) => r.some((x) => x.metric === c.key));
  const cell = (m: string, k: string) => {
    const x = r.find((y) => y.method === m && y.metric === k);
    return x ? `<td>${escapeHtml(num(x.mean, 3))} <span class="dim">± ${escapeHtml(num(x.std, 3))} (n ${escapeHtml(num(x.n))})</span></td>` : '<td></td>';
  };
  return `<h2>Metrics</h2><table class="metrics"><thead><tr><th>method</th>${cols.map((c) => `<th>${escapeHtml(c.title)} <span class="dim">${c.higher ? '↑' : '↓'}</span></th>`).join('')}</tr></thead><tbody>
${[...new Set(r.map((x) => x.method))].map((m) => `<tr><th>${escapeHtml(m)}</th>${cols.map((c) => cell(m, c.key)).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

/** One output's metric values, compact, for its caption. */
function metricsCell(out: BatchOutput): string {
  const m = out.metrics;
  if (!m || typeof m !== 'object') return '';
  const parts = METRIC_COLUMNS.map((c) => [c, c.value(m)] as const).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)).map(([c, v]) => `${escapeHtml(c.title)} ${escapeHtml(num(v, 3))}`);
  return parts.length ? `<div class="dim">${parts.join('<br>')}</div>` : '';
}

/** The last segment of a path or URI path (either slash). */
function baseName(p: string): string {
  const t = String(p);
  return t.split(/[\\/]/).filter(Boolean).pop() ?? t;
}

/** One CSS class per bar width (1–100 %), so the page needs no inline style attributes (a webview's CSP forbids them). */
function barWidths(): string {
  let css = '';
  for (let i = 1; i <= 100; i++) css += `.w${i}{width:${i}%}`;
  return css;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values; a value that is not a string (a crafted summary's) is shown as its String(). */
export function escapeHtml(s: unknown): string {
  return (typeof s === 'string' ? s : s === undefined || s === null ? '' : String(s)).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * A number as page text: only a finite number's digits, else '–'. A summary.json is read back from disk ("Open
 * Report"), so a "number" in it may be any JSON; nothing but this function's output reaches the page for one.
 */
export function num(v: unknown, digits = 0): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** An array field of a summary read from disk, or none. */
function list<T>(x: readonly T[] | undefined | null): readonly T[] {
  return Array.isArray(x) ? x : [];
}

/** The rows of an array field of a summary read from disk: its objects only. */
function rows<T extends object>(x: readonly T[] | undefined | null): readonly T[] {
  return list(x).filter((r) => typeof r === 'object' && r !== null);
}

/** A relative path as a URL path (forward slashes, each segment percent-encoded). */
function href(rel: string): string {
  return String(rel).split(/[\\/]/).map(encodeURIComponent).join('/');
}

const pct = (v: number) => (typeof v === 'number' && Number.isFinite(v) ? `${num(v * 100, 1)}%` : '–');

/** The bar-width class of a score: w1 … w100. */
const barClass = (score: number) => `w${typeof score === 'number' && Number.isFinite(score) ? Math.min(100, Math.max(1, Math.round(score * 100))) : 1}`;

function dropCell(g: ScoreDrop | undefined): string {
  if (!g) return '';
  const f = g.score === 'softmax' ? pct : (v: number) => num(v, 2);
  const ctl = g.controlAfter !== undefined ? ` <span class="dim">(control ${escapeHtml(f(g.controlAfter))})</span>` : '';
  const drop = typeof g.drop !== 'number' || !Number.isFinite(g.drop) ? '–' : g.drop >= 0 ? `−${f(g.drop)}` : `+${f(-g.drop)}`;
  return `<div class="drop" title="GAIN: class ${escapeHtml(g.score)} before → after erasing the attended region">${escapeHtml(f(g.before))} → ${escapeHtml(f(g.after))} <b>${escapeHtml(drop)}</b>${ctl}</div>`;
}

function imageCard(img: BatchImage, methods: readonly string[], o: ReportHtmlOptions): string {
  const src = (rel: string) => escapeHtml(o.resolve ? o.resolve(String(rel)) : href(rel));
  const name = escapeHtml(baseName(img.input));
  const preds = rows(img.predictions).map((p) =>
    `<li><span class="bar ${barClass(p.score)}"></span><span class="p">${escapeHtml(pct(p.score))}</span> <span class="l">${escapeHtml(p.label)}</span> <span class="dim">#${escapeHtml(num(p.index))}</span></li>`).join('');
  const view = typeof img.view === 'string' && img.view ? `<img src="${src(img.view)}" alt="${name}" loading="lazy">` : '<div class="none">(tensor input)</div>';
  const link = (rel: string, inner: string) => (o.resolve ? inner : `<a href="${href(rel)}">${inner}</a>`);
  const cells = methods.map((m) => {
    const outs = rows(img.outputs).filter((x) => x.method === m);
    if (!outs.length) return '<td></td>';
    return `<td>${outs.map((out) =>
      `<figure>${link(out.png, `<img src="${src(out.png)}" alt="${escapeHtml(`${m} ${out.label}`)}" loading="lazy">`)}` +
      `<figcaption>${escapeHtml(out.label)} <span class="dim">#${escapeHtml(num(out.class))}</span>${dropCell(out.gain)}${metricsCell(out)}</figcaption></figure>`).join('')}</td>`;
  }).join('');
  if (img.error) return `<tr class="failed"><th>${name}</th><td colspan="${escapeHtml(num(methods.length + 1))}">${escapeHtml(img.error)}</td></tr>`;
  return `<tr><th><div class="name">${name}</div>${view}<div class="dim">${escapeHtml(num(img.ms))} ms</div></th><td><ol class="preds">${preds}</ol></td>${cells}</tr>`;
}

/** How the page is rendered for somewhere other than a browser opening the file (a VS Code webview). */
export interface ReportHtmlOptions {
  /** Maps a report-relative file path to the URL the page loads it from; also drops the links to files, which a webview cannot follow. */
  readonly resolve?: (rel: string) => string;
  /** The page's Content-Security-Policy (default: images from the folder, the page's own stylesheet). */
  readonly csp?: string;
  /** Nonce of the page's stylesheet, when the CSP allows styles by nonce. */
  readonly styleNonce?: string;
}

/** The gallery page for a summary. */
export function renderReportHtml(s: BatchSummary, o: ReportHtmlOptions = {}): string {
  const csp = o.csp ?? "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'";
  const summaryLink = o.resolve ? '<code>summary.json</code> beside <code>index.html</code>' : '<a href="summary.json">summary.json</a>';
  const cancelled = s.cancelled ? ' · <b>cancelled</b> before every image ran' : '';
  const title = `Look Closer — ${baseName(s.folder)} with ${baseName(s.model)}`;
  const methods = list(s.methods).map(String);
  const what = s.classes ? `classes ${list(s.classes).map((c) => num(c)).join(', ')}` : `top ${num(s.top ?? 1)} class${(s.top ?? 1) > 1 ? 'es' : ''}`;
  const failed = s.failed ? `, <b>${escapeHtml(num(s.failed))} failed</b>` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<title>${escapeHtml(title)}</title>
<style${o.styleNonce ? ` nonce="${escapeHtml(o.styleNonce)}"` : ''}>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .3em}.meta{color:#555;margin-bottom:1em}.dim{color:#888;font-size:.9em}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}
thead th{position:sticky;top:0;background:#f0f0f0}th img,figure img{width:160px;height:auto;display:block}
figure{display:inline-block;margin:0 6px 6px 0}figcaption{font-size:.85em;max-width:160px}
.name{font-weight:600;max-width:160px;overflow-wrap:anywhere}.preds{margin:0;padding-left:1.2em;min-width:13em}
.preds li{position:relative}.bar{position:absolute;left:0;top:2px;bottom:2px;background:#d8e6f7;z-index:0}
.preds li>*:not(.bar){position:relative}.p{display:inline-block;width:3.6em;position:relative}
.drop{color:#444}${barWidths()}.drop b{color:#b00}.failed td{color:#b00}.none{width:160px;color:#888}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<div class="meta">${escapeHtml(num(s.explained))} image${s.explained === 1 ? '' : 's'}${failed} · ${escapeHtml(methods.join(', '))} · ${escapeHtml(what)}${s.layer ? ` · layer <code>${escapeHtml(s.layer)}</code>` : ''} · target ${escapeHtml(s.target)} · ${escapeHtml(s.backend)} · ${escapeHtml(num(s.timings?.imagesPerSecond, 2))} images/s${cancelled}</div>
${rows(s.skipped).map((k) => `<p class="failed">Skipped <code>${escapeHtml(k.method)}</code>: ${escapeHtml(k.reason)}</p>`).join('\n')}
${metricTable(s)}
<table><thead><tr><th>image</th><th>predictions</th>${methods.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr></thead>
<tbody>
${rows(s.images).map((i) => imageCard(i, methods, o)).join('\n')}
</tbody></table>
<p class="dim">Summary: ${summaryLink}</p>
</body></html>
`;
}

