/**
 * Layer-wise relevance propagation as modified gradient rules — Bach, Binder, Montavon, Klauschen, Müller, Samek,
 * "On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation", PLoS ONE
 * 2015; Montavon, Binder, Lapuschkin, Samek, Müller, "Layer-Wise Relevance Propagation: An Overview", 2019, §10.2.1
 * (LRP-0, LRP-ε) and §10.2.2 (the implementation in four steps: z, s = R/z, c = ρ(W)ᵀs, R = a ⊙ c).
 *
 * The backward graph carries c = R / x, the relevance per unit of activation ("gradient × input" form): the
 * relevance of a tensor x is R_x = x ⊙ c_x, and the seed c = one-hot(class) at the logits makes the output
 * relevance the explained logit z_c (Montavon et al.: R = f(x); Captum's convention; Zennit starts from 1). A
 * layer z = W·x + b with rule ρ and relevance R_z = z ⊙ c_z (the four steps of §10.2.2):
 *   s = R_z / stab(z_ρ),   c_x = ρ(W)ᵀ·s,   R_x = x ⊙ c_x,
 * where stab(v) = v + ε·(sign v + [v = 0]) as Zennit stabilises. So s = c_z ⊙ z / stab(z_ρ), and c_x is the layer's
 * ordinary gradient rule applied to s with the modified weight:
 *  - ε-rule (LRP-ε): ρ(W) = W, z_ρ = z;
 *  - z⁺-rule (LRP-αβ with α = 1, β = 0; Zennit's ZPlus, which also admits negative inputs): z⁺ = W⁺·x⁺ + W⁻·x⁻ + b⁺
 *    and c_x = W⁺ᵀ·s where x > 0, W⁻ᵀ·s where x < 0.
 *  - αβ-rule (LRP-αβ, Zennit's AlphaBeta, α − β = 1): with z⁺ as above and z⁻ = W⁻·x⁺ + W⁺·x⁻ + b⁻, s± = R_z / stab(z±) and
 *    c_x = α·W⁺ᵀs⁺ − β·W⁻ᵀs⁻ where x > 0, α·W⁻ᵀs⁺ − β·W⁺ᵀs⁻ where x < 0 (z⁺ is α = 1, β = 0);
 *  - γ-rule (Montavon et al. 2019 §10.2.1, generalised to negative inputs as Zennit's Gamma): with W↑ = W + γW⁺,
 *    W↓ = W + γW⁻, where z > 0 the denominator is W↑·x⁺ + W↓·x⁻ + b + γb⁺ and c_x = W↑ᵀs (x > 0), W↓ᵀs (x < 0); where
 *    z < 0 it is W↓·x⁺ + W↑·x⁻ + b + γb⁻ and c_x = W↓ᵀs (x > 0), W↑ᵀs (x < 0); nothing where z = 0;
 * and on the first layers (the Conv, Gemm or MatMul the input reaches through no other) of the composites that
 * have a first-layer rule, which return the relevance R_x itself rather than c_x (it is not a multiple of x):
 *  - zB-rule (Montavon et al. 2017, deep Taylor decomposition; Zennit's ZBox), bounds l ≤ x ≤ h:
 *    s = R_z / stab(W·x − W⁺·l − W⁻·h), R_x = x ⊙ Wᵀs − l ⊙ W⁺ᵀs − h ⊙ W⁻ᵀs;
 *  - flat rule (Lapuschkin et al. 2019; Zennit's Flat): every weight 1 and no bias, s = R_z / stab(1·1),
 *    R_x = 1ᵀs, relevance spread evenly over the receptive field.
 * Every other op keeps its gradient rule, which in this form is the proportional (LRP-0 / Zennit's Norm) rule:
 * average and global pooling, ReduceMean, Add and Concat split relevance in proportion to the contributions, max
 * pooling gives it to the winner, BatchNormalization is a linear layer whose shift, like every bias, keeps its
 * share, and layout ops move it. Relu, LeakyRelu and PRelu pass relevance unchanged (R_x = R_y, Zennit's Pass),
 * which their gradient does; Clip (ReLU6) gets the pass rule c_x = c_y·y/x explicitly. Relevance is conserved
 * (Σ R_input = z_c) when no layer has a bias and ε → 0, except that the z⁺-rule passes nothing on from a unit
 * without a positive contribution (z⁺_j = 0 while z_j < 0: only at convolutions that no ReLU follows).
 *
 * Ops without a rule here (gates that multiply two activations, softmax, normalisation over features, smooth
 * activations) are refused by name: LRP needs a rule per layer, and a gradient would silently break conservation.
 */
