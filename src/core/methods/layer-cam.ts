/**
 * LayerCAM — Jiang, Zhang, Hou, Cheng, Wei, "LayerCAM: Exploring Hierarchical Class Activation Maps for
 * Localization", IEEE TIP 30, 2021, §3: each position gets its own weight, the positive gradient there,
 * w^kc_ij = ReLU(∂y^c/∂A^k_ij), and M^c = Σ_k w^kc ⊙ A^k (one layer; pytorch-grad-cam's LayerCAM).
 */
import { type CamGradients, camMethod } from './cam-template';
import { elementwiseMaps } from './hires-cam';

/** LayerCAM's map per class: Σ_k ReLU(g^k) ⊙ A^k. */
export function layerCamMaps(ctx: CamGradients): Float32Array[] {
  return elementwiseMaps(ctx, (g, a) => Math.max(g, 0) * a);
}

/** LayerCAM: activations weighted position by position by the positive gradient. */
export const layerCam = camMethod({
  id: 'layercam',
  title: 'LayerCAM',
  citation: 'Jiang et al., LayerCAM, IEEE TIP 2021, §3',
  needs: 'gradients',
  map: layerCamMaps,
});
