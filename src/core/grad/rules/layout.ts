/** Gradient rules of ops that move values without arithmetic: reshapes, transposes, concat/split, slice, pad, gather. */
import { attrInt, attrInts, attrString } from '../../onnx/graph';
import type { GradContext, GradRule } from '../rule';

/** Values of a constant int tensor input (e.g. axes, pads, starts), or undefined when absent. */
function ints(ctx: GradContext, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const c = ctx.constant(name);
  if (!c) ctx.unsupported(`its input '${name}' is not a constant`);
  return Array.from(c.data as ArrayLike<number | bigint>, Number);
}

/**
 * An op that works along axis 0. That axis may be the batch, or (after a Transpose or Reshape, as in
 * attention's qkv of shape [3, B, heads, N, d]) an ordinary axis; rules cannot tell which from the batch-1
 * shapes. Either way the graph is run one class at a time, and then every gradient has exactly its forward
 * tensor's shape, so the rule is built with the forward shapes.
 */
function alongAxisZero(ctx: GradContext): void {
  ctx.emit.batchUnsafe.push(`${ctx.node.opType} along axis 0`);
}

/** Reshape-like ops (Flatten, Reshape, Squeeze, Unsqueeze): reshape the gradient back to the input's shape. */
export const reshapeBack: GradRule = (ctx) => {
  const inShape = ctx.shape(ctx.node.input[0]);
  const outShape = ctx.shape(ctx.node.output[0]);
  const g = ctx.gradOut[0]!;
  if (outShape[0] !== 1) ctx.emit.batchUnsafe.push(`${ctx.node.opType} folds the batch axis`);
  return [ctx.emit.reshapeTo(g, inShape, `${ctx.node.opType} of a tensor without a batch axis`)];
};

/** Identity-like ops (Identity, Dropout at inference, Cast between float types): the gradient passes through. */
export const passThrough: GradRule = (ctx) => [ctx.gradOut[0]!];

/** Transpose: transpose the gradient by the inverse permutation. */
export const transpose: GradRule = (ctx) => {
  const rank = ctx.shape(ctx.node.input[0]).length;
  const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm[0] !== 0) ctx.emit.batchUnsafe.push('Transpose moves the batch axis');
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => (inv[p] = i));
  return [ctx.emit.op('Transpose', [ctx.gradOut[0]!], { perm: inv })];
};

/** Concat: slice the gradient back into the pieces. */
export const concat: GradRule = (ctx) => {
  const rank = ctx.shape(ctx.node.output[0]).length;
  const axis = (attrInt(ctx.node, 'axis', 0) + rank) % rank;
  if (axis === 0) alongAxisZero(ctx);
  let offset = 0;
  return ctx.node.input.map((x, k) => {
    const len = ctx.shape(x)[axis];
    const start = offset;
    offset += len;
    if (!ctx.needs[k]) return undefined;
    return ctx.emit.op('Slice', [ctx.gradOut[0]!, ctx.emit.i64([start]), ctx.emit.i64([start + len]), ctx.emit.i64([axis])]);
  });
};

/** Split: concatenate the pieces' gradients (zeros for pieces nothing used). */
export const split: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const inShape = ctx.shape(node.input[0]);
  const rank = inShape.length;
  const axis = (attrInt(node, 'axis', 0) + rank) % rank;
  if (axis === 0) alongAxisZero(ctx);
  const parts = node.output.map((o, k) => {
    const g = ctx.gradOut[k];
    if (g) return g;
    const s = ctx.shape(o);
    return emit.f32(new Float32Array(s.reduce((a, b) => a * b, 1)), s);
  });
  // Along axis 0 the pieces have their forward shapes (one class per run).
  if (axis === 0) return [emit.op('Concat', parts, { axis })];
  // Zero pieces have batch 1; Concat needs equal batches, so broadcast them against a batched piece.
  const batched = ctx.gradOut.find(Boolean)!;
  const batchShape = emit.op('Shape', [batched], { start: 0, end: 1 });
  const fixed = parts.map((p, k) => (ctx.gradOut[k] ? p : emit.op('Expand', [p, emit.op('Concat', [batchShape, emit.i64(ctx.shape(node.output[k]).slice(1))], { axis: 0 })])));
  return [emit.op('Concat', fixed, { axis })];
};

