/**
 * Comparing methods on one image and class: the methods ranked by a faithfulness metric the user picks
 * (src/core/metrics/), a grid picture with every method's map side by side, and a static HTML page with the
 * same cells and every metric. Pure: the CLI writes the files (`explain … --method all` or a list).
 */
import { LookCloserError } from '../errors';
import { escapeHtml, num } from '../batch-report';
import type { Explanation } from '../methods/method';
import { METRIC_COLUMNS, MetricId, MetricValues } from '../metrics/registry';
import type { RgbaImage } from '../preprocess/image';
import { resizeBilinear } from '../preprocess/resize';
import { gradientToImage, overlayHeatmap } from '../render/overlay';
import { drawText } from '../render/text';

/** A metric the methods can be ranked by: a column of the metrics table and the metric that measures it. */
export interface RankKey {
  readonly key: string;
  readonly title: string;
  readonly higher: boolean;
  readonly metric: MetricId;
  readonly value: (m: MetricValues) => number | undefined;
}

/** The metric measuring each table column. */
const COLUMN_METRIC: Readonly<Record<string, MetricId>> = {
  deletion: 'deletion', insertion: 'insertion', road: 'road', averageDrop: 'confidence', increase: 'confidence', pointing: 'pointing',
};

/** Every ranking key: the metrics table's columns (`confidence` is another name for `averageDrop`). */
export const RANK_KEYS: readonly RankKey[] = METRIC_COLUMNS.filter((c) => COLUMN_METRIC[c.key]).map((c) => ({ ...c, metric: COLUMN_METRIC[c.key] }));

/** The ranking used when none is named. */
export const DEFAULT_RANK_BY = 'deletion';

/** Parses `--rank-by`. */
export function parseRankBy(s: string): RankKey {
  const key = s.trim() === 'confidence' ? 'averageDrop' : s.trim();
  const k = RANK_KEYS.find((r) => r.key === key);
  if (!k) throw new LookCloserError('bad-argument', `Unknown ranking metric '${s}'. Available: ${RANK_KEYS.map((r) => r.key).join(', ')} (confidence = averageDrop).`);
  return k;
}

/** One method's cell before ranking. */
export interface CompareCell {
  readonly method: string;
  readonly title: string;
  /** The overlay (or gradient picture), as the page links it (a file name beside the page). */
  readonly png: string;
  readonly metrics?: MetricValues;
}

/** A cell with its place: `rank` 1 is best; null when the ranking metric could not be measured. */
export interface RankedCell extends CompareCell {
  readonly rank: number | null;
  readonly value: number | null;
}

/** Orders the cells by the key's metric, best first (ties and unmeasured cells keep their order; unmeasured last). */
export function rankCells(cells: readonly CompareCell[], key: RankKey): RankedCell[] {
  const withValue = cells.map((c, i) => {
    const v = c.metrics ? key.value(c.metrics) : undefined;
    return { c, i, v: typeof v === 'number' && Number.isFinite(v) ? v : null };
  });
  withValue.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === null && b.v === null ? a.i - b.i : a.v === null ? 1 : -1;
    return (key.higher ? b.v - a.v : a.v - b.v) || a.i - b.i;
  });
  let rank = 0;
  return withValue.map(({ c, v }) => ({ ...c, value: v, rank: v === null ? null : ++rank }));
}

/** How an explanation is drawn: its heat map over the picture the model saw, or its input-space gradient. */
export function explanationPicture(e: Explanation, base: RgbaImage, o: { colormap: string; alpha: number; channelOrder: 'rgb' | 'bgr' | 'gray' }): RgbaImage {
  if (e.display.kind === 'heatmap') return overlayHeatmap(base, e.display.map, e.display.width, e.display.height, { colormap: o.colormap, alpha: o.alpha });
  const [c, h, w] = e.display.grad.dims;
  return gradientToImage(e.display.grad.data, c, h, w, o.channelOrder === 'bgr' ? 'bgr' : 'rgb');
}

