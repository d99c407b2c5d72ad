/** The inspect box: a channel projected to pixels (deconvnet) next to its image patch, or a channel gate's weights as bars. */
import type { GateValues } from '../../../src/core/attention/gates';
import { barChart } from '../../../src/core/attention/render';
import { paint } from '../../image';
import { fmt, h } from '../../vscode-api';
import type { ProjectionPictures } from '../work';
import { Scene, View, memo } from './scene';

/** Creates the inspect box. */
export function createInspect(): View {
  const title = h('h3', { class: 'inspect-title' });
  const images = h('div', { class: 'inspect-images' });
  const caption = h('p', { class: 'hint inspect-caption' });
  const el = h('div', { class: 'inspect', hidden: true, 'data-testid': 'inspect' }, title, images, caption);
  const drawn = memo();

  function canvas(label: string, extra = ''): HTMLCanvasElement {
    return h('canvas', { class: `inspect-canvas${extra}`, role: 'img', 'aria-label': label });
  }

  function showProjection(p: ProjectionPictures): void {
    const patch = canvas('Image patch (receptive field)');
    const recon = canvas('Deconvnet reconstruction');
    paint(patch, p.patch);
    paint(recon, p.reconstruction);
    const { layer, channel, activation, position, receptiveField: rf } = p.projection;
    title.textContent = `Channel ${channel} of ${layer}, projected to pixels`;
    images.replaceChildren(h('figure', {}, patch, h('figcaption', { text: 'Image patch' })), h('figure', {}, recon, h('figcaption', { text: 'Reconstruction (deconvnet)' })));
    caption.textContent = `Strongest activation ${fmt(activation)} at (${position.y}, ${position.x}); receptive field ${rf.width}×${rf.height} px at (${rf.x}, ${rf.y}) of the input. Zeiler & Fergus 2014.`;
  }

  function showWeights(g: GateValues, weights: Float32Array): void {
    const gate = g.gate;
    const c = gate.shape[0];
    const chart = canvas(`Bar chart of the ${c} channel weights`, ' bar-chart');
    paint(chart, barChart(weights));
    title.textContent = `Channel gate ${gate.tensor}: ${c} weights for this image`;
    images.replaceChildren(chart);
    caption.textContent = `${gate.activation}${gate.residual ? ' (residual: (1 + M)·F)' : ''} over ${gate.feature} [${gate.featureShape.join('×')}]; bars 0 … ${fmt(g.max)}.`;
  }

  function render(scene: Scene): void {
    const s = scene.state;
    const p = s.projection && scene.projection?.projection.layer === s.projection.layer && scene.projection.projection.channel === s.projection.channel ? scene.projection : undefined;
    const g = s.view.kind === 'gate' && scene.gate?.gate.tensor === s.view.tensor ? scene.gate : undefined;
    const weights = g?.weights;
    el.hidden = !p && !weights;
    if (!drawn([p, weights]) || el.hidden) return;
    if (p) showProjection(p);
    else if (g && weights) showWeights(g, weights);
  }
  return { el, render };
}
