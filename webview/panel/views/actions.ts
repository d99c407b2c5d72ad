/** Save PNG, Save .npy, and the way back from a channel, gate or projection to the explanation. */
import { h } from '../../vscode-api';
import type { Dispatch, Scene, View } from './scene';

/** Creates the action buttons. */
export function createActions(dispatch: Dispatch): View {
  const savePng = h('button', { type: 'button', text: 'Save PNG', title: 'Save what is shown into look-closer-out/ in the workspace' });
  const saveNpy = h('button', { type: 'button', class: 'secondary', text: 'Save .npy', title: 'Save the raw map (float32) into look-closer-out/ in the workspace' });
  const back = h('button', { class: 'secondary', type: 'button', hidden: true, text: 'Back to the explanation' });
  const el = h('div', { class: 'actions' }, savePng, saveNpy, back);
  savePng.addEventListener('click', () => dispatch({ type: 'save', what: 'PNG' }));
  saveNpy.addEventListener('click', () => dispatch({ type: 'save', what: '.npy' }));
  back.addEventListener('click', () => dispatch({ type: 'back' }));
  function render({ state: s }: Scene): void {
    back.hidden = s.view.kind === 'explanation' && !s.projection;
  }
  return { el, render };
}
