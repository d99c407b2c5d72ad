/**
 * Attention rollout — Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020, §3:
 * Ã(l_i) = Â(l_i)·Ã(l_{i−1}) with Â = 0.5·A + 0.5·I (the residual connection), here Â = (Ā + I) / rowsum so that
 * the rows still sum to one when the heads are fused by max or min (Ā the heads' mean, max or min, as in
 * jacobgil/vit-explain). The map is the query token's row of Ã(l_L) over the patch tokens (the class token
 * by default; the mean over all rows for models without one, e.g. Swin, whose windowed layers are chained on
 * the image grid: src/core/attention-maps/rollout.ts). It does not depend on the class: every explained class
 * gets the same map.
 */
import { chainRow, type HeadFusion, rolloutStep } from '../attention-maps/rollout';
import { attentionExplanation, checkClasses, QUERY_TOKEN_OPTION, queryOf, selfAttentionLayers } from '../attention-maps/attention-method';
import { topK } from '../explainer';
import type { Method } from './method';
import { type MethodOption, stringOption } from './options';
import { ALL_TARGETS } from './score-target';

/** The settings of attention rollout. */
export const ATTENTION_ROLLOUT_OPTIONS: readonly MethodOption[] = [
  { name: 'head-fusion', kind: 'string', default: 'mean', choices: ['mean', 'max', 'min'], description: 'How the heads of a layer are combined before rollout.' },
  QUERY_TOKEN_OPTION,
];

/** Attention rollout as a registry method: the raw result is the row on the patch grid [gh, gw]. */
export const attentionRollout: Method = {
  id: 'attention-rollout',
  title: 'Attention rollout',
  citation: 'Abnar & Zuidema, Quantifying Attention Flow in Transformers, ACL 2020, §3',
  family: 'attention',
  options: ATTENTION_ROLLOUT_OPTIONS,
  targets: ALL_TARGETS,
  async run(explainer, request) {
    const how = (stringOption(ATTENTION_ROLLOUT_OPTIONS, request.options, 'head-fusion', 'Attention rollout') ?? 'mean') as HeadFusion;
    const layers = await selfAttentionLayers(explainer, 'Attention rollout');
    const query = queryOf(request.options, layers[layers.length - 1], 'Attention rollout');
    const forward = await explainer.forward(request.input, layers.map((l) => l.tensor));
    const classes = request.classes ?? topK(forward.probs, request.top ?? 1);
    checkClasses(classes, forward);
    const row = chainRow(layers.map((l) => rolloutStep(l, forward.tensors[l.tensor].data, how)), query);
    return { explanations: classes.map((c) => attentionExplanation(explainer, 'attention-rollout', c, row, layers[0])), forward };
  },
};
