/**
 * HiResCAM — Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural
 * networks", arXiv:2011.08891, 2020, §3: the gradient multiplies the activations element-wise before the sum over
 * channels, M^c = Σ_k ∂y^c/∂A^k ⊙ A^k (no spatial averaging), as pytorch-grad-cam's HiResCAM.
 */
import { type CamGradients, camMethod } from './cam-template';

/** Per class, Σ_k term(g^k_ij, A^k_ij) at every position: the element-wise CAM maps (HiResCAM, Grad-CAM element-wise, LayerCAM). */
export function elementwiseMaps({ activations: a, gradients: g }: CamGradients, term: (grad: number, act: number) => number): Float32Array[] {
  const [k, c, h, w] = g.dims;
  const hw = h * w;
  return Array.from({ length: k }, (_, i) => {
    const m = new Float64Array(hw);
    for (let ch = 0; ch < c; ch++) {
      const gb = (i * c + ch) * hw;
      const ab = ch * hw;
      for (let j = 0; j < hw; j++) m[j] += term(g.data[gb + j], a.data[ab + j]);
    }
    return Float32Array.from(m);
  });
}

/** HiResCAM's map per class: Σ_k g^k ⊙ A^k. */
export function hiResCamMaps(ctx: CamGradients): Float32Array[] {
  return elementwiseMaps(ctx, (g, a) => g * a);
}

/** HiResCAM: the element-wise product of gradient and activations, summed over channels. */
export const hiResCam = camMethod({
  id: 'hirescam',
  title: 'HiResCAM',
  citation: 'Draelos & Carin, Use HiResCAM instead of Grad-CAM, arXiv:2011.08891, 2020, §3',
  needs: 'gradients',
  map: hiResCamMaps,
});
