/** The Layers side view: the active panel's layers; a selected layer's channels as tiles with statistics. */
import { Messenger, asBytes, asFloat32, assertNever, isCancellation } from '../../src/protocol/messenger';
import type { HostToLayers, HostToLayersNote, LayerActivations, LayersState, LayersToHost } from '../../src/protocol/protocol';
import { paint } from '../image';
import { endpoint, fmt, h } from '../vscode-api';
import { LayersDom, layersDom } from './dom';

/** Tiles drawn at once; more appear with "Show more". */
const TILE_PAGE = 256;

/** The Layers view: the active panel's layers, gates and a selected layer's channel tiles; everything it holds lives here. */
class LayersView {
  private state: LayersState | undefined;
  private acts: LayerActivations | undefined;
  private selectedChannel: number | undefined;
  private shownTiles = TILE_PAGE;
  private pending: AbortController | undefined;
  private selectedGate: string | undefined;
  private readonly messenger: Messenger<LayersToHost, HostToLayers>;

  constructor(private readonly ui: LayersDom) {
    this.messenger = new Messenger<LayersToHost, HostToLayers>(endpoint, {
      requests: {},
      notes: { show: (n) => this.onNote(n) },
    });
    this.ui.filter.addEventListener('input', () => this.renderList());
    this.ui.list.addEventListener('keydown', (ev) => {
      const rows = [...this.ui.list.querySelectorAll<HTMLButtonElement>('button.layer')];
      const i = rows.indexOf(document.activeElement as HTMLButtonElement);
      const next = ev.key === 'ArrowDown' ? Math.min(rows.length - 1, i + 1) : ev.key === 'ArrowUp' ? Math.max(0, i - 1) : -1;
      if (next < 0) return;
      rows[next]?.focus();
      ev.preventDefault();
    });
    this.ui.sortSel.addEventListener('change', () => this.renderDetail());
    this.ui.projectBtn.addEventListener('click', () => {
      if (!this.acts || this.selectedChannel === undefined) return;
      this.messenger.notify({ type: 'projectChannel', layer: this.acts.layer, channel: this.selectedChannel });
      this.ui.status.textContent = `Projecting channel #${this.selectedChannel} of ${this.acts.layer} to pixels in the panel…`;
    });
    this.ui.more.addEventListener('click', () => {
      this.shownTiles += TILE_PAGE;
      this.renderDetail();
    });
    this.ui.useTarget.addEventListener('click', () => {
      if (!this.acts) return;
      this.messenger.notify({ type: 'useAsTarget', layer: this.acts.layer });
      this.ui.status.textContent = `Explaining at ${this.acts.layer} in the panel…`;
    });
    this.messenger.notify({ type: 'ready' });
  }

  private onNote(n: HostToLayersNote): void {
    switch (n.type) {
      case 'show':
        this.state = n.state && { ...n.state, thumbnail: { ...n.state.thumbnail, data: asBytes(n.state.thumbnail.data) } };
        this.acts = n.selected && { ...n.selected, data: asFloat32(n.selected.data) };
        this.selectedChannel = n.channel;
        this.shownTiles = TILE_PAGE;
        this.ui.empty.textContent = n.empty ?? '';
        this.ui.empty.hidden = !!this.state;
        this.ui.main.hidden = !this.state;
        if (!this.state?.gates.some((g) => g.tensor === this.selectedGate)) this.selectedGate = undefined;
        this.renderList();
        this.renderGates();
        this.renderDetail();
        return;
      default:
        assertNever(n.type);
    }
  }

