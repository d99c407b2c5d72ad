/** Gradient rules of reductions: ReduceMean, ReduceSum, ReduceMax, ReduceL2. */
import { attrInt, attrInts } from '../../onnx/graph';
import type { GradContext, GradRule } from '../rule';

/** Normalised reduction axes (attribute or input; absent = all axes unless noop_with_empty_axes). */
function axesOf(ctx: GradContext): number[] {
  const rank = ctx.shape(ctx.node.input[0]).length;
  let axes = attrInts(ctx.node, 'axes');
  if (!axes && ctx.node.input[1]) {
    const c = ctx.constant(ctx.node.input[1]);
    if (!c) ctx.unsupported('reduction axes that depend on the input');
    axes = Array.from(c.data as ArrayLike<number | bigint>, Number);
  }
  if (!axes || !axes.length) {
    if (attrInt(ctx.node, 'noop_with_empty_axes', 0)) return [];
    axes = Array.from({ length: rank }, (_, i) => i);
  }
  const norm = axes.map((a) => (a + rank) % rank);
  if (norm.includes(0)) ctx.emit.batchUnsafe.push(`${ctx.node.opType} over the batch axis`);
  return norm;
}

/** The output gradient with the reduced axes restored as size-1 axes. */
function keepDims(ctx: GradContext, axes: number[]): string {
  const g = ctx.gradOut[0]!;
  if (attrInt(ctx.node, 'keepdims', 1) || !axes.length) return g;
  return ctx.emit.op('Unsqueeze', [g, ctx.emit.i64(axes)]);
}

/** Broadcasts a keep-dims gradient over the input's shape, times a constant factor. */
function spread(ctx: GradContext, g: string, factor: number): string {
  const s = ctx.shape(ctx.node.input[0]);
  const ones = ctx.emit.f32(new Float32Array(s.slice(1).reduce((a, b) => a * b, 1)).fill(factor), [1, ...s.slice(1)]);
  return ctx.emit.op('Mul', [g, ones]);
}

/** ReduceSum: broadcast g back over the reduced axes. */
export const reduceSum: GradRule = (ctx) => {
  const axes = axesOf(ctx);
  return [spread(ctx, keepDims(ctx, axes), 1)];
};

/** ReduceMean: broadcast g / n back over the reduced axes. */
export const reduceMean: GradRule = (ctx) => {
  const axes = axesOf(ctx);
  const s = ctx.shape(ctx.node.input[0]);
  const n = axes.reduce((a, ax) => a * s[ax], 1);
  return [spread(ctx, keepDims(ctx, axes), 1 / n)];
};

/** ReduceMax: g to the maximal element(s), shared among ties. */
export const reduceMax: GradRule = (ctx) => {
  const { emit } = ctx;
  const axes = axesOf(ctx);
  const x = ctx.f32(ctx.node.input[0]);
  let y = ctx.f32(ctx.node.output[0]);
  if (!attrInt(ctx.node, 'keepdims', 1) && axes.length) y = emit.op('Unsqueeze', [y, emit.i64(axes)]);
  const mask = emit.op('Cast', [emit.op('Equal', [x, y])], { to: 1 });
  const count = emit.reduceSum(mask, axes);
  return [emit.op('Mul', [emit.op('Div', [keepDims(ctx, axes), count]), mask])];
};

/** ReduceL2 y = √(Σ x²): g·x / y (0 where y = 0, where x is 0 too). */
export const reduceL2: GradRule = (ctx) => {
  const { emit } = ctx;
  const axes = axesOf(ctx);
  const x = ctx.f32(ctx.node.input[0]);
  let y = ctx.f32(ctx.node.output[0]);
  if (!attrInt(ctx.node, 'keepdims', 1) && axes.length) y = emit.op('Unsqueeze', [y, emit.i64(axes)]);
  const safe = emit.op('Max', [y, emit.scalar(1e-30)]);
  return [emit.op('Mul', [keepDims(ctx, axes), emit.op('Div', [x, safe])])];
};
