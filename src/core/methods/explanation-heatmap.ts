/** Any explanation as one heat map: what attention crops and the metrics read from whichever method made it. */
import type { Heatmap } from '../attention/heatmap';
import { float32 } from '../tensor';
import { saliencyMap } from './input-gradient';
import type { Explanation } from './method';

/** The explanation's heat map: its display map, or for input-space gradients max_c |g| (Simonyan et al.'s saliency). */
export function explanationHeatmap(e: Explanation): Heatmap {
  if (e.display.kind === 'heatmap') return { map: e.display.map, width: e.display.width, height: e.display.height };
  const [, h, w] = e.display.grad.dims;
  return { map: saliencyMap(float32(e.display.grad.data, e.display.grad.dims)), width: w, height: h };
}
