/** The pointing game's box: dragged on the stage's picture (the explanation only), drawn over it until cleared. */
import { h } from '../../vscode-api';
import type { BoxFraction } from '../state';
import type { Dispatch, Scene, View } from './scene';

/** Adds box drawing to the stage element. */
export function createBoxTool(stage: HTMLElement, dispatch: Dispatch): View {
  const el = h('div', { class: 'point-box', hidden: true, 'data-testid': 'point-box' });
  stage.append(el);
  let start: { x: number; y: number } | undefined;
  let enabled = false;

  const at = (ev: PointerEvent) => {
    const r = stage.getBoundingClientRect();
    return { x: Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), y: Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height)) };
  };
  const show = (b: BoxFraction | undefined) => {
    el.hidden = !b;
    if (!b) return;
    el.style.left = `${b.x * 100}%`;
    el.style.top = `${b.y * 100}%`;
    el.style.width = `${b.width * 100}%`;
    el.style.height = `${b.height * 100}%`;
  };
  const boxOf = (a: { x: number; y: number }, b: { x: number; y: number }): BoxFraction => ({ x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(a.x - b.x), height: Math.abs(a.y - b.y) });

  stage.addEventListener('pointerdown', (ev) => {
    if (!enabled || ev.button !== 0) return;
    start = at(ev);
    stage.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  stage.addEventListener('pointermove', (ev) => {
    if (start) show(boxOf(start, at(ev)));
  });
  const end = (ev: PointerEvent) => {
    if (!start) return;
    const b = boxOf(start, at(ev));
    start = undefined;
    // A click (no drag) is no box: the state keeps the last one.
    if (b.width < 0.01 || b.height < 0.01) return;
    dispatch({ type: 'setBox', box: b });
  };
  stage.addEventListener('pointerup', end);
  stage.addEventListener('pointercancel', () => (start = undefined));

  function render({ state: s }: Scene): void {
    enabled = !!s.outcome && s.view.kind === 'explanation';
    stage.classList.toggle('can-box', enabled);
    if (!start) show(enabled ? s.box : undefined);
  }
  return { el, render };
}
