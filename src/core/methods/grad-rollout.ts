/**
 * Gradient-weighted attention rollout — Chefer, Gur & Wolf, "Generic Attention-model Explainability for
 * Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021, eqs. 5–6 (the gradient weighting of
 * "Transformer Interpretability Beyond Attention Visualization", CVPR 2021, eq. 13, without LRP):
 * Ā = E_h[(∇A ⊙ A)⁺], R ← R + Ā·R from R = I, layer by layer; the map is the query token's row of R over the
 * patch tokens (the class token by default; the mean over all rows for models without one). ∇A is the gradient
 * of the explained score w.r.t. each layer's attention probabilities, from the backward graph.
 */
import { chainRow, gradientStep } from '../attention-maps/rollout';
import { attentionExplanation, QUERY_TOKEN_OPTION, queryOf, selfAttentionLayers } from '../attention-maps/attention-method';
import type { Method } from './method';
import { ALL_TARGETS, targetGradients } from './score-target';

/** Gradient-weighted rollout as a registry method: the raw result is the row on the patch grid [gh, gw], per class. */
export const gradRollout: Method = {
  id: 'grad-rollout',
  title: 'Gradient-weighted attention rollout',
  citation: 'Chefer, Gur & Wolf, Generic Attention-model Explainability, ICCV 2021, eqs. 5–6',
  family: 'attention',
  options: [QUERY_TOKEN_OPTION],
  targets: ALL_TARGETS,
  async run(explainer, request) {
    const layers = await selfAttentionLayers(explainer, 'Grad-rollout');
    const query = queryOf(request.options, layers[layers.length - 1], 'Grad-rollout');
    const targets = layers.map((l) => l.tensor);
    const which = request.classes ? { classes: request.classes } : { top: request.top ?? 1 };
    const r = await targetGradients(explainer, request.input, { targets, mode: 'plain', method: 'Grad-rollout', ...which }, request.target);
    const explanations = r.classes.map((c, k) => {
      const steps = layers.map((l) => {
        const probs = r.forward.tensors[l.tensor].data;
        const n = probs.length;
        return gradientStep(l, probs, r.grads[l.tensor].data.subarray(k * n, (k + 1) * n));
      });
      return attentionExplanation(explainer, 'grad-rollout', c, chainRow(steps, query), layers[0]);
    });
    return { explanations, forward: r.forward };
  },
};
