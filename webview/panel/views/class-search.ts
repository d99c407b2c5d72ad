/** "Explain another class": search the labels (or an index) and pick a match with the mouse or the keyboard. */
import { h } from '../../vscode-api';
import { classMatches } from '../selectors';
import type { PanelState } from '../state';
import type { Dispatch, Scene, View } from './scene';

/** Creates the class search; `state` gives the panel's state when the user types. */
export function createClassSearch(dispatch: Dispatch, state: () => PanelState): View & { readonly parts: HTMLElement[] } {
  const input = h('input', { id: 'class-search', type: 'search', placeholder: 'Search by label or index', autocomplete: 'off', 'aria-controls': 'class-results' });
  const results = h('div', { id: 'class-results', class: 'class-results', role: 'listbox', 'aria-label': 'Matching classes' });
  const label = h('label', { for: 'class-search', class: 'search-label', text: 'Explain another class' });

  function list(): void {
    const s = state();
    results.textContent = '';
    const found = classMatches(s, input.value);
    for (const f of found) {
      const score = s.outcome ? s.outcome.probs[f.index] : 0;
      const opt = h('button', { type: 'button', role: 'option', class: 'class-option', 'data-class': f.index, text: `${f.label} · #${f.index} · ${(score * 100).toFixed(2)}%` });
      opt.addEventListener('click', () => {
        input.value = '';
        results.textContent = '';
        dispatch({ type: 'pickClass', classIndex: f.index });
      });
      results.append(opt);
    }
    if (input.value.trim() && !found.length) results.append(h('p', { class: 'hint', text: 'No class matches.' }));
  }

  input.addEventListener('input', list);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') results.querySelector('button')?.focus();
    if (ev.key === 'Enter') results.querySelector('button')?.click();
  });
  results.addEventListener('keydown', (ev) => {
    const items = [...results.querySelectorAll('button')];
    const i = items.indexOf(document.activeElement as HTMLButtonElement);
    if (ev.key === 'ArrowDown') items[Math.min(items.length - 1, i + 1)]?.focus();
    if (ev.key === 'ArrowUp') (i <= 0 ? input : items[i - 1]).focus();
  });
  // The matches follow the search box only; a new outcome or labels show when the user types again.
  const render = (_scene: Scene): void => undefined;
  return { el: input, parts: [label, input, results], render };
}
