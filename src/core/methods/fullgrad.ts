/**
 * FullGrad — Srinivas & Fleuret, "Full-Gradient Representation for Neural Network Visualization", NeurIPS 2019,
 * §3 (the full-gradient decomposition f(x) = ∇ₓf(x)ᵀx + Σ_b ∇_b f(x)ᵀb) and §4 (the FullGrad saliency map):
 *   S_f(x) = ψ(∇ₓf(x) ⊙ x) + Σ_{l ∈ L} Σ_{c ∈ channels(l)} ψ(f^b(x)_c),   f^b = ∇_{z_l} f ⊙ b_l,
 * with ψ = |·|, min-max normalisation and bilinear upsampling to the input, as pytorch-grad-cam's FullGrad computes
 * it: every input channel and every channel of every biased layer is normalised on its own, then all are summed.
 * The layers L are the convolutions with a bias and the BatchNormalizations (bias β − μγ/√(σ² + ε)) on 2-D maps;
 * a BatchNorm that the exporter folded into its convolution is that convolution's bias, the gradient at the
 * convolution's output being the gradient at the BatchNorm's. Maps of 1×1 (squeeze-excitation convolutions)
 * normalise to zero and are skipped. One backward run gives the gradients at the input and at every such layer.
 */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import { attrFloat, type Graph, type Node } from '../onnx/graph';
import { resizeBilinear } from '../preprocess/resize';
import { type Float32Tensor, float32 } from '../tensor';
import { toChw } from './attribution-maps';
import { displayMap } from './cam-template';
import type { Explanation, Method } from './method';
import { ALL_TARGETS, checkTarget, targetGradients } from './score-target';

/** A layer whose bias FullGrad reads: its output tensor and the bias per channel. */
export interface BiasLayer {
  readonly tensor: string;
  readonly bias: Float32Array;
}

/** A constant tensor's values as float32, or undefined. */
function constantFloats(graph: Graph, name: string | undefined): Float32Array | undefined {
  const t = name ? graph.constant(name) : undefined;
  return t && (t.type === 'float32' || t.type === 'float16') ? Float32Array.from(t.data as ArrayLike<number>) : undefined;
}

/** The bias of a Conv (its third input) or the effective bias β − μγ/√(σ² + ε) of a BatchNormalization; undefined for others. */
export function layerBias(graph: Graph, n: Node): Float32Array | undefined {
  if (n.domain && n.domain !== 'ai.onnx') return undefined;
  if (n.opType === 'Conv') return constantFloats(graph, n.input[2]);
  if (n.opType !== 'BatchNormalization') return undefined;
  const [scale, beta, mean, variance] = n.input.slice(1, 5).map((i) => constantFloats(graph, i));
  if (!scale || !beta || !mean || !variance) return undefined;
  const eps = attrFloat(n, 'epsilon', 1e-5);
  return Float32Array.from(beta, (b, c) => b - (mean[c] * scale[c]) / Math.sqrt(variance[c] + eps));
}

/** The biased layers FullGrad sums over: 4-D outputs with a spatial extent, in graph order. */
export async function fullGradLayers(explainer: Explainer): Promise<BiasLayer[]> {
  const out: BiasLayer[] = [];
  for (const l of await explainer.layers()) {
    if (l.shape.length !== 4 || l.shape[2] * l.shape[3] <= 1) continue;
    const n = explainer.graph.producer.get(l.name);
    const bias = n && n.output[0] === l.name ? layerBias(explainer.graph, n) : undefined;
    if (bias && bias.length === l.shape[1]) out.push({ tensor: l.name, bias });
  }
  return out;
}

/** (v − min v) / (1e-7 + max(v − min v)) of a map, added to `acc` of the same size (pytorch-grad-cam's scale_cam_image, in float32 as it rounds). */
function addNormalizedSameSize(acc: Float64Array, v: Float32Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of v) {
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  const scale = 1e-7 + (hi - lo);
  for (let i = 0; i < v.length; i++) acc[i] += Math.fround((v[i] - lo) / scale);
}

