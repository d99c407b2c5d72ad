/**
 * Grad-CAM++ — Chattopadhay, Sarkar, Howlader, Balasubramanian, "Grad-CAM++: Generalized Gradient-Based Visual
 * Explanations for Deep Convolutional Networks", WACV 2018: w_k^c = Σ_ij α_ij^kc·ReLU(∂Y^c/∂A^k_ij) (eq. 7), with
 * the closed form of eq. 19, α_ij^kc = g² / (2g² + Σ_ab A^k_ab·g³) for g = ∂Y^c/∂A^k_ij, as pytorch-grad-cam's
 * GradCAMPlusPlus computes it: on the gradients of the explained score itself, ε = 1e-6 in the denominator, and
 * α = 0 where g = 0.
 */
import { type CamGradients, camMethod } from './cam-template';

/** Grad-CAM++'s channel weights per class: Σ_ij α_ij·ReLU(g_ij), α from the gradient's square and cube and the channel's activation sum. */
export function gradCamPlusPlusWeights({ activations: a, gradients: g }: CamGradients): Float32Array[] {
  const [k, c, h, w] = g.dims;
  const hw = h * w;
  const sums = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) for (let j = 0; j < hw; j++) sums[ch] += a.data[ch * hw + j];
  return Array.from({ length: k }, (_, i) => {
    const weights = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * hw;
      let s = 0;
      for (let j = 0; j < hw; j++) {
        const gj = g.data[base + j];
        if (!(gj > 0)) continue; // ReLU(g) = 0 (and α = 0 where g = 0)
        const g2 = gj * gj;
        s += gj * (g2 / (2 * g2 + sums[ch] * g2 * gj + 1e-6));
      }
      weights[ch] = s;
    }
    return weights;
  });
}

/** Grad-CAM++: channel weights from positive gradients, each weighted by the closed-form α of eq. 19. */
export const gradCamPlusPlus = camMethod({
  id: 'gradcam-plusplus',
  title: 'Grad-CAM++',
  citation: 'Chattopadhay et al., Grad-CAM++, WACV 2018, eq. 7 and 19',
  needs: 'gradients',
  weights: gradCamPlusPlusWeights,
});
