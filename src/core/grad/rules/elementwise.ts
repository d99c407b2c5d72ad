/** Gradient rules of broadcasting binary arithmetic: Add, Sub, Mul, Div, Pow, Sum, Expand. */
import type { GradContext, GradRule } from '../rule';

/** Reduces `g` (shaped like the node's output) to input k's shape. */
function toInput(ctx: GradContext, g: string, k: number): string {
  return ctx.emit.unbroadcast(g, ctx.shape(ctx.node.output[0]), ctx.shape(ctx.node.input[k]), `${ctx.node.opType} broadcasts a batch-less operand`);
}

/** Add: g to both operands. */
export const add: GradRule = (ctx) => ctx.node.input.map((_, k) => (ctx.needs[k] ? toInput(ctx, ctx.gradOut[0]!, k) : undefined));

/** Sum (variadic): g to every operand. */
export const sum = add;

/** Sub: g, −g. */
export const sub: GradRule = (ctx) => [
  ctx.needs[0] ? toInput(ctx, ctx.gradOut[0]!, 0) : undefined,
  ctx.needs[1] ? toInput(ctx, ctx.emit.op('Neg', [ctx.gradOut[0]!]), 1) : undefined,
];

/** Mul: g·b, g·a. */
export const mul: GradRule = (ctx) => {
  const [a, b] = ctx.node.input;
  const g = ctx.gradOut[0]!;
  return [
    ctx.needs[0] ? toInput(ctx, ctx.emit.op('Mul', [g, ctx.f32(b)]), 0) : undefined,
    ctx.needs[1] ? toInput(ctx, ctx.emit.op('Mul', [g, ctx.f32(a)]), 1) : undefined,
  ];
};

/** Div: g/b, −g·y/b. */
export const div: GradRule = (ctx) => {
  const { emit } = ctx;
  const b = ctx.f32(ctx.node.input[1]);
  const g = ctx.gradOut[0]!;
  const ga = emit.op('Div', [g, b]);
  return [
    ctx.needs[0] ? toInput(ctx, ga, 0) : undefined,
    ctx.needs[1] ? toInput(ctx, emit.op('Neg', [emit.op('Mul', [ga, ctx.f32(ctx.node.output[0])])]), 1) : undefined,
  ];
};

/** Pow: g·b·a^(b−1) for the base, g·y·ln(a) for the exponent. */
export const pow: GradRule = (ctx) => {
  const { emit } = ctx;
  const a = ctx.f32(ctx.node.input[0]);
  const b = ctx.f32(ctx.node.input[1]);
  const g = ctx.gradOut[0]!;
  const ga = ctx.needs[0] ? emit.op('Mul', [g, emit.op('Mul', [b, emit.op('Pow', [a, emit.op('Sub', [b, emit.scalar(1)])])])]) : undefined;
  const gb = ctx.needs[1] ? emit.op('Mul', [g, emit.op('Mul', [ctx.f32(ctx.node.output[0]), emit.op('Log', [a])])]) : undefined;
  return [ga && toInput(ctx, ga, 0), gb && toInput(ctx, gb, 1)];
};

/** Expand: sum the gradient over the broadcast axes. */
export const expand: GradRule = (ctx) => [toInput(ctx, ctx.gradOut[0]!, 0)];

/** Where(cond, a, b): g where cond, else to b. */
export const where: GradRule = (ctx) => {
  const { emit } = ctx;
  const cond = ctx.node.input[0];
  const g = ctx.gradOut[0]!;
  const zero = emit.scalar(0);
  return [
    undefined,
    ctx.needs[1] ? toInput(ctx, emit.op('Where', [cond, g, zero]), 1) : undefined,
    ctx.needs[2] ? toInput(ctx, emit.op('Where', [cond, zero, g]), 2) : undefined,
  ];
};
