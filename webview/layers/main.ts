/** The Layers side view: the active panel's layers; a selected layer's channels as tiles with statistics. */
import { Messenger, asBytes, asFloat32, assertNever, isCancellation } from '../../src/protocol/messenger';
import type { HostToLayers, HostToLayersNote, LayerActivations, LayersState, LayersToHost } from '../../src/protocol/protocol';
import { paint } from '../image';
import { endpoint, fmt, h } from '../vscode-api';

/** Tiles drawn at once; more appear with "Show more". */
const TILE_PAGE = 256;

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

let state: LayersState | undefined;
let acts: LayerActivations | undefined;
let selectedChannel: number | undefined;
let shownTiles = TILE_PAGE;
let pending: AbortController | undefined;
let selectedGate: string | undefined;

const messenger = new Messenger<LayersToHost, HostToLayers>(endpoint, {
  requests: {},
  notes: { show: (n) => onNote(n) },
});

function onNote(n: HostToLayersNote): void {
  switch (n.type) {
    case 'show':
      state = n.state && { ...n.state, thumbnail: { ...n.state.thumbnail, data: asBytes(n.state.thumbnail.data) } };
      acts = n.selected && { ...n.selected, data: asFloat32(n.selected.data) };
      selectedChannel = n.channel;
      shownTiles = TILE_PAGE;
      empty.textContent = n.empty ?? '';
      empty.hidden = !!state;
      main.hidden = !state;
      if (!state?.gates.some((g) => g.tensor === selectedGate)) selectedGate = undefined;
      renderList();
      renderGates();
      renderDetail();
      return;
    default:
      assertNever(n.type);
  }
}

function renderList(): void {
  list.textContent = '';
  if (!state) return;
  heading.textContent = `${state.image} · ${state.model} · ${state.layers.length} layers`;
  const q = filter.value.trim().toLowerCase();
  for (const l of state.layers) {
    if (q && !l.name.toLowerCase().includes(q) && !l.op.toLowerCase().includes(q)) continue;
    const marks = [l.name === state.defaultLayer ? 'default' : '', l.name === state.targetLayer ? 'target' : ''].filter(Boolean);
    const row = h('button', { type: 'button', role: 'option', class: 'layer', 'aria-selected': acts?.layer === l.name ? 'true' : 'false', 'data-layer': l.name, title: l.name },
      h('span', { class: 'layer-name', text: l.name }),
      h('span', { class: 'layer-op', text: l.op }),
      h('span', { class: 'layer-shape', text: `[${l.shape.join('×')}]` }),
      ...marks.map((m) => h('span', { class: `mark ${m}`, text: m === 'default' ? '★ default' : '◎ target' })));
    row.addEventListener('click', () => select(l.name));
    list.append(row);
  }
}

filter.addEventListener('input', renderList);

/** The model's attention gates; selecting one shows it in the panel (a mask over the image, or a bar chart of channel weights). */
function renderGates(): void {
  gatesList.textContent = '';
  const all = state?.gates ?? [];
  gatesEmpty.hidden = all.length > 0;
  gatesTitle.textContent = `Attention gates (${all.length})`;
  for (const g of all) {
    const row = h('button', { type: 'button', role: 'option', class: 'gate', 'aria-selected': g.tensor === selectedGate ? 'true' : 'false', 'data-gate': g.tensor, 'data-kind': g.kind, title: `${g.activation} → ${g.node}${g.residual ? ' (residual)' : ''}` },
      h('span', { class: 'layer-name', text: g.tensor }),
      h('span', { class: 'layer-op', text: g.kind }),
      h('span', { class: 'layer-shape', text: `[${g.shape.join('×')}] over [${g.featureShape.join('×')}]` }));
    row.addEventListener('click', () => {
      selectedGate = selectedGate === g.tensor ? undefined : g.tensor;
      renderGates();
      status.textContent = selectedGate ? `Showing gate ${g.tensor} in the panel.` : 'Back to the explanation.';
      messenger.notify({ type: 'showGate', tensor: selectedGate });
    });
    gatesList.append(row);
  }
}
list.addEventListener('keydown', (ev) => {
  const rows = [...list.querySelectorAll<HTMLButtonElement>('button.layer')];
  const i = rows.indexOf(document.activeElement as HTMLButtonElement);
  const next = ev.key === 'ArrowDown' ? Math.min(rows.length - 1, i + 1) : ev.key === 'ArrowUp' ? Math.max(0, i - 1) : -1;
  if (next < 0) return;
  rows[next]?.focus();
  ev.preventDefault();
});

function select(layer: string): void {
  pending?.abort();
  const c = new AbortController();
  pending = c;
  status.textContent = `Reading ${layer}…`;
  messenger.request({ type: 'selectLayer', layer }, c.signal).then((a) => {
    if (pending !== c) return;
    acts = { ...a, data: asFloat32(a.data) };
    selectedChannel = undefined;
    shownTiles = TILE_PAGE;
    status.textContent = `${a.channels.length} channels of ${layer}.`;
    renderList();
    renderDetail();
  }, (e) => {
    if (isCancellation(e)) return;
    status.textContent = e instanceof Error ? e.message : String(e);
    messenger.notify({ type: 'error', message: status.textContent });
  });
}

