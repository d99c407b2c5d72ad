/** The Layers side view's elements, built once. */
import { h } from '../vscode-api';

/** Builds the view's elements (no state): the layer list, the gates, the detail with channel tiles, the status line. */
export function layersDom() {
  const app = document.getElementById('app')!;
  app.textContent = '';
  const empty = h('p', { class: 'empty' });
  const heading = h('p', { class: 'heading' });
  const filter = h('input', { id: 'layer-filter', type: 'search', placeholder: 'Filter layers by name or op', autocomplete: 'off' });
  const list = h('div', { class: 'layer-list', role: 'listbox', 'aria-label': 'Layers' });
  const detailTitle = h('h2', { class: 'detail-title' });
  const detailInfo = h('p', { class: 'hint' });
  const useTarget = h('button', { type: 'button', text: 'Use as target layer' });
  const sortSel = h('select', { id: 'sort' },
    h('option', { value: 'index', text: 'Channel order' }),
    h('option', { value: 'mean-desc', text: 'Mean, highest first' }),
    h('option', { value: 'mean-asc', text: 'Mean, lowest first' }));
  const focusCanvas = h('canvas', { class: 'focus-base', 'aria-hidden': 'true' });
  const focusHeat = h('canvas', { class: 'focus-heat', 'aria-hidden': 'true' });
  const focusCaption = h('p', { class: 'hint focus-caption' });
  const projectBtn = h('button', { type: 'button', class: 'secondary project', text: 'Project to pixels', title: "Backpropagate this channel's strongest activation to the input with the deconvnet (Zeiler & Fergus) and show it next to its image patch in the panel" });
  const focus = h('div', { class: 'focus', hidden: true }, h('div', { class: 'focus-stage' }, focusCanvas, focusHeat), focusCaption, h('div', { class: 'row' }, projectBtn));
  const tiles = h('div', { class: 'tiles', role: 'list', 'aria-label': 'Channels' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'Show more channels' });
  const detail = h('section', { class: 'detail', hidden: true, 'aria-label': 'Layer activations' },
    detailTitle, detailInfo,
    h('div', { class: 'row' }, useTarget, h('label', { for: 'sort', text: 'Sort' }), sortSel),
    focus, tiles, more);
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const gatesTitle = h('h2', { class: 'gates-title', text: 'Attention gates' });
  const gatesList = h('div', { class: 'gate-list', role: 'listbox', 'aria-label': 'Attention gates' });
  const gatesEmpty = h('p', { class: 'hint gates-empty', text: 'No attention gates (a Sigmoid that multiplies a feature map) in this model.' });
  const gates = h('section', { class: 'gates', 'aria-label': 'Attention gates' }, gatesTitle, gatesEmpty, gatesList);
  const main = h('div', { class: 'main', hidden: true }, heading, h('label', { for: 'layer-filter', class: 'visually-hidden', text: 'Filter layers' }), filter, list, gates, detail);
  app.append(empty, main, status);
  return { empty, heading, filter, list, detailTitle, detailInfo, useTarget, sortSel, focusCanvas, focusHeat, focusCaption, projectBtn, focus, tiles, more, detail, status, gatesTitle, gatesList, gatesEmpty, gates, main };
}

/** The Layers view's elements. */
export type LayersDom = ReturnType<typeof layersDom>;
