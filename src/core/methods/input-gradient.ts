/** The template of methods that backpropagate a class score to the pixels, differing only in the rectifier rule. */
import type { Explainer, ForwardResult, GradientResult } from '../explainer';
import type { RectifierMode } from '../grad/rule';
import { Float32Tensor, float32 } from '../tensor';
import type { ExplainRequest, Explanation, Method } from './method';
import { ALL_TARGETS, targetGradients } from './score-target';

/** Per-class slices [C,H,W] of an input gradient [K,C,H,W] (NHWC inputs are transposed to C,H,W). */
export function perClass(explainer: Explainer, g: Float32Tensor): Float32Tensor[] {
  const [k, ...rest] = g.dims;
  const n = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: k }, (_, i) => {
    const slice = g.data.slice(i * n, (i + 1) * n);
    if (explainer.input.layout === 'NCHW') return float32(slice, rest);
    const [h, w, c] = rest;
    const out = new Float32Array(n);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) out[(ch * h + y) * w + x] = slice[(y * w + x) * c + ch];
    return float32(out, [c, h, w]);
  });
}

/** Runs the input gradient with a rectifier mode for the requested classes and target (score-target.ts). */
export function inputGradient(explainer: Explainer, request: ExplainRequest, mode: RectifierMode, method: string): Promise<GradientResult> {
  return targetGradients(explainer, request.input, {
    targets: [explainer.input.name], mode, method,
    ...(request.classes ? { classes: request.classes } : { top: request.top ?? 1 }),
  }, request.target);
}

/**
 * The input gradient of `x` ([1, …]) per class as [C,H,W], with the classes explained and the forward pass of
 * the same run: for `classes` when given, else for the request's (named or top K).
 */
export async function classGradients(
  explainer: Explainer, x: Float32Tensor, request: ExplainRequest, mode: RectifierMode, method: string, classes?: readonly number[],
): Promise<{ classes: number[]; grads: Float32Tensor[]; forward: ForwardResult }> {
  const r = await inputGradient(explainer, { ...request, input: x, ...(classes ? { classes } : {}) }, mode, method);
  return { classes: r.classes, grads: perClass(explainer, r.grads[explainer.input.name]), forward: r.forward };
}

/** Saliency as Simonyan et al. show it: max over channels of |∂y/∂x|, as a heat map. */
export function saliencyMap(grad: Float32Tensor): Float32Array {
  const [c, h, w] = grad.dims;
  const out = new Float32Array(h * w);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) out[i] = Math.max(out[i], Math.abs(grad.data[ch * h * w + i]));
  let m = 0;
  for (const v of out) m = Math.max(m, v);
  if (m > 0) for (let i = 0; i < out.length; i++) out[i] /= m;
  return out;
}

/** Builds an input-gradient method from its rectifier mode and display. */
export function inputGradientMethod(spec: { id: string; title: string; citation: string; mode: RectifierMode; display: 'heatmap' | 'gradient' }): Method {
  return {
    id: spec.id, title: spec.title, citation: spec.citation, family: 'input',
    // A contrast's gradient is the difference of two gradients only for the plain (linear) backward pass.
    targets: spec.mode === 'plain' ? ALL_TARGETS : ['logit', 'softmax', 'sigmoid'],
    async run(explainer, request) {
      const r = await inputGradient(explainer, request, spec.mode, spec.title);
      const grads = perClass(explainer, r.grads[explainer.input.name]);
      const explanations = grads.map((g, i): Explanation => {
        const [, h, w] = g.dims;
        return {
          method: spec.id, classIndex: r.classes[i], raw: g,
          display: spec.display === 'heatmap' ? { kind: 'heatmap', map: saliencyMap(g), width: w, height: h } : { kind: 'gradient', grad: g },
        };
      });
      return { explanations, forward: r.forward };
    },
  };
}
