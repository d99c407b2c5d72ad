/** The metrics row's words and the curves' geometry, pure (no DOM): the views draw them, Node tests read them. */
import type { CurveJson } from '../../src/core/metrics/deletion-insertion';
import type { MetricValues } from '../../src/core/metrics/registry';
import type { GainSummary } from '../../src/protocol/protocol';

/** One item of the metrics row: its short text and what it means (the tooltip). */
export interface MetricItem {
  readonly key: string;
  readonly text: string;
  readonly title: string;
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : String(v));

/** The row's items for what is measured so far (GAIN's drop in points of probability). */
export function metricItems(m: MetricValues | undefined, gain: GainSummary | undefined): MetricItem[] {
  const out: MetricItem[] = [];
  if (m?.deletion) out.push({ key: 'deletion', text: `deletion AUC ${f3(m.deletion.auc)} ↓`, title: 'Deletion (Petsiuk et al. 2018): area under the class probability as the most relevant pixels are removed; lower is better' });
  if (m?.insertion) out.push({ key: 'insertion', text: `insertion AUC ${f3(m.insertion.auc)} ↑`, title: 'Insertion (Petsiuk et al. 2018): area under the class probability as the most relevant pixels are added to a blurred image; higher is better' });
  if (m?.road) out.push({ key: 'road', text: `ROAD ${f3(m.road.combined)} ↑`, title: `ROAD (Rong et al. 2022), MoRF and LeRF with noisy linear imputation combined; higher is better (MoRF ${f3(m.road.morfChange)}, LeRF ${f3(m.road.lerfChange)})` });
  if (m?.confidence) {
    out.push({ key: 'drop', text: `drop ${(100 * m.confidence.drop).toFixed(1)}% ↓`, title: `Average Drop (Chattopadhay et al. 2018): the probability falls from ${f3(m.confidence.before)} to ${f3(m.confidence.after)} on the image times the map; lower is better` });
    out.push({ key: 'increase', text: `increase ${m.confidence.increase ? 'yes' : 'no'}`, title: 'Increase in Confidence (Chattopadhay et al. 2018): whether the image times the map scores higher than the image' });
  }
  if (gain) out.push({ key: 'gain', text: `GAIN drop ${(100 * gain.drop).toFixed(1)} pts`, title: 'GAIN (Li et al. 2018): the probability drop after erasing what the map attends to' });
  if (m?.pointing) out.push({ key: 'pointing', text: `pointing ${m.pointing.hit ? 'hit' : 'miss'}`, title: `Pointing game (Zhang et al. 2016): the map's maximum at (${m.pointing.point.x.toFixed(0)}, ${m.pointing.point.y.toFixed(0)}) ${m.pointing.hit ? 'lies' : 'does not lie'} within ${m.pointing.tolerance} px of the drawn box` });
  return out;
}

/** A curve as SVG polyline points in a `width × height` box: fraction 0..1 left to right, probability 0..`top` bottom to top. */
export function curvePoints(c: CurveJson, width: number, height: number, top = 1): string {
  const y = (p: number) => height - (Math.min(Math.max(p, 0), top) / top) * height;
  return c.fractions.map((f, i) => `${(f * width).toFixed(1)},${y(c.probs[i]).toFixed(1)}`).join(' ');
}

/** The probability axis's top for both curves: 1, or the largest probability rounded up to a tenth when all are small. */
export function curveTop(curves: readonly (CurveJson | undefined)[]): number {
  let max = 0;
  for (const c of curves) for (const p of c?.probs ?? []) if (p > max) max = p;
  return max <= 0 ? 1 : Math.min(1, Math.ceil(max * 10) / 10);
}
