/**
 * Raising a model's default-domain opset (typically 7–16 → 17) with every node rewritten so that it
 * computes exactly what it computed before. The backward-graph builder needs opset ≥ 17 ops
 * (ScatterElements with reduction, ReduceSum with an axes input, LayerNormalization, …).
 *
 * Each operator whose meaning or signature changed between opsets is one entry of {@link RULES}: the
 * opset versions at which it changed and, where the change can be bridged, the rewrite. The version
 * history follows the ONNX operator changelog and onnx/onnx `onnx/version_converter/convert.h`.
 */
import { LookCloserError } from '../errors';
import { DType, Tensor, toHalfBits } from '../tensor';
import { Graph, Node, attr, attrFloat, attrFloats, attrInt, attrInts, attrString } from './graph';
import { ONNX_TYPE, cloneModel, makeAttribute, onnx, opsetOf, tensorToProto, toNum } from './model';

/** Lowest and highest target opsets the rewrites are written for. */
const MIN_TARGET = 13;
const MAX_TARGET = 21;

/** IR version that first allows each opset (onnx/helper.py VERSION_TABLE). */
const IR_FOR_OPSET: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/**
 * Returns a copy of `model` whose default-domain opset is max(current, target), every default-domain
 * node rewritten to keep its meaning under the new opset; throws LookCloserError('unsupported-model')
 * for an operator whose change between the two opsets it cannot bridge.
 */
export function upgradeToOpset(model: onnx.ModelProto, target = 17): onnx.ModelProto {
  const out = cloneModel(model);
  const from = opsetOf(model);
  if (from >= target) return out;
  if (!Number.isInteger(target) || target < MIN_TARGET || target > MAX_TARGET) {
    throw new LookCloserError('bad-argument', `Cannot upgrade a model to opset ${target}; Look Closer upgrades to opsets ${MIN_TARGET}–${MAX_TARGET}.`);
  }
  const g = out.graph as onnx.GraphProto;
  for (const fn of out.functions ?? []) {
    if ((fn.node ?? []).some(isDefaultDomain)) {
      throw new LookCloserError('unsupported-model',
        `The model defines local function '${fn.name}' with standard ONNX operators at opset ${from}; Look Closer cannot upgrade functions to opset ${target} yet. Re-export the model with opset ${target} or later (torch.onnx.export(..., opset_version=${target})).`);
    }
  }
  const names = new NameSource(out);
  const used = usedNames(g);
  upgradeGraph(g, out, { from, target, names, used });
  dropOrphanedInitializers(g, used, usedNames(g));

  let hasDefault = false;
  for (const o of out.opsetImport) {
    if ((o.domain || '') === '' || o.domain === 'ai.onnx') {
      o.version = target;
      hasDefault = true;
    }
  }
  if (!hasDefault) out.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: '', version: target }));

  const ir = toNum(out.irVersion);
  if (ir < 4) {
    // Under IR 3 an initializer listed among the graph inputs is a constant; from IR 4 on it would be
    // an overridable default. Dropping it from the inputs keeps it a constant.
    const inits = new Set(g.initializer.map((t) => t.name));
    g.input = g.input.filter((i) => !inits.has(i.name));
  }
  out.irVersion = Math.max(ir, IR_FOR_OPSET[target]);
  return out;
}

/** What every graph's rewrite shares. */
interface Shared {
  readonly from: number;
  readonly target: number;
  readonly names: NameSource;
  /** Every tensor name some node (in any graph) reads or some graph returns. */
  readonly used: ReadonlySet<string>;
}

/** How one operator changed across opsets. */
interface Rule {
  /** Opset versions at which the operator's meaning, signature or existence changed. */
  readonly changes: readonly number[];
  /** Apply even when no change lies between the two opsets (deprecated or removed operators). */
  readonly always?: boolean;
  /** Emits the node's replacement into the context; absent when the change cannot be bridged. */
  readonly rewrite?: (n: Node, cx: Context) => void;
}

/** Unique names for new tensors and nodes, never colliding with any name in the model. */
class NameSource {
  private readonly taken = new Set<string>();
  private counter = 0;

