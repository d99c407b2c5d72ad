/** Gradient rules of Gemm and MatMul (input gradients only). */
import { attrFloat, attrInt, attrString } from '../../onnx/graph';
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

/**
 * Einsum (explicit or implicit output, no ellipsis, no repeated letter within a term): the gradient of operand i
 * is the Einsum of the output gradient with the other operands into operand i's letters; letters that only
 * operand i has (summed away in the forward) are broadcast back with Expand. Einsum does not broadcast a
 * batch of 1 against a batch of K, so the graph runs one class at a time (exact forward shapes).
 */
export const einsum: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const text = attrString(node, 'equation', '').replace(/\s+/g, '');
  if (text.includes('.')) ctx.unsupported('Einsum with an ellipsis');
  const [lhs, rhs] = text.split('->');
  const terms = lhs.split(',');
  let out = rhs;
  if (out === undefined) {
    const counts = new Map<string, number>();
    for (const ch of terms.join('')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    out = [...counts].filter(([, n]) => n === 1).map(([ch]) => ch).sort().join('');
  }
  if (terms.some((t) => new Set(t).size !== t.length)) ctx.unsupported('Einsum with a repeated index within one operand (a diagonal)');
  emit.batchUnsafe.push('Einsum');
  const g = ctx.gradOut[0]!;
  return terms.map((term, i) => {
    if (!ctx.needs[i]) return undefined;
    const others = terms.filter((_, j) => j !== i);
    const seen = new Set(out + others.join(''));
    const kept = [...term].filter((ch) => seen.has(ch)).join('');
    const inputs = [g, ...node.input.filter((_, j) => j !== i).map((x) => ctx.f32(x))];
    let r = emit.op('Einsum', inputs, { equation: `${[out, ...others].join(',')}->${kept}` });
    if (kept.length < term.length) {
      const shape = ctx.shape(node.input[i]);
      const missing = [...term].map((ch, k) => (seen.has(ch) ? -1 : k)).filter((k) => k >= 0);
      r = emit.op('Expand', [emit.op('Unsqueeze', [r, emit.i64(missing)]), emit.i64(shape)]);
    }
    return r;
  });
};