import { LookCloserError } from '../../errors';
import { attrFloat, describeNode, Graph, Node } from '../../onnx/graph';
import type { GradContext, GradRule, LrpComposite, LrpMode } from '../rule';
import { GRAD_RULES } from './index';
import { gemm, matmul } from './linear';
import { conv } from './spatial';

/** The stabiliser of the z⁺-rule's denominator (Zennit's default). */
const ZPLUS_STABILIZER = 1e-6;

/** Ops whose gradient rule is their LRP rule (linear maps without weights, layout, winner-take-all, rectifiers). */
const GRADIENT_IS_LRP = new Set([
  'Relu', 'LeakyRelu', 'PRelu',
  'BatchNormalization', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'Resize',
  'Add', 'Sum', 'Sub', 'Neg', 'Concat', 'Split', 'Slice', 'Pad', 'Expand',
  'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout', 'Cast', 'Transpose',
]);

/** Throws the error for a node LRP cannot propagate through, with what to use instead. */
function refuse(ctx: GradContext, why: string): never {
  throw new LookCloserError('unsupported-operator', `${describeNode(ctx.node)}: ${why}. Explain this model with input-x-gradient or integrated-gradients instead.`);
}

/** v + ε·(sign v + [v = 0]): Zennit's stabilize, away from zero with the sign of v (ε at v = 0). */
function stabilize(ctx: GradContext, v: string, eps: number): string {
  const { emit } = ctx;
  const dir = emit.op('Add', [emit.op('Sign', [v]), emit.op('Cast', [emit.op('Equal', [v, emit.scalar(0)])], { to: 1 })]);
  return emit.op('Add', [v, emit.op('Mul', [dir, emit.scalar(eps)])]);
}

/** s = c_z ⊙ z / stab(denominator): the relevance per unit of the layer's (modified) output (0 where ε = 0 meets a zero denominator). */
function scaled(ctx: GradContext, denominator: string, eps: number): string {
  const { emit } = ctx;
  const z = ctx.f32(ctx.node.output[0]);
  let ratio: string;
  if (eps > 0) ratio = emit.op('Div', [z, stabilize(ctx, denominator, eps)]);
  else {
    const zero = emit.op('Equal', [denominator, emit.scalar(0)]);
    ratio = emit.op('Where', [zero, emit.scalar(0), emit.op('Div', [z, emit.op('Where', [zero, emit.scalar(1), denominator])])]);
  }
  return emit.op('Mul', [ctx.gradOut[0]!, ratio]);
}

/** The node's own op (same attributes) on other inputs, batch 1: the forward pass with modified weights. */
function sameOp(ctx: GradContext, inputs: string[]): string {
  const [out] = ctx.graph.addNode(ctx.node.opType, inputs, 1);
  ctx.graph.producer.get(out)!.attribute = [...(ctx.node.attribute ?? [])];
  return out;
}

/** Ops whose output is non-negative when their inputs are, and zero only where the inputs that reach it are zero. */
const KEEPS_SIGN = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Concat', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout', 'Transpose', 'Add', 'Sum']);

/**
 * True when a tensor cannot be negative, read from the graph: a Relu or Clip(lo ≥ 0), or pooling, Add, Concat and
 * layout ops over such tensors (most convolutions read one). Their z⁺-rule needs no negative part.
 */
function nonNegative(ctx: GradContext, tensor: string, depth = 0): boolean {
  const p = ctx.graph.producer.get(tensor);
  if (!p || depth > 32 || (p.domain && p.domain !== 'ai.onnx')) return false;
  if (p.opType === 'Relu') return true;
  if (p.opType === 'Clip') {
    const lo = p.input[1] ? ctx.constant(p.input[1]) : undefined;
    return p.input[1] ? !!lo && Number((lo.data as ArrayLike<number>)[0]) >= 0 : attrFloat(p, 'min', -Infinity) >= 0;
  }
  if (!KEEPS_SIGN.has(p.opType)) return false;
  const data = p.opType === 'Concat' || p.opType === 'Add' || p.opType === 'Sum' ? p.input.filter(Boolean) : [p.input[0]];
  return data.every((t) => nonNegative(ctx, t, depth + 1));
}