  constructor(model: onnx.ModelProto) {
    const visit = (g: onnx.IGraphProto) => {
      for (const t of g.initializer ?? []) this.taken.add(t.name ?? '');
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) this.taken.add(v.name ?? '');
      for (const n of g.node ?? []) {
        this.taken.add(n.name ?? '');
        for (const s of [...(n.input ?? []), ...(n.output ?? [])]) this.taken.add(s);
        for (const sub of subgraphs(n)) visit(sub);
      }
    };
    visit(model.graph!);
  }

  /** A new name with the given stem. */
  fresh(stem: string): string {
    let name: string;
    do name = `lc/opset/${stem}_${this.counter++}`;
    while (this.taken.has(name));
    this.taken.add(name);
    return name;
  }
}

/** The graphs held by a node's attributes (If branches, Loop and Scan bodies). */
function subgraphs(n: onnx.INodeProto): onnx.IGraphProto[] {
  const out: onnx.IGraphProto[] = [];
  for (const a of n.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

function usedNames(g: onnx.IGraphProto, into = new Set<string>()): Set<string> {
  for (const o of g.output ?? []) if (o.name) into.add(o.name);
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i) into.add(i);
    for (const sub of subgraphs(n)) usedNames(sub, into);
  }
  return into;
}

/** Removes the weights that only rewritten nodes read (a Dropout ratio, a legacy-broadcast operand). */
function dropOrphanedInitializers(g: onnx.IGraphProto, before: ReadonlySet<string>, after: ReadonlySet<string>): void {
  const orphan = (name: string | null | undefined) => !!name && before.has(name) && !after.has(name);
  if (g.initializer?.some((t) => orphan(t.name))) {
    const gone = new Set(g.initializer.filter((t) => orphan(t.name)).map((t) => t.name));
    g.initializer = g.initializer.filter((t) => !gone.has(t.name));
    g.input = (g.input ?? []).filter((i) => !gone.has(i.name));
  }
  for (const n of g.node ?? []) for (const sub of subgraphs(n)) dropOrphanedInitializers(sub, before, after);
}

