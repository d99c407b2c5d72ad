/**
 * Grad-CAM element-wise — pytorch-grad-cam's GradCAMElementWise (Gildenblat, github.com/jacobgil/pytorch-grad-cam):
 * HiResCAM's element-wise product with a ReLU on each term before the sum over channels,
 * M^c = Σ_k ReLU(∂y^c/∂A^k ⊙ A^k) (cf. Draelos & Carin, arXiv:2011.08891, §3).
 */
import { type CamGradients, camMethod } from './cam-template';
import { elementwiseMaps } from './hires-cam';

/** Grad-CAM element-wise's map per class: Σ_k ReLU(g^k ⊙ A^k). */
export function gradCamElementwiseMaps(ctx: CamGradients): Float32Array[] {
  return elementwiseMaps(ctx, (g, a) => Math.max(g * a, 0));
}

/** Grad-CAM element-wise: positive parts of gradient × activation, summed over channels. */
export const gradCamElementwise = camMethod({
  id: 'gradcam-elementwise',
  title: 'Grad-CAM element-wise',
  citation: 'pytorch-grad-cam GradCAMElementWise; HiResCAM (Draelos & Carin, arXiv:2011.08891) with a ReLU per element',
  needs: 'gradients',
  map: gradCamElementwiseMaps,
});