/** The rules of a composite: on convolutions, on dense layers (Gemm, MatMul), and on the first layers. */
interface CompositeRules {
  readonly conv: 'epsilon' | 'zplus' | 'alpha-beta' | 'gamma';
  readonly dense: 'epsilon' | 'zplus';
  /** 'flat' on any first layer, 'zbox' on a first convolution (Zennit's first_map). */
  readonly first?: 'flat' | 'zbox';
}

/** Each composite's rules, as Zennit's composites.py assigns them (Convolution → conv, torch.nn.Linear → dense). */
export const LRP_COMPOSITES: Readonly<Record<LrpComposite, CompositeRules>> = {
  'epsilon-plus': { conv: 'zplus', dense: 'epsilon' },
  epsilon: { conv: 'epsilon', dense: 'epsilon' },
  zplus: { conv: 'zplus', dense: 'zplus' },
  'epsilon-alpha2-beta1': { conv: 'alpha-beta', dense: 'epsilon' },
  'epsilon-plus-flat': { conv: 'zplus', dense: 'epsilon', first: 'flat' },
  'epsilon-gamma-box': { conv: 'gamma', dense: 'epsilon', first: 'zbox' },
  'epsilon-alpha2-beta1-flat': { conv: 'alpha-beta', dense: 'epsilon', first: 'flat' },
};

/** The stabiliser of every rule other than ε (Zennit's default). */
const STABILIZER = ZPLUS_STABILIZER;

/** The layer's own op on another data input, weight and bias (none when `bias` is undefined): a forward pass with modified weights. */
function layerWith(ctx: GradContext, w: number, x: string, weight: string, bias: string | undefined): string {
  const ins = [...ctx.node.input];
  ins[0] = x;
  ins[w] = weight;
  return sameOp(ctx, bias === undefined || ctx.node.opType === 'MatMul' ? ins.slice(0, 2) : (ins[2] = bias, ins));
}

/** The layer's bias as float32, or undefined (Conv without B, Gemm without C, MatMul). */
function biasOf(ctx: GradContext): string | undefined {
  const b = ctx.node.opType === 'MatMul' ? undefined : ctx.node.input[2];
  return b ? ctx.f32(b) : undefined;
}

/** x⁺ and x⁻ of the layer's data input (x⁻ undefined when the graph shows x ≥ 0). */
function parts(ctx: GradContext): { x: string; pos: string; neg?: string } {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  if (nonNegative(ctx, ctx.node.input[0])) return { x, pos: x };
  return { x, pos: emit.op('Relu', [x]), neg: emit.op('Min', [x, emit.scalar(0)]) };
}

/**
 * A rule made of terms k, each with weights Pₖ on x⁺ and Nₖ on x⁻ and bias Bₖ: dₖ = Pₖ·x⁺ + Nₖ·x⁻ + Bₖ, sₖ = R_z / stab(dₖ)
 * (masked by mₖ where given), c_x = Σₖ cₖ·Pₖᵀsₖ where x > 0 and Σₖ cₖ·Nₖᵀsₖ where x < 0: the αβ- and γ-rules.
 */
function signedTerms(ctx: GradContext, w: number, backward: GradRule, terms: readonly { P: string; N: string; B?: string; coef: number; mask?: string }[]): string {
  const { emit } = ctx;
  const weight = ctx.node.input[w];
  const { x, pos, neg } = parts(ctx);
  const through = (ww: string, s: string) => backward({ ...ctx, gradOut: [s], f32: (t) => (t === weight ? ww : ctx.f32(t)) })[0]!;
  const sum = (a: string[]) => (a.length === 1 ? a[0] : emit.op('Sum', a));
  const onPos: string[] = [];
  const onNeg: string[] = [];
  for (const t of terms) {
    if (t.coef === 0) continue;
    let d = layerWith(ctx, w, pos, t.P, t.B);
    if (neg) d = emit.op('Add', [d, layerWith(ctx, w, neg, t.N, undefined)]);
    let s = scaled(ctx, d, STABILIZER);
    if (t.mask) s = emit.op('Mul', [s, t.mask]);
    if (t.coef !== 1) s = emit.op('Mul', [s, emit.scalar(t.coef)]);
    onPos.push(through(t.P, s));
    if (neg) onNeg.push(through(t.N, s));
  }
  if (!neg) return sum(onPos);
  return emit.op('Where', [emit.op('Greater', [x, emit.scalar(0)]), sum(onPos), sum(onNeg)]);
}

