/**
 * Gradient rules of convolution and pooling. The data gradient of a strided, padded, dilated, grouped
 * convolution is ConvTranspose with the same weight (its exact adjoint), cropped by its pads (or zero-extended
 * by output_padding where no window reached) to the input's extent. Max pooling routes the
 * gradient through its argmax "switches" (the MaxPool Indices output) with ScatterElements(add), which
 * stays correct when windows overlap (MaxUnpool does not).
 */
import { attrInt, attrInts, attrString } from '../../onnx/graph';
import type { GradContext, GradRule } from '../rule';

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads per spatial axis. */
  padBegin: number[];
}

/** Resolves kernel, strides, dilations and begin pads (including auto_pad) for a 2-D spatial op. */
function windowOf(ctx: GradContext, kernel: number[]): Window {
  const n = ctx.node;
  const inShape = ctx.shape(n.input[0]);
  const outShape = ctx.shape(n.output[0]);
  const nd = kernel.length;
  const strides = attrInts(n, 'strides') ?? Array(nd).fill(1);
  const dilations = attrInts(n, 'dilations') ?? Array(nd).fill(1);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  let padBegin: number[];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    padBegin = kernel.map((k, i) => {
      const total = Math.max(0, (outShape[i + 2] - 1) * strides[i] + (k - 1) * dilations[i] + 1 - inShape[i + 2]);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    });
  } else {
    const pads = attrInts(n, 'pads') ?? Array(2 * nd).fill(0);
    padBegin = pads.slice(0, nd);
  }
  return { kernel, strides, dilations, padBegin };
}

/**
 * The transposed convolution of `g` with `weight` (same groups/strides/dilations as the forward window), as the
 * part covering the forward input: output index i maps to input index i − padBegin, zero-extended at the end where
 * no window reached. The crop and the extension are ConvTranspose's own pads and output_padding, so no Slice or Pad
 * pass follows it (onnxruntime's Slice of an odd-sized ConvTranspose result was slower than the ConvTranspose).
 */
function transposedToInput(ctx: GradContext, g: string, weight: string, group: number, w: Window, outShape: number[], inShape: number[]): string {
  const { emit } = ctx;
  const nd = w.kernel.length;
  const full = w.kernel.map((k, i) => (outShape[i + 2] - 1) * w.strides[i] + (k - 1) * w.dilations[i] + 1);
  const padEnd = inShape.slice(2).map((s, i) => full[i] - w.padBegin[i] - s);
  const outPad = padEnd.map((p) => Math.max(0, -p));
  const attrs = { group, strides: w.strides, dilations: w.dilations, kernel_shape: w.kernel };
  if (outPad.every((p, i) => p < w.strides[i])) {
    return emit.op('ConvTranspose', [g, weight], {
      ...attrs, pads: [...w.padBegin, ...padEnd.map((p) => Math.max(0, p))], ...(outPad.some((p) => p > 0) ? { output_padding: outPad } : {}),
    });
  }
  // output_padding must stay below the stride: crop and extend explicitly.
  let t = emit.op('ConvTranspose', [g, weight], attrs);
  t = emit.op('Pad', [t, emit.i64([0, 0, ...Array(nd).fill(0), 0, 0, ...outPad])]);
  const axes = Array.from({ length: nd }, (_, i) => i + 2);
  return emit.op('Slice', [t, emit.i64(w.padBegin), emit.i64(inShape.slice(2).map((s, i) => w.padBegin[i] + s)), emit.i64(axes)]);
}

/**
 * The weight of the convolution that is the adjoint of a stride-1 convolution: W' = flip(Wᵀ), with the
 * input and output channels of each group swapped and the kernel reversed along every spatial axis.
 * Built from the weight with Reshape/Transpose/Slice, which onnxruntime folds into a constant.
 */
function adjointWeight(ctx: GradContext, weight: string, wShape: number[], group: number): string {
  const { emit } = ctx;
  const [cout, cinG, ...k] = wShape;
  const nd = k.length;
  let t = weight;
  if (cout / group > 1 || cinG > 1) {
    const rest = Array.from({ length: nd }, (_, i) => i + 3);
    t = emit.op('Reshape', [t, emit.i64([group, cout / group, cinG, ...k])]);
    t = emit.op('Transpose', [t], { perm: [0, 2, 1, ...rest] });
    t = emit.op('Reshape', [t, emit.i64([cinG * group, cout / group, ...k])]);
  }
  const axes = k.map((_, i) => i + 2).filter((a) => wShape[a] > 1);
  if (axes.length) {
    t = emit.op('Slice', [t, emit.i64(axes.map(() => -1)), emit.i64(axes.map((a) => -wShape[a] - 1)), emit.i64(axes), emit.i64(axes.map(() => -1))]);
  }
  return t;
}

