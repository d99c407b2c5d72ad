/**
 * Integrated Gradients — Sundararajan, Taly, Yan, "Axiomatic Attribution for Deep Networks", ICML 2017, §3 eq. 3
 * (the Riemann sum of eq. 1): IG_i(x) = (x_i − x'_i) · (1/m) Σ_{k=1..m} ∂F(x' + (k/m)(x − x'))/∂x_i, with
 * completeness (Proposition 1) Σ_i IG_i = F(x) − F(x') as m grows; the gap is reported per class.
 * Baselines: black (pixel value 0 through the preprocessing, the paper's choice for images), the input blurred
 * with a Gaussian, or seeded uniform noise over the input's range (Sturmfels, Lundberg, Lee, "Visualizing the
 * Impact of Feature Attribution Baselines", Distill 2020). The step at the input itself names the classes; the other
 * m − 1 steps run stacked along the batch axis, `batch-size` points of the path per backward run, each repeated
 * for every class (Explainer.gradientsStacked; one run per step where the model's batch axis is fixed or some
 * gradient rule mixes rows). The sum is taken in step order either way.
 */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import { float32, Float32Tensor } from '../tensor';
import { channelOf, channelSumMap, inputRange, toChw } from './attribution-maps';
import { classGradients, perClass } from './input-gradient';
import type { ExplainRequest, Explanation, Method } from './method';
import { MethodOption, numberOption, stringOption, throwIfCancelled } from './options';
import { mulberry32 } from './prng';
import { ALL_TARGETS, contrastClass, targetKind, targetScores } from './score-target';
import type { RectifierMode } from '../grad/rule';
import type { ScoreTarget } from './method';

/** The settings of Integrated Gradients. */
export const IG_OPTIONS: readonly MethodOption[] = [
  { name: 'steps', kind: 'int', default: 32, min: 1, max: 4096, description: 'Riemann steps m between the baseline and the input (one backward run each).' },
  { name: 'baseline', kind: 'string', default: 'black', choices: ['black', 'blur', 'noise'], description: 'Baseline x\': black pixels, the input Gaussian-blurred, or seeded uniform noise over the input\'s range.' },
  { name: 'blur-sigma', kind: 'number', min: 0.1, max: 1000, description: 'Standard deviation of the blur baseline in input pixels (default: a 32nd of the shorter side, at least 1).' },
  { name: 'seed', kind: 'int', default: 0, min: 0, max: 4294967295, description: 'Seed of the random numbers (noise baseline, SmoothGrad noise, RISE masks).' },
  { name: 'batch-size', kind: 'int', default: 8, min: 1, max: 1024, description: 'Path points per backward run when the model takes a batch (memory grows with it).' },
];

/**
 * Per input of `xs` (each [1, …]), the input gradient of each of `classes` for `target`, as [C,H,W] per class, from
 * stacked backward runs (Explainer.gradientsStacked): logit and softmax seeded in the graph, sigmoid scaled by
 * σ'(z_c) of the input's own logits, contrast:B as the difference with class B's gradient (plain mode only, which
 * targetGradients checks for the run that named the classes).
 */
export async function stackedClassGradients(
  explainer: Explainer, xs: readonly Float32Tensor[], classes: readonly number[], mode: RectifierMode, method: string, target: ScoreTarget,
): Promise<Float32Tensor[][]> {
  const kind = targetKind(target);
  const b = contrastClass(target);
  const seeded = kind === 'contrast' ? [...classes, b!] : [...classes];
  const rs = await explainer.gradientsStacked(xs, { targets: [explainer.input.name], score: kind === 'softmax' ? 'softmax' : 'logit', mode, method, classes: seeded });
  return rs.map((r) => {
    const grads = perClass(explainer, r.grads[explainer.input.name]);
    if (kind === 'sigmoid') {
      return grads.map((g, i) => {
        const s = 1 / (1 + Math.exp(-r.forward.logits[classes[i]]));
        const scale = s * (1 - s);
        return float32(g.data.map((v) => v * scale), g.dims);
      });
    }
    if (kind === 'contrast') {
      const against = grads[classes.length].data;
      return grads.slice(0, classes.length).map((g) => float32(g.data.map((v, j) => v - against[j]), g.dims));
    }
    return grads;
  });
}

/** The Gaussian blur of a [1,…] input per channel (separable, radius ⌈3σ⌉, edges replicated). */
export function gaussianBlur(explainer: Explainer, x: Float32Tensor, sigma: number): Float32Tensor {
  const nchw = explainer.input.layout === 'NCHW';
  const [, a, b, c] = x.dims;
  const [C, H, W] = nchw ? [a, b, c] : [c, a, b];
  const r = Math.ceil(3 * sigma);
  const k = Float64Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const ks = k.reduce((s, v) => s + v, 0);
  for (let i = 0; i < k.length; i++) k[i] /= ks;
  const at = (ch: number, y: number, q: number) => (nchw ? (ch * H + y) * W + q : (y * W + q) * C + ch);
  const tmp = new Float64Array(x.data.length);
  const out = new Float32Array(x.data.length);
  const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
  for (let ch = 0; ch < C; ch++) {
    for (let y = 0; y < H; y++) for (let q = 0; q < W; q++) {
      let s = 0;
      for (let i = -r; i <= r; i++) s += k[i + r] * x.data[at(ch, y, clamp(q + i, W))];
      tmp[at(ch, y, q)] = s;
    }
    for (let y = 0; y < H; y++) for (let q = 0; q < W; q++) {
      let s = 0;
      for (let i = -r; i <= r; i++) s += k[i + r] * tmp[at(ch, clamp(y + i, H), q)];
      out[at(ch, y, q)] = s;
    }
  }
  return float32(out, x.dims);
}