/** LRP-αβ (Zennit's AlphaBeta): α times the z⁺ share less β times the z⁻ share. */
function alphaBeta(ctx: GradContext, w: number, backward: GradRule, alpha: number, beta: number): string {
  const { emit } = ctx;
  const W = ctx.f32(ctx.node.input[w]);
  const b = biasOf(ctx);
  const wPos = emit.op('Relu', [W]);
  const wNeg = emit.op('Min', [W, emit.scalar(0)]);
  return signedTerms(ctx, w, backward, [
    { P: wPos, N: wNeg, B: b && emit.op('Relu', [b]), coef: alpha },
    { P: wNeg, N: wPos, B: b && emit.op('Min', [b, emit.scalar(0)]), coef: -beta },
  ]);
}

/** LRP-γ (Zennit's Gamma): positive contributions favoured by γ where z > 0, negative ones where z < 0. */
function gammaRule(ctx: GradContext, w: number, backward: GradRule, gamma: number): string {
  const { emit } = ctx;
  const W = ctx.f32(ctx.node.input[w]);
  const b = biasOf(ctx);
  const up = (v: string) => emit.op('Add', [v, emit.op('Mul', [emit.op('Relu', [v]), emit.scalar(gamma)])]);
  const down = (v: string) => emit.op('Add', [v, emit.op('Mul', [emit.op('Min', [v, emit.scalar(0)]), emit.scalar(gamma)])]);
  const z = ctx.f32(ctx.node.output[0]);
  const wUp = up(W);
  const wDown = down(W);
  return signedTerms(ctx, w, backward, [
    { P: wUp, N: wDown, B: b && up(b), coef: 1, mask: emit.op('Cast', [emit.op('Greater', [z, emit.scalar(0)])], { to: 1 }) },
    { P: wDown, N: wUp, B: b && down(b), coef: 1, mask: emit.op('Cast', [emit.op('Less', [z, emit.scalar(0)])], { to: 1 }) },
  ]);
}

/** A tensor of the data input's shape filled with `v`. */
function filled(ctx: GradContext, v: string): string {
  return ctx.emit.op('Expand', [v, ctx.emit.i64(ctx.shape(ctx.node.input[0]))]);
}

/** The flat rule (Zennit's Flat): unit weights, no bias, input ones; returns R_x. */
function flat(ctx: GradContext, w: number, backward: GradRule): string {
  const { emit } = ctx;
  const weight = ctx.node.input[w];
  const ones = filled(ctx, emit.scalar(1));
  const wOnes = emit.op('Expand', [emit.scalar(1), emit.i64(ctx.shape(weight))]);
  const s = scaled(ctx, layerWith(ctx, w, ones, wOnes, undefined), STABILIZER);
  return backward({ ...ctx, gradOut: [s], f32: (t) => (t === weight ? wOnes : ctx.f32(t)) })[0]!;
}

/** The zB-rule (Zennit's ZBox) with bounds l ≤ x ≤ h (default: the input's per-channel minimum and maximum); returns R_x. */
function zBox(ctx: GradContext, w: number, backward: GradRule, mode: LrpMode): string {
  const { emit } = ctx;
  const weight = ctx.node.input[w];
  const x = ctx.f32(ctx.node.input[0]);
  const W = ctx.f32(weight);
  const rank = ctx.shape(ctx.node.input[0]).length;
  const shape = ctx.shape(ctx.node.input[0]);
  const bound = (v: readonly number[] | undefined, high: boolean) => {
    if (v?.length === 1) return filled(ctx, emit.scalar(v[0]));
    if (v) {
      if (rank < 2 || shape[1] !== v.length) {
        throw new LookCloserError('bad-argument', `${describeNode(ctx.node)}: the zB-rule got ${v.length} values for --lrp-${high ? 'high' : 'low'}, but the layer's input has ${rank < 2 ? 'no channel axis' : `${shape[1]} channels`}; give one value or one per channel.`);
      }
      return filled(ctx, emit.f32(v, [1, v.length, ...shape.slice(2).map(() => 1)]));
    }
    if (rank < 3) refuse(ctx, 'the zB-rule\'s default bounds are per channel of a [N, C, …] input; give --lrp-low and --lrp-high');
    return filled(ctx, high ? emit.op('GlobalMaxPool', [x]) : emit.op('Neg', [emit.op('GlobalMaxPool', [emit.op('Neg', [x])])]));
  };
  const low = bound(mode.low, false);
  const high = bound(mode.high, true);
  const wPos = emit.op('Relu', [W]);
  const wNeg = emit.op('Min', [W, emit.scalar(0)]);
  const den = emit.op('Sub', [emit.op('Sub', [layerWith(ctx, w, x, W, undefined), layerWith(ctx, w, low, wPos, undefined)]), layerWith(ctx, w, high, wNeg, undefined)]);
  const s = scaled(ctx, den, STABILIZER);
  const through = (ww: string) => backward({ ...ctx, gradOut: [s], f32: (t) => (t === weight ? ww : ctx.f32(t)) })[0]!;
  return emit.op('Sub', [emit.op('Sub', [emit.op('Mul', [x, through(W)]), emit.op('Mul', [low, through(wPos)])]), emit.op('Mul', [high, through(wNeg)])]);
}

