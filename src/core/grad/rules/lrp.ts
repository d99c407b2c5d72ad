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
import type { GradContext, GradRule, LrpMode } from '../rule';
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

/** Whether the layer's rule is z⁺ (convolutions in 'epsilon-plus', every layer in 'zplus'). */
function usesZPlus(mode: LrpMode, dense: boolean): boolean {
  return mode.composite === 'zplus' || (mode.composite === 'epsilon-plus' && !dense);
}

/**
 * The ε- or z⁺-rule of a layer y = op(x, W[, b]) whose data input is input 0 and whose weight is input `w`, with
 * `backward` the op's gradient rule (it reads the gradient from ctx.gradOut and the weight through ctx.f32).
 */
function weightedLayer(ctx: GradContext, w: number, dense: boolean, backward: GradRule): (string | undefined)[] {
  const mode = ctx.mode as LrpMode;
  const n = ctx.node;
  const weight = n.input[w];
  if (!ctx.constant(weight) && !ctx.graph.isConstant(weight)) refuse(ctx, 'LRP needs its weight to be a constant');
  if (!usesZPlus(mode, dense)) return backward({ ...ctx, gradOut: [scaled(ctx, n.output[0], mode.epsilon)] });
  const { emit } = ctx;
  if (n.opType === 'Gemm' && (attrFloat(n, 'alpha', 1) <= 0 || attrFloat(n, 'beta', 1) < 0)) refuse(ctx, 'the z⁺-rule of LRP needs alpha > 0 and beta ≥ 0');
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
  if (positiveInput) return [through(wPos, scaled(ctx, sameOp(ctx, posIns), ZPLUS_STABILIZER))];
  const wNeg = emit.op('Min', [W, emit.scalar(0)]);
  const negIns = withWeight(wNeg, emit.op('Min', [x, emit.scalar(0)])).slice(0, 2);
  const s = scaled(ctx, emit.op('Add', [sameOp(ctx, posIns), sameOp(ctx, negIns)]), ZPLUS_STABILIZER);
  return [emit.op('Where', [emit.op('Greater', [x, emit.scalar(0)]), through(wPos, s), through(wNeg, s)])];
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
