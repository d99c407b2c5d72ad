/** Gradient rules of elementwise activations. Rectifiers (Relu, Clip with min 0) follow the rectifier mode. */
import { attrFloat, attrString } from '../../onnx/graph';
import type { GradContext, GradRule } from '../rule';

/** Reads Clip's bounds from inputs (opset ≥ 11) or attributes, as numbers (±Infinity when absent). */
export function clipBounds(ctx: GradContext): { lo: number; hi: number } {
  const n = ctx.node;
  const read = (i: number, attrName: string, def: number) => {
    if (n.input[i]) {
      const c = ctx.constant(n.input[i]);
      if (!c) ctx.unsupported('Clip bounds that depend on the input');
      return Number((c.data as ArrayLike<number>)[0]);
    }
    return attrFloat(n, attrName, def);
  };
  return { lo: read(1, 'min', -Infinity), hi: read(2, 'max', Infinity) };
}

/** g · [lo < x < hi], with the rectifier mode applied when the op is a rectifier (lo = 0). */
function rectifier(ctx: GradContext, lo: number, hi: number, isRectifier: boolean): string {
  const { emit } = ctx;
  const g = ctx.gradOut[0]!;
  if (isRectifier && ctx.mode === 'deconvnet') return emit.op('Relu', [g]);
  // lo < x < hi ⇔ lo < y < hi for y = clip(x, lo, hi). Reading the output rather than the input leaves the
  // input with one consumer, so the runtime can still fuse the producing Conv with this activation.
  const y = ctx.f32(ctx.node.output[0]);
  let mask = emit.op('Greater', [y, emit.scalar(lo)]);
  if (Number.isFinite(hi)) mask = emit.op('And', [mask, emit.op('Less', [y, emit.scalar(hi)])]);
  // Guided: relu(g)·mask equals relu(g·mask) for a 0/1 mask, and a Relu reading g directly fuses into the
  // convolution that produced g on onnxruntime's CPU provider, saving a pass over the batched gradient.
  const gIn = isRectifier && ctx.mode === 'guided' ? emit.op('Relu', [g]) : g;
  return emit.op('Mul', [gIn, emit.op('Cast', [mask], { to: 1 })]);
}

/** Relu: g·[x > 0]; guided: also [g > 0]; deconvnet: max(g, 0). */
export const relu: GradRule = (ctx) => [rectifier(ctx, 0, Infinity, true)];

/** Clip: g·[lo < x < hi] (PyTorch's hardtanh backward); with lo = 0 it is a rectifier (ReLU6). */
export const clip: GradRule = (ctx) => {
  const { lo, hi } = clipBounds(ctx);
  return [rectifier(ctx, Number.isFinite(lo) ? lo : -3.4e38, hi, lo === 0)];
};

/** LeakyRelu: g·(x > 0 ? 1 : alpha). */
export const leakyRelu: GradRule = (ctx) => {
  const { emit } = ctx;
  const alpha = attrFloat(ctx.node, 'alpha', 0.01);
  const pos = emit.op('Cast', [emit.op('Greater', [ctx.f32(ctx.node.input[0]), emit.scalar(0)])], { to: 1 });
  // slope = alpha + (1 − alpha)·[x > 0]
  const slope = emit.op('Add', [emit.op('Mul', [pos, emit.scalar(1 - alpha)]), emit.scalar(alpha)]);
  return [emit.op('Mul', [ctx.gradOut[0]!, slope])];
};

/** PRelu: g·(x > 0 ? 1 : slope) for x; the slope is a weight and gets no gradient. */
export const prelu: GradRule = (ctx) => {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  const pos = emit.op('Greater', [x, emit.scalar(0)]);
  const slope = emit.op('Where', [pos, emit.scalar(1), ctx.f32(ctx.node.input[1])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, slope])];
};

/** Sigmoid: g·y·(1 − y). */
export const sigmoid: GradRule = (ctx) => {
  const { emit } = ctx;
  const y = ctx.f32(ctx.node.output[0]);
  return [emit.op('Mul', [ctx.gradOut[0]!, emit.op('Mul', [y, emit.op('Sub', [emit.scalar(1), y])])])];
};

/** HardSigmoid: g·alpha·[0 < alpha·x + beta < 1]. */
export const hardSigmoid: GradRule = (ctx) => {
  const { emit } = ctx;
  const alpha = attrFloat(ctx.node, 'alpha', 0.2);
  const beta = attrFloat(ctx.node, 'beta', 0.5);
  const x = ctx.f32(ctx.node.input[0]);
  const lo = (0 - beta) / alpha;
  const hi = (1 - beta) / alpha;
  const mask = emit.op('And', [emit.op('Greater', [x, emit.scalar(Math.min(lo, hi))]), emit.op('Less', [x, emit.scalar(Math.max(lo, hi))])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, emit.op('Mul', [emit.op('Cast', [mask], { to: 1 }), emit.scalar(alpha)])])];
};

/** HardSwish y = x·relu6(x + 3)/6: dy/dx = 0 for x < −3, x/3 + 1/2 for −3 ≤ x ≤ 3, 1 above (PyTorch's convention). */
export const hardSwish: GradRule = (ctx) => {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  const mid = emit.op('Add', [emit.op('Div', [x, emit.scalar(3)]), emit.scalar(0.5)]);
  const above = emit.op('Greater', [x, emit.scalar(3)]);
  const below = emit.op('Less', [x, emit.scalar(-3)]);
  const d = emit.op('Where', [below, emit.scalar(0), emit.op('Where', [above, emit.scalar(1), mid])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, d])];
};

/** Tanh: g·(1 − y²). */
export const tanh: GradRule = (ctx) => {
  const { emit } = ctx;
  const y = ctx.f32(ctx.node.output[0]);
  return [emit.op('Mul', [ctx.gradOut[0]!, emit.op('Sub', [emit.scalar(1), emit.op('Mul', [y, y])])])];
};

