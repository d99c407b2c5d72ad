/** What the panel's views draw from: the state, plus the pixels the driver holds for it. */
import type { LayerActivations } from '../../../src/core/app/layer-activations';
import type { GateValues } from '../../../src/core/attention/gates';
import type { Explanation } from '../../../src/core/methods/method';
import type { RgbaImage } from '../../../src/core/preprocess/image';
import type { UserMsg } from '../messages';
import type { PanelState } from '../state';
import type { Timeline } from '../timeline';
import type { ProjectionPictures } from '../work';

/** One frame's worth of what to draw. */
export interface Scene {
  readonly state: PanelState;
  /** The picture the shown outcome was explained on (the preprocessing crop, at most 640 px). */
  readonly base?: RgbaImage;
  /** The picture of the current input (channels and gates are read from it). */
  readonly current?: RgbaImage;
  /** The explanation of a class of the shown outcome. */
  explanation(classIndex: number): Explanation | undefined;
  readonly acts?: LayerActivations;
  readonly gate?: GateValues;
  readonly projection?: ProjectionPictures;
  /** The start-up timeline of the model's first map, while that map is shown. */
  readonly timeline?: Timeline;
  /** The comparison's maps by method and the picture they are drawn on. */
  readonly compared?: { readonly base: RgbaImage; readonly maps: ReadonlyMap<string, Explanation> };
}

/** How views report what the user did. */
export type Dispatch = (m: UserMsg) => void;

/** A view: its element and how it draws a scene. */
export interface View {
  readonly el: HTMLElement;
  render(scene: Scene): void;
}

/** Remembers what was drawn last: `changed` is true when any part differs (compared with ===). */
export function memo(): (parts: readonly unknown[]) => boolean {
  let last: readonly unknown[] = [];
  return (parts) => {
    const changed = parts.length !== last.length || parts.some((p, i) => p !== last[i]);
    if (changed) last = parts;
    return changed;
  };
}

/** A percentage with one decimal. */
export function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}