/**
 * Conv: dX is the transposed convolution of g with W. For stride 1 it is computed as a plain Conv with the
 * adjoint weight and pads (k−1)·d − p, which runs on the runtime's fastest convolution kernels; for larger
 * strides as ConvTranspose with the same groups/strides/dilations, cropped to X.
 */
export const conv: GradRule = (ctx) => {
  const n = ctx.node;
  if (ctx.needs[1] || ctx.needs[2]) ctx.unsupported('its weight or bias depends on the input');
  const wShape = ctx.shape(n.input[1]);
  const kernel = attrInts(n, 'kernel_shape') ?? wShape.slice(2);
  const w = windowOf(ctx, kernel);
  const inShape = ctx.shape(n.input[0]);
  const outShape = ctx.shape(n.output[0]);
  const group = attrInt(n, 'group', 1);
  if (w.strides.every((s) => s === 1)) {
    const reach = kernel.map((k, i) => (k - 1) * w.dilations[i]);
    const padEnd = kernel.map((_, i) => outShape[i + 2] - 1 + reach[i] + 1 - inShape[i + 2] - w.padBegin[i]);
    const pads = [...reach.map((r, i) => r - w.padBegin[i]), ...reach.map((r, i) => r - padEnd[i])];
    if (pads.every((p) => p >= 0)) {
      return [ctx.emit.op('Conv', [ctx.gradOut[0]!, adjointWeight(ctx, ctx.f32(n.input[1]), wShape, group)], {
        group, dilations: w.dilations, kernel_shape: kernel, pads,
      })];
    }
  }
  return [transposedToInput(ctx, ctx.gradOut[0]!, ctx.f32(n.input[1]), group, w, outShape, inShape)];
};

/** AveragePool: each output's gradient spread over its window, divided by the window's count (with or without pads). */
export const averagePool: GradRule = (ctx) => {
  const n = ctx.node;
  const { emit } = ctx;
  const inShape = ctx.shape(n.input[0]);
  const outShape = ctx.shape(n.output[0]);
  const kernel = attrInts(n, 'kernel_shape')!;
  if (kernel.length !== 2) ctx.unsupported('only 2-D pooling is supported');
  const w = windowOf(ctx, kernel);
  const includePad = attrInt(n, 'count_include_pad', 0) === 1;
  const [H, W] = inShape.slice(2);
  const [Ho, Wo] = outShape.slice(2);
  const pads = attrInts(n, 'pads') ?? [0, 0, 0, 0];
  // Divisor per output position, as onnxruntime computes it: window clipped to the padded extent
  // (count_include_pad) or to the image itself; ceil_mode windows past the pads are clipped too.
  const div = new Float32Array(Ho * Wo);
  for (let oy = 0; oy < Ho; oy++) {
    for (let ox = 0; ox < Wo; ox++) {
      const y0 = oy * w.strides[0] - w.padBegin[0];
      const x0 = ox * w.strides[1] - w.padBegin[1];
      const y1 = Math.min(y0 + kernel[0], H + (includePad ? pads[2] : 0));
      const x1 = Math.min(x0 + kernel[1], W + (includePad ? pads[3] : 0));
      const ya = includePad ? y0 : Math.max(y0, 0);
      const xa = includePad ? x0 : Math.max(x0, 0);
      const yb = includePad ? y1 : Math.min(y1, H);
      const xb = includePad ? x1 : Math.min(x1, W);
      div[oy * Wo + ox] = Math.max(1, (yb - ya) * (xb - xa));
    }
  }
  const scaled = emit.op('Div', [ctx.gradOut[0]!, emit.f32(div, [1, 1, Ho, Wo])]);
  // Spread each window's share uniformly over the window: a transposed convolution with a depthwise all-ones kernel.
  const size = kernel.reduce((a, b) => a * b, 1);
  const ones = emit.f32(new Float32Array(inShape[1] * size).fill(1), [inShape[1], 1, ...kernel]);
  return [transposedToInput(ctx, scaled, ones, inShape[1], w, outShape, inShape)];
};

