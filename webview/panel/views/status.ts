/** Where the panel says what it is doing: the progress bar, the status line with Cancel, the error box and the method note. */
import { h } from '../../vscode-api';
import type { Dispatch, Scene, View } from './scene';

/** Creates the status elements; `parts` are placed apart (progress on top, error and note under the toolbar, status at the bottom). */
export function createStatus(dispatch: Dispatch): View & { readonly progress: HTMLElement; readonly error: HTMLElement; readonly note: HTMLElement } {
  const progress = h('div', { class: 'progress', hidden: true, role: 'progressbar', 'aria-label': 'Working' });
  const text = h('span', { class: 'status-text' });
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'Cancel' });
  const el = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' }, text, cancel);
  const error = h('div', { class: 'error', role: 'alert', hidden: true });
  const note = h('div', { class: 'note', hidden: true });
  cancel.addEventListener('click', () => dispatch({ type: 'cancel' }));

  function render({ state: s }: Scene): void {
    const busy = !!s.job;
    progress.hidden = !busy;
    cancel.hidden = !busy;
    document.body.classList.toggle('busy', busy);
    if (text.textContent !== s.status) text.textContent = s.status;
    error.hidden = !s.error;
    error.textContent = s.error ?? '';
    const n = s.outcome?.note;
    if (s.outcome) {
      note.hidden = !n;
      note.textContent = n ?? '';
    }
  }
  return { el, progress, error, note, render };
}
