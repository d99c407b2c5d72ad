/** Form fields the panel's toolbar and settings share. */
import { h } from '../../vscode-api';

/** A labelled select; `hint` becomes its tooltip. */
export function labeledSelect(id: string, label: string, options: readonly { value: string; text: string; title?: string }[], hint?: string): { wrap: HTMLElement; el: HTMLSelectElement } {
  const el = h('select', { id, title: hint });
  for (const o of options) el.append(h('option', { value: o.value, text: o.text, title: o.title }));
  const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }), el);
  return { wrap, el };
}

/** Sets a control's value only when it differs (so a re-render does not fight the user). */
export function setValue(el: HTMLSelectElement | HTMLInputElement, value: string): void {
  if (el.value !== value) el.value = value;
}