/** GlobalAveragePool: g / (H·W) broadcast over the map. */
export const globalAveragePool: GradRule = (ctx) => {
  const s = ctx.shape(ctx.node.input[0]);
  const hw = s.slice(2).reduce((a, b) => a * b, 1);
  const ones = ctx.emit.f32(new Float32Array(hw).fill(1 / hw), [1, 1, ...s.slice(2)]);
  return [ctx.emit.op('Mul', [ctx.gradOut[0]!, ones])];
};

/** GlobalMaxPool: g to the maximal position(s) of each channel, shared among ties. */
export const globalMaxPool: GradRule = (ctx) => {
  const { emit } = ctx;
  const x = ctx.f32(ctx.node.input[0]);
  const y = ctx.f32(ctx.node.output[0]);
  const mask = emit.op('Cast', [emit.op('Equal', [x, y])], { to: 1 });
  const axes = ctx.shape(ctx.node.input[0]).slice(2).map((_, i) => i + 2);
  const count = emit.reduceSum(mask, axes);
  return [emit.op('Mul', [emit.op('Div', [ctx.gradOut[0]!, count]), mask])];
};

/**
 * MaxPool: each output's gradient goes to the argmax position given by the Indices output (the Zeiler–Fergus
 * switches). For 2-D pooling the switch of each output is turned into its offset o inside the window (one of
 * kH·kW), a one-hot mask over o computed once from the forward pass, and the masked gradient [K, C·kH·kW, Ho, Wo]
 * is placed back by a depthwise ConvTranspose whose kernel for offset o is the unit impulse at o: the same
 * routing as a scatter-add (overlapping windows sum), without ScatterElements, which onnxruntime runs element
 * by element and was a fifth of guided backprop's time on ResNet-18 for five classes. The switches are taken
 * modulo the plane size, so the forward pass may run a batch of inputs (one row per gradient row) as well as one.
 * Other ranks scatter-add into the flattened input.
 */
export const maxPool: GradRule = (ctx) => {
  const n = ctx.node;
  const { emit, graph } = ctx;
  if (attrInt(n, 'storage_order', 0) !== 0) ctx.unsupported('storage_order = 1');
  const inShape = ctx.shape(n.input[0]);
  const outShape = ctx.shape(n.output[0]);
  let indices = n.output[1];
  if (!indices) {
    // A second MaxPool computes the switches: the forward one keeps its fast indices-free kernel, and the
    // forward graph is only appended to, never edited.
    const [, idx] = graph.addNode('MaxPool', [n.input[0]], 2);
    graph.producer.get(idx)!.attribute = [...(n.attribute ?? [])];
    indices = idx;
  }
  const kernel = attrInts(n, 'kernel_shape')!;
  if (kernel.length === 2 && inShape.length === 4) return [maxPool2d(ctx, indices, kernel, inShape, outShape)];
  const inner = inShape.slice(1).reduce((a, b) => a * b, 1);
  const outer = outShape.slice(1).reduce((a, b) => a * b, 1);
  const g = emit.op('Reshape', [ctx.gradOut[0]!, emit.i64([-1, outer])]);
  const batch = emit.op('Shape', [g], { start: 0, end: 1 });
  // Switches of a batch-1 forward pass, shared by every gradient row (the row offset of a batched pass is removed).
  const local = emit.op('Mod', [emit.op('Reshape', [indices, emit.i64([-1, outer])]), emit.i64([inner])]);
  const idx = emit.op('Expand', [local, emit.op('Concat', [batch, emit.i64([outer])], { axis: 0 })]);
  const zeros = emit.op('ConstantOfShape', [emit.op('Concat', [batch, emit.i64([inner])], { axis: 0 })], { value: { type: 'float32', dims: [1], data: new Float32Array([0]) } });
  const scattered = emit.op('ScatterElements', [zeros, idx, g], { axis: 1, reduction: 'add' });
  return [emit.op('Reshape', [scattered, emit.i64([-1, ...inShape.slice(1)])])];
};

