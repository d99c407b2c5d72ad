/**
 * Attention crops — Fu, Zheng, Mei, "Look Closer to See Better: Recurrent Attention Convolutional Neural
 * Network for Fine-grained Image Recognition", CVPR 2017, §3.2 eq. (2)–(6): per class, three scales, each
 * zooming into the square [tx ± tl, ty ± tl] proposed on the previous one, with tl ≥ L/3. The algorithm is in
 * `attention/attention-crops.ts`; this file is the registry entry and its options.
 */
import { LookCloserError } from '../errors';
import { Explainer, topK } from '../explainer';
import { AttentionCrops, ScaleMapper, attentionCrops, inputSpec } from '../attention/attention-crops';
import { explanationHeatmap } from './explanation-heatmap';
import { boxRect } from '../attention/box';
import { float32 } from '../tensor';
import type { Explanation, Method, ScoreTarget } from './method';
import { MethodOption, OptionValues, numberOption, stringOption } from './options';

/** The settings of the attention-crop method. */
export const ATTENTION_CROP_OPTIONS: readonly MethodOption[] = [
  { name: 'map-method', kind: 'string', default: 'gradcam', description: 'Method whose map proposes each box (any method id).' },
  { name: 'scales', kind: 'int', default: 3, min: 1, max: 6, description: 'Number of scales, the input included.' },
  { name: 'threshold', kind: 'number', default: 0.5, min: 0.01, max: 1, description: 'A map value (normalised 0..1) at or above this is strongly attended.' },
  { name: 'min-half-side', kind: 'number', default: 1 / 3, min: 0.05, max: 0.5, description: 'Smallest half side tl of a box as a fraction of its parent (RA-CNN: 1/3).' },
  { name: 'proposal', kind: 'string', description: "Model output holding the model's own box (tx, ty, tl), used instead of a map." },
  { name: 'proposal-units', kind: 'string', default: 'pixels', choices: ['pixels', 'fraction'], description: 'Units of the proposal output: input pixels or fractions of the side.' },
];

/** A box's inside as a 0/1 map (what the explanation shows when the model proposes its own boxes). */
function boxMask(c: AttentionCrops, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const b = c.scales[0].box;
  if (!b) return out.fill(1);
  const r = boxRect(b);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (x + 0.5 >= r.x && x + 0.5 < r.x + r.width && y + 0.5 >= r.y && y + 0.5 < r.y + r.height) out[y * width + x] = 1;
  return out;
}

/** A registry method as the map of each scale: its explanation of the class, as a heat map. */
export function methodMapper(explainer: Explainer, method: Method, settings: { layer?: string; target: ScoreTarget; options?: OptionValues }): ScaleMapper {
  return {
    method: method.id,
    layer: settings.layer,
    async map(input, classIndex, signal) {
      const r = await method.run(explainer, { input, classes: [classIndex], layer: settings.layer, target: settings.target, options: settings.options, signal });
      const e = r.explanations.find((x) => x.classIndex === classIndex) ?? r.explanations[0];
      if (!e) throw new LookCloserError('runtime', `Internal: ${method.title} returned no map for class ${classIndex}.`);
      return { heatmap: explanationHeatmap(e), forward: r.forward };
    },
  };
}

/** Builds the attention-crop method; `lookup` resolves the map method's id (the registry passes its own lookup). */
export function attentionCropMethod(lookup: (id: string) => Method): Method {
  const self: Method = {
    id: 'attention-crop',
    title: 'Attention crops (RA-CNN)',
    citation: 'Fu et al., Look Closer to See Better (RA-CNN), CVPR 2017, §3.2 eq. 2–6',
    family: 'cam',
    options: ATTENTION_CROP_OPTIONS,
    async run(explainer, request) {
      const o = request.options;
      const title = 'Attention crops';
      const mapId = stringOption(ATTENTION_CROP_OPTIONS, o, 'map-method', title) ?? 'gradcam';
      if (mapId === self.id) throw new LookCloserError('bad-argument', 'Attention crops cannot use their own map; pick another --map-method (e.g. gradcam, cam, occlusion).');
      const proposalOutput = stringOption(ATTENTION_CROP_OPTIONS, o, 'proposal', title);
      const units = (stringOption(ATTENTION_CROP_OPTIONS, o, 'proposal-units', title) ?? 'pixels') as 'pixels' | 'fraction';
      const mapMethod = proposalOutput ? undefined : lookup(mapId);
      const layer = mapMethod?.family === 'cam' ? (request.layer ?? (await explainer.defaultLayer())) : undefined;
      const mapper = mapMethod && methodMapper(explainer, mapMethod, { layer, target: request.target, options: o });
      const first = request.forward ?? (await explainer.forward(request.input));
      const classes = request.classes ?? topK(first.probs, request.top ?? 1);
      const { width, height } = inputSpec(explainer);
      const explanations: Explanation[] = [];
      let forward = first;
      for (let i = 0; i < classes.length; i++) {
        const crops = await attentionCrops(explainer, request.input, {
          classIndex: classes[i],
          mapper,
          scales: numberOption(ATTENTION_CROP_OPTIONS, o, 'scales', title),
          threshold: numberOption(ATTENTION_CROP_OPTIONS, o, 'threshold', title),
          minHalfSide: numberOption(ATTENTION_CROP_OPTIONS, o, 'min-half-side', title),
          proposal: proposalOutput ? { output: proposalOutput, units } : undefined,
          source: request.source,
          signal: request.signal,
          onProgress: request.onProgress && ((done, total) => request.onProgress!(i * total + done, classes.length * total)),
        });
        forward = i === 0 ? crops.scales[0].forward : forward;
        const map = crops.scales[0].map ?? boxMask(crops, width, height);
        explanations.push({
          method: self.id, classIndex: classes[i], layer,
          raw: float32(map, [height, width]),
          display: { kind: 'heatmap', map, width, height },
          payload: { kind: 'attention-crops', crops },
        });
      }
      return { explanations, forward };
    },
  };
  return self;
}