  private renderList(): void {
    this.ui.list.textContent = '';
    if (!this.state) return;
    this.ui.heading.textContent = `${this.state.image} · ${this.state.model} · ${this.state.layers.length} layers`;
    const q = this.ui.filter.value.trim().toLowerCase();
    for (const l of this.state.layers) {
      if (q && !l.name.toLowerCase().includes(q) && !l.op.toLowerCase().includes(q)) continue;
      const marks = [l.name === this.state.defaultLayer ? 'default' : '', l.name === this.state.targetLayer ? 'target' : ''].filter(Boolean);
      const row = h('button', { type: 'button', role: 'option', class: 'layer', 'aria-selected': this.acts?.layer === l.name ? 'true' : 'false', 'data-layer': l.name, title: l.name },
        h('span', { class: 'layer-name', text: l.name }),
        h('span', { class: 'layer-op', text: l.op }),
        h('span', { class: 'layer-shape', text: `[${l.shape.join('×')}]` }),
        ...marks.map((m) => h('span', { class: `mark ${m}`, text: m === 'default' ? '★ default' : '◎ target' })));
      row.addEventListener('click', () => this.select(l.name));
      this.ui.list.append(row);
    }
  }

  /** The model's attention gates; selecting one shows it in the panel (a mask over the image, or a bar chart of channel weights). */
  private renderGates(): void {
    this.ui.gatesList.textContent = '';
    const all = this.state?.gates ?? [];
    this.ui.gatesEmpty.hidden = all.length > 0;
    this.ui.gatesTitle.textContent = `Attention gates (${all.length})`;
    for (const g of all) {
      const row = h('button', { type: 'button', role: 'option', class: 'gate', 'aria-selected': g.tensor === this.selectedGate ? 'true' : 'false', 'data-gate': g.tensor, 'data-kind': g.kind, title: `${g.activation} → ${g.node}${g.residual ? ' (residual)' : ''}` },
        h('span', { class: 'layer-name', text: g.tensor }),
        h('span', { class: 'layer-op', text: g.kind }),
        h('span', { class: 'layer-shape', text: `[${g.shape.join('×')}] over [${g.featureShape.join('×')}]` }));
      row.addEventListener('click', () => {
        this.selectedGate = this.selectedGate === g.tensor ? undefined : g.tensor;
        this.renderGates();
        this.ui.status.textContent = this.selectedGate ? `Showing gate ${g.tensor} in the panel.` : 'Back to the explanation.';
        this.messenger.notify({ type: 'showGate', tensor: this.selectedGate });
      });
      this.ui.gatesList.append(row);
    }
  }

  private select(layer: string): void {
    this.pending?.abort();
    const c = new AbortController();
    this.pending = c;
    this.ui.status.textContent = `Reading ${layer}…`;
    this.messenger.request({ type: 'selectLayer', layer }, c.signal).then((a) => {
      if (this.pending !== c) return;
      this.acts = { ...a, data: asFloat32(a.data) };
      this.selectedChannel = undefined;
      this.shownTiles = TILE_PAGE;
      this.ui.status.textContent = `${a.channels.length} channels of ${layer}.`;
      this.renderList();
      this.renderDetail();
    }, (e) => {
      if (isCancellation(e)) return;
      this.ui.status.textContent = e instanceof Error ? e.message : String(e);
      this.messenger.notify({ type: 'error', message: this.ui.status.textContent });
    });
  }