function isDefaultDomain(n: onnx.INodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

/** Rewrites the nodes of one graph (and, recursively, of its subgraphs) in place. */
function upgradeGraph(g: onnx.GraphProto, model: onnx.ModelProto, shared: Shared, parent?: Context): void {
  const view = new Graph(onnx.ModelProto.create({ graph: g, opsetImport: model.opsetImport, irVersion: model.irVersion }));
  const cx = new Context(view, shared, parent);
  for (const n of [...view.nodes]) {
    for (const a of n.attribute ?? []) {
      if (a.g) upgradeGraph(a.g as onnx.GraphProto, model, shared, cx);
      for (const sub of a.graphs ?? []) upgradeGraph(sub as onnx.GraphProto, model, shared, cx);
    }
    if (!isDefaultDomain(n)) {
      cx.keep(n);
      continue;
    }
    dropAttrs(n, 'consumed_inputs');
    const rule = RULES[n.opType];
    const { from, target } = shared;
    if (rule && (rule.always || rule.changes.some((v) => v > from && v <= target))) {
      if (!rule.rewrite) throw cx.cannot(n, 'its definition changed in a way Look Closer does not convert');
      rule.rewrite(n, cx);
    } else {
      cx.keep(n);
    }
  }
  g.node = cx.out;
  const produced = new Set<string>([...g.input, ...g.initializer].map((t) => t.name ?? ''));
  for (const n of cx.out) for (const o of n.output) produced.add(o);
  g.valueInfo = g.valueInfo.filter((v) => produced.has(v.name ?? ''));
}

/** The state of one graph's rewrite: the new node list, plus helpers to emit nodes and constants. */
class Context {
  readonly out: Node[] = [];
  private readonly shapes = new Map<string, onnx.ITensorShapeProto>();

  constructor(readonly graph: Graph, readonly shared: Shared, private readonly parent?: Context) {
    for (const v of [...graph.g.input, ...graph.g.output, ...graph.g.valueInfo]) {
      if (v.name && v.type?.tensorType?.shape) this.shapes.set(v.name, v.type.tensorType.shape);
    }
  }

  get from(): number {
    return this.shared.from;
  }

  get target(): number {
    return this.shared.target;
  }

  /** Element type of a tensor, looking through to enclosing graphs. */
  dtype(name: string): DType | undefined {
    return this.graph.dtype(name) ?? this.parent?.dtype(name);
  }

  /** Declared dims of a tensor (undefined entries for symbolic dims), or undefined when not declared. */
  shape(name: string): (number | undefined)[] | undefined {
    const init = this.graph.initializers.get(name);
    if (init) return (init.dims ?? []).map(toNum);
    const s = this.shapes.get(name);
    if (s) return (s.dim ?? []).map((d) => (Object.prototype.hasOwnProperty.call(d, 'dimValue') && d.dimValue !== null ? toNum(d.dimValue) : undefined));
    return this.parent?.shape(name);
  }

  /** Value of a constant tensor in this graph, if any. */
  constant(name: string): Tensor | undefined {
    return name ? this.graph.constant(name) : undefined;
  }

  /** True when some node or graph output reads the tensor. */
  isUsed(name: string | undefined): boolean {
    return !!name && this.shared.used.has(name);
  }

  /** Keeps a node as it is (after any in-place edits). */
  keep(n: Node): void {
    this.out.push(n);
  }

  /** Appends a new node; returns its outputs (fresh names unless given). */
  emit(opType: string, inputs: string[], outputs: number | string[] = 1, attrs: onnx.IAttributeProto[] = [], name?: string): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.shared.names.fresh(opType.toLowerCase())) : outputs;
    const node = onnx.NodeProto.create({ opType, input: trimOptional(inputs), output: outs, name: name ?? this.shared.names.fresh(opType), attribute: attrs }) as Node;
    this.out.push(node);
    return outs;
  }

  /** Adds a constant tensor to this graph; returns its name. */
  initializer(stem: string, t: Tensor): string {
    const name = this.shared.names.fresh(stem);
    this.graph.g.initializer.push(tensorToProto(name, t));
    return name;
  }

  /** A 1-D int64 constant. */
  int64s(stem: string, values: readonly number[]): string {
    return this.initializer(stem, { type: 'int64', dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  /** A constant with the element type of tensor `like` (CastLike at run time when that type is unknown). */
  valuesLike(stem: string, values: readonly number[], dims: readonly number[], like: string): string {
    const type = this.dtype(like);
    if (type) return this.initializer(stem, typedTensor(values, dims, type));
    const f = this.initializer(stem, typedTensor(values, dims, 'float32'));
    return this.emit('CastLike', [f, like])[0];
  }

  /** The error for a node this module cannot carry over to the target opset. */
  cannot(n: Node, why: string): LookCloserError {
    return new LookCloserError('unsupported-model',
      `Operator '${n.opType}' (node '${n.name || n.output[0] || '?'}') at opset ${this.from} cannot be upgraded to opset ${this.target} yet; ${why}. ` +
      `Re-export the model with opset ${this.target} or later (torch.onnx.export(..., opset_version=${this.target})).`);
  }
}

function typedTensor(values: readonly number[], dims: readonly number[], type: DType): Tensor {
  switch (type) {
    case 'float32': return { type, dims, data: Float32Array.from(values) };
    case 'float64': return { type, dims, data: Float64Array.from(values) };
    case 'float16': return { type, dims, data: Uint16Array.from(values, toHalfBits) };
    case 'int64': return { type, dims, data: BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v)))) };
    case 'int32': return { type, dims, data: Int32Array.from(values) };
    case 'int8': return { type, dims, data: Int8Array.from(values) };
    case 'uint8': case 'bool': return { type, dims, data: Uint8Array.from(values) };
  }
}

/** Drops trailing empty optional inputs or outputs. */
function trimOptional(inputs: string[]): string[] {
  const r = [...inputs];
  while (r.length && !r[r.length - 1]) r.pop();
  return r;
}

function dropAttrs(n: onnx.INodeProto, ...names: string[]): void {
  if (n.attribute?.some((a) => names.includes(a.name ?? ''))) n.attribute = n.attribute.filter((a) => !names.includes(a.name ?? ''));
}

