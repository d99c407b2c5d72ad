/** A single-channel heat map and its resampling: what attention crops and the GAIN check read from whichever method made it. */
import { LookCloserError } from '../errors';
import { resizeBilinear } from '../preprocess/resize';
import { normalizeMinMax } from '../render/overlay';

/** A single-channel map, row-major, `width × height` values. */
export interface Heatmap {
  readonly map: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** The map resampled to `width × height` (bilinear, half-pixel centres) and min-max normalised to 0..1. */
export function heatmapAt(m: Heatmap, width: number, height: number): Float32Array {
  if (m.map.length !== m.width * m.height || m.width < 1 || m.height < 1) {
    throw new LookCloserError('bad-argument', `Heat map has ${m.map.length} values, which is not ${m.width}×${m.height}.`);
  }
  const up = m.width === width && m.height === height ? m.map : resizeBilinear(m.map, m.width, m.height, width, height, 1);
  return normalizeMinMax(up);
}
