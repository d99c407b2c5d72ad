/**
 * Layer-wise relevance propagation — Bach, Binder, Montavon, Klauschen, Müller, Samek, "On Pixel-Wise Explanations
 * for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation", PLoS ONE 2015 (the ε- and αβ-rules);
 * Montavon, Binder, Lapuschkin, Samek, Müller, "Layer-Wise Relevance Propagation: An Overview", 2019, §10.2.1 (the
 * rules) and §10.2.2 (the four-step implementation, step 3 as a gradient). The composites follow Zennit's:
 * 'epsilon-plus' (the default, Zennit's EpsilonPlus) is z⁺ (α = 1, β = 0) on convolutions and ε on dense layers.
 * The rules are those of src/core/grad/rules/lrp.ts, run by the backward-graph engine in one pass for every class;
 * the relevance of the input is R = x ⊙ c, starting from R = z_c at the explained logit, so Σ R = z_c when no
 * layer has a bias (biases keep their share) and ε → 0 (z⁺ also drops units without a positive contribution).
 */
import type { LrpComposite, LrpMode } from '../grad/rule';
import { lrpObstacle } from '../grad/rules/lrp';
import { float32 } from '../tensor';
import { channelSumMap, toChw } from './attribution-maps';
import { perClass } from './input-gradient';
import type { Explanation, Method } from './method';
import { type MethodOption, numberOption, stringOption } from './options';
import { checkTarget, targetGradients } from './score-target';

/** The settings of LRP. */
export const LRP_OPTIONS: readonly MethodOption[] = [
  {
    name: 'composite', kind: 'string', default: 'epsilon-plus', choices: ['epsilon-plus', 'epsilon', 'zplus'],
    description: 'Rules per layer kind: epsilon-plus is z⁺ on convolutions and ε on dense layers (Zennit\'s EpsilonPlus); epsilon is ε on both; zplus is z⁺ (αβ with α = 1, β = 0) on both.',
  },
  { name: 'epsilon', kind: 'number', min: 0, max: 1e6, description: 'The ε of the ε-rule, added to each pre-activation with its sign (default 1e-6, Zennit\'s).' },
];

/** Zennit's default ε. */
const DEFAULT_EPSILON = 1e-6;

/** The LRP rules a request asks for. */
export function lrpMode(options: Parameters<typeof numberOption>[1]): LrpMode {
  const composite = (stringOption(LRP_OPTIONS, options, 'composite', 'LRP') ?? 'epsilon-plus') as LrpComposite;
  const epsilon = numberOption(LRP_OPTIONS, options, 'epsilon', 'LRP') ?? DEFAULT_EPSILON;
  return { kind: 'lrp', composite, epsilon };
}

/** LRP: relevance of the explained logit redistributed layer by layer down to the pixels. */
export const lrp: Method = {
  id: 'lrp',
  title: 'LRP',
  citation: 'Bach et al., PLoS ONE 2015 (ε- and αβ-rules); Montavon et al., LRP: An Overview, 2019, §10.2.1–10.2.2; composites as Zennit\'s',
  family: 'input',
  options: LRP_OPTIONS,
  // Relevance starts from a logit; LRP is linear in that seed, so a contrast of two logits works too.
  targets: ['logit', 'contrast'],
  unavailableOn: (explainer) => lrpObstacle(explainer.graph, explainer.input.name, explainer.scores.logits),
  async run(explainer, request) {
    checkTarget(lrp, request.target, 'relevance is conserved from a logit; a softmax or sigmoid is not a sum of contributions');
    const mode = lrpMode(request.options);
    const input = explainer.input.name;
    const r = await targetGradients(explainer, request.input, {
      targets: [input], mode, method: 'LRP', ...(request.classes ? { classes: request.classes } : { top: request.top ?? 1 }),
    }, request.target);
    const x = toChw(explainer, request.input);
    const explanations = perClass(explainer, r.grads[input]).map((c, i): Explanation => {
      const raw = float32(c.data.map((v, j) => v * x.data[j]), c.dims);
      return { method: 'lrp', classIndex: r.classes[i], raw, display: { kind: 'heatmap', map: channelSumMap(raw), width: c.dims[2], height: c.dims[1] } };
    });
    return { explanations, forward: r.forward };
  },
};
