/** Model settings: the preprocessing preset and the labels, and saving both to the model's sidecar. */
import { PRESETS } from '../../../src/core/preprocess/presets';
import { h } from '../../vscode-api';
import { labeledSelect, setValue } from './fields';
import type { Dispatch, Scene, View } from './scene';

/** Creates the model settings box. */
export function createModelSettings(dispatch: Dispatch): View {
  const preset = labeledSelect('preset', 'Preprocessing preset', Object.keys(PRESETS).map((n) => ({ value: n, text: n })));
  const why = h('p', { class: 'hint' });
  const labels = h('p', { class: 'hint' });
  const pickLabels = h('button', { type: 'button', class: 'secondary', text: 'Choose labels file…' });
  const saveSidecar = h('button', { type: 'button', class: 'secondary', text: 'Save to sidecar' });
  const el = h('details', { class: 'model-settings' },
    h('summary', { text: 'Model settings: preprocessing and labels' }),
    preset.wrap, why, labels, h('div', { class: 'actions' }, pickLabels, saveSidecar));
  preset.el.addEventListener('change', () => dispatch({ type: 'pickPreset', preset: preset.el.value }));
  pickLabels.addEventListener('click', () => dispatch({ type: 'pickLabels' }));
  saveSidecar.addEventListener('click', () => dispatch({ type: 'saveSidecar' }));

  function render({ state: s }: Scene): void {
    const m = s.model;
    if (!m || !s.outcome) return;
    const inUse = m.preprocessing.name;
    setValue(preset.el, s.choices.preset ?? (inUse in PRESETS ? inUse : ''));
    why.textContent = `In use: ${inUse} — ${m.preprocessing.reason}.`;
    labels.textContent = `Labels: ${m.labelsSource}.`;
    // A sidecar stores a preset by name: a custom preprocessing (overrides in the sidecar) is edited in the file itself.
    const named = Object.prototype.hasOwnProperty.call(PRESETS, inUse);
    saveSidecar.disabled = !m.writable || !named;
    saveSidecar.title = !m.writable ? 'The bundled model cannot be changed on disk'
      : named ? `Write ${m.name}.json next to the model` : `'${inUse}' is not a named preset; edit ${m.name}.json to change custom preprocessing`;
  }
  return { el, render };
}
