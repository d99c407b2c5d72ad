/**
 * Static shape inference for a batch-1 input: the shape of every tensor of a graph from the input's dims, the
 * weights' dims and each operator's shape rule (ONNX operator specs, https://onnx.ai/onnx/operators/), with small
 * integer tensors (Shape → Gather → Concat → Reshape chains) evaluated on the way. It replaces the layer probe (a
 * forward pass with every tensor exposed) where it knows every operator; a tensor whose operator it does not
 * know is left out, and the caller probes instead. Shapes only: nothing here reads a weight's values except the
 * small integer tensors that shape arithmetic uses.
 */
import { Graph, Node, attr, attrInt, attrInts } from './graph';
import { toNum } from './model';

/** Integer tensors longer than this are not evaluated (shape arithmetic uses a handful of values). */
const MAX_VALUES = 64;

/** Operators whose output has the shape of their first input. */
const SAME_SHAPE = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'Gelu',
  'Erf', 'Exp', 'Log', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Sign', 'Mish', 'ThresholdedRelu',
  'Identity', 'Dropout', 'Cast', 'CastLike', 'Clip', 'BatchNormalization', 'InstanceNormalization', 'LayerNormalization',
  'GroupNormalization', 'LRN', 'Softmax', 'LogSoftmax', 'Hardmax', 'Shrink', 'Not', 'IsNaN', 'IsInf', 'LpNormalization',
  'MeanVarianceNormalization',
]);

/** Elementwise operators with numpy broadcasting over all inputs. */
const BROADCAST = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Equal', 'Greater', 'Less', 'GreaterOrEqual',
  'LessOrEqual', 'And', 'Or', 'Xor', 'Mod', 'BitShift',
]);

const POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCES = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** numpy broadcasting of shapes, or undefined when they do not broadcast. */
function broadcast(shapes: readonly (readonly number[])[]): number[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) return undefined;
      d = v;
    }
    out.push(d);
  }
  return out;
}

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Row-major strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** Elementwise `f` over small integer tensors with numpy broadcasting. */
function broadcastValues(shapes: readonly (readonly number[])[], values: readonly (readonly number[])[], f: (...v: number[]) => number): number[] | undefined {
  const out = broadcast(shapes);
  if (!out) return undefined;
  const total = out.reduce((a, b) => a * b, 1);
  if (total > MAX_VALUES) return undefined;
  const os = strides(out);
  const res: number[] = [];
  for (let i = 0; i < total; i++) {
    const args = shapes.map((s, k) => {
      const ss = strides(s);
      let off = 0;
      for (let d = 0; d < s.length; d++) {
        const idx = Math.floor(i / os[out.length - s.length + d]) % out[out.length - s.length + d];
        off += (s[d] === 1 ? 0 : idx) * ss[d];
      }
      return values[k][off];
    });
    res.push(f(...args));
  }
  return res;
}

/** The one integer of a raw little-endian int64 (dataType 7) or int32 (6) tensor. */
function readInt(raw: Uint8Array, dataType: number): number {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return dataType === 6 ? view.getInt32(0, true) : Number(view.getBigInt64(0, true));
}

/** Integer arithmetic of the ops shape computations use. */
const INT_OPS: Record<string, (...v: number[]) => number> = {
  Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => Math.trunc(a / b), Mod: (a, b) => ((a % b) + b) % b,
  Max: (...v) => Math.max(...v), Min: (...v) => Math.min(...v), Equal: (a, b) => (a === b ? 1 : 0), Where: (c, a, b) => (c ? a : b),
  Less: (a, b) => (a < b ? 1 : 0), Greater: (a, b) => (a > b ? 1 : 0), Neg: (a) => -a, Abs: (a) => Math.abs(a), Not: (a) => (a ? 0 : 1),
};

