/**
 * XGrad-CAM — Fu, Hu, Dong, Guo, Gao, Li, "Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of
 * CNNs", BMVC 2020, §3: the weights that best satisfy the sensitivity and conservation axioms,
 * α_k^c = Σ_ij (A^k_ij / Σ_ab A^k_ab)·∂y^c/∂A^k_ij, with ε = 1e-7 added to the sum as pytorch-grad-cam's XGradCAM.
 */
import { type CamGradients, camMethod } from './cam-template';

/** XGrad-CAM's channel weights per class: the gradient averaged with the channel's normalised activations as weights. */
export function xGradCamWeights({ activations: a, gradients: g }: CamGradients): Float32Array[] {
  const [k, c, h, w] = g.dims;
  const hw = h * w;
  const sums = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) for (let j = 0; j < hw; j++) sums[ch] += a.data[ch * hw + j];
  return Array.from({ length: k }, (_, i) => {
    const weights = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * hw;
      let s = 0;
      for (let j = 0; j < hw; j++) s += g.data[base + j] * a.data[ch * hw + j];
      weights[ch] = s / (sums[ch] + 1e-7);
    }
    return weights;
  });
}

/** XGrad-CAM: channel weights are the activation-weighted sum of the score's gradient. */
export const xGradCam = camMethod({
  id: 'xgradcam',
  title: 'XGrad-CAM',
  citation: 'Fu et al., Axiom-based Grad-CAM, BMVC 2020, §3',
  needs: 'gradients',
  weights: xGradCamWeights,
});
