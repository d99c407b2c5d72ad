/** Any explanation as one heat map: what attention crops and the GAIN check read from whichever method made it. */
import { LookCloserError } from '../errors';
import type { Explanation } from '../methods/method';
import { saliencyMap } from '../methods/input-gradient';
import { resizeBilinear } from '../preprocess/resize';
import { normalizeMinMax } from '../render/overlay';
import { float32 } from '../tensor';

/** A single-channel map, row-major, `width × height` values. */
export interface Heatmap {
  readonly map: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** The explanation's heat map: its display map, or for input-space gradients max_c |g| (Simonyan et al.'s saliency). */
export function explanationHeatmap(e: Explanation): Heatmap {
  if (e.display.kind === 'heatmap') return { map: e.display.map, width: e.display.width, height: e.display.height };
  const [, h, w] = e.display.grad.dims;
  return { map: saliencyMap(float32(e.display.grad.data, e.display.grad.dims)), width: w, height: h };
}

/** The map resampled to `width × height` (bilinear, half-pixel centres) and min-max normalised to 0..1. */
export function heatmapAt(m: Heatmap, width: number, height: number): Float32Array {
  if (m.map.length !== m.width * m.height || m.width < 1 || m.height < 1) {
    throw new LookCloserError('bad-argument', `Heat map has ${m.map.length} values, which is not ${m.width}×${m.height}.`);
  }
  const up = m.width === width && m.height === height ? m.map : resizeBilinear(m.map, m.width, m.height, width, height, 1);
  return normalizeMinMax(up);
}