/**
 * The composite's rule of a layer y = op(x, W[, b]) whose data input is input 0 and whose weight is input `w`, with
 * `backward` the op's gradient rule (it reads the gradient from ctx.gradOut and the weight through ctx.f32). First
 * layers of a composite with a first-layer rule return R_x, every other layer c_x.
 */
function weightedLayer(ctx: GradContext, w: number, dense: boolean, backward: GradRule): (string | undefined)[] {
  const mode = ctx.mode as LrpMode;
  const n = ctx.node;
  const weight = n.input[w];
  if (!ctx.constant(weight) && !ctx.graph.isConstant(weight)) refuse(ctx, 'LRP needs its weight to be a constant');
  const rules = LRP_COMPOSITES[mode.composite];
  const first = !!rules.first && !!mode.first?.includes(n.output[0]);
  if (first && rules.first === 'flat') return [flat(ctx, w, backward)];
  if (first && rules.first === 'zbox' && !dense) return [zBox(ctx, w, backward, mode)];
  const rule = dense ? rules.dense : rules.conv;
  let c: string;
  if (rule === 'epsilon') c = backward({ ...ctx, gradOut: [scaled(ctx, ctx.f32(n.output[0]), mode.epsilon)] })[0]!;
  else {
    if (n.opType === 'Gemm' && (attrFloat(n, 'alpha', 1) <= 0 || attrFloat(n, 'beta', 1) < 0)) refuse(ctx, `the ${rule} rule of LRP needs alpha > 0 and beta ≥ 0`);
    const alpha = mode.alpha ?? 2;
    const beta = mode.beta ?? 1;
    if (rule === 'zplus' || (rule === 'alpha-beta' && alpha === 1 && beta === 0)) c = zPlus(ctx, w, backward);
    else if (rule === 'alpha-beta') c = alphaBeta(ctx, w, backward, alpha, beta);
    else c = gammaRule(ctx, w, backward, mode.gamma ?? 0.25);
  }
  return [first ? ctx.emit.op('Mul', [c, ctx.f32(n.input[0])]) : c];
}

/** The z⁺-rule (LRP-αβ with α = 1, β = 0; Zennit's ZPlus): returns c_x. */
function zPlus(ctx: GradContext, w: number, backward: GradRule): string {
  const n = ctx.node;
  const weight = n.input[w];
  const { emit } = ctx;
  const x = ctx.f32(n.input[0]);
  const W = ctx.f32(weight);
  // An input that cannot be negative (after a ReLU) has no negative part: half the work, and the same relevance.
  const positiveInput = nonNegative(ctx, n.input[0]);
  const wPos = emit.op('Relu', [W]);
  const withWeight = (ww: string, a: string) => { const ins = [...n.input]; ins[0] = a; ins[w] = ww; return ins; };
  // z⁺ = ρ⁺(W)·x⁺ + b⁺ + ρ⁻(W)·x⁻: the positive-weight part keeps the positive bias, the negative part none.
  const posIns = withWeight(wPos, positiveInput ? x : emit.op('Relu', [x]));
  const bias = n.opType === 'MatMul' ? undefined : n.input[2];
  if (bias) posIns[2] = emit.op('Relu', [ctx.f32(bias)]);
  const through = (ww: string, s: string) => backward({ ...ctx, gradOut: [s], f32: (t) => (t === weight ? ww : ctx.f32(t)) })[0]!;
  if (positiveInput) return through(wPos, scaled(ctx, sameOp(ctx, posIns), ZPLUS_STABILIZER));
  const wNeg = emit.op('Min', [W, emit.scalar(0)]);
  const negIns = withWeight(wNeg, emit.op('Min', [x, emit.scalar(0)])).slice(0, 2);
  const s = scaled(ctx, emit.op('Add', [sameOp(ctx, posIns), sameOp(ctx, negIns)]), ZPLUS_STABILIZER);
  return emit.op('Where', [emit.op('Greater', [x, emit.scalar(0)]), through(wPos, s), through(wNeg, s)]);
}