function setAttr(n: onnx.INodeProto, a: onnx.AttributeProto): void {
  dropAttrs(n, a.name);
  (n.attribute ??= []).push(a);
}

const intAttr = (name: string, v: number) => makeAttribute(name, v);
const stringAttr = (name: string, v: string) => makeAttribute(name, v);

/** Softmax, LogSoftmax, Hardmax before 13 coerce the input to 2-D at `axis`; from 13 they work on one axis. */
function coerceTo2D(n: Node, cx: Context): void {
  const x = n.input[0];
  const axis = attrInt(n, 'axis', 1);
  const dims = cx.shape(x);
  if (dims) {
    const a = axis < 0 ? axis + dims.length : axis;
    // Over one axis or over all trailing axes means the same when every axis after `a` has size 1.
    if (a >= 0 && a < dims.length && dims.slice(a + 1).every((d) => d === 1)) {
      setAttr(n, intAttr('axis', a));
      cx.keep(n);
      return;
    }
  }
  const [shape] = cx.emit('Shape', [x]);
  const [flat] = cx.emit('Flatten', [x], 1, [intAttr('axis', axis)]);
  const y = n.output[0];
  const flatY = cx.shared.names.fresh(n.opType.toLowerCase());
  n.input[0] = flat;
  n.output[0] = flatY;
  setAttr(n, intAttr('axis', 1));
  cx.keep(n);
  cx.emit('Reshape', [flatY, shape], [y]);
}

/** Clip before 11 takes min and max as attributes; from 11 as inputs of the input's type. */
function clipAttrsToInputs(n: Node, cx: Context): void {
  const x = n.input[0];
  const lo = attr(n, 'min');
  const hi = attr(n, 'max');
  dropAttrs(n, 'min', 'max');
  n.input = trimOptional([
    x,
    lo ? cx.valuesLike('clip_min', [lo.f ?? 0], [], x) : '',
    hi ? cx.valuesLike('clip_max', [hi.f ?? 0], [], x) : '',
  ]);
  cx.keep(n);
}

/**
 * Dropout at inference is the identity; kept (in its opset-12 form) only when its mask is read. The mask
 * then follows the ONNX reference (all true at inference); onnxruntime's kernels for Dropout 7–11 fill
 * it with zeros instead, so a graph that reads the mask can differ from what onnxruntime gave before.
 */
function dropout(n: Node, cx: Context): void {
  const [x] = n.input;
  const [y, mask] = n.output;
  const training = n.input[2];
  if (training) {
    const t = cx.constant(training);
    if (!t || t.data[0]) {
      cx.keep(n);
      return;
    }
  }
  if (!cx.isUsed(mask)) {
    cx.emit('Identity', [x], [y], [], n.name || undefined);
    return;
  }
  if (cx.from >= 12) {
    cx.keep(n);
    return;
  }
  const ratio = attrFloat(n, 'ratio', 0.5);
  dropAttrs(n, 'ratio', 'is_test');
  n.input = [x, cx.initializer('dropout_ratio', { type: 'float32', dims: [], data: new Float32Array([ratio]) })];
  if (cx.from >= 10) {
    cx.keep(n);
    return;
  }
  // Before opset 10 the mask had the input's type; from 10 on it is bool.
  const boolMask = cx.shared.names.fresh('dropout_mask');
  n.output = [y, boolMask];
  cx.keep(n);
  const type = cx.dtype(x);
  if (type) cx.emit('Cast', [boolMask], [mask], [intAttr('to', ONNX_TYPE[type])]);
  else cx.emit('CastLike', [boolMask, x], [mask]);
}

/**
 * BatchNormalization: `spatial` and `is_test` gone (7, 9). Before 14 a node that lists the statistics
 * outputs runs in training mode (batch statistics; the spec's "output case #1", and what onnxruntime
 * does); from 14 that is `training_mode=1` with at most the running mean and variance as extra outputs.
 */