  /** Grey tiles share one scale per layer so channels compare; dead ones are hatched. */
  private tileImage(a: LayerActivations, k: number, lo: number, hi: number): { width: number; height: number; data: Uint8Array } {
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

  private order(a: LayerActivations): number[] {
    const idx = a.channels.map((c) => c.index);
    if (this.ui.sortSel.value === 'mean-desc') idx.sort((x, y) => a.channels[y].mean - a.channels[x].mean);
    if (this.ui.sortSel.value === 'mean-asc') idx.sort((x, y) => a.channels[x].mean - a.channels[y].mean);
    return idx;
  }

  private renderDetail(): void {
    this.ui.tiles.textContent = '';
    this.ui.detail.hidden = !this.acts || !this.state;
    if (!this.acts || !this.state) return;
    const a = this.acts;
    const dead = a.channels.filter((c) => c.dead).length;
    this.ui.detailTitle.textContent = a.layer;
    this.ui.detailInfo.textContent = a.attention
      ? `Attention probabilities · shape [${a.shape.join('×')}] · ${a.attention.heads} heads: ${attentionWhat(a.attention.query)} on the ${a.width}×${a.height} patch grid`
      : `${a.op} · shape [${a.shape.join('×')}] · ${a.channels.length} channels of ${a.width}×${a.height} · ${dead} dead`;
    this.ui.useTarget.disabled = !a.targetable || a.layer === this.state.targetLayer;
    this.ui.useTarget.title = a.targetable ? (a.layer === this.state.targetLayer ? 'Already the target layer' : 'Explain at this layer in the panel') : 'Only 4-D feature maps with a spatial extent can be target layers';
    let lo = Infinity, hi = -Infinity;
    for (const c of a.channels) [lo, hi] = [Math.min(lo, c.min), Math.max(hi, c.max)];
    const ids = this.order(a);
    for (const k of ids.slice(0, this.shownTiles)) {
      const st = a.channels[k];
      const canvas = h('canvas', { class: 'tile-canvas', 'aria-hidden': 'true' });
      paint(canvas, this.tileImage(a, k, lo, hi));
      const text = `#${k} min ${fmt(st.min)} max ${fmt(st.max)} mean ${fmt(st.mean)} ${(st.zeros * 100).toFixed(0)}% zeros${st.dead ? ' (dead)' : ''}`;
      const tile = h('button', { type: 'button', role: 'listitem', class: `tile${st.dead ? ' dead' : ''}${this.selectedChannel === k ? ' selected' : ''}`, title: text, 'aria-label': text, 'data-channel': k },
        canvas,
        h('span', { class: 'tile-label', text: `#${k}` }),
        h('span', { class: 'tile-stat', text: st.dead ? 'dead' : `μ ${fmt(st.mean)}` }),
        h('span', { class: 'tile-stat', text: `${(st.zeros * 100).toFixed(0)}% 0` }));
      tile.addEventListener('click', () => this.showChannel(k));
      this.ui.tiles.append(tile);
    }
    this.ui.more.hidden = ids.length <= this.shownTiles;
    this.ui.more.textContent = `Show more channels (${ids.length - this.shownTiles} left)`;
    this.renderFocus();
  }

  private renderFocus(): void {
    this.ui.focus.hidden = this.selectedChannel === undefined || !this.acts || !this.state;
    if (this.ui.focus.hidden || !this.acts || !this.state || this.selectedChannel === undefined) return;
    const a = this.acts;
    const k = this.selectedChannel;
    const st = a.channels[k];
    paint(this.ui.focusCanvas, this.state.thumbnail);
    // The channel scaled to its own range, in a warm ramp, over the image.
    const hw = a.height * a.width;
    const data = new Uint8Array(hw * 4);
    const span = st.max - st.min || 1;
    for (let i = 0; i < hw; i++) {
      const v = (a.data[k * hw + i] - st.min) / span;
      data.set([Math.round(255 * Math.min(1, v * 2)), Math.round(255 * Math.max(0, v * 2 - 1)), 0, Math.round(200 * v)], i * 4);
    }
    paint(this.ui.focusHeat, { width: a.width, height: a.height, data });
    this.ui.projectBtn.hidden = a.shape.length !== 4 || a.height * a.width <= 1 || !!a.attention;
    this.ui.focusCaption.textContent = `${a.attention ? 'Head' : 'Channel'} #${k} of ${a.layer}: min ${fmt(st.min)}, max ${fmt(st.max)}, mean ${fmt(st.mean)}, ${(st.zeros * 100).toFixed(0)}% zeros${st.dead ? ', dead' : ''}. Also shown large in the panel.`;
  }

  private showChannel(k: number): void {
    if (!this.acts) return;
    this.selectedChannel = this.selectedChannel === k ? undefined : k;
    for (const t of this.ui.tiles.querySelectorAll('.tile')) t.classList.toggle('selected', Number((t as HTMLElement).dataset.channel) === this.selectedChannel);
    this.renderFocus();
    this.messenger.notify({ type: 'showChannel', layer: this.acts.layer, channel: this.selectedChannel });
  }
}

new LayersView(layersDom());

/** What an attention layer's tiles show, in words. */
function attentionWhat(query: number | 'received'): string {
  return query === 'received' ? 'the mean attention each position receives' : query === 0 ? "the class token's attention" : `token ${query}'s attention`;
}
