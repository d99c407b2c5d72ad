/**
 * The template shared by the CAM family (pytorch-grad-cam's base_cam): a method supplies per-class
 * channel weights α_ck; the template forms ReLU(Σ_k α_ck·A_k) at the layer's resolution (the raw map)
 * and the display map, upsampled bilinearly with half-pixel centres to the input size, then min-max normalised.
 */
import type { Explainer, ForwardResult } from '../explainer';
import { bilinearTaps } from '../preprocess/resize';
import { Float32Tensor, float32 } from '../tensor';
import type { ExplainRequest, Explanation, Method } from './method';

/** What a CAM-family rule returns: the layer's activations A [1,C,h,w], the explained classes and α per class. */
export interface ChannelWeights {
  readonly activations: Float32Tensor;
  readonly classes: readonly number[];
  readonly alphas: readonly Float32Array[];
  readonly forward: ForwardResult;
}

/** Σ_k α_k·A_k followed by ReLU, for A of shape [1,C,h,w]. */
export function weightedSum(a: Float32Tensor, alpha: Float32Array): Float32Array {
  const [, c, h, w] = a.dims;
  const hw = h * w;
  const out = new Float32Array(hw);
  for (let k = 0; k < c; k++) {
    const wk = alpha[k];
    if (wk === 0) continue;
    const base = k * hw;
    for (let i = 0; i < hw; i++) out[i] += wk * a.data[base + i];
  }
  for (let i = 0; i < hw; i++) if (!(out[i] > 0)) out[i] = 0;
  return out;
}

/** Indices where a run of equal taps starts or ends: the samples at which a piecewise-linear interpolation can peak. */
function runEnds(taps: Int32Array): number[] {
  const ends: number[] = [];
  for (let i = 0; i < taps.length; i++) {
    if (i === 0 || taps[i] !== taps[i - 1] || i === taps.length - 1 || taps[i] !== taps[i + 1]) ends.push(i);
  }
  return ends;
}

/**
 * The display map: bilinear half-pixel upsampling to the input size, then min-max normalisation; the same
 * values as normalizeMinMax(resizeBilinear(…)) in one output pass (it runs once per class). Each source row
 * is interpolated horizontally once (in float64, as resizeBilinear does per pixel). Within one cell of the
 * source grid the interpolant is bilinear, so over the cell's output samples it peaks at the samples on the
 * cell's edges: the minimum and maximum come from those few samples (first and last of each run of equal
 * taps) before the pass, which then writes normalised values directly (clamped to [0, 1] against rounding).
 */
export function displayMap(raw: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const { x0s, x1s, fxs } = bilinearTaps(w, outW);
  const { x0s: y0s, x1s: y1s, fxs: fys } = bilinearTaps(h, outH);
  const rows = new Float64Array(h * outW);
  for (let r = 0; r < h; r++) {
    for (let x = 0; x < outW; x++) {
      const a = raw[r * w + x0s[x]];
      const b = raw[r * w + x1s[x]];
      rows[r * outW + x] = a + (b - a) * fxs[x];
    }
  }
  const at = (y: number, x: number) => {
    const top = rows[y0s[y] * outW + x];
    return Math.fround(top + (rows[y1s[y] * outW + x] - top) * fys[y]);
  };
  let lo = Infinity;
  let hi = -Infinity;
  const xs = runEnds(x0s);
  for (const y of runEnds(y0s)) {
    for (const x of xs) {
      const v = at(y, x);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const range = hi - lo;
  if (!(range > 0) || !Number.isFinite(range)) return out;
  for (let y = 0; y < outH; y++) {
    const r0 = y0s[y] * outW;
    const r1 = y1s[y] * outW;
    const ly = fys[y];
    const row = y * outW;
    for (let x = 0; x < outW; x++) {
      const top = rows[r0 + x];
      const v = (Math.fround(top + (rows[r1 + x] - top) * ly) - lo) / range;
      out[row + x] = v > 1 ? 1 : v < 0 ? 0 : v;
    }
  }
  return out;
}

/** Builds a CAM-family method from its channel-weight rule. */
export function camMethod(spec: {
  id: string;
  title: string;
  citation: string;
  /** The rule needs only the forward pass (CAM), so a precomputed `request.forward` holding the layer is reused. */
  reusesForward?: boolean;
  weights(explainer: Explainer, request: ExplainRequest & { layer: string }): Promise<ChannelWeights>;
}): Method {
  return {
    id: spec.id,
    title: spec.title,
    citation: spec.citation,
    family: 'cam',
    reusesForward: spec.reusesForward,
    async run(explainer, request) {
      const layer = request.layer ?? (await explainer.defaultLayer());
      const [, , h, w] = await explainer.featureMapShape(layer, spec.title);
      const { activations, classes, alphas, forward } = await spec.weights(explainer, { ...request, layer });
      const { height, width } = explainer.inputSize;
      const explanations = classes.map((c, i): Explanation => {
        const raw = weightedSum(activations, alphas[i]);
        return {
          method: spec.id, classIndex: c, layer,
          raw: float32(raw, [h, w]),
          display: { kind: 'heatmap', map: displayMap(raw, h, w, height, width), width, height },
        };
      });
      return { explanations, forward };
    },
  };
}