/** Conv: the composite's rule with the convolution's adjoint (z⁺ in 'epsilon-plus' and 'zplus', ε in 'epsilon'). */
const lrpConv: GradRule = (ctx) => weightedLayer(ctx, 1, false, conv);

/** Gemm: a dense layer (ε in 'epsilon-plus' and 'epsilon', z⁺ in 'zplus'). */
const lrpGemm: GradRule = (ctx) => {
  if (!ctx.needs[0] || ctx.needs[1]) refuse(ctx, 'LRP needs operand A to be the activation and B a constant weight');
  return weightedLayer(ctx, 1, true, gemm);
};

/** MatMul x·W with a constant W: a dense layer (its bias, if any, is the Add after it and keeps its share). */
const lrpMatMul: GradRule = (ctx) => {
  if (!ctx.needs[0] || ctx.needs[1]) refuse(ctx, 'LRP needs the left operand to be the activation and the right one a constant weight (a product of two activations, as in attention, has no LRP rule)');
  return weightedLayer(ctx, 1, true, matmul);
};

/** Clip (ReLU6 and kin): the pass rule R_x = R_y, i.e. c_x = c_y·y/x (0 where x = 0). */
const lrpClip: GradRule = (ctx) => {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  const y = ctx.f32(ctx.node.output[0]);
  const zero = emit.op('Equal', [x, emit.scalar(0)]);
  const ratio = emit.op('Where', [zero, emit.scalar(0), emit.op('Div', [y, emit.op('Where', [zero, emit.scalar(1), x])])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, ratio])];
};

/** Mul and Div by a constant are linear (a scale); a product of two activations (a gate) has no LRP rule. */
function scaleBy(op: 'Mul' | 'Div'): GradRule {
  return (ctx) => {
    const n = ctx.node;
    const active = ctx.needs.filter(Boolean).length;
    const other = n.input[ctx.needs[0] ? 1 : 0];
    if (active > 1 || (op === 'Div' && ctx.needs[1]) || !ctx.graph.isConstant(other)) {
      refuse(ctx, `a ${op} of two activations (a gate: SiLU/Swish, squeeze-excitation, attention) has no LRP rule`);
    }
    return GRAD_RULES[op](ctx);
  };
}

/** LRP rules that differ from the gradient. */
const LRP_RULES: Readonly<Record<string, GradRule>> = {
  Conv: lrpConv,
  Gemm: lrpGemm,
  MatMul: lrpMatMul,
  Clip: lrpClip,
  Mul: scaleBy('Mul'),
  Div: scaleBy('Div'),
};

/** The ops LRP propagates through, for messages. */
const SUPPORTED = 'Conv, Gemm or MatMul with constant weights, BatchNormalization, pooling, ReduceMean, Add/Sub/Sum, Concat/Split/Slice/Pad, Mul/Div by a constant, layout ops, Relu, LeakyRelu, PRelu and Clip';

/** The error for an op LRP has no rule for. */
function noRule(node: Node, method: string): LookCloserError {
  return new LookCloserError('unsupported-operator',
    `${describeNode(node)} has no LRP rule; ${method} propagates relevance only through ${SUPPORTED}. ` +
    'Explain this model with input-x-gradient or integrated-gradients instead.');
}

/** The LRP rule of a node, or an 'unsupported-operator' error naming it. */
export function lrpRule(node: Node, method: string): GradRule {
  const r = LRP_RULES[node.opType] ?? (GRADIENT_IS_LRP.has(node.opType) ? GRAD_RULES[node.opType] : undefined);
  if (!r || (node.domain && node.domain !== 'ai.onnx')) throw noRule(node, method);
  return r;
}

/**
 * Why LRP cannot run from `input` to `logits` of a graph (the first op on the way without an LRP rule, or a gate
 * multiplying two activations), or undefined when it can: what `look-closer layers` and the picker list.
 */
