/**
 * Which registered methods can run on a model, and why not where they cannot — listed by `look-closer layers`,
 * in `--json`, and never a silent fallback: a method that does not apply fails with this reason when asked for.
 */
import { findAttentionLayers } from '../attention-maps/attention-layers';
import { LookCloserError } from '../errors';
import { findLinearHead } from '../methods/cam';
import type { Method } from '../methods/method';
import { METHODS } from '../methods/registry';
import type { Classifier } from './classifier';

/** One method's availability on a model. */
export interface MethodAvailability {
  readonly method: string;
  readonly title: string;
  readonly available: boolean;
  /** Why it cannot run (absent when it can). */
  readonly reason?: string;
}

/** What a method needs from the model that the graph can tell without running it. */
async function reasonFor(c: Classifier, m: Method, layer: string | undefined): Promise<string | undefined> {
  const own = m.unavailableOn?.(c.explainer);
  if (own) return own;
  if (m.family === 'attention') {
    const found = findAttentionLayers(c.explainer.graph, await c.explainer.shapes(), c.explainer.inputSize);
    const self = found.filter((l) => l.queries === l.keys);
    if (!self.length) return `${c.name} has no self-attention layer (a Softmax over keys between MatMul(Q, Kᵀ) and MatMul(·, V)); ${m.title} explains transformers.`;
    const grouped = self.find((l) => l.layout === 'grouped');
    return grouped ? `${m.title} cannot place the tokens of attention layer '${grouped.node}' (${grouped.groups} groups, as MobileViT's patch pixels or MaxViT's partitions) on the image; it maps global attention and Swin's windows.` : undefined;
  }
  if (m.family !== 'cam') return undefined;
  if (!layer) return `${c.name} has no 4-D feature map with a spatial extent to explain; use an input-attribution method (saliency, guided backprop, Integrated Gradients).`;
  if (m.id !== 'cam') return undefined;
  const shape = (await c.layers()).find((l) => l.name === layer)?.shape;
  try {
    if (shape) findLinearHead(c.explainer.graph, layer, c.explainer.scores.logits, shape);
    return undefined;
  } catch (e) {
    if (e instanceof LookCloserError) return e.message;
    throw e;
  }
}

/** Every registered method with whether it can run on this model at its default layer. */
export async function methodAvailability(c: Classifier, methods: readonly Method[] = METHODS): Promise<MethodAvailability[]> {
  const layer = await c.defaultLayer();
  const out: MethodAvailability[] = [];
  for (const m of methods) {
    const reason = await reasonFor(c, m, layer);
    out.push({ method: m.id, title: m.title, available: !reason, ...(reason ? { reason } : {}) });
  }
  return out;
}
