/**
 * The faithfulness metrics of the shown map, one compact row under it (measured after the map is shown), the
 * deletion and insertion curves as a small inline SVG on click, and the pointing game's box control.
 */
import { h } from '../../vscode-api';
import { curvePoints, curveTop, metricItems } from '../metrics-text';
import { shownClass } from '../selectors';
import { Dispatch, Scene, View, memo } from './scene';

const SVG = 'http://www.w3.org/2000/svg';
const W = 220;
const H = 90;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** Creates the row, its curves and the box control. */
export function createMetricsRow(dispatch: Dispatch): View {
  const items = h('span', { class: 'metric-items' });
  const toggle = h('button', { type: 'button', class: 'link', text: 'curves', 'aria-expanded': 'false', title: 'Show the deletion and insertion curves', 'data-testid': 'metrics-curves-toggle' });
  const clear = h('button', { type: 'button', class: 'link', text: 'clear box', hidden: true, title: 'Remove the pointing game\'s box', 'data-testid': 'clear-box' });
  const hint = h('span', { class: 'hint', text: 'drag on the image for the pointing game' });
  const row = h('p', { class: 'metrics', 'data-testid': 'metrics' }, items, toggle, clear, hint);
  const plot = h('div', { class: 'curves', hidden: true, 'data-testid': 'curves' });
  const el = h('div', { class: 'metrics-box', hidden: true }, row, plot);
  const drawn = memo();
  let open = false;
  toggle.addEventListener('click', () => {
    open = !open;
    toggle.setAttribute('aria-expanded', String(open));
    plot.hidden = !open || !plot.childElementCount;
  });
  clear.addEventListener('click', () => dispatch({ type: 'setBox', box: undefined }));

  function render({ state: s }: Scene): void {
    el.hidden = !s.outcome || s.view.kind !== 'explanation';
    if (el.hidden) return;
    const k = shownClass(s);
    const m = s.metrics[k];
    const g = s.gains[k];
    clear.hidden = !s.box;
    hint.hidden = !!s.box;
    if (!drawn([m, g])) return;
    const list = metricItems(m, g);
    items.textContent = '';
    if (!list.length) items.append(h('span', { class: 'metric pending', text: 'Metrics: …' }));
    for (const it of list) items.append(h('span', { class: `metric metric-${it.key}`, text: it.text, title: it.title }));
    row.dataset.measured = m ? 'true' : 'false';
    toggle.hidden = !m?.deletion && !m?.insertion;
    plot.textContent = '';
    if (m?.deletion || m?.insertion) {
      const top = curveTop([m.deletion, m.insertion]);
      const frame = svg('svg', { width: W + 40, height: H + 28, viewBox: `-34 -6 ${W + 40} ${H + 28}`, role: 'img', 'aria-label': 'Deletion and insertion curves' },
        svg('rect', { x: 0, y: 0, width: W, height: H, class: 'plot-frame' }),
        svg('text', { x: -4, y: 8, 'text-anchor': 'end', class: 'axis' }, top.toFixed(1)),
        svg('text', { x: -4, y: H, 'text-anchor': 'end', class: 'axis' }, '0'),
        svg('text', { x: 0, y: H + 14, class: 'axis' }, '0%'),
        svg('text', { x: W, y: H + 14, 'text-anchor': 'end', class: 'axis' }, '100% of pixels'));
      if (m.deletion) frame.append(svg('polyline', { points: curvePoints(m.deletion, W, H, top), class: 'curve deletion' }, svg('title', {}, `deletion, AUC ${m.deletion.auc.toFixed(3)}`)));
      if (m.insertion) frame.append(svg('polyline', { points: curvePoints(m.insertion, W, H, top), class: 'curve insertion' }, svg('title', {}, `insertion, AUC ${m.insertion.auc.toFixed(3)}`)));
      const legend = h('div', { class: 'curve-legend' }, h('span', { class: 'key deletion', text: 'deletion' }), h('span', { class: 'key insertion', text: 'insertion' }), h('span', { class: 'hint', text: 'class probability vs share of pixels removed / inserted' }));
      plot.append(frame, legend);
    }
    plot.hidden = !open || !plot.childElementCount;
  }
  return { el, render };
}
