/** The header: image name, model line, backend and preset badges, step timings. */
import type { Timings } from '../../../src/protocol/protocol';
import { h, ms } from '../../vscode-api';
import { timelineDetail, timelineSummary } from '../timeline';
import type { Scene, View } from './scene';

/** The step timings line, e.g. "load 812 ms · decode 9 ms · forward 31 ms · explain 40 ms · draw 12 ms". */
export function timingsText(t: Timings): string {
  const parts: string[] = [];
  if (t.loadModel !== undefined) parts.push(`load ${ms(t.loadModel)}`);
  if (t.decode !== undefined) parts.push(`decode ${ms(t.decode)}`);
  if (t.preprocess !== undefined) parts.push(`preprocess ${ms(t.preprocess)}`);
  parts.push(`forward ${ms(t.forward)}`, `explain ${ms(t.explain)}`, `draw ${ms(t.render)}`);
  return parts.join(' · ');
}

/** Creates the header. */
export function createHeader(): View {
  const title = h('h1', { class: 'title', text: 'Look Closer' });
  const subtitle = h('p', { class: 'subtitle' });
  const backend = h('span', { class: 'badge backend', role: 'status', title: 'Which onnxruntime backend ran' });
  const preset = h('span', { class: 'badge preset' });
  const timings = h('span', { class: 'timings', 'aria-label': 'Step timings' });
  const el = h('header', { class: 'header' }, h('div', { class: 'heading' }, title, subtitle), h('div', { class: 'badges' }, backend, preset, timings));

  function render(scene: Scene): void {
    const s = scene.state;
    const m = s.model;
    const p = s.preview;
    if (!m && p && s.image && s.outcome) {
      // The host's first map, while the panel loads the model.
      title.textContent = s.image.name;
      subtitle.textContent = 'first map from the extension host · loading the model into the panel…';
      backend.textContent = 'CPU';
      backend.dataset.backend = 'CPU';
      backend.classList.remove('warn');
      backend.title = `The first map was computed by ${p.backend}, while the panel loads the model for everything else.`;
      timings.textContent = `host: load ${(p.ms.load / 1000).toFixed(1)} s · forward ${Math.round(p.ms.forward)} ms · explain ${Math.round(p.ms.explain)} ms`;
      timings.title = '';
      delete timings.dataset.timeline;
      return;
    }
    if (!m || !s.image || !s.outcome) return;
    title.textContent = s.image.name;
    subtitle.textContent = `${m.name} · ${m.origin} · ${m.classes} classes`;
    preset.textContent = `preset: ${m.preprocessing.name} (${m.preprocessing.source})`;
    preset.title = m.preprocessing.reason;
    backend.textContent = m.backend;
    backend.dataset.backend = m.backend;
    backend.classList.toggle('warn', m.fallbacks.length > 0);
    backend.title = [m.backend === 'CPU' ? 'onnxruntime on the extension host\'s CPU' : `onnxruntime-web on ${m.backend}`, m.backendReason, m.conversion, ...m.fallbacks].filter(Boolean).join('\n');
    const cold = scene.timeline && timelineSummary(scene.timeline);
    timings.textContent = [cold, timingsText(s.timings)].filter(Boolean).join(' · ');
    timings.title = scene.timeline ? `Start-up, after the click:\n${timelineDetail(scene.timeline)}` : '';
    if (scene.timeline) timings.dataset.timeline = JSON.stringify(scene.timeline);
    else delete timings.dataset.timeline;
  }
  return { el, render };
}
