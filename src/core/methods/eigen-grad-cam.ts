/**
 * EigenGrad-CAM — pytorch-grad-cam's EigenGradCAM (github.com/jacobgil/pytorch-grad-cam): Eigen-CAM's
 * first-principal-component projection (Muhammad & Yeasin, IJCNN 2020, §3) taken of the element-wise product
 * ∂y^c/∂A ⊙ A instead of the activations, which makes it class-discriminative. Sign as in Eigen-CAM.
 */
import { type CamGradients, camMethod } from './cam-template';
import { firstComponentProjection } from './eigen-cam';

/** EigenGrad-CAM's map per class: the first-principal-component projection of g ⊙ A. */
export function eigenGradCamMaps({ activations: a, gradients: g }: CamGradients): Float32Array[] {
  const [k, c, h, w] = g.dims;
  const n = c * h * w;
  return Array.from({ length: k }, (_, i) => {
    const prod = new Float64Array(n);
    for (let j = 0; j < n; j++) prod[j] = g.data[i * n + j] * a.data[j];
    return firstComponentProjection(prod, c, h * w);
  });
}

/** EigenGrad-CAM: the first principal component of gradient × activations, per class. */
export const eigenGradCam = camMethod({
  id: 'eigengradcam',
  title: 'EigenGrad-CAM',
  citation: 'pytorch-grad-cam EigenGradCAM; Muhammad & Yeasin, Eigen-CAM, IJCNN 2020, §3, on ∂y/∂A ⊙ A',
  needs: 'gradients',
  map: eigenGradCamMaps,
});
