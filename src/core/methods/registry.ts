/** Every explanation method, keyed by id: the CLI's choices, the panel's picker and the tests read this table. */
import { LookCloserError } from '../errors';
import { ablationCam } from './ablation-cam';
import { attentionCropMethod } from './attention-crop';
import { attentionRollout } from './attention-rollout';
import { cam } from './cam';
import { deconvnet } from './deconvnet';
import { eigenCam } from './eigen-cam';
import { eigenGradCam } from './eigen-grad-cam';
import { fullGrad } from './fullgrad';
import { gradCam } from './grad-cam';
import { gradCamElementwise } from './grad-cam-elementwise';
import { gradCamPlusPlus } from './grad-cam-plus-plus';
import { gradRollout } from './grad-rollout';
import { guidedBackprop } from './guided-backprop';
import { guidedGradCam } from './guided-grad-cam';
import { hiResCam } from './hires-cam';
import { inputXGradient } from './input-x-gradient';
import { integratedGradients } from './integrated-gradients';
import { layerCam } from './layer-cam';
import { lrp } from './lrp';
import type { Method } from './method';
import { occlusion } from './occlusion';
import { reciproCam } from './recipro-cam';
import { rise } from './rise';
import { saliency } from './saliency';
import { scoreCam } from './score-cam';
import { smoothGrad } from './smoothgrad';
import { smoothGradSquared } from './smoothgrad-squared';
import { varGrad } from './vargrad';
import { xGradCam } from './xgrad-cam';

/** The registered methods, in the order they are offered. */
export const METHODS: readonly Method[] = [
  cam, gradCam, guidedBackprop, deconvnet, saliency, guidedGradCam, occlusion, attentionCropMethod((id) => methodById(id)),
  gradCamPlusPlus, xGradCam, hiResCam, gradCamElementwise, layerCam, eigenCam, eigenGradCam, scoreCam, ablationCam, reciproCam,
  inputXGradient, integratedGradients, smoothGrad, smoothGradSquared, varGrad, rise,
  attentionRollout, gradRollout,
  fullGrad, lrp,
];

/** Looks a method up by id, or throws listing the valid ids. */
export function methodById(id: string): Method {
  const m = METHODS.find((x) => x.id === id);
  if (!m) throw new LookCloserError('bad-argument', `Unknown method '${id}'. Available: ${METHODS.map((x) => x.id).join(', ')}.`);
  return m;
}
