/**
 * The receptive field of one position of a feature map: the input pixels that can influence it, found by
 * walking the graph back from the layer to the input through each operator's window (kernel, stride, padding,
 * dilation) — the "image patch" of Zeiler and Fergus, ECCV 2014, fig. 2. Operators that mix all positions
 * (global pooling, reshapes, matrix products) or that have no rule here widen the field to the whole input,
 * so the result always contains every pixel the position depends on; for chains of convolutions and pools it is exact.
 */
import { LookCloserError } from '../errors';
import { Graph, Node, attrInt, attrInts, attrString } from '../onnx/graph';
import type { Box } from '../render/overlay';

/** Inclusive index ranges along H and W, or 'all' for "every element" (any non-spatial tensor). */
type Field = { y0: number; y1: number; x0: number; x1: number } | 'all';
type Shapes = ReadonlyMap<string, readonly number[]>;

/** One operator's rule: the field of each input that the output field `out` needs (undefined: none). */
type FieldRule = (node: Node, out: Exclude<Field, 'all'>, shapes: Shapes, graph: Graph) => (Field | undefined)[];

const WINDOW_OPS = new Set(['Conv', 'MaxPool', 'AveragePool', 'LpPool']);
/** Ops whose output position (y, x) reads only position (y, x) of each same-size input. */
const POINTWISE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf', 'Exp', 'Log',
  'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Softplus', 'Identity', 'Dropout', 'Cast', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max',
  'Min', 'Sum', 'Mean', 'Where', 'BatchNormalization', 'Concat', 'Split', 'LRN', 'Gelu', 'Mish', 'Softsign', 'ThresholdedRelu',
]);

function spatial(shape: readonly number[] | undefined): [number, number] | undefined {
  return shape && shape.length === 4 ? [shape[2], shape[3]] : undefined;
}

function clampField(f: Exclude<Field, 'all'>, h: number, w: number): Exclude<Field, 'all'> {
  return { y0: Math.max(0, f.y0), y1: Math.min(h - 1, f.y1), x0: Math.max(0, f.x0), x1: Math.min(w - 1, f.x1) };
}

function whole(shape: readonly number[] | undefined): Field {
  const s = spatial(shape);
  return s ? { y0: 0, y1: s[0] - 1, x0: 0, x1: s[1] - 1 } : 'all';
}

/** Conv and pools: in = out·stride − padBegin … out·stride − padBegin + (k − 1)·dilation. */
const windowRule: FieldRule = (node, out, shapes, graph) => {
  const inShape = shapes.get(node.input[0]);
  const outShape = shapes.get(node.output[0]);
  const si = spatial(inShape);
  if (!si || !spatial(outShape)) return node.input.map((i) => (i ? 'all' : undefined));
  let kernel = attrInts(node, 'kernel_shape');
  if (!kernel && node.opType === 'Conv') {
    const wShape = shapes.get(node.input[1]) ?? graph.constant(node.input[1])?.dims ?? (graph.initializers.get(node.input[1])?.dims ?? []).map(Number);
    kernel = wShape.length === 4 ? [wShape[2], wShape[3]] : undefined;
  }
  if (!kernel || kernel.length !== 2) return [whole(inShape)];
  const strides = attrInts(node, 'strides') ?? [1, 1];
  const dil = attrInts(node, 'dilations') ?? [1, 1];
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pb: number[];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pb = kernel.map((k, i) => {
      const total = Math.max(0, (outShape![i + 2] - 1) * strides[i] + (k - 1) * dil[i] + 1 - inShape![i + 2]);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    });
  } else pb = (attrInts(node, 'pads') ?? [0, 0, 0, 0]).slice(0, 2);
  const f = {
    y0: out.y0 * strides[0] - pb[0], y1: out.y1 * strides[0] - pb[0] + (kernel[0] - 1) * dil[0],
    x0: out.x0 * strides[1] - pb[1], x1: out.x1 * strides[1] - pb[1] + (kernel[1] - 1) * dil[1],
  };
  // Weights and bias need no field.
  return [clampField(f, si[0], si[1])];
};

/** Pointwise ops: same-size inputs need the same positions; broadcast (1×1) and non-spatial inputs need all of theirs. */
const pointwiseRule: FieldRule = (node, out, shapes, graph) => {
  const os = spatial(shapes.get(node.output[0]));
  if (node.opType === 'Concat' && attrInt(node, 'axis', 1) % 4 !== 1 && attrInt(node, 'axis', 1) !== -3) return node.input.map((i) => (i ? whole(shapes.get(i)) : undefined));
  return node.input.map((i) => {
    if (!i || graph.isConstant(i)) return undefined;
    const s = spatial(shapes.get(i));
    if (s && os && s[0] === os[0] && s[1] === os[1]) return out;
    return whole(shapes.get(i));
  });
};

