/**
 * ReciproCAM — Byun & Lee, "ReciproCAM: Lightweight Gradient-free Class Activation Map for Post-hoc Explanations",
 * CVPR Workshops 2024 (arXiv:2209.14074, 2022), §3: for each position (i, j) of the layer, the feature map with every
 * other position set to zero, F ⊙ M^(i,j), runs through the rest of the network, and the class score it gets is the
 * map's value there, L^c(i, j) = y^c(F ⊙ M^(i,j)). The binary mask of the authors' implementation
 * (sybyun/ReciproCAM, is_gaussian = False); the score is the explained one (the paper's softmax with
 * --target softmax). One batch row per position.
 */
import { throwIfCancelled } from './options';
import { BATCH_SIZE_OPTION, type CamReruns, camMethod, rerunBatchSize } from './cam-template';
import { fromChannelsFirst } from '../token-layout';
import { LayerTail } from './layer-tail';

/** ReciproCAM's map per class: the class score with only one position of the layer kept, at every position. */
async function reciproCamMaps(ctx: CamReruns): Promise<Float32Array[]> {
  const { explainer, activations: a, classes, target } = ctx;
  const [, c, h, w] = a.dims;
  const hw = h * w;
  const per = c * hw;
  const batch = rerunBatchSize(ctx, 'ReciproCAM', 32);
  const maps = classes.map(() => new Float32Array(hw));
  const tail = await LayerTail.open(explainer, ctx.layer, ctx.layerActivations.dims);
  try {
    for (let start = 0; start < hw; start += batch) {
      throwIfCancelled(ctx.signal, 'ReciproCAM');
      const n = Math.min(batch, hw - start);
      const data = new Float32Array(n * per);
      for (let j = 0; j < n; j++) {
        const p = start + j;
        for (let k = 0; k < c; k++) data[j * per + k * hw + p] = a.data[k * hw + p];
      }
      const rows = await tail.scores(fromChannelsFirst(data, n, ctx.layout, ctx.layerActivations), n, ctx.layerActivations.dims, ctx.input, classes, target);
      rows.forEach((r, j) => classes.forEach((_, i) => (maps[i][start + j] = r[i])));
      ctx.onProgress?.(start + n, hw);
    }
  } finally {
    await tail.release();
  }
  return maps;
}

/** ReciproCAM: the class score with the layer masked to one position, for every position. */
export const reciproCam = camMethod({
  id: 'reciprocam',
  title: 'ReciproCAM',
  citation: 'Byun & Lee, ReciproCAM, CVPR Workshops 2024 (arXiv:2209.14074), §3',
  needs: 'reruns',
  options: [{ ...BATCH_SIZE_OPTION, default: 32, description: 'Masked copies of the layer per run when the model takes a batch.' }],
  map: reciproCamMaps,
});