/** Slice (steps ±1 or more): scatter the gradient back into zeros at the sliced positions. */
export const slice: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const inShape = ctx.shape(node.input[0]);
  const rank = inShape.length;
  const starts = ints(ctx, node.input[1])!;
  const ends = ints(ctx, node.input[2])!;
  const axes = (ints(ctx, node.input[3]) ?? starts.map((_, i) => i)).map((a) => (a + rank) % rank);
  const steps = ints(ctx, node.input[4]) ?? starts.map(() => 1);
  const exact = axes.includes(0);
  if (exact) alongAxisZero(ctx);
  const pads = new Array<number>(2 * rank).fill(0);
  let simple = true;
  axes.forEach((ax, i) => {
    const dim = inShape[ax];
    if (steps[i] !== 1) simple = false;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(starts[i]);
    const e = clamp(ends[i]);
    pads[ax] = s;
    pads[rank + ax] = dim - Math.max(e, s);
  });
  if (simple) return [emit.op('Pad', [ctx.gradOut[0]!, emit.i64(pads)])];
  // General steps: index map computed here, applied with ScatterElements along each sliced axis in turn.
  let g = ctx.gradOut[0]!;
  let cur = ctx.shape(node.output[0]);
  axes.forEach((ax, i) => {
    const dim = inShape[ax];
    const step = steps[i];
    const s0 = starts[i] < 0 ? starts[i] + dim : starts[i];
    const first = step > 0 ? Math.min(Math.max(s0, 0), dim) : Math.min(Math.max(s0, -1), dim - 1);
    const count = cur[ax];
    const target = [...cur];
    target[ax] = dim;
    const idx = new BigInt64Array(cur.reduce((a, b) => a * b, 1));
    const strides = cur.map((_, k) => cur.slice(k + 1).reduce((a, b) => a * b, 1));
    for (let f = 0; f < idx.length; f++) {
      const pos = Math.floor(f / strides[ax]) % count;
      idx[f] = BigInt(first + pos * step);
    }
    const idxName = ctx.graph.addInitializer('slice_idx', { type: 'int64', dims: cur, data: idx });
    if (exact) {
      const zeros = emit.op('ConstantOfShape', [emit.i64(target)], { value: { type: 'float32', dims: [1], data: new Float32Array([0]) } });
      g = emit.op('ScatterElements', [zeros, idxName, g], { axis: ax, reduction: 'add' });
      cur = target;
      return;
    }
    const batch = emit.op('Shape', [g], { start: 0, end: 1 });
    const idxB = emit.op('Expand', [idxName, emit.op('Concat', [batch, emit.i64(cur.slice(1))], { axis: 0 })]);
    const zeros = emit.op('ConstantOfShape', [emit.op('Concat', [batch, emit.i64(target.slice(1))], { axis: 0 })], { value: { type: 'float32', dims: [1], data: new Float32Array([0]) } });
    g = emit.op('ScatterElements', [zeros, idxB, g], { axis: ax, reduction: 'add' });
    cur = target;
  });
  return [g];
};

/** Pad (constant mode): slice the padded border off the gradient (negative pads become zero-padding). */
export const pad: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const mode = attrString(node, 'mode', 'constant');
  if (mode !== 'constant') ctx.unsupported(`Pad mode '${mode}' (only constant padding is supported)`);
  const inShape = ctx.shape(node.input[0]);
  const rank = inShape.length;
  let pads = ints(ctx, node.input[1])!;
  const axesIn = ints(ctx, node.input[3]);
  if (axesIn) {
    const full = new Array<number>(2 * rank).fill(0);
    axesIn.forEach((a, i) => {
      const ax = (a + rank) % rank;
      full[ax] = pads[i];
      full[rank + ax] = pads[axesIn.length + i];
    });
    pads = full;
  }
  if (pads[0] !== 0 || pads[rank] !== 0) alongAxisZero(ctx);
  // Negative pads crop in the forward pass; in the backward they pad with zeros.
  const neg = pads.map((p) => Math.max(0, -p));
  let g = ctx.gradOut[0]!;
  if (neg.some((p) => p > 0)) g = emit.op('Pad', [g, emit.i64(neg)]);
  const outShape = ctx.shape(node.output[0]);
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let a = 0; a < rank; a++) {
    const b = Math.max(0, pads[a]);
    const e = Math.max(0, pads[rank + a]);
    if (b || e) {
      axes.push(a);
      starts.push(b);
      ends.push(outShape[a] + neg[a] + neg[rank + a] - e);
    }
  }
  return [axes.length ? emit.op('Slice', [g, emit.i64(starts), emit.i64(ends), emit.i64(axes)]) : g];
};

/** Gather with constant indices: scatter-add the gradient back into zeros at the gathered positions. */
export const gather: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const inShape = ctx.shape(node.input[0]);
  const rank = inShape.length;
  const axis = (attrInt(node, 'axis', 0) + rank) % rank;
  const idxT = ctx.constant(node.input[1]);
  if (!idxT) return ctx.unsupported('indices that depend on the input');
  const idx = Array.from(idxT.data as ArrayLike<number | bigint>, Number).map((i) => (i < 0 ? i + inShape[axis] : i));
  // Reshape the gradient so the gathered axis is one axis of length idx.length, then scatter along it.
  const mid = [...inShape];
  mid[axis] = idx.length;
  const exact = axis === 0;
  if (exact) alongAxisZero(ctx);
  const g = emit.op('Reshape', [ctx.gradOut[0]!, emit.i64(exact ? mid : [-1, ...mid.slice(1)])]);
  const n = mid.reduce((a, b) => a * b, 1);
  const strides = mid.map((_, k) => mid.slice(k + 1).reduce((a, b) => a * b, 1));
  const full = new BigInt64Array(n);
  for (let f = 0; f < n; f++) full[f] = BigInt(idx[Math.floor(f / strides[axis]) % idx.length]);
  const idxName = ctx.graph.addInitializer('gather_idx', { type: 'int64', dims: mid, data: full });
  const zero = { value: { type: 'float32' as const, dims: [1], data: new Float32Array([0]) } };
  if (exact) return [emit.op('ScatterElements', [emit.op('ConstantOfShape', [emit.i64(inShape)], zero), idxName, g], { axis, reduction: 'add' })];
  const batch = emit.op('Shape', [g], { start: 0, end: 1 });
  const idxB = emit.op('Expand', [idxName, emit.op('Concat', [batch, emit.i64(mid.slice(1))], { axis: 0 })]);
  const zeros = emit.op('ConstantOfShape', [emit.op('Concat', [batch, emit.i64(inShape.slice(1))], { axis: 0 })], { value: { type: 'float32', dims: [1], data: new Float32Array([0]) } });
  return [emit.op('ScatterElements', [zeros, idxB, g], { axis, reduction: 'add' })];
};