/** Grey tiles share one scale per layer so channels compare; dead ones are hatched. */
function tileImage(a: LayerActivations, k: number, lo: number, hi: number): { width: number; height: number; data: Uint8Array } {
  const hw = a.height * a.width;
  const data = new Uint8Array(hw * 4);
  const span = hi - lo || 1;
  for (let i = 0; i < hw; i++) {
    const v = Math.round(((a.data[k * hw + i] - lo) / span) * 255);
    data[i * 4] = data[i * 4 + 1] = data[i * 4 + 2] = v;
    data[i * 4 + 3] = 255;
  }
  return { width: a.width, height: a.height, data };
}

function order(a: LayerActivations): number[] {
  const idx = a.channels.map((c) => c.index);
  if (sortSel.value === 'mean-desc') idx.sort((x, y) => a.channels[y].mean - a.channels[x].mean);
  if (sortSel.value === 'mean-asc') idx.sort((x, y) => a.channels[x].mean - a.channels[y].mean);
  return idx;
}

function renderDetail(): void {
  tiles.textContent = '';
  detail.hidden = !acts || !state;
  if (!acts || !state) return;
  const a = acts;
  const dead = a.channels.filter((c) => c.dead).length;
  detailTitle.textContent = a.layer;
  detailInfo.textContent = `${a.op} · shape [${a.shape.join('×')}] · ${a.channels.length} channels of ${a.width}×${a.height} · ${dead} dead`;
  useTarget.disabled = !a.targetable || a.layer === state.targetLayer;
  useTarget.title = a.targetable ? (a.layer === state.targetLayer ? 'Already the target layer' : 'Explain at this layer in the panel') : 'Only 4-D feature maps with a spatial extent can be target layers';
  let lo = Infinity, hi = -Infinity;
  for (const c of a.channels) [lo, hi] = [Math.min(lo, c.min), Math.max(hi, c.max)];
  const ids = order(a);
  for (const k of ids.slice(0, shownTiles)) {
    const st = a.channels[k];
    const canvas = h('canvas', { class: 'tile-canvas', 'aria-hidden': 'true' });
    paint(canvas, tileImage(a, k, lo, hi));
    const text = `#${k} min ${fmt(st.min)} max ${fmt(st.max)} mean ${fmt(st.mean)} ${(st.zeros * 100).toFixed(0)}% zeros${st.dead ? ' (dead)' : ''}`;
    const tile = h('button', { type: 'button', role: 'listitem', class: `tile${st.dead ? ' dead' : ''}${selectedChannel === k ? ' selected' : ''}`, title: text, 'aria-label': text, 'data-channel': k },
      canvas,
      h('span', { class: 'tile-label', text: `#${k}` }),
      h('span', { class: 'tile-stat', text: st.dead ? 'dead' : `μ ${fmt(st.mean)}` }),
      h('span', { class: 'tile-stat', text: `${(st.zeros * 100).toFixed(0)}% 0` }));
    tile.addEventListener('click', () => showChannel(k));
    tiles.append(tile);
  }
  more.hidden = ids.length <= shownTiles;
  more.textContent = `Show more channels (${ids.length - shownTiles} left)`;
  renderFocus();
}

function renderFocus(): void {
  focus.hidden = selectedChannel === undefined || !acts || !state;
  if (focus.hidden || !acts || !state || selectedChannel === undefined) return;
  const a = acts;
  const k = selectedChannel;
  const st = a.channels[k];
  paint(focusCanvas, state.thumbnail);
  // The channel scaled to its own range, in a warm ramp, over the image.
  const hw = a.height * a.width;
  const data = new Uint8Array(hw * 4);
  const span = st.max - st.min || 1;
  for (let i = 0; i < hw; i++) {
    const v = (a.data[k * hw + i] - st.min) / span;
    data.set([Math.round(255 * Math.min(1, v * 2)), Math.round(255 * Math.max(0, v * 2 - 1)), 0, Math.round(200 * v)], i * 4);
  }
  paint(focusHeat, { width: a.width, height: a.height, data });
  projectBtn.hidden = a.shape.length !== 4 || a.height * a.width <= 1;
  focusCaption.textContent = `Channel #${k} of ${a.layer}: min ${fmt(st.min)}, max ${fmt(st.max)}, mean ${fmt(st.mean)}, ${(st.zeros * 100).toFixed(0)}% zeros${st.dead ? ', dead' : ''}. Also shown large in the panel.`;
}

function showChannel(k: number): void {
  if (!acts) return;
  selectedChannel = selectedChannel === k ? undefined : k;
  for (const t of tiles.querySelectorAll('.tile')) t.classList.toggle('selected', Number((t as HTMLElement).dataset.channel) === selectedChannel);
  renderFocus();
  messenger.notify({ type: 'showChannel', layer: acts.layer, channel: selectedChannel });
}

sortSel.addEventListener('change', renderDetail);
projectBtn.addEventListener('click', () => {
  if (!acts || selectedChannel === undefined) return;
  messenger.notify({ type: 'projectChannel', layer: acts.layer, channel: selectedChannel });
  status.textContent = `Projecting channel #${selectedChannel} of ${acts.layer} to pixels in the panel…`;
});
more.addEventListener('click', () => {
  shownTiles += TILE_PAGE;
  renderDetail();
});
useTarget.addEventListener('click', () => {
  if (!acts) return;
  messenger.notify({ type: 'useAsTarget', layer: acts.layer });
  status.textContent = `Explaining at ${acts.layer} in the panel…`;
});

messenger.notify({ type: 'ready' });