/** Spatial output sizes of a convolution or pooling window (ONNX Conv/MaxPool shape rules, with auto_pad and ceil_mode). */
function windowed(node: Node, spatial: readonly number[], kernel: readonly number[]): number[] | undefined {
  const n = spatial.length;
  const strides = attrInts(node, 'strides') ?? new Array<number>(n).fill(1);
  const dil = attrInts(node, 'dilations') ?? new Array<number>(n).fill(1);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * n).fill(0);
  const autoPad = attr(node, 'auto_pad')?.s ? new TextDecoder().decode(attr(node, 'auto_pad')!.s!) : 'NOTSET';
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = (kernel[i] - 1) * (dil[i] ?? 1) + 1;
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(spatial[i] / s));
    else if (autoPad === 'VALID') out.push(Math.floor((spatial[i] - k) / s) + 1);
    else {
      const span = spatial[i] + (pads[i] ?? 0) + (pads[i + n] ?? 0) - k;
      let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      // ceil_mode: the last window must start inside the input or its left padding (as onnxruntime computes it).
      if (ceil && (o - 1) * s >= spatial[i] + (pads[i] ?? 0)) o--;
      out.push(o);
    }
  }
  return out.every((d) => Number.isInteger(d) && d > 0) ? out : undefined;
}

/**
 * The shapes of a graph's tensors for an input of `inputDims` (batch 1): every tensor whose operators are known
 * here, initializers included. A tensor missing from the map could not be inferred (the caller probes).
 */
