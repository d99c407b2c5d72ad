/**
 * The pointing game — Zhang, Bargal, Lin, Brandt, Shen, Sclaroff, "Top-down Neural Attention by Excitation
 * Backprop", ECCV 2016 (IJCV 2018), §5.1: a hit when the map's maximum falls inside the annotated box, with a
 * 15-pixel tolerance, in original-image pixels.
 */
import type { CropBox } from '../preprocess/preprocess';

/** A box in original-image pixels: left, top, width, height. */
export interface PointingBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The outcome, as --json reports it. */
export interface PointingJson {
  readonly hit: boolean;
  /** The map's maximum in original-image pixels. */
  readonly point: { readonly x: number; readonly y: number };
  readonly box: PointingBox;
  readonly tolerance: number;
}

/** Plays the game for a map (0..1, `width × height`, the input resolution) over the input's crop of the original. */
export function pointingGame(map01: Float32Array, width: number, height: number, box: PointingBox, crop: CropBox | undefined, tolerance = 15): PointingJson {
  let best = 0;
  for (let i = 1; i < map01.length; i++) if (map01[i] > map01[best]) best = i;
  const c = crop ?? { x: 0, y: 0, width, height };
  const px = c.x + ((best % width) + 0.5) * (c.width / width);
  const py = c.y + (Math.floor(best / width) + 0.5) * (c.height / height);
  const dx = Math.max(box.x - px, 0, px - (box.x + box.width));
  const dy = Math.max(box.y - py, 0, py - (box.y + box.height));
  return { hit: Math.hypot(dx, dy) <= tolerance, point: { x: px, y: py }, box, tolerance };
}
