/** The toolbar: method, what to explain (the target), target layer, colormap and opacity. */
import { METHODS } from '../../../src/core/methods/registry';
import { COLORMAPS } from '../../../src/core/render/colormap';
import { h } from '../../vscode-api';
import { contrastClass, targetKind } from '../../../src/core/methods/score-target';
import { labelOf, shownClass, shownLayer, shownOutput } from '../selectors';
import { labeledSelect, setValue } from './fields';
import { Dispatch, Scene, View, memo } from './scene';

/** Creates the toolbar. */
export function createToolbar(dispatch: Dispatch): View {
  const method = labeledSelect('method', 'Method', METHODS.map((m) => ({ value: m.id, text: m.title, title: m.citation })));
  const target = labeledSelect('target', 'Explain', [
    { value: 'logit', text: 'Logit', title: 'The class logit z_c (before the softmax)' },
    { value: 'softmax', text: 'Softmax probability', title: 'The softmax probability of the class' },
    { value: 'sigmoid', text: 'Sigmoid (multi-label)', title: 'σ(z_c), for multi-label models' },
    { value: 'contrast', text: 'A and not B', title: 'z_A − z_B: why this class and not class B' },
  ], 'What the method explains: a value passed to it (src/core/methods/score-target.ts)');
  const against = labeledSelect('contrast-class', 'not B', [], 'Class B of "A and not B" (the top 5)');
  against.wrap.hidden = true;
  const layer = labeledSelect('layer', 'Target layer', [], 'The feature map a CAM-family method explains');
  const colormap = labeledSelect('colormap', 'Colormap', Object.keys(COLORMAPS).map((n) => ({ value: n, text: n })));
  const opacity = h('input', { id: 'opacity', type: 'range', min: 0, max: 100, step: 5, value: 50, 'aria-valuetext': '' });
  const opacityOut = h('output', { for: 'opacity', class: 'opacity-value' });
  const opacityWrap = h('div', { class: 'field' }, h('label', { for: 'opacity', text: 'Opacity' }), h('div', { class: 'inline' }, opacity, opacityOut));
  const el = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Explanation options' }, method.wrap, target.wrap, against.wrap, layer.wrap, colormap.wrap, opacityWrap);
  const layersChanged = memo();
  const methodsChanged = memo();

  method.el.addEventListener('change', () => dispatch({ type: 'pickMethod', method: method.el.value }));
  layer.el.addEventListener('change', () => dispatch({ type: 'pickLayer', layer: layer.el.value }));
  const pickTarget = () => {
    const kind = target.el.value;
    if (kind !== 'contrast') return dispatch({ type: 'pickTarget', target: kind });
    // "A and not B": B is the one picked, else the first of the top 5 that is not the class shown.
    const b = against.el.value || against.el.options[0]?.value;
    if (b !== undefined) dispatch({ type: 'pickTarget', target: `contrast:${b}` });
  };
  target.el.addEventListener('change', pickTarget);
  against.el.addEventListener('change', pickTarget);
  const classesChanged = memo();
  colormap.el.addEventListener('change', () => dispatch({ type: 'pickColormap', colormap: colormap.el.value }));
  opacity.addEventListener('input', () => dispatch({ type: 'pickOpacity', opacity: Number(opacity.value) / 100 }));

  function render({ state: s }: Scene): void {
    const percent = `${Math.round(s.choices.opacity * 100)}%`;
    setValue(opacity, String(Math.round(s.choices.opacity * 100)));
    opacityOut.textContent = percent;
    opacity.setAttribute('aria-valuetext', percent);
    setValue(colormap.el, s.choices.colormap);
    const m = s.model;
    const o = s.outcome;
    if (!m || !o) return;
    if (methodsChanged([m.unavailable])) {
      // Methods that cannot run on this model stay listed, disabled, with the reason.
      const why = new Map((m.unavailable ?? []).map((u) => [u.method, u.reason]));
      for (const opt of method.el.options) {
        const reason = why.get(opt.value);
        opt.disabled = reason !== undefined;
        opt.title = reason ?? METHODS.find((x) => x.id === opt.value)?.citation ?? '';
        opt.textContent = `${METHODS.find((x) => x.id === opt.value)?.title ?? opt.value}${reason ? ' (does not apply)' : ''}`;
      }
    }
    if (layersChanged([m.targetLayers, m.defaultLayer])) {
      layer.el.textContent = '';
      for (const l of m.targetLayers) {
        const mark = l.name === m.defaultLayer ? ' ★ default' : '';
        layer.el.append(h('option', { value: l.name, text: `${l.name}${mark} — ${l.op} [${l.shape.join('×')}]` }));
      }
    }
    setValue(method.el, s.choices.method ?? o.method.id);
    const t = s.choices.target ?? 'logit';
    setValue(target.el, targetKind(t));
    const b = contrastClass(t);
    const shown = shownClass(s);
    if (classesChanged([o, m.labels, shown, b])) {
      against.el.textContent = '';
      const others = o.predictions.map((p) => p.index).filter((k) => k !== shown);
      if (b !== undefined && !others.includes(b)) others.unshift(b);
      for (const k of others) against.el.append(h('option', { value: String(k), text: `${labelOf(s, k)} · #${k}` }));
    }
    against.wrap.hidden = b === undefined && target.el.value !== 'contrast';
    if (b !== undefined) setValue(against.el, String(b));
    setValue(layer.el, shownLayer(s));
    layer.el.disabled = o.method.family !== 'cam';
    layer.wrap.title = layer.el.disabled ? `${o.method.title} backpropagates to the pixels; it has no target layer.` : '';
    const gradient = shownOutput(s)?.display === 'gradient';
    opacity.disabled = gradient;
    colormap.el.disabled = gradient;
  }
  return { el, render };
}
