/**
 * Layer-wise relevance propagation — Bach, Binder, Montavon, Klauschen, Müller, Samek, "On Pixel-Wise Explanations
 * for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation", PLoS ONE 2015 (the ε- and αβ-rules);
 * Montavon, Binder, Lapuschkin, Samek, Müller, "Layer-Wise Relevance Propagation: An Overview", 2019, §10.2.1 (the
 * rules) and §10.2.2 (the four-step implementation, step 3 as a gradient). The composites follow Zennit's:
 * 'epsilon-plus' (the default, Zennit's EpsilonPlus) is z⁺ (α = 1, β = 0) on convolutions and ε on dense layers.
 * 'epsilon-alpha2-beta1' (EpsilonAlpha2Beta1) is αβ (α = 2, β = 1; --lrp-alpha/--lrp-beta, α − β = 1) on convolutions and ε on
 * dense layers; 'epsilon-plus-flat' (EpsilonPlusFlat) and 'epsilon-alpha2-beta1-flat' (EpsilonAlpha2Beta1Flat) use the flat
 * rule (Lapuschkin et al., Nature Communications 2019) on the first layer; 'epsilon-gamma-box' (EpsilonGammaBox) is the
 * zB-rule (Montavon et al., Pattern Recognition 2017, deep Taylor decomposition) on the first convolution with bounds
 * --lrp-low/--lrp-high (default: the per-channel minimum and maximum of the preprocessed input), γ (--lrp-gamma, 0.25)
 * on the other convolutions and ε on dense layers.
 * The rules are those of src/core/grad/rules/lrp.ts, run by the backward-graph engine in one pass for every class;
 * the relevance of the input is R = x ⊙ c (or the first layer's R_x itself), starting from R = z_c at the explained
 * logit, so Σ R = z_c when no layer has a bias (biases keep their share) and ε → 0 (z⁺ also drops units without a
 * positive contribution).
 */
import type { LrpComposite, LrpMode } from '../grad/rule';
import { LRP_COMPOSITES, lrpFirstLayers, lrpObstacle } from '../grad/rules/lrp';
import { LookCloserError } from '../errors';
import { float32 } from '../tensor';
import { channelSumMap, toChw } from './attribution-maps';
import { perClass } from './input-gradient';
import type { Explanation, Method } from './method';
import { type MethodOption, numberOption, stringOption } from './options';
import { checkTarget, targetGradients } from './score-target';

/** The settings of LRP. */
export const LRP_OPTIONS: readonly MethodOption[] = [
  {
    name: 'composite', kind: 'string', default: 'epsilon-plus', choices: Object.keys(LRP_COMPOSITES),
    description: 'Rules per layer kind, as Zennit\'s composites: epsilon-plus is z⁺ on convolutions and ε on dense layers (EpsilonPlus); epsilon is ε on both; zplus is z⁺ (αβ with α = 1, β = 0) on both; ' +
      'epsilon-alpha2-beta1 is αβ on convolutions (EpsilonAlpha2Beta1); epsilon-plus-flat and epsilon-alpha2-beta1-flat add the flat rule on the first layer (EpsilonPlusFlat, EpsilonAlpha2Beta1Flat); ' +
      'epsilon-gamma-box is zB on the first convolution and γ on the others (EpsilonGammaBox).',
  },
  { name: 'epsilon', kind: 'number', min: 0, max: 1e6, description: 'The ε of the ε-rule, added to each pre-activation with its sign (default 1e-6, Zennit\'s).' },
  { name: 'lrp-alpha', kind: 'number', min: 1, max: 1e6, description: 'The α of the αβ-rule in the epsilon-alpha2-beta1 composites (default 2; α − β must be 1).' },
  { name: 'lrp-beta', kind: 'number', min: 0, max: 1e6, description: 'The β of the αβ-rule in the epsilon-alpha2-beta1 composites (default α − 1).' },
  { name: 'lrp-gamma', kind: 'number', min: 0, max: 1e6, description: 'The γ of the γ-rule in epsilon-gamma-box (default 0.25, Zennit\'s).' },
  { name: 'lrp-low', kind: 'string', description: 'The lowest input value of the zB-rule in epsilon-gamma-box, one number or one per channel (comma-separated; default: each channel\'s minimum over the preprocessed input).' },
  { name: 'lrp-high', kind: 'string', description: 'The highest input value of the zB-rule in epsilon-gamma-box, one number or one per channel (comma-separated; default: each channel\'s maximum over the preprocessed input).' },
];

/** Zennit's default ε. */
const DEFAULT_EPSILON = 1e-6;

/** Throws when a rule parameter is given to a composite whose rules do not read it. */
function onlyWith(options: Parameters<typeof numberOption>[1], names: readonly string[], composite: LrpComposite, uses: boolean, which: string): void {
  for (const name of names) {
    if (!uses && options?.[name] !== undefined && options[name] !== '') {
      throw new LookCloserError('bad-argument', `LRP option '${name}' applies to ${which} only; composite '${composite}' does not use it.`);
    }
  }
}