/** The baseline x' of a request, in the model's input layout. */
export function integratedGradientsBaseline(explainer: Explainer, request: ExplainRequest): { name: string; tensor: Float32Tensor } {
  const o = request.options;
  const name = stringOption(IG_OPTIONS, o, 'baseline', 'Integrated Gradients') ?? 'black';
  const x = request.input;
  if (name === 'blur') {
    const { height, width } = explainer.inputSize;
    const sigma = numberOption(IG_OPTIONS, o, 'blur-sigma', 'Integrated Gradients') ?? Math.max(1, Math.min(height, width) / 32);
    return { name: `blur (σ ${+sigma.toFixed(3)} px)`, tensor: gaussianBlur(explainer, x, sigma) };
  }
  if (name === 'noise') {
    const seed = numberOption(IG_OPTIONS, o, 'seed', 'Integrated Gradients') ?? 0;
    const { lo, hi } = inputRange(x, 'Integrated Gradients');
    const u = mulberry32(seed);
    return { name: `noise (seed ${seed})`, tensor: float32(Float32Array.from(x.data, () => lo + (hi - lo) * u()), x.dims) };
  }
  const pre = request.source?.preprocessing;
  if (!pre) throw new LookCloserError('bad-argument', 'Integrated Gradients\' black baseline needs the preprocessing (scale, mean, std) to know what a black pixel is; pass the request\'s source, or use --baseline blur or noise.');
  const per = (v: readonly number[], ch: number) => (v.length === 1 ? v[0] : v[ch]);
  const data = Float32Array.from(x.data, (_, i) => {
    const ch = channelOf(explainer, x.dims, i);
    return (0 * pre.scale - per(pre.mean, ch)) / per(pre.std, ch);
  });
  return { name: 'black', tensor: float32(data, x.dims) };
}

/** Integrated Gradients with a right Riemann sum of `steps` terms, for every explained class at once. */
export const integratedGradients: Method = {
  id: 'integrated-gradients',
  title: 'Integrated Gradients',
  citation: 'Sundararajan et al., Axiomatic Attribution for Deep Networks, ICML 2017, eq. 3',
  family: 'input',
  options: IG_OPTIONS,
  targets: ALL_TARGETS,
  async run(explainer, request) {
    const title = 'Integrated Gradients';
    const m = numberOption(IG_OPTIONS, request.options, 'steps', title) ?? 32;
    const baseline = integratedGradientsBaseline(explainer, request);
    const x = request.input;
    const xb = baseline.tensor;
    // Step m is the input itself: its run names the classes (top K) and gives the predictions.
    const last = await classGradients(explainer, x, request, 'plain', title);
    const classes = last.classes;
    const sum = last.grads.map((g) => Float64Array.from(g.data));
    request.onProgress?.(1, m + 1);
    const batch = numberOption(IG_OPTIONS, request.options, 'batch-size', title) ?? 8;
    for (let k0 = 1; k0 < m; k0 += batch) {
      throwIfCancelled(request.signal, title);
      const ks = Array.from({ length: Math.min(batch, m - k0) }, (_, i) => k0 + i);
      const xs = ks.map((k) => {
        const t = k / m;
        return float32(Float32Array.from(x.data, (v, i) => xb.data[i] + t * (v - xb.data[i])), x.dims);
      });
      const steps = await stackedClassGradients(explainer, xs, classes, 'plain', title, request.target);
      for (const grads of steps) grads.forEach((g, c) => g.data.forEach((v, j) => (sum[c][j] += v)));
      for (const k of ks) request.onProgress?.(k + 1, m + 1);
    }
    throwIfCancelled(request.signal, title);
    const fb0 = await explainer.forward(xb);
    const fx = targetScores(last.forward.logits, classes, request.target, last.forward.probs);
    const fb = targetScores(fb0.logits, classes, request.target, fb0.probs);
    request.onProgress?.(m + 1, m + 1);
    const diff = toChw(explainer, float32(Float32Array.from(x.data, (v, i) => v - xb.data[i]), x.dims));
    const explanations = classes.map((c, ci): Explanation => {
      const raw = float32(Float32Array.from(diff.data, (d, j) => (d * sum[ci][j]) / m), diff.dims);
      let total = 0;
      for (const v of raw.data) total += v;
      const [, h, w] = raw.dims;
      return {
        method: 'integrated-gradients', classIndex: c, raw, display: { kind: 'heatmap', map: channelSumMap(raw), width: w, height: h },
        payload: {
          kind: 'integrated-gradients', steps: m, baseline: baseline.name, score: fx[ci], baselineScore: fb[ci],
          attributionSum: total, completenessGap: total - (fx[ci] - fb[ci]),
        },
      };
    });
    return { explanations, forward: last.forward };
  },
};
