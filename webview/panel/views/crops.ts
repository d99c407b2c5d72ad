/** Attention crops (the attention-crop method): the three scales, each box drawn on its parent, with each scale's top-1 and the fused prediction. */
import { attentionStrip } from '../../../src/core/attention/render';
import { paint } from '../../image';
import { h } from '../../vscode-api';
import { labelOf, shownClass, shownOutput } from '../selectors';
import { Scene, View, memo, pct } from './scene';

/** Creates the attention-crop strip. */
export function createCrops(): View {
  const strip = h('canvas', { class: 'crops-strip', role: 'img', 'aria-label': 'Attention crops: the three scales, each box drawn on its parent' });
  const scales = h('ol', { class: 'crops-scales', 'aria-label': 'Per-scale predictions' });
  const fused = h('p', { class: 'crops-fused' });
  const el = h('div', { class: 'crops', hidden: true, 'data-testid': 'crops' }, strip, scales, fused);
  const drawn = memo();

  function render(scene: Scene): void {
    const s = scene.state;
    const out = shownOutput(s);
    const e = scene.explanation(shownClass(s));
    const crops = e?.payload?.kind === 'attention-crops' ? e.payload.crops : undefined;
    el.hidden = !crops || !out?.crops || s.view.kind !== 'explanation';
    if (el.hidden || !crops || !out?.crops) return;
    if (drawn([crops])) {
      try {
        paint(strip, attentionStrip(crops));
      } catch (err) {
        console.warn('[look-closer] drawing the attention crops failed', err);
      }
    }
    scales.textContent = '';
    for (const c of out.crops.scales) scales.append(h('li', { text: `Scale ${c.scale}: ${labelOf(s, c.index)} ${pct(c.score)}` }));
    fused.textContent = `Fused (mean of ${out.crops.scales.length} scales): ${labelOf(s, out.crops.fused.index)} ${pct(out.crops.fused.score)}`;
  }
  return { el, render };
}
