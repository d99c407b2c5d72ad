/** GAIN's check of the shown heat map (Li et al. 2018), one line under the stage. */
import type { GainSummary } from '../../../src/protocol/protocol';
import { h } from '../../vscode-api';
import { shownClass } from '../selectors';
import { Scene, View, pct } from './scene';

/** The GAIN line's text; "…" while it is measured. */
export function gainText(g: GainSummary | undefined): string {
  return g
    ? `GAIN check: ${pct(g.before)} → ${pct(g.after)} after erasing the attended region (${pct(g.erased)} of the image) · drop ${(g.drop * 100).toFixed(1)} points`
    : 'GAIN check: …';
}

/** Creates the GAIN line. */
export function createGainLine(): View {
  const el = h('p', {
    class: 'gain', 'data-testid': 'gain', hidden: true,
    title: 'GAIN (Li et al. 2018): erase what the map attends to (soft mask sigmoid(10·(A − 0.5)), erased pixels set to the preset mean) and classify again',
  });
  function render({ state: s }: Scene): void {
    el.hidden = !s.outcome || s.view.kind !== 'explanation';
    if (!el.hidden) el.textContent = gainText(s.gains[shownClass(s)]);
  }
  return { el, render };
}