/** The 2-D MaxPool gradient as a one-hot window-offset mask and a depthwise ConvTranspose of unit impulses. */
function maxPool2d(ctx: GradContext, indices: string, kernel: number[], inShape: number[], outShape: number[]): string {
  const { emit } = ctx;
  const w = windowOf(ctx, kernel);
  const [, C, H, W] = inShape;
  const [Ho, Wo] = outShape.slice(2);
  const kk = kernel[0] * kernel[1];
  // Input row and column of each switch (indices count over the whole tensor; the plane offset is dropped).
  const plane = emit.op('Mod', [indices, emit.i64([H * W])]);
  const iy = emit.op('Div', [plane, emit.i64([W])]);
  const ix = emit.op('Mod', [plane, emit.i64([W])]);
  // Window origin of each output position, and the offset inside the window in units of the dilation.
  const y0 = emit.i64(Array.from({ length: Ho }, (_, oy) => oy * w.strides[0] - w.padBegin[0]));
  const x0 = emit.i64(Array.from({ length: Wo }, (_, ox) => ox * w.strides[1] - w.padBegin[1]));
  const dy = emit.op('Div', [emit.op('Sub', [iy, emit.op('Reshape', [y0, emit.i64([Ho, 1])])]), emit.i64([w.dilations[0]])]);
  const dx = emit.op('Div', [emit.op('Sub', [ix, emit.op('Reshape', [x0, emit.i64([1, Wo])])]), emit.i64([w.dilations[1]])]);
  const offset = emit.op('Add', [emit.op('Mul', [dy, emit.i64([kernel[1]])]), dx]);
  const range = emit.op('Reshape', [emit.i64(Array.from({ length: kk }, (_, i) => i)), emit.i64([1, 1, kk, 1, 1])]);
  const mask = emit.op('Cast', [emit.op('Equal', [emit.op('Unsqueeze', [offset, emit.i64([2])]), range])], { to: 1 });
  const masked = emit.op('Mul', [emit.op('Unsqueeze', [ctx.gradOut[0]!, emit.i64([2])]), mask]);
  const stacked = emit.op('Reshape', [masked, emit.i64([-1, C * kk, Ho, Wo])]);
  // Kernel of channel c·kk + o: 1 at window offset o (its ConvTranspose places the gradient at the switch). Built
  // in the graph from the kk × kk identity tiled C times, so the graph carries a small constant (onnxruntime folds
  // the Tile at load) rather than a C·kk² initializer that would be moved into the model's shared weights per graph.
  const eye = new Float32Array(kk * kk);
  for (let o = 0; o < kk; o++) eye[o * kk + o] = 1;
  const weight = emit.op('Reshape', [emit.op('Tile', [emit.f32(eye, [kk, kk]), emit.i64([C, 1])]), emit.i64([C * kk, 1, ...kernel])]);
  return transposedToInput(ctx, stacked, weight, C, w, outShape, inShape);
}

/**
 * ConvTranspose: the adjoint of "full transposed convolution, then crop pads (and extend by output_padding)"
 * is "zero-pad the gradient back to the full extent, then Conv with the same weight, strides, dilations, groups".
 */
export const convTranspose: GradRule = (ctx) => {
  const n = ctx.node;
  if (ctx.needs[1] || ctx.needs[2]) ctx.unsupported('its weight or bias depends on the input');
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' || attrInts(n, 'output_shape')) ctx.unsupported('auto_pad or output_shape (give explicit pads)');
  const wShape = ctx.shape(n.input[1]);
  const kernel = attrInts(n, 'kernel_shape') ?? wShape.slice(2);
  const nd = kernel.length;
  const strides = attrInts(n, 'strides') ?? Array(nd).fill(1);
  const dilations = attrInts(n, 'dilations') ?? Array(nd).fill(1);
  const pads = attrInts(n, 'pads') ?? Array(2 * nd).fill(0);
  const outPad = attrInts(n, 'output_padding') ?? Array(nd).fill(0);
  const begin = pads.slice(0, nd);
  const end = pads.slice(nd).map((p, i) => p - outPad[i]);
  let g = ctx.gradOut[0]!;
  if ([...begin, ...end].some((p) => p !== 0)) g = ctx.emit.op('Pad', [g, ctx.emit.i64([0, 0, ...begin, 0, 0, ...end])]);
  return [ctx.emit.op('Conv', [g, ctx.f32(n.input[1])], { group: attrInt(n, 'group', 1), strides, dilations, kernel_shape: kernel })];
};
