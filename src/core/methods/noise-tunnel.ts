/**
 * The noise tunnel under SmoothGrad, SmoothGrad² and VarGrad: an input attribution (the plain gradient by
 * default) taken at n copies of the input with Gaussian noise added, x + ε_i, ε_i ~ N(0, σ²), σ = noise level ×
 * (max x − min x) as in Smilkov et al. 2017 §3, then aggregated element-wise by the method. The noise comes from
 * a seeded generator (prng.ts), one normal per element in the input's layout order, sample after sample, so
 * a run is reproducible. The first sample's run names the classes (top K); the other samples run stacked along
 * the batch axis, `batch-size` copies per backward run, each repeated for every class (Explainer.gradientsStacked,
 * as Integrated Gradients does; one run per sample where the model's batch axis is fixed or some gradient rule
 * mixes rows). The noise is drawn and the sums taken in sample order either way.
 */
import type { Explainer } from '../explainer';
import type { RectifierMode } from '../grad/rule';
import { float32, Float32Tensor } from '../tensor';
import { inputRange, toChw } from './attribution-maps';
import { classGradients, saliencyMap } from './input-gradient';
import { stackedClassGradients } from './integrated-gradients';
import type { ExplainRequest, Explanation, Method } from './method';
import { MethodOption, numberOption, stringOption, throwIfCancelled } from './options';
import { mulberry32, normals } from './prng';
import { ALL_TARGETS } from './score-target';

/** The settings every noise-tunnel method reads. */
export const NOISE_TUNNEL_OPTIONS: readonly MethodOption[] = [
  { name: 'samples', kind: 'int', default: 16, min: 1, max: 4096, description: 'Noisy copies of the input (one backward run each).' },
  { name: 'noise', kind: 'number', default: 0.15, min: 0, max: 10, description: 'Noise standard deviation as a fraction of the input\'s value range (max − min).' },
  { name: 'seed', kind: 'int', default: 0, min: 0, max: 4294967295, description: 'Seed of the random numbers (noise baseline, SmoothGrad noise, RISE masks).' },
  { name: 'inner', kind: 'string', default: 'saliency', choices: ['saliency', 'guided-backprop', 'deconvnet', 'input-x-gradient'], description: 'The attribution taken at each noisy copy.' },
  { name: 'batch-size', kind: 'int', default: 8, min: 1, max: 1024, description: 'Noisy copies per backward run when the model takes a batch (memory grows with it).' },
];

const INNER: Readonly<Record<string, { mode: RectifierMode; timesInput: boolean }>> = {
  'saliency': { mode: 'plain', timesInput: false },
  'guided-backprop': { mode: 'guided', timesInput: false },
  'deconvnet': { mode: 'deconvnet', timesInput: false },
  'input-x-gradient': { mode: 'plain', timesInput: true },
};

/** Running sums of the attributions and of their squares, per class, in float64. */
export interface TunnelSums {
  readonly n: number;
  readonly sum: readonly Float64Array[];
  readonly sumSq: readonly Float64Array[];
}

/** Runs the inner attribution at `samples` noisy copies of the input; the classes are those of the first copy's run. */
export async function noiseTunnel(explainer: Explainer, request: ExplainRequest, title: string): Promise<{ classes: number[]; sums: TunnelSums; dims: number[] }> {
  const o = request.options;
  const n = numberOption(NOISE_TUNNEL_OPTIONS, o, 'samples', title) ?? 16;
  const level = numberOption(NOISE_TUNNEL_OPTIONS, o, 'noise', title) ?? 0.15;
  const seed = numberOption(NOISE_TUNNEL_OPTIONS, o, 'seed', title) ?? 0;
  const inner = INNER[stringOption(NOISE_TUNNEL_OPTIONS, o, 'inner', title) ?? 'saliency'];
  const x = request.input;
  const { lo, hi } = level > 0 ? inputRange(x, title) : { lo: 0, hi: 0 };
  const sigma = level * (hi - lo);
  const z = normals(mulberry32(seed));
  const batch = numberOption(NOISE_TUNNEL_OPTIONS, o, 'batch-size', title) ?? 8;
  const noisy = () => float32(Float32Array.from(x.data, (v) => v + sigma * z()), x.dims);
  throwIfCancelled(request.signal, title);
  // The first copy's run names the classes (and checks that the inner attribution can explain the target).
  const x0 = noisy();
  const first = await classGradients(explainer, x0, request, inner.mode, title);
  const classes = first.classes;
  const dims = [...first.grads[0].dims];
  const sum = first.grads.map((g) => new Float64Array(g.data.length));
  const sumSq = first.grads.map((g) => new Float64Array(g.data.length));
  const add = (xi: Float32Tensor, grads: readonly Float32Tensor[]) => {
    const xc = inner.timesInput ? toChw(explainer, xi) : undefined;
    grads.forEach((g, c) => {
      for (let j = 0; j < g.data.length; j++) {
        const a = xc ? g.data[j] * xc.data[j] : g.data[j];
        sum[c][j] += a;
        sumSq[c][j] += a * a;
      }
    });
  };
  add(x0, first.grads);
  request.onProgress?.(1, n);
  for (let i0 = 1; i0 < n; i0 += batch) {
    throwIfCancelled(request.signal, title);
    const xs = Array.from({ length: Math.min(batch, n - i0) }, () => noisy());
    // batch-size 1: each copy through the same path as the first (the target applied by targetGradients).
    const steps = batch > 1
      ? await stackedClassGradients(explainer, xs, classes, inner.mode, title, request.target)
      : [(await classGradients(explainer, xs[0], request, inner.mode, title, classes)).grads];
    steps.forEach((grads, b) => add(xs[b], grads));
    request.onProgress?.(i0 + xs.length, n);
  }
  return { classes, sums: { n, sum, sumSq }, dims };
}

/** Builds a noise-tunnel method from its element-wise aggregate of the sums. */
export function noiseTunnelMethod(spec: { id: string; title: string; citation: string; aggregate: (s: TunnelSums, c: number, j: number) => number }): Method {
  return {
    id: spec.id, title: spec.title, citation: spec.citation, family: 'input', options: NOISE_TUNNEL_OPTIONS,
    // Contrast needs a linear backward pass: guided backprop and deconvnet as the inner attribution refuse it at run time.
    targets: ALL_TARGETS,
    async run(explainer, request) {
      const { classes, sums, dims } = await noiseTunnel(explainer, request, spec.title);
      const [, h, w] = dims;
      const explanations = classes.map((c, ci): Explanation => {
        const raw = float32(Float32Array.from(sums.sum[ci], (_, j) => spec.aggregate(sums, ci, j)), dims);
        return { method: spec.id, classIndex: c, raw, display: { kind: 'heatmap', map: saliencyMap(raw), width: w, height: h } };
      });
      // The predictions come from the clean input, not from a noisy copy.
      return { explanations, forward: request.forward ?? (await explainer.forward(request.input)) };
    },
  };
}