/**
 * |b_c · g_c| per channel of one class's gradient row [C,h,w] at a layer, each normalised, summed, then upsampled
 * into `acc`: bilinear upsampling is linear and the same for every channel, so the sum of the upsampled channels is
 * the upsampled sum (one resize per layer instead of one per channel: ResNet-18 has about 4,800 biased channels).
 */
function addBiasTerms(acc: Float64Array, g: Float32Array, bias: Float32Array, h: number, w: number, H: number, W: number): void {
  const hw = h * w;
  const sum = new Float64Array(hw);
  const v = new Float32Array(hw);
  for (let c = 0; c < bias.length; c++) {
    for (let i = 0; i < hw; i++) v[i] = Math.abs(bias[c] * g[c * hw + i]);
    addNormalizedSameSize(sum, v);
  }
  const up = h === H && w === W ? sum : resizeBilinear(Float32Array.from(sum), w, h, W, H);
  for (let i = 0; i < acc.length; i++) acc[i] += up[i];
}

/** The FullGrad map [H,W] of one class: the input term per channel plus every biased layer's channels. */
export function fullGradMap(x: Float32Tensor, inputGrad: Float32Tensor, layers: readonly { readonly bias: Float32Array; readonly grad: Float32Tensor }[]): Float32Array {
  const [c, H, W] = x.dims;
  const acc = new Float64Array(H * W);
  for (let ch = 0; ch < c; ch++) {
    const v = new Float32Array(H * W);
    for (let i = 0; i < H * W; i++) v[i] = Math.abs(x.data[ch * H * W + i] * inputGrad.data[ch * H * W + i]);
    addNormalizedSameSize(acc, v);
  }
  for (const l of layers) {
    const [, h, w] = l.grad.dims;
    addBiasTerms(acc, l.grad.data, l.bias, h, w, H, W);
  }
  return Float32Array.from(acc);
}

/** Row k of a batched gradient [K, …] as [ …]. */
function row(g: Float32Tensor, k: number): Float32Tensor {
  const n = g.data.length / g.dims[0];
  return float32(g.data.subarray(k * n, (k + 1) * n), g.dims.slice(1));
}

/** FullGrad: input-gradient × input plus the bias-gradients of every convolution and BatchNorm. */
export const fullGrad: Method = {
  id: 'fullgrad',
  title: 'FullGrad',
  citation: 'Srinivas & Fleuret, Full-Gradient Representation for Neural Network Visualization, NeurIPS 2019, §3–4 (S_f = ψ(∇ₓf ⊙ x) + Σ ψ(f^b)), as pytorch-grad-cam',
  family: 'input',
  targets: ALL_TARGETS,
  unavailableOn(explainer) {
    const g = explainer.graph;
    if (g.nodes.some((n) => layerBias(g, n))) return undefined;
    return `${explainer.name} has no convolution or BatchNormalization with a bias; FullGrad would be input × gradient alone (use input-x-gradient).`;
  },
  async run(explainer, request) {
    checkTarget(fullGrad, request.target);
    const layers = await fullGradLayers(explainer);
    if (!layers.length) throw new LookCloserError('method-not-applicable', fullGrad.unavailableOn!(explainer) ?? `${explainer.name} has no biased convolution or BatchNormalization on a 2-D map; FullGrad needs one.`);
    const input = explainer.input.name;
    const r = await targetGradients(explainer, request.input, {
      targets: [input, ...layers.map((l) => l.tensor)], mode: 'plain', method: 'FullGrad',
      ...(request.classes ? { classes: request.classes } : { top: request.top ?? 1 }),
    }, request.target);
    const x = toChw(explainer, request.input);
    const [, H, W] = x.dims;
    const explanations = r.classes.map((cls, k): Explanation => {
      // The input gradient in C,H,W whatever the model's layout.
      const gx = toChw(explainer, float32(row(r.grads[input], k).data, [1, ...r.grads[input].dims.slice(1)]));
      const raw = fullGradMap(x, gx, layers.map((l) => ({ bias: l.bias, grad: row(r.grads[l.tensor], k) })));
      return { method: 'fullgrad', classIndex: cls, raw: float32(raw, [H, W]), display: { kind: 'heatmap', map: displayMap(raw, H, W, H, W), width: W, height: H } };
    });
    return { explanations, forward: r.forward };
  },
};