/** Short names of the metric columns in the grid's captions. */
const SHORT: Readonly<Record<string, string>> = { deletion: 'del', insertion: 'ins', road: 'road', averageDrop: 'drop', increase: 'inc', pointing: 'pt' };

/** A column's value as caption text. */
function short(key: string, v: number): string {
  if (key === 'increase' || key === 'pointing') return v ? 'yes' : 'no';
  return v.toFixed(3);
}

/** Layout of the grid picture. */
export interface GridOptions {
  /** Side of each picture in pixels (default 224). */
  readonly cell?: number;
  /** Columns (default up to 4). */
  readonly columns?: number;
}

/** Caption height under each picture: a title line (7 px glyphs ×2) and two metric lines. */
const CAPTION = 46;
const GAP = 8;

/** Copies `src` into `dst` at (x, y), resized to fit `side × side` keeping its aspect ratio, centred. */
function paste(dst: RgbaImage, src: RgbaImage, x: number, y: number, side: number): void {
  const s = side / Math.max(src.width, src.height);
  const w = Math.max(1, Math.round(src.width * s));
  const h = Math.max(1, Math.round(src.height * s));
  const r = resizeBilinear(Float32Array.from(src.data), src.width, src.height, w, h, 4);
  const ox = x + Math.floor((side - w) / 2);
  const oy = y + Math.floor((side - h) / 2);
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      const d = ((oy + yy) * dst.width + ox + xx) * 4;
      const q = (yy * w + xx) * 4;
      for (let k = 0; k < 3; k++) dst.data[d + k] = Math.round(Math.min(255, Math.max(0, r[q + k])));
      dst.data[d + 3] = 255;
    }
  }
}

/** The grid picture: the cells in ranked order, each captioned "#rank method" and its metrics (the ranking metric first). */
export function renderCompareGrid(cells: readonly (RankedCell & { readonly picture: RgbaImage })[], key: RankKey, o: GridOptions = {}): RgbaImage {
  if (!cells.length) throw new LookCloserError('bad-argument', 'Nothing to compare: no method produced a map.');
  const side = o.cell ?? 224;
  const cols = Math.max(1, Math.min(o.columns ?? 4, cells.length));
  const rows = Math.ceil(cells.length / cols);
  const width = cols * side + (cols + 1) * GAP;
  const height = rows * (side + CAPTION) + (rows + 1) * GAP;
  const img: RgbaImage = { width, height, data: new Uint8Array(width * height * 4).fill(255) };
  const chars = Math.floor(side / 6);
  cells.forEach((c, i) => {
    const x = GAP + (i % cols) * (side + GAP);
    const y = GAP + Math.floor(i / cols) * (side + CAPTION + GAP);
    paste(img, c.picture, x, y, side);
    const title = `${c.rank === null ? '-' : `#${c.rank}`} ${c.method}`;
    drawText(img, title.slice(0, Math.floor(side / 12)), x, y + side + 4, [20, 20, 20], 2);
    const cols2 = RANK_KEYS.filter((k) => c.metrics && k.value(c.metrics) !== undefined);
    const ordered = [key, ...cols2.filter((k) => k.key !== key.key)];
    const parts = ordered.map((k) => {
      const v = c.metrics ? k.value(c.metrics) : undefined;
      return typeof v === 'number' && Number.isFinite(v) ? `${SHORT[k.key]} ${short(k.key, v)}` : k === key ? `${SHORT[k.key]} -` : '';
    }).filter(Boolean);
    const lines: string[] = [''];
    for (const p of parts) {
      const cur = lines[lines.length - 1];
      if (cur && (cur + ' ' + p).length > chars) lines.push(p);
      else lines[lines.length - 1] = cur ? `${cur} ${p}` : p;
    }
    lines.slice(0, 2).forEach((l, k) => drawText(img, l.slice(0, chars), x, y + side + 22 + k * 10, k === 0 ? [150, 0, 0] : [70, 70, 70], 1));
  });
  return img;
}

