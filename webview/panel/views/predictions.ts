/** The top-5 list: a thumbnail of each class's explanation, its label, probability and a bar; a click shows that class. */
import { paint } from '../../image';
import { h } from '../../vscode-api';
import { explanationPicture, thumbnail } from '../pictures';
import { labelOf, shownClass } from '../selectors';
import { Dispatch, Scene, View, memo } from './scene';

/** Creates the predictions list. */
export function createPredictions(dispatch: Dispatch): View {
  const el = h('ol', { class: 'predictions', 'aria-label': 'Top 5 classes' });
  const drawn = memo();

  function render(scene: Scene): void {
    const s = scene.state;
    const o = s.outcome;
    const base = scene.base;
    if (!o || !base) return;
    const current = shownClass(s);
    if (!drawn([o, base, s.model?.labels ?? s.preview?.labels, s.choices.colormap, s.choices.opacity, current])) return;
    const small = thumbnail(base, 72);
    el.textContent = '';
    for (const p of o.predictions) {
      const e = scene.explanation(p.index);
      const thumb = h('canvas', { class: 'thumb', 'aria-hidden': 'true' });
      if (e) paint(thumb, explanationPicture(e, small, s.choices.colormap, s.choices.opacity, s.model?.preprocessing.channels ?? 'rgb'));
      const fill = h('span', { class: 'bar-fill' });
      fill.style.width = `${Math.max(1, p.score * 100)}%`;
      const btn = h('button', { type: 'button', class: 'prediction', 'aria-pressed': p.index === current ? 'true' : 'false', 'data-class': p.index },
        thumb,
        h('span', { class: 'pred-text' },
          h('span', { class: 'pred-label', text: labelOf(s, p.index) }),
          h('span', { class: 'pred-score', text: `${(p.score * 100).toFixed(1)}% · #${p.index}` }),
          h('span', { class: 'bar' }, fill)));
      btn.addEventListener('click', () => dispatch({ type: 'pickClass', classIndex: p.index }));
      el.append(h('li', {}, btn));
    }
  }
  return { el, render };
}
