/** Gradient rules of Gemm and MatMul (input gradients only). */
import { attrFloat, attrInt } from '../../onnx/graph';
import type { GradRule } from '../rule';

/** Gemm Y = α·A'·B' + β·C: dA = α·g·B'ᵀ (laid out as A), dC = β·g summed over broadcast axes. */
export const gemm: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const [, b, c] = node.input;
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  const transA = attrInt(node, 'transA', 0);
  const transB = attrInt(node, 'transB', 0);
  const g = ctx.gradOut[0]!;
  if (ctx.needs[1]) ctx.unsupported('its B operand depends on the input (only weights are supported there)');
  let ga: string | undefined;
  if (ctx.needs[0]) {
    if (transA) ctx.unsupported('transA = 1 on an activation');
    // A [M,K], B' [K,N]: dA = g [M,N] · B'ᵀ; B' = B (transB 0) → Gemm(g, B, transB=1); B' = Bᵀ → Gemm(g, B).
    ga = emit.op('Gemm', [g, ctx.f32(b)], { alpha: { float: alpha }, transB: transB ? 0 : 1 });
  }
  let gc: string | undefined;
  if (c && ctx.needs[2]) {
    const scaled = beta === 1 ? g : emit.op('Mul', [g, emit.scalar(beta)]);
    gc = emit.unbroadcast(scaled, ctx.shape(node.output[0]), ctx.shape(c), 'Gemm bias without a batch axis');
  }
  return [ga, undefined, gc];
};

/** Swaps the last two axes of a rank-r tensor. */
function transposeLast(ctx: Parameters<GradRule>[0], t: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.emit.op('Transpose', [t], { perm });
}

/** MatMul Y = A·B (rank ≥ 2, numpy batching): dA = g·Bᵀ, dB = Aᵀ·g, each summed over broadcast batch axes. */
export const matmul: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const [a, b] = node.input;
  const sa = ctx.shape(a);
  const sb = ctx.shape(b);
  const so = ctx.shape(node.output[0]);
  if (sa.length < 2 || sb.length < 2) ctx.unsupported('MatMul with a 1-D operand');
  const g = ctx.gradOut[0]!;
  const ga = ctx.needs[0] ? emit.op('MatMul', [g, transposeLast(ctx, ctx.f32(b), sb.length)]) : undefined;
  const gb = ctx.needs[1] ? emit.op('MatMul', [transposeLast(ctx, ctx.f32(a), sa.length), g]) : undefined;
  const fit = (x: string | undefined, s: number[]) => {
    if (!x) return undefined;
    const full = [...so.slice(0, so.length - 2), ...s.slice(-2)];
    return emit.unbroadcast(x, full, s, 'MatMul broadcasts a batch-less operand');
  };
  return [fit(ga, sa), fit(gb, sb)];
};