/** zB bounds from an option: one number, or comma-separated numbers (one per channel); undefined when not given. */
function bounds(options: Parameters<typeof numberOption>[1], name: string): number[] | undefined {
  const v = options?.[name];
  if (v === undefined || v === '') return undefined;
  const values = String(v).split(',').map((t) => t.trim());
  const nums = values.map(Number);
  if (values.some((t) => t === '') || nums.some((n) => !Number.isFinite(n) || Math.abs(n) > 1e6)) {
    throw new LookCloserError('bad-argument', `LRP option '${name}' must be a number or comma-separated numbers (one per channel), got '${String(v)}'.`);
  }
  return nums;
}

/** The LRP rules a request asks for (existing composites keep the mode, and so the backward graph, they always had). */
export function lrpMode(options: Parameters<typeof numberOption>[1]): LrpMode {
  const composite = (stringOption(LRP_OPTIONS, options, 'composite', 'LRP') ?? 'epsilon-plus') as LrpComposite;
  const epsilon = numberOption(LRP_OPTIONS, options, 'epsilon', 'LRP') ?? DEFAULT_EPSILON;
  const rules = LRP_COMPOSITES[composite];
  const ab = rules.conv === 'alpha-beta';
  const box = rules.first === 'zbox';
  onlyWith(options, ['lrp-alpha', 'lrp-beta'], composite, ab, 'the epsilon-alpha2-beta1 composites');
  onlyWith(options, ['lrp-gamma', 'lrp-low', 'lrp-high'], composite, box, 'epsilon-gamma-box');
  if (ab) {
    const a = numberOption(LRP_OPTIONS, options, 'lrp-alpha', 'LRP');
    const b = numberOption(LRP_OPTIONS, options, 'lrp-beta', 'LRP');
    const alpha = a ?? (b !== undefined ? b + 1 : 2);
    const beta = b ?? alpha - 1;
    if (Math.abs(alpha - beta - 1) > 1e-12) throw new LookCloserError('bad-argument', `LRP's αβ-rule needs α − β = 1 (Zennit's AlphaBeta), got α = ${alpha}, β = ${beta}.`);
    return { kind: 'lrp', composite, epsilon, alpha, beta };
  }
  if (box) {
    const low = bounds(options, 'lrp-low');
    const high = bounds(options, 'lrp-high');
    if (low && high) {
      if (low.length !== high.length && low.length > 1 && high.length > 1) throw new LookCloserError('bad-argument', `LRP's zB-rule got ${low.length} values for --lrp-low and ${high.length} for --lrp-high.`);
      const n = Math.max(low.length, high.length);
      for (let i = 0; i < n; i++) {
        const [l, h] = [low[low.length > 1 ? i : 0], high[high.length > 1 ? i : 0]];
        if (l >= h) throw new LookCloserError('bad-argument', `LRP's zB-rule needs --lrp-low below --lrp-high, got ${l} and ${h}${n > 1 ? ` for channel ${i}` : ''}.`);
      }
    }
    const gamma = numberOption(LRP_OPTIONS, options, 'lrp-gamma', 'LRP') ?? 0.25;
    return { kind: 'lrp', composite, epsilon, gamma, ...(low !== undefined ? { low } : {}), ...(high !== undefined ? { high } : {}) };
  }
  return { kind: 'lrp', composite, epsilon };
}

/** LRP: relevance of the explained logit redistributed layer by layer down to the pixels. */
export const lrp: Method = {
  id: 'lrp',
  title: 'LRP',
  citation: 'Bach et al., PLoS ONE 2015 (ε- and αβ-rules); Montavon et al., LRP: An Overview, 2019, §10.2.1–10.2.2 (γ-rule); Montavon et al., Pattern Recognition 2017 (zB-rule); Lapuschkin et al., Nature Communications 2019 (flat rule); composites as Zennit\'s',
  family: 'input',
  options: LRP_OPTIONS,
  // Relevance starts from a logit; LRP is linear in that seed, so a contrast of two logits works too.
  targets: ['logit', 'contrast'],
  unavailableOn: (explainer) => lrpObstacle(explainer.graph, explainer.input.name, explainer.scores.logits),
  async run(explainer, request) {
    checkTarget(lrp, request.target, 'relevance is conserved from a logit; a softmax or sigmoid is not a sum of contributions');
    const input = explainer.input.name;
    let mode = lrpMode(request.options);
    // A first-layer rule returns the relevance itself; the others the relevance per unit of input, c = R / x.
    const firstRule = !!LRP_COMPOSITES[mode.composite].first;
    if (firstRule) mode = { ...mode, first: lrpFirstLayers(explainer.graph, input, mode.composite).map((n) => n.output[0]) };
    const r = await targetGradients(explainer, request.input, {
      targets: [input], mode, method: 'LRP', ...(request.classes ? { classes: request.classes } : { top: request.top ?? 1 }),
    }, request.target);
    const x = toChw(explainer, request.input);
    const explanations = perClass(explainer, r.grads[input]).map((c, i): Explanation => {
      const raw = firstRule ? c : float32(c.data.map((v, j) => v * x.data[j]), c.dims);
      return { method: 'lrp', classIndex: r.classes[i], raw, display: { kind: 'heatmap', map: channelSumMap(raw), width: c.dims[2], height: c.dims[1] } };
    });
    return { explanations, forward: r.forward };
  },
};