function batchNorm(n: Node, cx: Context): void {
  if (cx.from < 9 && attr(n, 'spatial') && attrInt(n, 'spatial', 1) === 0) {
    throw cx.cannot(n, 'spatial=0 (per-activation statistics) has no equivalent in later opsets');
  }
  const isTest = cx.from < 7 && attrInt(n, 'is_test', 0) !== 0;
  dropAttrs(n, 'spatial', 'is_test');
  if (cx.target >= 14 && cx.from < 14) {
    const extra = n.output.slice(1);
    if (isTest || !extra.some((o) => o)) {
      if (extra.some((o) => cx.isUsed(o))) throw cx.cannot(n, 'it runs in test mode yet its statistics outputs are used');
      n.output = [n.output[0]];
    } else {
      if (n.output.slice(3).some((o) => cx.isUsed(o))) throw cx.cannot(n, 'its saved_mean/saved_var outputs are used, which opset 14 removed');
      n.output = trimOptional(n.output.slice(0, 3));
      setAttr(n, intAttr('training_mode', 1));
    }
  }
  cx.keep(n);
}

/** Reshape before 5 takes the shape as an attribute. */
function reshapeShapeToInput(n: Node, cx: Context): void {
  const shape = attrInts(n, 'shape');
  dropAttrs(n, 'shape');
  if (n.input.length < 2) {
    if (!shape) throw cx.cannot(n, 'it has neither a shape attribute nor a shape input');
    n.input = [n.input[0], cx.int64s('reshape_shape', shape)];
  }
  cx.keep(n);
}

/** Squeeze, Unsqueeze, ReduceSum (13) and the other reductions (18) take `axes` as an input. */
function axesToInput(n: Node, cx: Context): void {
  const axes = attrInts(n, 'axes');
  dropAttrs(n, 'axes');
  if (axes && axes.length) n.input = [n.input[0], cx.int64s(`${n.opType.toLowerCase()}_axes`, axes)];
  cx.keep(n);
}

/** Split: `split` attribute → input (13); `num_outputs` required without `split` (18). */
function split(n: Node, cx: Context): void {
  const parts = attrInts(n, 'split');
  dropAttrs(n, 'split');
  if (parts && parts.length && !n.input[1]) n.input = [n.input[0], cx.int64s('split_sizes', parts)];
  if (cx.target >= 18 && !n.input[1] && !attr(n, 'num_outputs')) setAttr(n, intAttr('num_outputs', n.output.length));
  cx.keep(n);
}

/** Slice before 10 takes starts, ends, axes as attributes. */
function slice(n: Node, cx: Context): void {
  const starts = attrInts(n, 'starts');
  const ends = attrInts(n, 'ends');
  const axes = attrInts(n, 'axes');
  if (!starts || !ends) throw cx.cannot(n, 'it lacks its starts/ends attributes');
  dropAttrs(n, 'starts', 'ends', 'axes');
  n.input = [n.input[0], cx.int64s('slice_starts', starts), cx.int64s('slice_ends', ends)];
  if (axes) n.input.push(cx.int64s('slice_axes', axes));
  cx.keep(n);
}

/** Pad before 11 takes pads (`paddings` before 2) and value as attributes. */
function pad(n: Node, cx: Context): void {
  const x = n.input[0];
  const pads = attrInts(n, 'pads') ?? attrInts(n, 'paddings');
  if (!pads) throw cx.cannot(n, 'it has no pads attribute');
  const value = attr(n, 'value');
  dropAttrs(n, 'pads', 'paddings', 'value');
  n.input = [x, cx.int64s('pad_pads', pads)];
  if (value && (value.f ?? 0) !== 0) n.input.push(cx.valuesLike('pad_value', [value.f ?? 0], [], x));
  cx.keep(n);
}

/**
 * The nearest-pixel rule Upsample and Resize-10 apply (onnxruntime's "simple" mode): the source index is
 * floor(x / scale) when enlarging and ceil(x / scale) when shrinking.
 */
function legacyNearestMode(n: Node, cx: Context, scales: number[] | undefined): string {
  if (!scales || scales.every((s) => s >= 1)) return 'floor';
  if (scales.every((s) => s <= 1)) return 'ceil';
  throw cx.cannot(n, `its scales [${scales.join(', ')}] enlarge some axes and shrink others, which the nearest mode of later opsets cannot reproduce`);
}

