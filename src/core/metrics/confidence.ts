/**
 * Average Drop and Increase in Confidence — Chattopadhay, Sarkar, Howlader, Balasubramanian, "Grad-CAM++:
 * Improved Visual Explanations for Deep Convolutional Networks", WACV 2018, §5.1: the class confidence Y on the
 * image and O on the image masked by the explanation map E ⊙ I. Drop = max(0, Y − O) / Y (averaged over a set,
 * lower is better); Increase = 1 when O > Y (its rate over a set, higher is better). As pytorch-grad-cam's
 * CamMultImageConfidenceChange does, the normalised input tensor is multiplied by the min-max normalised map.
 */
import type { Explainer, ForwardResult } from '../explainer';
import type { Float32Tensor } from '../tensor';
import { float32 } from '../tensor';
import { at, classProbs, planeDims } from './perturb';

/** The confidence change for one class, as --json reports it. */
export interface ConfidenceJson {
  /** Probability Y on the input and O on the input times the map. */
  readonly before: number;
  readonly after: number;
  /** max(0, Y − O) / Y. */
  readonly drop: number;
  /** Whether O > Y. */
  readonly increase: boolean;
}

/** The input tensor times the map (0..1 at input resolution), the map shared by the channels. */
export function multiplyByMap(x: Float32Tensor, map01: Float32Array, layout: 'NCHW' | 'NHWC'): Float32Tensor {
  const { ch, h, w } = planeDims(x, layout);
  const out = new Float32Array(x.data.length);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < ch; k++) {
    const i = at(layout, ch, h * w, p, k);
    out[i] = x.data[i] * map01[p];
  }
  return float32(out, x.dims);
}

/** Average Drop's and Increase in Confidence's per-image terms for class `k` (one forward pass, two without `before`). */
export async function confidenceChange(explainer: Explainer, x: Float32Tensor, map01: Float32Array, k: number, before?: ForwardResult): Promise<ConfidenceJson> {
  const xs = [multiplyByMap(x, map01, explainer.input.layout)];
  if (!before) xs.push(x);
  const ps = await classProbs(explainer, xs, k);
  const y = before ? before.probs[k] : ps[1];
  const o = ps[0];
  return { before: y, after: o, drop: y > 0 ? Math.max(0, y - o) / y : 0, increase: o > y };
}