/** What the comparison page shows. */
export interface CompareSummary {
  readonly model: string;
  readonly input: string;
  readonly class: number;
  readonly label: string;
  readonly target: string;
  readonly layer: string | null;
  readonly rankBy: string;
  /** The grid picture, as the page links it. */
  readonly grid: string;
  readonly cells: readonly RankedCell[];
  readonly skipped: readonly { readonly method: string; readonly reason: string }[];
  /** Methods that failed on this image (the others are still compared). */
  readonly failed?: readonly { readonly method: string; readonly error: string }[];
}

/** A file path as a URL path (forward slashes, each segment percent-encoded). */
function href(rel: string): string {
  return String(rel).split(/[\\/]/).map(encodeURIComponent).join('/');
}

const baseName = (p: unknown) => String(p).split(/[\\/]/).pop() ?? '';

/** The comparison page: the methods in ranked order, each with its picture and every measured metric; every value escaped. */
export function renderCompareHtml(s: CompareSummary): string {
  const key = RANK_KEYS.find((k) => k.key === s.rankBy) ?? parseRankBy(DEFAULT_RANK_BY);
  const cols = RANK_KEYS.filter((k) => s.cells.some((c) => c.metrics && k.value(c.metrics) !== undefined));
  const title = `Look Closer — methods compared on ${baseName(s.input)} with ${baseName(s.model)}`;
  const cell = (c: RankedCell, k: RankKey) => {
    const v = c.metrics ? k.value(c.metrics) : undefined;
    const text = v === undefined ? '–' : k.key === 'increase' || k.key === 'pointing' ? (v ? 'yes' : 'no') : num(v, 3);
    return `<td class="${k.key === key.key ? 'key' : ''}">${escapeHtml(text)}</td>`;
  };
  const figures = s.cells.map((c) =>
    `<figure><div class="rank">${escapeHtml(c.rank === null ? '–' : `#${num(c.rank)}`)}</div><a href="${escapeHtml(href(c.png))}"><img src="${escapeHtml(href(c.png))}" alt="${escapeHtml(c.title)}"></a>` +
    `<figcaption><b>${escapeHtml(c.title)}</b> <code>${escapeHtml(c.method)}</code><br>${escapeHtml(key.title)}: <b>${escapeHtml(c.value === null ? '–' : num(c.value, 3))}</b></figcaption></figure>`).join('\n');
  const rows = s.cells.map((c) => `<tr><td>${escapeHtml(c.rank === null ? '–' : num(c.rank))}</td><th>${escapeHtml(c.method)}</th>${cols.map((k) => cell(c, k)).join('')}</tr>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}h1{font-size:1.3em;margin:0 0 .3em}
.meta{color:#555;margin-bottom:1em}figure{display:inline-block;vertical-align:top;margin:0 10px 12px 0;background:#fff;border:1px solid #ddd;padding:6px;position:relative}
figure img{width:224px;height:auto;display:block}figcaption{max-width:224px;font-size:.9em}.rank{position:absolute;top:8px;left:8px;background:#222;color:#fff;padding:0 6px;border-radius:3px}
table{border-collapse:collapse;background:#fff;margin-top:1em}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}td.key{font-weight:700;background:#fff4d6}
.failed{color:#b00}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<div class="meta">class ${escapeHtml(num(s.class))} (${escapeHtml(s.label)}) · target ${escapeHtml(s.target)}${s.layer ? ` · layer <code>${escapeHtml(s.layer)}</code>` : ''} · ranked by <b>${escapeHtml(key.title)}</b> (${key.higher ? 'higher' : 'lower'} is better) · <a href="${escapeHtml(href(s.grid))}">grid picture</a></div>
${s.skipped.map((k) => `<p class="failed">Skipped <code>${escapeHtml(k.method)}</code>: ${escapeHtml(k.reason)}</p>`).join('\n')}
${(s.failed ?? []).map((k) => `<p class="failed">Failed <code>${escapeHtml(k.method)}</code>: ${escapeHtml(k.error)}</p>`).join('\n')}
<div class="cells">
${figures}
</div>
<table><thead><tr><th>rank</th><th>method</th>${cols.map((k) => `<th>${escapeHtml(k.title)} ${k.higher ? '↑' : '↓'}</th>`).join('')}</tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