function constantFloats(cx: Context, name: string): number[] | undefined {
  const t = cx.constant(name);
  return t ? Array.from(t.data as ArrayLike<number>, Number) : undefined;
}

/** Upsample (deprecated at 10) becomes Resize with asymmetric coordinates, as Upsample computes. */
function upsample(n: Node, cx: Context): void {
  let mode = attrString(n, 'mode', 'nearest');
  if (mode === 'bilinear') mode = 'linear';
  if (mode !== 'nearest' && mode !== 'linear') throw cx.cannot(n, `mode '${mode}' is not nearest or linear`);
  let scales: string;
  let values: number[] | undefined;
  if (n.input[1]) {
    scales = n.input[1];
    values = constantFloats(cx, scales);
  } else if (attr(n, 'scales')) {
    values = attrFloats(n, 'scales')!;
    scales = cx.initializer('upsample_scales', { type: 'float32', dims: [values.length], data: Float32Array.from(values) });
  } else if (attr(n, 'height_scale') || attr(n, 'width_scale')) {
    values = [1, 1, attrFloat(n, 'height_scale', 1), attrFloat(n, 'width_scale', 1)];
    scales = cx.initializer('upsample_scales', { type: 'float32', dims: [4], data: Float32Array.from(values) });
  } else {
    throw cx.cannot(n, 'it has no scales');
  }
  const attrs = [stringAttr('mode', mode), stringAttr('coordinate_transformation_mode', 'asymmetric')];
  if (mode === 'nearest') attrs.push(stringAttr('nearest_mode', legacyNearestMode(n, cx, values)));
  cx.emit('Resize', [n.input[0], '', scales], [n.output[0]], attrs, n.name || undefined);
}

/** Resize-10 (X, scales) → (X, roi, scales) with asymmetric coordinates; tf_half_pixel_for_nn gone at 13. */
function resize(n: Node, cx: Context): void {
  if (cx.from < 11) {
    const mode = attrString(n, 'mode', 'nearest');
    const scales = n.input[1];
    n.input = [n.input[0], '', scales];
    setAttr(n, stringAttr('coordinate_transformation_mode', 'asymmetric'));
    if (mode === 'nearest') setAttr(n, stringAttr('nearest_mode', legacyNearestMode(n, cx, constantFloats(cx, scales))));
    cx.keep(n);
    return;
  }
  if (cx.from < 13) {
    if (attrString(n, 'coordinate_transformation_mode', 'half_pixel') === 'tf_half_pixel_for_nn') {
      throw cx.cannot(n, "coordinate_transformation_mode 'tf_half_pixel_for_nn' was removed in opset 13");
    }
    // Opset 11/12 pass an empty scales tensor alongside sizes; from 13 the input is left out.
    if (n.input[3]) n.input[2] = '';
  }
  cx.keep(n);
}

/** TopK before 10 takes k as an attribute. */
function topK(n: Node, cx: Context): void {
  const k = attrInt(n, 'k', -1);
  if (k < 0) throw cx.cannot(n, 'it has no k attribute');
  dropAttrs(n, 'k');
  n.input = [n.input[0], cx.int64s('topk_k', [k])];
  cx.keep(n);
}

/** Cast-1 names the target type as a string. */
function castStringTo(n: Node, cx: Context): void {
  const a = attr(n, 'to');
  if (a && a.type === onnx.AttributeProto.AttributeType.STRING) {
    const name = new TextDecoder().decode(a.s ?? new Uint8Array()).toUpperCase();
    const code = (onnx.TensorProto.DataType as unknown as Record<string, number>)[name];
    if (code === undefined) throw cx.cannot(n, `its target type '${name}' is unknown`);
    setAttr(n, intAttr('to', code));
  }
  cx.keep(n);
}

/** LpPool, GlobalLpPool before 2 take p as a float. */
function intP(n: Node, cx: Context): void {
  const a = attr(n, 'p');
  if (a && a.type === onnx.AttributeProto.AttributeType.FLOAT) {
    const p = a.f ?? 2;
    if (!Number.isInteger(p)) throw cx.cannot(n, `p=${p} is not an integer`);
    setAttr(n, intAttr('p', p));
  }
  cx.keep(n);
}

