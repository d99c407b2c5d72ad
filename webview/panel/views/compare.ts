/**
 * "Compare methods": the methods picked (by default eight fast ones; the picker lists every method the model can
 * run, remembered), for the shown class and target, in a grid filled in cell by cell as each method finishes, each
 * cell with its metrics, ranked by a metric the user picks. A map bit-identical to one measured already shows that
 * method's numbers and says so.
 */
import { RANK_KEYS } from '../../../src/core/compare/compare-methods';
import type { Explanation } from '../../../src/core/methods/method';
import { paint } from '../../image';
import { h } from '../../vscode-api';
import { metricItems } from '../metrics-text';
import { explanationPicture, thumbnail } from '../pictures';
import { METHODS } from '../../../src/core/methods/registry';
import { comparableMethods, comparedMethods, compareStatus, labelOf, rankedCompare } from '../selectors';
import { Dispatch, Scene, View, memo } from './scene';

/** The ranking keys offered (the increase and pointing columns are yes/no, poor for ranking). */
const OFFERED = RANK_KEYS.filter((k) => k.key !== 'increase');

/** Creates the button and the grid view. */
export function createCompare(dispatch: Dispatch): View {
  const open = h('button', { type: 'button', class: 'secondary', text: 'Compare methods', 'data-testid': 'compare-button', title: 'Run every method that applies to this model on the shown class and target, with its metrics, ranked' });
  const rank = h('select', { id: 'rank-by', title: 'The metric the methods are ranked by' });
  for (const k of OFFERED) rank.append(h('option', { value: k.key, text: `${k.title} ${k.higher ? '↑' : '↓'}` }));
  const title = h('h2', { class: 'compare-title' });
  const status = h('span', { class: 'compare-status', 'data-testid': 'compare-status' });
  const stop = h('button', { type: 'button', class: 'secondary', text: 'Stop' });
  const close = h('button', { type: 'button', class: 'secondary', text: 'Close' });
  // The method picker: a checkbox per method the model can run; the pick is remembered, none checked = the default.
  const pickList = h('div', { class: 'compare-pick-list' });
  const pickDefault = h('button', { type: 'button', class: 'secondary', text: 'Default eight', title: 'Compare the default eight methods' });
  const pickSummary = h('summary', { text: 'Methods', 'data-testid': 'compare-pick-summary' });
  const pick = h('details', { class: 'compare-pick', 'data-testid': 'compare-pick' }, pickSummary, pickList, pickDefault);
  const boxes = new Map<string, HTMLInputElement>();
  const picked = () => [...boxes].filter(([, b]) => b.checked).map(([id]) => id);
  pickDefault.addEventListener('click', () => dispatch({ type: 'pickCompareMethods', methods: [] }));
  let listed = '';
  const grid = h('div', { class: 'compare-grid', 'data-testid': 'compare-grid' });
  const head = h('div', { class: 'compare-head' }, title, h('label', { for: 'rank-by', text: 'Rank by' }), rank, status, stop, close);
  const view = h('section', { class: 'compare', hidden: true, 'aria-label': 'Methods compared' }, head, grid);
  const el = h('div', { class: 'compare-box', hidden: true }, h('div', { class: 'compare-start' }, open, pick), view);
  open.addEventListener('click', () => dispatch({ type: 'compareMethods' }));
  rank.addEventListener('change', () => dispatch({ type: 'rankBy', key: rank.value }));
  stop.addEventListener('click', () => dispatch({ type: 'cancel' }));
  close.addEventListener('click', () => dispatch({ type: 'closeCompare' }));
  const cellsDrawn = memo();
  const pictures = new Map<Explanation, HTMLCanvasElement>();

  function render(scene: Scene): void {
    const s = scene.state;
    el.hidden = !s.outcome;
    open.disabled = !!s.job;
    const all = comparableMethods(s);
    if (all.join() !== listed) {
      listed = all.join();
      pickList.textContent = '';
      boxes.clear();
      for (const id of all) {
        const b = h('input', { type: 'checkbox', value: id, 'data-method': id });
        b.addEventListener('change', () => dispatch({ type: 'pickCompareMethods', methods: picked() }));
        boxes.set(id, b);
        pickList.append(h('label', { class: 'compare-pick-item' }, b, METHODS.find((m) => m.id === id)?.title ?? id));
      }
    }
    const chosen = comparedMethods(s);
    for (const [id, b] of boxes) b.checked = chosen.includes(id);
    pickSummary.textContent = `Methods (${chosen.length}${s.compareChoice ? '' : ', default'})`;
    open.title = `Run ${chosen.length} methods on the shown class and target, with their metrics, ranked (pick them under Methods)`;
    const c = s.compare;
    view.hidden = !s.compareOpen || !c;
    if (view.hidden || !c) return;
    const running = s.job?.id === c.job;
    stop.hidden = !running;
    if (rank.value !== c.rankBy) rank.value = c.rankBy;
    title.textContent = `Methods compared for “${labelOf(s, c.classIndex)}” (${c.target})`;
    // ROAD is measured only when the comparison starts ranked by it (comparedMetrics): say so instead of ranking nothing.
    const key = RANK_KEYS.find((k) => k.key === c.rankBy);
    const done = c.cells.filter((x) => x.status === 'done');
    const unmeasured = !running && key && done.length > 0 && !done.some((x) => x.metrics && key.value(x.metrics) !== undefined);
    status.textContent = compareStatus(s) + (unmeasured ? ` — ${key.title} was not measured in this comparison; press Compare methods again to measure it.` : '');
    view.dataset.filled = String(c.cells.filter((x) => x.status === 'done').length);
    view.dataset.done = String(c.totalMs !== undefined);
    const cmp = scene.compared;
    if (!cellsDrawn([c, cmp?.maps, s.choices.colormap, s.choices.opacity])) return;
    const small = cmp && thumbnail(cmp.base, 160);
    grid.textContent = '';
    for (const cell of rankedCompare(s)) {
      const e = cmp?.maps.get(cell.method);
      let canvas: HTMLCanvasElement | undefined;
      if (e && small) {
        canvas = pictures.get(e);
        if (!canvas) {
          canvas = h('canvas', { class: 'thumb', 'aria-hidden': 'true' });
          paint(canvas, explanationPicture(e, small, s.choices.colormap, s.choices.opacity, s.model?.preprocessing.channels ?? 'rgb'));
          pictures.set(e, canvas);
        }
      }
      const numbers = cell.status === 'done' ? metricItems(cell.metrics, undefined).filter((x) => x.key !== 'increase').map((x) => x.text).join(' · ') : '';
      const line = cell.status === 'done' ? (cell.sameAs ? `${numbers} (same map as ${cell.sameAs}: its metrics)` : numbers)
        : cell.status === 'pending' ? (running ? 'waiting…' : 'not run') : `${cell.status}: ${cell.reason ?? ''}`;
      grid.append(h('figure', { class: `compare-cell ${cell.status}`, 'data-method': cell.method, 'data-status': cell.status, 'data-same-as': cell.sameAs },
        canvas ?? h('div', { class: 'thumb placeholder' }),
        h('figcaption', {},
          h('b', { text: `${cell.rank === null ? '' : `#${cell.rank} `}${cell.title}` }),
          h('span', { class: 'compare-metrics', text: line, title: cell.reason ?? '' }),
          cell.ms !== undefined ? h('span', { class: 'hint', text: `${(cell.ms / 1000).toFixed(2)} s` }) : undefined)));
    }
    if (pictures.size > 200) pictures.clear();
  }
  return { el, render };
}
