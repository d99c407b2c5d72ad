/**
 * Eigen-CAM — Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components", IJCNN 2020, §3:
 * the map is the projection of the layer's activations on their first principal component, L = A·v₁, where the
 * activations are read as an (h·w) × C matrix, one row per position, and v₁ is its first right singular vector.
 * As pytorch-grad-cam's get_2d_projection: NaN becomes 0 and each channel (column) is centred on its mean over the
 * positions before the decomposition. The sign of a singular vector is arbitrary (pytorch-grad-cam keeps whatever
 * LAPACK returns, which no simple rule predicts); here it is fixed as pytorch-grad-cam's
 * get_2d_projection_with_sign_correction does (Chung & Ying, Seg-Eigen-CAM, Appl. Sci. 2025, eq. 13): the
 * projection is negated when |min| > |max|, so the salient side is positive before the template's ReLU.
 * The map does not depend on the class.
 */
import { type CamTensors, camMethod } from './cam-template';
import { firstComponentProjection } from './first-component';

export { firstComponentProjection, topEigenpair } from './first-component';

/** Eigen-CAM's map, the same for every class: the activations' first-principal-component projection. */
export function eigenCamMaps({ activations: a, classes }: CamTensors): Float32Array[] {
  const [, c, h, w] = a.dims;
  const m = firstComponentProjection(a.data, c, h * w);
  return classes.map(() => m.slice());
}

/** Eigen-CAM: the first principal component of the layer's activations (class-agnostic, forward pass only). */
export const eigenCam = camMethod({
  id: 'eigencam',
  title: 'Eigen-CAM',
  citation: 'Muhammad & Yeasin, Eigen-CAM, IJCNN 2020, §3 (sign as Seg-Eigen-CAM eq. 13)',
  needs: 'activations',
  map: eigenCamMaps,
});