/**
 * Binary ops before 7 broadcast only with broadcast=1, aligning B with A at `axis` (default: the trailing
 * axes, which NumPy rules reproduce). B is reshaped with trailing 1s so NumPy broadcasting aligns it the same.
 */
function legacyBroadcast(n: Node, cx: Context): void {
  const broadcast = attrInt(n, 'broadcast', 0);
  const axisAttr = attr(n, 'axis');
  dropAttrs(n, 'broadcast', 'axis');
  if (!broadcast || !axisAttr) {
    cx.keep(n);
    return;
  }
  const axis = toNum(axisAttr.i);
  const [a, b] = n.input;
  const rankA = cx.shape(a)?.length;
  const bConst = cx.graph.initializers.get(b);
  if (rankA !== undefined && bConst) {
    const dims = (bConst.dims ?? []).map(toNum);
    const trailing = rankA - axis - dims.length;
    if (trailing < 0) throw cx.cannot(n, `B of rank ${dims.length} does not fit A of rank ${rankA} at axis ${axis}`);
    const t = onnx.TensorProto.decode(onnx.TensorProto.encode(bConst).finish());
    const name = cx.shared.names.fresh('broadcast_b');
    t.name = name;
    t.dims = [...dims, ...Array<number>(trailing).fill(1)];
    cx.graph.g.initializer.push(t);
    n.input[1] = name;
  } else {
    const [rankOfA] = cx.emit('Shape', [cx.emit('Shape', [a])[0]]);
    const [shapeB] = cx.emit('Shape', [b]);
    const [rankOfB] = cx.emit('Shape', [shapeB]);
    const [rest] = cx.emit('Sub', [cx.emit('Sub', [rankOfA, cx.int64s('broadcast_axis', [axis])])[0], rankOfB]);
    const one = makeAttribute('value', { type: 'int64', dims: [1], data: new BigInt64Array([1n]) });
    const [ones] = cx.emit('ConstantOfShape', [rest], 1, [one]);
    const [shape] = cx.emit('Concat', [shapeB, ones], 1, [intAttr('axis', 0)]);
    n.input[1] = cx.emit('Reshape', [b, shape])[0];
  }
  cx.keep(n);
}

/** PRelu before 7 shares a size-1 slope; other slopes meant something NumPy broadcasting does not. */
function prelu(n: Node, cx: Context): void {
  const slope = cx.constant(n.input[1]);
  if (!slope || slope.data.length !== 1) throw cx.cannot(n, 'its slope is not a single shared value, and per-channel slopes broadcast differently from opset 7');
  cx.keep(n);
}

/** Drops attributes that a later opset removed without changing the meaning of valid models. */
function dropping(...names: string[]): (n: Node, cx: Context) => void {
  return (n, cx) => {
    dropAttrs(n, ...names);
    cx.keep(n);
  };
}

/** ImageScaler (experimental, removed at 10): y = scale * x + bias[c]. */
function imageScaler(n: Node, cx: Context): void {
  const x = n.input[0];
  const scale = attrFloat(n, 'scale', 1);
  const bias = attrFloats(n, 'bias', [])!;
  const [scaled] = cx.emit('Mul', [x, cx.valuesLike('image_scale', [scale], [], x)]);
  cx.emit('Add', [scaled, cx.valuesLike('image_bias', bias, [1, bias.length, 1, 1], x)], [n.output[0]], [], n.name || undefined);
}

/** Scale (experimental, removed at 10): y = scale * x. */
function scaleOp(n: Node, cx: Context): void {
  const x = n.input[0];
  cx.emit('Mul', [x, cx.valuesLike('scale', [attrFloat(n, 'scale', 1)], [], x)], [n.output[0]], [], n.name || undefined);
}

/** Affine (experimental, removed at 10): y = alpha * x + beta. */
function affine(n: Node, cx: Context): void {
  const x = n.input[0];
  const [scaled] = cx.emit('Mul', [x, cx.valuesLike('affine_alpha', [attrFloat(n, 'alpha', 1)], [], x)]);
  cx.emit('Add', [scaled, cx.valuesLike('affine_beta', [attrFloat(n, 'beta', 0)], [], x)], [n.output[0]], [], n.name || undefined);
}