/** Erf: g·2/√π·exp(−x²). */
export const erf: GradRule = (ctx) => {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  const e = emit.op('Exp', [emit.op('Neg', [emit.op('Mul', [x, x])])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, emit.op('Mul', [e, emit.scalar(2 / Math.sqrt(Math.PI))])])];
};

/**
 * Gelu (opset 20). approximate 'none': y = x·Φ(x), dy/dx = Φ(x) + x·φ(x); 'tanh': y = ½x(1 + tanh u),
 * u = √(2/π)(x + 0.044715x³), dy/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
 */
export const gelu: GradRule = (ctx) => {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  const approx = attrString(ctx.node, 'approximate', 'none');
  const mul = (a: string, b: string) => emit.op('Mul', [a, b]);
  const add = (a: string, b: string) => emit.op('Add', [a, b]);
  let d: string;
  if (approx === 'tanh') {
    const c = Math.sqrt(2 / Math.PI);
    const x2 = mul(x, x);
    const t = emit.op('Tanh', [mul(emit.scalar(c), add(x, mul(emit.scalar(0.044715), mul(x2, x))))]);
    const du = mul(emit.scalar(c), add(emit.scalar(1), mul(emit.scalar(3 * 0.044715), x2)));
    const sech2 = emit.op('Sub', [emit.scalar(1), mul(t, t)]);
    d = add(mul(emit.scalar(0.5), add(emit.scalar(1), t)), mul(mul(emit.scalar(0.5), x), mul(sech2, du)));
  } else if (approx === 'none') {
    const cdf = mul(emit.scalar(0.5), add(emit.scalar(1), emit.op('Erf', [mul(x, emit.scalar(Math.SQRT1_2))])));
    const pdf = mul(emit.scalar(1 / Math.sqrt(2 * Math.PI)), emit.op('Exp', [mul(emit.scalar(-0.5), mul(x, x))]));
    d = add(cdf, mul(x, pdf));
  } else {
    return ctx.unsupported(`Gelu approximate '${approx}'`);
  }
  return [mul(ctx.gradOut[0]!, d)];
};

/** Exp: g·y. */
export const exp: GradRule = (ctx) => [ctx.emit.op('Mul', [ctx.gradOut[0]!, ctx.f32(ctx.node.output[0])])];

/** Log: g / x. */
export const log: GradRule = (ctx) => [ctx.emit.op('Div', [ctx.gradOut[0]!, ctx.f32(ctx.node.input[0])])];

/** Neg: −g. */
export const neg: GradRule = (ctx) => [ctx.emit.op('Neg', [ctx.gradOut[0]!])];

/** Sqrt: g / (2y). */
export const sqrt: GradRule = (ctx) => {
  const { emit } = ctx;
  return [emit.op('Div', [ctx.gradOut[0]!, emit.op('Mul', [ctx.f32(ctx.node.output[0]), emit.scalar(2)])])];
};

/** Reciprocal: −g·y². */
export const reciprocal: GradRule = (ctx) => {
  const { emit } = ctx;
  const y = ctx.f32(ctx.node.output[0]);
  return [emit.op('Neg', [emit.op('Mul', [ctx.gradOut[0]!, emit.op('Mul', [y, y])])])];
};

/** Softplus: g·sigmoid(x). */
export const softplus: GradRule = (ctx) => [ctx.emit.op('Mul', [ctx.gradOut[0]!, ctx.emit.op('Sigmoid', [ctx.f32(ctx.node.input[0])])])];

/** Elu: g·(x > 0 ? 1 : y + alpha). */
export const elu: GradRule = (ctx) => {
  const { emit } = ctx;
  const alpha = attrFloat(ctx.node, 'alpha', 1);
  const x = ctx.f32(ctx.node.input[0]);
  const d = emit.op('Where', [emit.op('Greater', [x, emit.scalar(0)]), emit.scalar(1), emit.op('Add', [ctx.f32(ctx.node.output[0]), emit.scalar(alpha)])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, d])];
};

/** Softmax (opset ≥ 13, one axis): y·(g − Σ_axis g·y). */
export const softmax: GradRule = (ctx) => {
  const { emit } = ctx;
  const y = ctx.f32(ctx.node.output[0]);
  const rank = ctx.shape(ctx.node.input[0]).length;
  const axis = ((attrIntOr(ctx, 'axis', -1) % rank) + rank) % rank;
  // Over axis 0 (the batch, or an axis a Reshape put first) the graph runs one class at a time.
  if (axis === 0) emit.batchUnsafe.push('Softmax over axis 0');
  const g = ctx.gradOut[0]!;
  const s = emit.reduceSum(emit.op('Mul', [g, y]), [axis]);
  return [emit.op('Mul', [y, emit.op('Sub', [g, s])])];
};

/** LogSoftmax (opset ≥ 13): g − exp(y)·Σ_axis g. */
export const logSoftmax: GradRule = (ctx) => {
  const { emit } = ctx;
  const y = ctx.f32(ctx.node.output[0]);
  const rank = ctx.shape(ctx.node.input[0]).length;
  const axis = ((attrIntOr(ctx, 'axis', -1) % rank) + rank) % rank;
  if (axis === 0) emit.batchUnsafe.push('LogSoftmax over axis 0');
  const g = ctx.gradOut[0]!;
  return [emit.op('Sub', [g, emit.op('Mul', [emit.op('Exp', [y]), emit.reduceSum(g, [axis])])])];
};

function attrIntOr(ctx: GradContext, name: string, def: number): number {
  const a = ctx.node.attribute?.find((x) => x.name === name);
  return a ? Number(a.i) : def;
}
