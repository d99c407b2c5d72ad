/** The stage: the picture with the heat map (or gradient, channel, gate) over it, its caption and the colour legend. */
import type { LayerActivations } from '../../../src/core/app/layer-activations';
import type { GateValues } from '../../../src/core/attention/gates';
import type { Explanation } from '../../../src/core/methods/method';
import type { RgbaImage } from '../../../src/core/preprocess/image';
import { getColormap } from '../../../src/core/render/colormap';
import { normalizeMinMax } from '../../../src/core/render/overlay';
import { paint } from '../../image';
import { fmt, h } from '../../vscode-api';
import { channelMap, gradientImage, heatImage } from '../pictures';
import { labelOf, shownClass } from '../selectors';
import type { PanelState } from '../state';
import { Scene, View, memo, pct } from './scene';

/** What the stage shows, in words and attributes. */
interface Described {
  readonly display: string;
  readonly caption: string;
  readonly range: string;
}

/** The stage's elements, and what was drawn on them last. */
interface StageElements {
  readonly stage: HTMLElement;
  readonly baseCanvas: HTMLCanvasElement;
  readonly heatCanvas: HTMLCanvasElement;
  readonly legend: HTMLElement;
  /** True when the parts differ from what was drawn last. */
  readonly drawn: (parts: readonly unknown[]) => boolean;
}

/** The heat colours over the picture, or none (the legend goes with them). */
function heat(el: StageElements, map: Float32Array | undefined, w: number, hgt: number, base: RgbaImage, colormap: string): void {
  el.heatCanvas.hidden = !map;
  el.legend.hidden = !map;
  if (map) paint(el.heatCanvas, heatImage(map, w, hgt, base, colormap));
}

/** An attention gate: its mask over the picture (spatial and full gates). */
function drawGate(el: StageElements, g: GateValues, base: RgbaImage, colormap: string): Described {
  const gate = g.gate;
  if (el.drawn(['gate', g, base, colormap])) {
    paint(el.baseCanvas, base);
    heat(el, g.map && normalizeMinMax(g.map), gate.shape[2], gate.shape[1], base, colormap);
  }
  return {
    display: 'gate',
    caption: `Attention gate ${gate.tensor} — ${gate.kind} [${gate.shape.join('×')}], ${gate.activation}: min ${fmt(g.min)}, mean ${fmt(g.mean)}, max ${fmt(g.max)}`,
    range: `gate ${fmt(g.min)} … ${fmt(g.max)}`,
  };
}

/** One channel of a layer over the picture. */
function drawChannel(el: StageElements, a: LayerActivations, channel: number, base: RgbaImage, colormap: string): Described {
  if (el.drawn(['channel', a, channel, base, colormap])) {
    paint(el.baseCanvas, base);
    heat(el, channelMap(a, channel), a.width, a.height, base, colormap);
  }
  const st = a.channels[channel];
  return {
    display: 'channel',
    caption: `Channel ${channel} of ${a.layer} (${a.width}×${a.height}): min ${fmt(st.min)}, max ${fmt(st.max)}, mean ${fmt(st.mean)}, ${(st.zeros * 100).toFixed(0)}% zeros${st.dead ? ' — dead' : ''}`,
    range: `values ${fmt(st.min)} … ${fmt(st.max)}`,
  };
}

/** The explanation of the shown class: the heat map over the picture, or the gradient image. */
function drawExplanation(el: StageElements, s: PanelState, e: Explanation, base: RgbaImage): Described {
  const o = s.outcome!;
  const k = e.classIndex;
  const channels = s.model?.preprocessing.channels ?? 'rgb';
  if (el.drawn(['explanation', e, base, s.choices.colormap, channels])) {
    if (e.display.kind === 'heatmap') {
      paint(el.baseCanvas, base);
      heat(el, e.display.map, e.display.width, e.display.height, base, s.choices.colormap);
    } else {
      paint(el.baseCanvas, gradientImage(e as Explanation & { display: { kind: 'gradient' } }, channels));
      heat(el, undefined, 0, 0, base, s.choices.colormap);
    }
  }
  const out = o.outputs.find((x) => x.classIndex === k)!;
  const [lo, hi] = out.rawRange;
  const label = labelOf(s, k);
  const where = o.layer ? ` at ${o.layer}` : '';
  el.baseCanvas.setAttribute('aria-label', `${o.method.title} of ${label} over ${s.image?.name ?? 'the image'}`);
  el.stage.dataset.method = o.method.id;
  el.stage.dataset.classIndex = String(k);
  el.stage.dataset.target = o.target ?? 'logit';
  return {
    display: e.display.kind,
    caption: `${o.method.title} for “${label}” (${pct(o.probs[k])})${where} · raw range ${fmt(lo)} … ${fmt(hi)} · shape [${out.shape.join('×')}]`,
    range: `raw ${fmt(lo)} … ${fmt(hi)}`,
  };
}

/** Draws what the state shows, when its pixels are at hand. */
function describe(el: StageElements, scene: Scene): Described | undefined {
  const s = scene.state;
  const v = s.view;
  const current = scene.current ?? scene.base!;
  if (v.kind === 'gate' && scene.gate?.gate.tensor === v.tensor) return drawGate(el, scene.gate, current, s.choices.colormap);
  if (v.kind === 'channel' && scene.acts?.layer === v.layer && v.channel < scene.acts.channels.length) return drawChannel(el, scene.acts, v.channel, current, s.choices.colormap);
  const e = scene.explanation(shownClass(s));
  return e && drawExplanation(el, s, e, scene.base!);
}

/** Creates the stage with its caption and legend. */
export function createStage(): View & { readonly parts: HTMLElement[] } {
  const baseCanvas = h('canvas', { class: 'base', role: 'img', 'aria-label': 'The image' });
  const heatCanvas = h('canvas', { class: 'heat', 'aria-hidden': 'true' });
  const stage = h('div', { class: 'stage', 'data-testid': 'stage' }, baseCanvas, heatCanvas);
  const caption = h('p', { class: 'caption', 'aria-live': 'polite' });
  const colorbar = h('canvas', { class: 'colorbar', width: 256, height: 1, 'aria-hidden': 'true' });
  const range = h('span', { class: 'range' });
  const legend = h('div', { class: 'legend' }, h('span', { class: 'legend-label', text: 'low' }), colorbar, h('span', { class: 'legend-label', text: 'high' }), range);
  const el: StageElements = { stage, baseCanvas, heatCanvas, legend, drawn: memo() };
  const barDrawn = memo();

  function render(scene: Scene): void {
    const s = scene.state;
    const base = scene.base;
    if (!s.outcome || !base) return;
    // Small pictures (MNIST is 28×28) are scaled up, with crisp pixels; large ones fit the panel.
    stage.style.width = `${Math.max(base.width, 384)}px`;
    stage.classList.toggle('pixelated', base.width < 128);
    heatCanvas.style.opacity = String(s.choices.opacity);
    if (barDrawn([s.choices.colormap])) drawColorbar(colorbar, s.choices.colormap);
    const d = describe(el, scene);
    if (!d) return;
    stage.dataset.display = d.display;
    caption.textContent = d.caption;
    range.textContent = d.range;
  }

  return { el: stage, parts: [stage, caption, legend], render };
}

/** The colormap as a 256×1 strip. */
function drawColorbar(canvas: HTMLCanvasElement, colormap: string): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const lut = getColormap(colormap).lut;
  const px = new ImageData(256, 1);
  for (let i = 0; i < 256; i++) px.data.set([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2], 255], i * 4);
  ctx.putImageData(px, 0, 0);
}
