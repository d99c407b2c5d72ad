/**
 * Guided Grad-CAM — Selvaraju et al., ICCV 2017, §3.1: the pointwise product of guided backpropagation and
 * the Grad-CAM map upsampled (bilinearly) to the input resolution.
 */
import { LookCloserError } from '../errors';
import { resizeBilinear } from '../preprocess/resize';
import { float32 } from '../tensor';
import { gradCam } from './grad-cam';
import { inputGradient, perClass } from './input-gradient';
import type { Explanation, Method } from './method';

/** Guided Grad-CAM: guided backprop × upsampled Grad-CAM, per class. */
export const guidedGradCam: Method = {
  id: 'guided-gradcam',
  title: 'Guided Grad-CAM',
  citation: 'Selvaraju et al., Grad-CAM, ICCV 2017, §3.1',
  family: 'cam',
  // A sigmoid scales both factors by a positive number per class; a contrast would pass through guided backprop's sign-dependent rule.
  targets: ['logit', 'softmax', 'sigmoid'],
  async run(explainer, request) {
    const cams = await gradCam.run(explainer, request);
    const classes = cams.explanations.map((e) => e.classIndex);
    const guided = await inputGradient(explainer, { ...request, classes }, 'guided', 'Guided Grad-CAM');
    const grads = perClass(explainer, guided.grads[explainer.input.name]);
    const explanations = cams.explanations.map((cam, i): Explanation => {
      const g = grads[i];
      const [c, h, w] = g.dims;
      if (cam.display.kind !== 'heatmap') throw new LookCloserError('runtime', 'Internal: Grad-CAM returned no heat map');
      const [mh, mw] = cam.raw.dims;
      // The raw Grad-CAM map upsampled without normalisation, as in the paper.
      const up = resizeBilinear(cam.raw.data, mw, mh, w, h, 1);
      const out = new Float32Array(c * h * w);
      for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[ch * h * w + p] = g.data[ch * h * w + p] * up[p];
      const t = float32(out, [c, h, w]);
      return { method: 'guided-gradcam', classIndex: cam.classIndex, layer: cam.layer, raw: t, display: { kind: 'gradient', grad: t } };
    });
    return { explanations, forward: cams.forward };
  },
};
