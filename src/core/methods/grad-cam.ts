/**
 * Grad-CAM — Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
 * Localization", ICCV 2017, eq. (1)–(2): α_k^c = (1/Z) Σ_ij ∂y^c/∂A^k_ij, L^c = ReLU(Σ_k α_k^c A^k).
 */
import { type CamGradients, camMethod } from './cam-template';

/** Grad-CAM's channel weights (eq. 1): the spatial mean of each class's gradient at the layer, per channel. */
export function gradCamWeights({ gradients: g }: CamGradients): Float32Array[] {
  const [k, c, h, w] = g.dims;
  const hw = h * w;
  return Array.from({ length: k }, (_, i) => {
    const a = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      const base = (i * c + ch) * hw;
      for (let j = 0; j < hw; j++) s += g.data[base + j];
      a[ch] = s / hw;
    }
    return a;
  });
}

/** Grad-CAM: channel weights are the spatial mean of the score's gradient at the layer. */
export const gradCam = camMethod({
  id: 'gradcam',
  title: 'Grad-CAM',
  citation: 'Selvaraju et al., Grad-CAM, ICCV 2017, eq. 1–2',
  needs: 'gradients',
  weights: gradCamWeights,
});
