/**
 * What the attention-map methods share: the model's chainable attention layers, the query token option, and
 * turning a row over the first layer's tokens into an explanation (raw map on the patch grid, display map
 * upsampled to the input and min-max normalised as the CAM family's).
 */
import { LookCloserError } from '../errors';
import { type Explainer, type ForwardResult } from '../explainer';
import { displayMap } from '../methods/cam-template';
import type { Explanation } from '../methods/method';
import { type MethodOption, numberOption, type OptionValues } from '../methods/options';
import { float32 } from '../tensor';
import { type AttentionLayer, requireAttentionLayers } from './attention-layers';
import { gridPart } from './rollout';

/** The query-token setting: whose row of the rollout is shown. */
export const QUERY_TOKEN_OPTION: MethodOption = {
  name: 'query-token', kind: 'int', min: 0, max: 1000000,
  description: 'Token whose row is shown (default: the class token 0 when the model has prefix tokens, else the mean over all tokens).',
};

/** The model's self-attention layers (queries = keys), in graph order; throws when it has none. */
export async function selfAttentionLayers(explainer: Explainer, method: string): Promise<AttentionLayer[]> {
  const all = requireAttentionLayers(explainer.graph, await explainer.shapes(), explainer.inputSize, explainer.name, method);
  const self = all.filter((l) => l.queries === l.keys);
  if (!self.length) throw new LookCloserError('method-not-applicable', `${explainer.name} has no self-attention layer (every attention layer has fewer queries than keys); ${method} chains self-attention.`);
  const grouped = self.find((l) => l.layout === 'grouped');
  if (grouped) {
    throw new LookCloserError('method-not-applicable',
      `${method} cannot place the tokens of attention layer '${grouped.node}' ([${grouped.shape.join(', ')}], ${grouped.groups} groups without a relative position bias, as MobileViT's patch pixels or MaxViT's block and grid partitions) on the image; it maps global attention and Swin's windows.`);
  }
  return self;
}

/** The query of the chain: the option's token, else the class token (0) with prefix tokens, else the mean. */
export function queryOf(options: OptionValues | undefined, last: AttentionLayer, method: string): number | 'mean' {
  const q = numberOption([QUERY_TOKEN_OPTION], options, 'query-token', method);
  return q ?? (last.prefix > 0 ? 0 : 'mean');
}

/** Checks explicit class indices against the forward pass's class count. */
export function checkClasses(classes: readonly number[], forward: ForwardResult): void {
  const k = forward.logits.length;
  for (const c of classes) if (!Number.isInteger(c) || c < 0 || c >= k) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${k} classes (0–${k - 1}).`);
}

/** An explanation from a row over the first layer's tokens: raw [gh, gw], display at the input size. */
export function attentionExplanation(explainer: Explainer, method: string, classIndex: number, row: Float64Array, first: AttentionLayer, layer?: string): Explanation {
  const { height: gh, width: gw } = first.grid;
  const raw = gridPart(row, first);
  const { height: H, width: W } = explainer.inputSize;
  return {
    method, classIndex, ...(layer ? { layer } : {}), raw: float32(raw, [gh, gw]),
    display: { kind: 'heatmap', map: displayMap(raw, gh, gw, H, W), width: W, height: H },
  };
}
