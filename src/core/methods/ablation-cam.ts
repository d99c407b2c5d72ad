/**
 * Ablation-CAM — Desai & Ramaswamy, "Ablation-CAM: Visual Explanations for Deep Convolutional Network via
 * Gradient-free Localization", WACV 2020, §3: channel k's weight is the relative drop of the class score when the
 * channel is set to zero, w_k^c = (y^c − y^c_k) / y^c, and L^c = ReLU(Σ_k w_k^c A^k). The model runs from the
 * layer onward on the ablated activations, one channel per batch row, as pytorch-grad-cam's AblationCAM
 * (which agrees where the layer's minimum is 0; on layers with negative values it writes min − 1e7 instead of 0).
 */
import { throwIfCancelled } from './options';
import { BATCH_SIZE_OPTION, type CamReruns, camMethod, rerunBatchSize } from './cam-template';
import { fromChannelsFirst } from '../token-layout';
import { LayerTail } from './layer-tail';

/** Ablation-CAM's channel weights: (y − y_k) / y per class, y_k the score with channel k zeroed. */
async function ablationCamWeights(ctx: CamReruns): Promise<Float32Array[]> {
  const { explainer, activations: a, classes, scores, target } = ctx;
  const [, c, h, w] = a.dims;
  const hw = h * w;
  const per = c * hw;
  const batch = rerunBatchSize(ctx, 'Ablation-CAM', 32);
  const weights = classes.map(() => new Float32Array(c));
  const tail = await LayerTail.open(explainer, ctx.layer, ctx.layerActivations.dims);
  try {
    for (let start = 0; start < c; start += batch) {
      throwIfCancelled(ctx.signal, 'Ablation-CAM');
      const n = Math.min(batch, c - start);
      const data = new Float32Array(n * per);
      for (let j = 0; j < n; j++) {
        data.set(a.data, j * per);
        data.fill(0, j * per + (start + j) * hw, j * per + (start + j + 1) * hw);
      }
      const edited = fromChannelsFirst(data, n, ctx.layout, ctx.layerActivations);
      // A token layer's channel is ablated in its prefix tokens too (pytorch-grad-cam's AblationLayerVit).
      if (ctx.layout.kind === 'tokens') {
        const [, tokens, channels] = ctx.layerActivations.dims;
        for (let j = 0; j < n; j++) for (let t = 0; t < ctx.layout.prefix; t++) edited[(j * tokens + t) * channels + start + j] = 0;
      }
      const rows = await tail.scores(edited, n, ctx.layerActivations.dims, ctx.input, classes, target);
      rows.forEach((r, j) => classes.forEach((_, i) => (weights[i][start + j] = (scores[i] - r[i]) / scores[i])));
      ctx.onProgress?.(start + n, c);
    }
  } finally {
    await tail.release();
  }
  return weights;
}

/** Ablation-CAM: channel weights from the score drop when each channel of the layer is zeroed. */
export const ablationCam = camMethod({
  id: 'ablationcam',
  title: 'Ablation-CAM',
  citation: 'Desai & Ramaswamy, Ablation-CAM, WACV 2020, §3',
  needs: 'reruns',
  options: [{ ...BATCH_SIZE_OPTION, default: 32, description: 'Ablated copies of the layer per run when the model takes a batch.' }],
  weights: ablationCamWeights,
});