/** GridSample-20 renamed its modes. */
function gridSample(n: Node, cx: Context): void {
  const mode = attrString(n, 'mode', 'bilinear');
  setAttr(n, stringAttr('mode', mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : mode));
  cx.keep(n);
}

const REDUCTIONS_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];
const LEGACY_BROADCAST = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less'];
/** Experimental operators dropped from ONNX at opset 10 with no direct replacement here. */
const REMOVED_AT_10 = ['ATen', 'ConstantFill', 'Crop', 'DynamicSlice', 'GRUUnit', 'GivenTensorFill', 'ParametricSoftplus', 'ScaledTanh'];

/** Default-domain operators whose definition changed between opset 1 and {@link MAX_TARGET}, keyed by op type. */
const RULES: Readonly<Record<string, Rule>> = {
  Softmax: { changes: [13], rewrite: coerceTo2D },
  LogSoftmax: { changes: [13], rewrite: coerceTo2D },
  Hardmax: { changes: [13], rewrite: coerceTo2D },
  Clip: { changes: [11], rewrite: clipAttrsToInputs },
  Dropout: { changes: [7, 10, 12], always: true, rewrite: dropout },
  BatchNormalization: { changes: [7, 9, 14], rewrite: batchNorm },
  Reshape: { changes: [5], rewrite: reshapeShapeToInput },
  Squeeze: { changes: [13], rewrite: axesToInput },
  Unsqueeze: { changes: [13], rewrite: axesToInput },
  ReduceSum: { changes: [13], rewrite: axesToInput },
  ...Object.fromEntries(REDUCTIONS_18.map((op) => [op, { changes: [18], rewrite: axesToInput }])),
  Split: { changes: [2, 13, 18], rewrite: split },
  Slice: { changes: [10], rewrite: slice },
  Pad: { changes: [2, 11], rewrite: pad },
  Upsample: { changes: [7, 9, 10], always: true, rewrite: upsample },
  Resize: { changes: [11, 13], rewrite: resize },
  Scatter: { changes: [11], always: true, rewrite: (n, cx) => cx.keep(Object.assign(n, { opType: 'ScatterElements' })) },
  TopK: { changes: [10], rewrite: topK },
  RoiAlign: {
    changes: [16],
    rewrite: (n, cx) => {
      if (!attr(n, 'coordinate_transformation_mode')) setAttr(n, stringAttr('coordinate_transformation_mode', 'output_half_pixel'));
      cx.keep(n);
    },
  },
  Cast: { changes: [6], rewrite: castStringTo },
  Concat: {
    changes: [4],
    rewrite: (n, cx) => {
      if (!attr(n, 'axis')) setAttr(n, intAttr('axis', 1));
      cx.keep(n);
    },
  },
  LpPool: { changes: [2], rewrite: intP },
  GlobalLpPool: { changes: [2], rewrite: intP },
  ...Object.fromEntries(LEGACY_BROADCAST.map((op) => [op, { changes: [7], rewrite: legacyBroadcast }])),
  PRelu: { changes: [7], rewrite: prelu },
  Gemm: { changes: [7], rewrite: dropping('broadcast') },
  GRU: { changes: [7], rewrite: dropping('output_sequence') },
  LSTM: { changes: [7], rewrite: dropping('output_sequence') },
  RNN: { changes: [7], rewrite: dropping('output_sequence') },
  ImageScaler: { changes: [10], always: true, rewrite: imageScaler },
  Scale: { changes: [10], always: true, rewrite: scaleOp },
  Affine: { changes: [10], always: true, rewrite: affine },
  GridSample: { changes: [20], rewrite: gridSample },
  ...Object.fromEntries(REMOVED_AT_10.map((op) => [op, { changes: [10], always: true }])),
  MeanVarianceNormalization: { changes: [9] },
  Scan: { changes: [9] },
  Tile: { changes: [6] },
  DFT: { changes: [20] },
  GroupNormalization: { changes: [21] },
};