export function inferShapes(graph: Graph, inputName: string, inputDims: readonly number[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  /** Values of small integer tensors (shapes, axes, indices). */
  const values = new Map<string, number[]>();
  for (const [name, t] of graph.initializers) shapes.set(name, (t.dims ?? []).map(toNum));
  shapes.set(inputName, [...inputDims]);
  const shapeOf = (name: string | undefined) => (name ? shapes.get(name) : undefined);
  const valueOf = (name: string | undefined): number[] | undefined => {
    if (!name) return undefined;
    const v = values.get(name);
    if (v) return v;
    const c = graph.constant(name);
    if (!c || (c.type !== 'int64' && c.type !== 'int32') || c.data.length > MAX_VALUES) return undefined;
    const out = Array.from(c.data as ArrayLike<number | bigint>, Number);
    values.set(name, out);
    return out;
  };
  /** The axes of an op that takes them as an attribute (older opsets) or as input `i` (newer ones). */
  const axesOf = (n: Node, i: number): number[] | undefined => attrInts(n, 'axes') ?? (n.input[i] ? valueOf(n.input[i]) : undefined);

  for (const n of graph.nodes) {
    const x = shapeOf(n.input[0]);
    const set = (s: number[] | undefined, o = 0) => {
      if (s && n.output[o] && s.every((d) => Number.isInteger(d) && d >= 0)) shapes.set(n.output[o], s);
    };
    const op = n.opType;
    if (op === 'Constant') {
      const c = graph.constant(n.output[0]);
      if (c) set([...c.dims]);
      continue;
    }
    if (SAME_SHAPE.has(op)) {
      if (x) for (let o = 0; o < n.output.length; o++) if (o === 0 || op === 'Dropout') set([...x], o);
      const v = valueOf(n.input[0]);
      if (v && n.output[0] && (op === 'Cast' || op === 'Identity')) values.set(n.output[0], v);
      else if (v && n.output[0] && INT_OPS[op]) values.set(n.output[0], v.map((e) => INT_OPS[op](e)));
      continue;
    }
    if (BROADCAST.has(op)) {
      const ins = n.input.filter(Boolean).map((i) => shapeOf(i));
      if (ins.every((s): s is number[] => !!s)) set(broadcast(ins));
      const vs = n.input.filter(Boolean).map((i) => valueOf(i));
      const f = INT_OPS[op];
      if (f && n.output[0] && vs.every((v): v is number[] => !!v) && ins.every((sh): sh is number[] => !!sh)) {
        const v = broadcastValues(ins as number[][], vs, f);
        if (v) values.set(n.output[0], v);
      }
      continue;
    }
    if (op === 'ConstantOfShape') {
      const shape = valueOf(n.input[0]);
      if (!shape) continue;
      set(shape);
      const t = attr(n, 'value')?.t;
      const total = shape.reduce((a, b) => a * b, 1);
      if (total <= MAX_VALUES && (!t || t.dataType === 7 || t.dataType === 6)) {
        const fill = !t ? 0 : t.rawData?.length ? readInt(t.rawData, t.dataType!) : toNum(t.int64Data?.[0] ?? t.int32Data?.[0] ?? 0);
        values.set(n.output[0], new Array<number>(total).fill(fill));
      }
      continue;
    }
    if (op === 'Range') {
      const [start, limit, delta] = [0, 1, 2].map((i) => valueOf(n.input[i])?.[0]);
      if (start === undefined || limit === undefined || delta === undefined || !delta) continue;
      const len = Math.max(Math.ceil((limit - start) / delta), 0);
      set([len]);
      if (len <= MAX_VALUES) values.set(n.output[0], Array.from({ length: len }, (_, i) => start + i * delta));
      continue;
    }
    if (!x) continue;
    const rank = x.length;
    switch (op) {
      case 'Conv': {
        const w = shapeOf(n.input[1]);
        if (!w || rank < 3) break;
        const kernel = attrInts(n, 'kernel_shape') ?? w.slice(2);
        const sp = windowed(n, x.slice(2), kernel);
        if (sp) set([x[0], w[0], ...sp]);
        break;
      }
      case 'ConvTranspose': {
        const w = shapeOf(n.input[1]);
        if (!w || rank < 3) break;
        const group = attrInt(n, 'group', 1);
        const given = attrInts(n, 'output_shape');
        const k = attrInts(n, 'kernel_shape') ?? w.slice(2);
        const m = rank - 2;
        const strides = attrInts(n, 'strides') ?? new Array<number>(m).fill(1);
        const dil = attrInts(n, 'dilations') ?? new Array<number>(m).fill(1);
        const outPad = attrInts(n, 'output_padding') ?? new Array<number>(m).fill(0);
        const pads = attrInts(n, 'pads') ?? new Array<number>(2 * m).fill(0);
        const autoPad = attr(n, 'auto_pad')?.s ? new TextDecoder().decode(attr(n, 'auto_pad')!.s!) : 'NOTSET';
        if (autoPad !== 'NOTSET' && autoPad !== 'VALID' && !given) break;
        const sp = given ? given.slice(-m) : x.slice(2).map((d, i) => strides[i] * (d - 1) + outPad[i] + (k[i] - 1) * dil[i] + 1 - (autoPad === 'VALID' ? 0 : pads[i] + pads[i + m]));
        set([x[0], w[1] * group, ...sp]);
        break;
      }
      case 'MaxPool': case 'AveragePool': case 'LpPool': {
        const kernel = attrInts(n, 'kernel_shape');
        if (!kernel || rank < 3) break;
        const sp = windowed(n, x.slice(2), kernel);
        if (sp) {
          set([x[0], x[1], ...sp]);
          if (POOLS.has(op)) set([x[0], x[1], ...sp], 1);
        }
        break;
      }
      case 'GlobalAveragePool': case 'GlobalMaxPool': case 'GlobalLpPool':
        if (GLOBAL_POOLS.has(op) && rank >= 3) set([x[0], x[1], ...x.slice(2).map(() => 1)]);
        break;
      case 'Concat': {
        const ins = n.input.filter(Boolean).map((i) => shapeOf(i));
        if (!ins.every((s): s is number[] => !!s)) break;
        const axis = norm(attrInt(n, 'axis', 0), rank);
        const out = [...x];
        out[axis] = ins.reduce((a, s) => a + s[axis], 0);
        set(out);
        const vs = n.input.filter(Boolean).map((i) => valueOf(i));
        if (rank === 1 && vs.every((v): v is number[] => !!v)) values.set(n.output[0], vs.flat());
        break;
      }
      case 'Flatten': {
        const axis = norm(attrInt(n, 'axis', 1), rank);
        set([x.slice(0, axis).reduce((a, b) => a * b, 1), x.slice(axis).reduce((a, b) => a * b, 1)]);
        break;
      }
      case 'Gemm': {
        const b = shapeOf(n.input[1]);
        if (!b || rank !== 2 || b.length !== 2) break;
        const m = attrInt(n, 'transA', 0) ? x[1] : x[0];
        const cols = attrInt(n, 'transB', 0) ? b[0] : b[1];
        set([m, cols]);
        break;
      }
      case 'MatMul': {
        const b = shapeOf(n.input[1]);
        if (!b) break;
        const a2 = rank === 1 ? [1, x[0]] : x;
        const b2 = b.length === 1 ? [b[0], 1] : b;
        const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
        if (!batch || a2[a2.length - 1] !== b2[b2.length - 2]) break;
        const out = [...batch, ...(rank === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
        set(out);
        break;
      }
      case 'Reshape': {
        const target = valueOf(n.input[1]) ?? attrInts(n, 'shape');
        if (!target) break;
        const allowZero = attrInt(n, 'allowzero', 0) === 1;
        const out = target.map((d, i) => (d === 0 && !allowZero ? x[i] : d));
        const total = x.reduce((a, b) => a * b, 1);
        const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
        const free = out.indexOf(-1);
        if (free >= 0) out[free] = known ? total / known : 0;
        if (out.reduce((a, b) => a * b, 1) === total) set(out);
        const v = valueOf(n.input[0]);
        if (v && n.output[0]) values.set(n.output[0], v);
        break;
      }
      case 'Transpose': {
        const perm = attrInts(n, 'perm') ?? x.map((_, i) => rank - 1 - i);
        const out = perm.map((p) => x[p]);
        set(out);
        const v = valueOf(n.input[0]);
        if (v && n.output[0]) {
          const is = strides(x);
          const os = strides(out);
          values.set(n.output[0], v.map((_, i) => v[perm.reduce((off, p, d) => off + (Math.floor(i / os[d]) % out[d]) * is[p], 0)]));
        }
        break;
      }
      case 'Squeeze': {
        const axes = axesOf(n, 1)?.map((a) => norm(a, rank)) ?? x.flatMap((d, i) => (d === 1 ? [i] : []));
        const out = x.filter((_, i) => !axes.includes(i));
        set(out);
        const v = valueOf(n.input[0]);
        if (v && n.output[0]) values.set(n.output[0], v);
        break;
      }
      case 'Unsqueeze': {
        const axes = axesOf(n, 1);
        if (!axes) break;
        const outRank = rank + axes.length;
        const at = new Set(axes.map((a) => norm(a, outRank)));
        const out: number[] = [];
        let k = 0;
        for (let i = 0; i < outRank; i++) out.push(at.has(i) ? 1 : x[k++]);
        set(out);
        const v = valueOf(n.input[0]);
        if (v && n.output[0]) values.set(n.output[0], v);
        break;
      }
      case 'Shape': {
        const start = norm(attrInt(n, 'start', 0), rank);
        const endAttr = attr(n, 'end') ? norm(attrInt(n, 'end', rank), rank) : rank;
        const v = x.slice(Math.max(0, start), Math.min(rank, endAttr));
        set([v.length]);
        values.set(n.output[0], v);
        break;
      }
      case 'Size':
        set([]);
        values.set(n.output[0], [x.reduce((a, b) => a * b, 1)]);
        break;
      case 'Gather': {
        const idx = shapeOf(n.input[1]);
        const iv = valueOf(n.input[1]);
        if (!idx) break;
        const axis = norm(attrInt(n, 'axis', 0), rank);
        set([...x.slice(0, axis), ...idx, ...x.slice(axis + 1)]);
        const v = valueOf(n.input[0]);
        if (v && iv && rank === 1) values.set(n.output[0], iv.map((i) => v[i < 0 ? i + v.length : i]));
        break;
      }
      case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceMin': case 'ReduceProd': case 'ReduceL1': case 'ReduceL2':
      case 'ReduceLogSum': case 'ReduceLogSumExp': case 'ReduceSumSquare': {
        if (!REDUCES.has(op)) break;
        const keep = attrInt(n, 'keepdims', 1) === 1;
        const given = axesOf(n, 1);
        if (n.input[1] && !given) break;
        const axes = given && given.length ? given.map((a) => norm(a, rank)) : attrInt(n, 'noop_with_empty_axes', 0) ? [] : x.map((_, i) => i);
        set(keep ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i)));
        break;
      }
      case 'Pad': {
        const pads = attrInts(n, 'pads') ?? valueOf(n.input[1]);
        if (!pads || n.input[3] || pads.length !== 2 * rank) break;
        set(x.map((d, i) => d + pads[i] + pads[i + rank]));
        break;
      }
      case 'Resize': case 'Upsample': {
        if (op === 'Resize' && (attr(n, 'axes') || attr(n, 'keep_aspect_ratio_policy'))) break;
        const sizes = op === 'Resize' ? valueOf(n.input[3]) : undefined;
        if (sizes?.length === rank) {
          set(sizes);
          break;
        }
        const scalesName = op === 'Upsample' ? n.input[1] : n.input[2];
        const sc = attr(n, 'scales')?.floats ?? (scalesName ? graph.constant(scalesName)?.data : undefined);
        if (!sc || sc.length !== rank) break;
        set(x.map((d, i) => Math.floor(d * Number(sc[i]))));
        break;
      }
      case 'Slice': {
        const starts = attrInts(n, 'starts') ?? valueOf(n.input[1]);
        const ends = attrInts(n, 'ends') ?? valueOf(n.input[2]);
        if (!starts || !ends) break;
        const axes = (attrInts(n, 'axes') ?? (n.input[3] ? valueOf(n.input[3]) : x.map((_, i) => i).slice(0, starts.length)))?.map((a) => norm(a, rank));
        const steps = n.input[4] ? valueOf(n.input[4]) : starts.map(() => 1);
        if (!axes || !steps) break;
        const out = [...x];
        const picks: [number, number, number][] = [];
        axes.forEach((a, i) => {
          const d = x[a];
          const st = steps[i];
          const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
          let s = starts[i] < 0 ? starts[i] + d : starts[i];
          let e = ends[i] < 0 ? ends[i] + d : ends[i];
          s = st > 0 ? clamp(s, 0, d) : clamp(s, 0, d - 1);
          e = st > 0 ? clamp(e, 0, d) : clamp(e, -1, d - 1);
          out[a] = Math.max(0, Math.ceil((e - s) / st));
          picks.push([s, e, st]);
        });
        set(out);
        const v = valueOf(n.input[0]);
        if (v && n.output[0]) {
          const first = x.map(() => 0);
          const step = x.map(() => 1);
          axes.forEach((a, i) => {
            first[a] = picks[i][0];
            step[a] = picks[i][2];
          });
          const is = strides(x);
          const os = strides(out);
          const total = out.reduce((a, b) => a * b, 1);
          values.set(n.output[0], Array.from({ length: total }, (_, i) => v[out.reduce((off, d, k) => off + (first[k] + (Math.floor(i / os[k]) % d) * step[k]) * is[k], 0)]));
        }
        break;
      }
      case 'Split': {
        const axis = norm(attrInt(n, 'axis', 0), rank);
        const parts = attrInts(n, 'split') ?? (n.input[1] ? valueOf(n.input[1]) : undefined);
        const count = n.output.length;
        const sizes = parts ?? (x[axis] % count === 0 ? new Array<number>(count).fill(x[axis] / count) : undefined);
        if (!sizes || sizes.length !== count) break;
        sizes.forEach((s, o) => set(x.map((d, i) => (i === axis ? s : d)), o));
        break;
      }
      case 'Expand': {
        const to = valueOf(n.input[1]);
        if (to) set(broadcast([x, to]));
        break;
      }
      case 'Tile': {
        const reps = valueOf(n.input[1]);
        if (reps?.length === rank) set(x.map((d, i) => d * reps[i]));
        break;
      }
      case 'DepthToSpace': case 'SpaceToDepth': {
        const b = attrInt(n, 'blocksize', 1);
        if (rank !== 4) break;
        set(op === 'DepthToSpace' ? [x[0], x[1] / (b * b), x[2] * b, x[3] * b] : [x[0], x[1] * b * b, x[2] / b, x[3] / b]);
        break;
      }
      case 'ArgMax': case 'ArgMin': {
        const axis = norm(attrInt(n, 'axis', 0), rank);
        set(attrInt(n, 'keepdims', 1) ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis));
        break;
      }
      default:
        break;
    }
  }
  return shapes;
}