/** Pad: shifts by the begin pads of H and W. */
const padRule: FieldRule = (node, out, shapes, graph) => {
  const si = spatial(shapes.get(node.input[0]));
  const c = node.input[1] ? graph.constant(node.input[1]) : undefined;
  const pads = c ? Array.from(c.data as ArrayLike<number | bigint>, Number) : attrInts(node, 'pads');
  if (!si || !pads || pads.length !== 8 || node.input[3]) return [whole(shapes.get(node.input[0]))];
  return [clampField({ y0: out.y0 - pads[2], y1: out.y1 - pads[2], x0: out.x0 - pads[3], x1: out.x1 - pads[3] }, si[0], si[1])];
};

/** Resize/Upsample: the output range scaled back to the input, widened by one pixel each side for interpolation. */
const resizeRule: FieldRule = (node, out, shapes) => {
  const si = spatial(shapes.get(node.input[0]));
  const so = spatial(shapes.get(node.output[0]));
  if (!si || !so) return [whole(shapes.get(node.input[0]))];
  const fy = si[0] / so[0];
  const fx = si[1] / so[1];
  return [clampField({
    y0: Math.floor(out.y0 * fy) - 1, y1: Math.ceil((out.y1 + 1) * fy) + 1,
    x0: Math.floor(out.x0 * fx) - 1, x1: Math.ceil((out.x1 + 1) * fx) + 1,
  }, si[0], si[1])];
};

/** Field rules by op type; any other op needs all of each input. */
const FIELD_RULES: Readonly<Record<string, FieldRule>> = {
  ...Object.fromEntries([...WINDOW_OPS].map((op) => [op, windowRule])),
  ...Object.fromEntries([...POINTWISE].map((op) => [op, pointwiseRule])),
  Pad: padRule,
  Resize: resizeRule,
  Upsample: resizeRule,
};

function union(a: Field | undefined, b: Field): Field {
  if (!a) return b;
  if (a === 'all' || b === 'all') return 'all';
  return { y0: Math.min(a.y0, b.y0), y1: Math.max(a.y1, b.y1), x0: Math.min(a.x0, b.x0), x1: Math.max(a.x1, b.x1) };
}

/**
 * The input pixels position (y, x) of a 4-D layer depends on, as a box in input pixels (integer edges, within
 * the input). `shapes` maps the layer, every tensor between it and the input, and the input to batch-1 shapes.
 */
export function receptiveField(graph: Graph, shapes: Shapes, input: string, layer: string, y: number, x: number): Box {
  const ls = spatial(shapes.get(layer));
  const is = spatial(shapes.get(input));
  if (!ls) throw new LookCloserError('method-not-applicable', `Layer '${layer}' is not a 4-D feature map [1,C,H,W]; its positions have no receptive field.`);
  if (!is) throw new LookCloserError('unsupported-model', `Input '${input}' is not a 4-D NCHW tensor; receptive fields need one.`);
  if (!(y >= 0 && y < ls[0] && x >= 0 && x < ls[1])) throw new LookCloserError('bad-argument', `Position (${y}, ${x}) is outside layer '${layer}' (${ls[0]}×${ls[1]}).`);
  const fields = new Map<string, Field>([[layer, { y0: y, y1: y, x0: x, x1: x }]]);
  const nodes = graph.nodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    let out: Field | undefined;
    for (const o of n.output) if (o && fields.has(o)) out = union(out, fields.get(o)!);
    if (!out) continue;
    const rule = FIELD_RULES[n.opType];
    const needs = out === 'all' || !rule ? n.input.map((t) => (t && !graph.isConstant(t) ? whole(shapes.get(t)) : undefined)) : rule(n, out, shapes, graph);
    n.input.forEach((t, k) => {
      const f = needs[k];
      if (t && f && !graph.isConstant(t)) fields.set(t, union(fields.get(t), f));
    });
  }
  const f = fields.get(input);
  if (!f) throw new LookCloserError('bad-argument', `Layer '${layer}' does not depend on the input '${input}'.`);
  const r = f === 'all' ? { y0: 0, y1: is[0] - 1, x0: 0, x1: is[1] - 1 } : f;
  return { x: r.x0, y: r.y0, width: r.x1 - r.x0 + 1, height: r.y1 - r.y0 + 1 };
}
