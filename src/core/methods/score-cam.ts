/**
 * Score-CAM — Wang, Wang, Du, Yang, Zhang, Ding, Mardziel, Hu, "Score-CAM: Score-Weighted Visual Explanations for
 * Convolutional Neural Networks", CVPR Workshops 2020, §3 and Algorithm 1: each channel's activation map, upsampled
 * to the input size and min-max normalised to H^k ∈ [0, 1], masks the input; the model's score for the class on
 * X ∘ H^k gives the channel's weight after a softmax over channels, α^c = softmax_k(f_c(X ∘ H^k)), and
 * L^c = ReLU(Σ_k α_k^c A^k). As pytorch-grad-cam's ScoreCAM: bilinear upsampling with aligned corners
 * (UpsamplingBilinear2d), ε = 1e-8 in the normalisation, the explained score (logit or softmax) as f_c.
 * The masked inputs run in batches when the model's batch axis is free.
 */
import { throwIfCancelled } from './options';
import { BATCH_SIZE_OPTION, type CamReruns, camMethod, rerunBatchSize } from './cam-template';
import { float32 } from '../tensor';
import { targetScores } from './score-target';

/** Linear interpolation taps with aligned corners: output i samples input i·(n−1)/(m−1). */
function alignedTaps(n: number, m: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(m), i1 = new Int32Array(m), f = new Float64Array(m);
  const scale = m > 1 ? (n - 1) / (m - 1) : 0;
  for (let i = 0; i < m; i++) {
    const x = i * scale;
    i0[i] = Math.min(Math.floor(x), n - 1);
    i1[i] = Math.min(i0[i] + 1, n - 1);
    f[i] = x - i0[i];
  }
  return { i0, i1, f };
}

/** Channel k of [1,C,h,w] upsampled bilinearly with aligned corners to H×W, then min-max normalised with ε = 1e-8. */
export function scoreCamMask(a: Float32Array, k: number, h: number, w: number, height: number, width: number): Float64Array {
  const ys = alignedTaps(h, height), xs = alignedTaps(w, width);
  const base = k * h * w;
  const out = new Float64Array(height * width);
  let lo = Infinity, hi = -Infinity;
  for (let y = 0; y < height; y++) {
    const r0 = base + ys.i0[y] * w, r1 = base + ys.i1[y] * w, fy = ys.f[y];
    for (let x = 0; x < width; x++) {
      const x0 = xs.i0[x], x1 = xs.i1[x], fx = xs.f[x];
      const top = a[r0 + x0] + (a[r0 + x1] - a[r0 + x0]) * fx;
      const bottom = a[r1 + x0] + (a[r1 + x1] - a[r1 + x0]) * fx;
      const v = top + (bottom - top) * fy;
      out[y * width + x] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const range = hi - lo + 1e-8;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] - lo) / range;
  return out;
}

/** Score-CAM's channel weights: the softmax over channels of the class scores on the masked inputs. */
async function scoreCamWeights(ctx: CamReruns): Promise<Float32Array[]> {
  const { explainer, input, activations: a, classes, target } = ctx;
  const [, c, h, w] = a.dims;
  const { height, width } = explainer.inputSize;
  const nhwc = explainer.input.layout === 'NHWC';
  const channels = explainer.input.channels;
  const batch = rerunBatchSize(ctx, 'Score-CAM', 16);
  const scores = classes.map(() => new Float64Array(c));
  // A constant channel normalises to the zero mask, so all of them share one run on the zero image.
  const constant = (k: number) => {
    const m = a.data.subarray(k * h * w, (k + 1) * h * w);
    return m.every((v) => v === m[0]);
  };
  const runs: number[] = [];
  let zero = -1;
  for (let k = 0; k < c; k++) {
    if (!constant(k)) runs.push(k);
    else if (zero < 0) runs.push((zero = k));
  }
  for (let start = 0; start < runs.length; start += batch) {
    throwIfCancelled(ctx.signal, 'Score-CAM');
    const ks = runs.slice(start, start + batch);
    const xs = ks.map((k) => {
      const mask = scoreCamMask(a.data, k, h, w, height, width);
      const x = new Float32Array(input.data.length);
      for (let p = 0; p < height * width; p++) {
        for (let ch = 0; ch < channels; ch++) {
          const i = nhwc ? p * channels + ch : ch * height * width + p;
          x[i] = input.data[i] * mask[p];
        }
      }
      return float32(x, input.dims);
    });
    const rows = await explainer.forwardBatch(xs);
    rows.forEach((r, j) => classes.forEach((cls, i) => (scores[i][ks[j]] = targetScores(r.logits, [cls], target, r.probs)[0])));
    ctx.onProgress?.(Math.min(runs.length, start + batch), runs.length);
  }
  if (zero >= 0) for (let k = 0; k < c; k++) if (k !== zero && constant(k)) for (const s of scores) s[k] = s[zero];
  return scores.map((s) => {
    let m = -Infinity;
    for (const v of s) m = Math.max(m, v);
    let sum = 0;
    const e = s.map((v) => Math.exp(v - m));
    for (const v of e) sum += v;
    return Float32Array.from(e, (v) => v / sum);
  });
}

/** Score-CAM: channel weights from the model's scores on the input masked by each upsampled channel. */
export const scoreCam = camMethod({
  id: 'scorecam',
  title: 'Score-CAM',
  citation: 'Wang et al., Score-CAM, CVPR Workshops 2020, §3, Algorithm 1',
  needs: 'reruns',
  options: [{ ...BATCH_SIZE_OPTION, default: 16, description: 'Masked images per run when the model takes a dynamic batch.' }],
  weights: scoreCamWeights,
});