export function lrpObstacle(graph: Graph, input: string, logits: string): string | undefined {
  const fromInput = new Set([input]);
  const queue = [input];
  while (queue.length) {
    for (const n of graph.consumers.get(queue.pop()!) ?? []) for (const o of n.output) if (o && !fromInput.has(o)) { fromInput.add(o); queue.push(o); }
  }
  const toLogits = new Set([logits]);
  queue.push(logits);
  const seen = new Set<Node>();
  const path: Node[] = [];
  while (queue.length) {
    const n = graph.producer.get(queue.pop()!);
    if (!n || seen.has(n)) continue;
    seen.add(n);
    if (n.input.some((i) => i && fromInput.has(i))) path.push(n);
    for (const i of n.input) if (i && !toLogits.has(i)) { toLogits.add(i); queue.push(i); }
  }
  for (const n of path) {
    const active = n.input.filter((i) => i && fromInput.has(i) && toLogits.has(i)).length;
    const known = !!LRP_RULES[n.opType] || GRADIENT_IS_LRP.has(n.opType);
    const instead = 'use input-x-gradient or integrated-gradients';
    if (!known || (n.domain && n.domain !== 'ai.onnx')) return `${describeNode(n)} has no LRP rule (LRP propagates through ${SUPPORTED}); ${instead}.`;
    if ((n.opType === 'Mul' || n.opType === 'Div' || n.opType === 'MatMul') && active > 1) {
      return `${describeNode(n)} multiplies two activations (a gate: SiLU/Swish, squeeze-excitation, attention), which has no LRP rule; ${instead}.`;
    }
  }
  return undefined;
}

/** Ops that may lie between the input and the first layers: they move or scale the input, and pass the relevance R_x back by their gradient (as Zennit's unhooked modules do). */
const BEFORE_FIRST = new Set(['Identity', 'Cast', 'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'Pad', 'Slice', 'Split', 'Concat', 'Dropout', 'Add', 'Sub', 'Mul', 'Div']);

/** Ops with a weight: the layers a composite's rules apply to. */
const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);

/**
 * The first layers of a graph for a composite with a first-layer rule (Zennit's first_map): the Conv, Gemm or MatMul
 * nodes whose data input the input reaches through none of them. Throws, naming the node, when another op lies on
 * the way (only layout ops, Pad/Slice/Concat and Add/Sub/Mul/Div with a constant may) or when no layer is reached.
 */
export function lrpFirstLayers(graph: Graph, input: string, composite: string): Node[] {
  const before = new Set([input]);
  const queue = [input];
  const first: Node[] = [];
  const refuseAt = (n: Node, why: string): never => {
    throw new LookCloserError('unsupported-operator',
      `${describeNode(n)} ${why}, where LRP composite '${composite}' applies its first-layer rule; explain this model with --composite epsilon-plus, or with input-x-gradient.`);
  };
  while (queue.length) {
    const t = queue.shift()!;
    for (const n of graph.consumers.get(t) ?? []) {
      if (WEIGHTED.has(n.opType) && (!n.domain || n.domain === 'ai.onnx')) {
        if (n.input[0] !== t || n.input.slice(1).some((i) => i && before.has(i))) refuseAt(n, 'takes the input as its weight');
        if (!first.includes(n)) first.push(n);
        continue;
      }
      if (!BEFORE_FIRST.has(n.opType) || (n.domain && n.domain !== 'ai.onnx')) refuseAt(n, 'lies between the input and the first layer');
      const arithmetic = n.opType === 'Add' || n.opType === 'Sub' || n.opType === 'Mul' || n.opType === 'Div';
      const others = n.input.filter((i) => i && !before.has(i));
      if (arithmetic && (others.length !== 1 || !graph.isConstant(others[0]) || (n.opType === 'Div' && n.input[1] !== others[0]))) {
        refuseAt(n, 'combines the input with something other than a constant before the first layer');
      }
      if (n.opType === 'Concat' && others.some((i) => !graph.isConstant(i))) refuseAt(n, 'joins the input with another activation before the first layer');
      for (const o of n.output) if (o && !before.has(o)) { before.add(o); queue.push(o); }
    }
  }
  if (!first.length) throw new LookCloserError('unsupported-operator', `LRP composite '${composite}' needs a Conv, Gemm or MatMul layer after the input; the graph has none.`);
  return first;
}
