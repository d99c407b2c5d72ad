/** The sanity check of the shown map (Adebayo et al. 2018): a button and, once run, one line under the GAIN check. */
import { h } from '../../vscode-api';
import { shownClass } from '../selectors';
import type { SanityView } from '../state';
import type { Dispatch, Scene, View } from './scene';

const f2 = (v: number | null) => (v === null ? '–' : v.toFixed(2));

/** The sanity line's text. */
export function sanityText(v: SanityView): string {
  const flag = v.flagged ? '⚑ ' : '';
  return `${flag}Sanity check: Spearman ${f2(v.spearmanAll)} (SSIM ${f2(v.ssimAll)}) with every layer random, ${f2(v.spearmanClass)} for another class. ${v.verdict}`;
}

/** Creates the button and the result line. */
export function createSanity(dispatch: Dispatch): View {
  const button = h('button', {
    type: 'button', class: 'secondary', text: 'Sanity check', 'data-testid': 'sanity-button',
    title: 'Adebayo et al. 2018: randomise the model from the top layer down and explain again, and explain another class; a map that barely changes is flagged (slow: one new model per step; Cancel stops it)',
  });
  const line = h('p', { class: 'sanity', 'data-testid': 'sanity', hidden: true });
  const el = h('div', { class: 'sanity-box' }, button, line);
  button.addEventListener('click', () => dispatch({ type: 'checkSanity' }));
  function render({ state: s }: Scene): void {
    el.hidden = !s.outcome || s.view.kind !== 'explanation';
    button.disabled = !!s.job;
    const v = s.sanity;
    const shown = !!v && !!s.outcome && v.outcome === s.outcome.id && v.classIndex === shownClass(s);
    line.hidden = !shown;
    if (shown) {
      line.textContent = sanityText(v);
      line.classList.toggle('flagged', v.flagged);
    }
  }
  return { el, render };
}
