/** A rewritable view of an ONNX graph: producers, consumers, constants, attributes, and edits. */
import { LookCloserError } from '../errors';
import { DType, Tensor } from '../tensor';
import { ONNX_TYPE, dtypeOfOnnx, makeAttribute, onnx, opsetOf, tensorFromProto, tensorToProto, toNum } from './model';

/** One node of the graph as the analyses see it. */
export type Node = onnx.INodeProto & { input: string[]; output: string[]; opType: string; name?: string | null };

/** Reads attribute `name` of a node, or undefined. */
export function attr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name) ?? undefined;
}

/** Integer attribute with a default. */
export function attrInt(node: onnx.INodeProto, name: string, def: number): number {
  const a = attr(node, name);
  return a ? toNum(a.i) : def;
}

/** Float attribute with a default. */
export function attrFloat(node: onnx.INodeProto, name: string, def: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? def) : def;
}

/** Integer-list attribute, or the default. */
export function attrInts(node: onnx.INodeProto, name: string, def?: number[]): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(toNum) : def;
}

/** Float-list attribute, or the default. */
export function attrFloats(node: onnx.INodeProto, name: string, def?: number[]): number[] | undefined {
  const a = attr(node, name);
  return a ? [...(a.floats ?? [])] : def;
}

/** String attribute, or the default. */
export function attrString(node: onnx.INodeProto, name: string, def: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : def;
}

/** A short human label for a node: "Conv '/layer1/conv'". */
export function describeNode(node: onnx.INodeProto): string {
  return `${node.opType} '${node.name || node.output?.[0] || '?'}'`;
}

const INT64_OUTPUT_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const BOOL_OUTPUT_OPS = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);

/** A mutable ONNX graph with lookup tables kept in step with its edits. */
export class Graph {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly initializers = new Map<string, onnx.ITensorProto>();
  private readonly dtypes = new Map<string, DType>();
  private counter = 0;
  /** isConstant's answers, dropped on every edit. */
  private constMemo?: Map<string, boolean>;

  constructor(readonly model: onnx.ModelProto) {
    this.reindex();
  }

  /** The graph proto. */
  get g(): onnx.GraphProto {
    return this.model.graph as onnx.GraphProto;
  }

  /** The nodes in their (topological) order. */
  get nodes(): Node[] {
    return this.g.node as Node[];
  }

  /** Default-domain opset version. */
  get opset(): number {
    return opsetOf(this.model);
  }

  /** Rebuilds producer/consumer/dtype tables after edits made directly on the proto. */
  reindex(): void {
    this.constMemo = undefined;
    this.producer.clear();
    this.consumers.clear();
    this.initializers.clear();
    this.dtypes.clear();
    for (const t of this.g.initializer) {
      this.initializers.set(t.name!, t);
      const d = dtypeOfOnnx(t.dataType ?? 0);
      if (d) this.dtypes.set(t.name!, d);
    }
    for (const vi of [...this.g.input, ...this.g.output, ...this.g.valueInfo]) {
      const d = dtypeOfOnnx(vi.type?.tensorType?.elemType ?? 0);
      if (d && vi.name) this.dtypes.set(vi.name, d);
    }
    for (const n of this.nodes) {
      for (const o of n.output) if (o) this.producer.set(o, n);
      for (const i of n.input) {
        if (!i) continue;
        let list = this.consumers.get(i);
        if (!list) this.consumers.set(i, (list = []));
        list.push(n);
      }
    }
    // In node order, and again for the consumers of each output typed late, so that an unsorted graph
    // (which some exporters write) gets its types too, in O(nodes + edges).
    const queue = [...this.nodes];
    for (let i = 0; i < queue.length; i++) {
      const n = queue[i];
      const untyped = n.output.filter((o) => o && !this.dtypes.has(o));
      if (!untyped.length) continue;
      this.inferNodeTypes(n);
      for (const o of untyped) if (this.dtypes.has(o)) for (const c of this.consumers.get(o) ?? []) queue.push(c);
    }
  }

  private inferNodeTypes(n: Node): void {
    const first = (i: number) => (n.input[i] ? this.dtypes.get(n.input[i]) : undefined);
    n.output.forEach((o, k) => {
      if (!o || this.dtypes.has(o)) return;
      let d: DType | undefined;
      if (n.opType === 'Cast') d = dtypeOfOnnx(attrInt(n, 'to', 1));
      else if (n.opType === 'CastLike') d = first(1);
      else if (n.opType === 'Constant') {
        const v = attr(n, 'value');
        d = v?.t ? dtypeOfOnnx(v.t.dataType ?? 0) : attr(n, 'value_ints') || attr(n, 'value_int') ? 'int64' : 'float32';
      } else if (n.opType === 'ConstantOfShape') {
        const v = attr(n, 'value');
        d = v?.t ? dtypeOfOnnx(v.t.dataType ?? 0) : 'float32';
      } else if (INT64_OUTPUT_OPS.has(n.opType)) d = 'int64';
      else if (BOOL_OUTPUT_OPS.has(n.opType)) d = 'bool';
      else if ((n.opType === 'MaxPool' || n.opType === 'TopK') && k === 1) d = 'int64';
      else if (n.opType === 'Dropout' && k === 1) d = 'bool';
      else if (n.opType === 'Where') d = first(1);
      else if (n.opType === 'Range') d = first(0);
      else d = first(0);
      if (d) this.dtypes.set(o, d);
    });
  }

  /** Element type of a tensor, when known. */
  dtype(name: string): DType | undefined {
    return this.dtypes.get(name);
  }

  /** Graph inputs that are not initializers (the model's real inputs). */
  get realInputs(): onnx.IValueInfoProto[] {
    return this.g.input.filter((i) => !this.initializers.has(i.name!));
  }

  /** Value of a tensor that is constant: an initializer, a Constant node, or Identity of either. */
  constant(name: string): Tensor | undefined {
    // A loop, not recursion: a chain of thousands of Identity nodes must not overflow the stack.
    let t = name;
    for (let hops = 0; hops <= this.nodes.length; hops++) {
      const init = this.initializers.get(t);
      if (init) return tensorFromProto(init, `weight '${t}'`);
      const p = this.producer.get(t);
      if (!p) return undefined;
      if (p.opType === 'Identity') {
        t = p.input[0];
        continue;
      }
      if (p.opType !== 'Constant') return undefined;
      const v = attr(p, 'value');
      if (v?.t) return tensorFromProto(v.t, `Constant '${t}'`);
      const f = attr(p, 'value_float');
      if (f) return { type: 'float32', dims: [], data: new Float32Array([f.f ?? 0]) };
      const fs = attr(p, 'value_floats');
      if (fs) return { type: 'float32', dims: [fs.floats!.length], data: Float32Array.from(fs.floats!) };
      const i = attr(p, 'value_int');
      if (i) return { type: 'int64', dims: [], data: new BigInt64Array([BigInt(toNum(i.i))]) };
      const is = attr(p, 'value_ints');
      if (is) return { type: 'int64', dims: [is.ints!.length], data: BigInt64Array.from(is.ints!.map((x) => BigInt(toNum(x)))) };
      return undefined;
    }
    // More Identity hops than nodes: the Identities form a cycle.
    return undefined;
  }

  /**
   * True when the tensor depends on no graph input (weights and constant folding only). Answers are
   * remembered until the graph is edited, and the walk uses an explicit stack: on a chain of thousands of
   * nodes, recursion overflowed the call stack and callers asking once per tensor made it quadratic.
   * A tensor on a cycle is not constant.
   */
  isConstant(name: string, memo: Map<string, boolean> = (this.constMemo ??= new Map())): boolean {
    const known = memo.get(name);
    if (known !== undefined) return known;
    /** Tensors whose producer's inputs are being resolved: meeting one again means a cycle. */
    const open = new Set<string>();
    const stack = [name];
    while (stack.length) {
      const t = stack[stack.length - 1];
      if (memo.has(t)) {
        stack.pop();
        continue;
      }
      const p = this.initializers.has(t) ? undefined : this.producer.get(t);
      let value: boolean | undefined = this.initializers.has(t) ? true : p ? true : false;
      if (p) {
        const mark = stack.length;
        for (const i of p.input) {
          if (!i) continue;
          const v = memo.get(i);
          if (v === false || (v === undefined && open.has(i))) {
            value = false;
            break;
          }
          if (v === undefined) {
            stack.push(i);
            value = undefined;
          }
        }
        if (value === false) stack.length = mark;
        if (value === undefined) {
          open.add(t);
          continue;
        }
      }
      memo.set(t, value);
      open.delete(t);
      stack.pop();
    }
    return memo.get(name)!;
  }

  /** A fresh tensor/node name with the given stem that the graph does not use yet. */
  fresh(stem: string): string {
    let name: string;
    do name = `lc/${stem}_${this.counter++}`;
    while (this.producer.has(name) || this.initializers.has(name) || this.consumers.has(name));
    return name;
  }

  /** Makes `name` a graph output (no-op when it already is one). */
  addOutput(name: string, dtype?: DType): void {
    if (this.g.output.some((o) => o.name === name)) return;
    const t = dtype ?? this.dtype(name);
    if (!t) throw new LookCloserError('bad-argument', `Cannot expose tensor '${name}': its element type is unknown.`);
    this.g.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: ONNX_TYPE[t] } } }));
  }

  /** Adds a graph input of the given type and (possibly symbolic) shape. */
  addInput(name: string, dtype: DType, dims: readonly (number | string)[]): void {
    const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
    this.g.input.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: ONNX_TYPE[dtype], shape: { dim } } } }));
    this.dtypes.set(name, dtype);
  }

  /** Adds an initializer and returns its name. */
  addInitializer(stem: string, t: Tensor): string {
    const name = this.fresh(stem);
    this.constMemo = undefined;
    const proto = tensorToProto(name, t);
    this.g.initializer.push(proto);
    this.initializers.set(name, proto);
    this.dtypes.set(name, t.type);
    return name;
  }

  /** Appends a node; attributes given as plain values (see makeAttribute). Returns its output names. */
  addNode(
    opType: string,
    inputs: string[],
    outputs: number | string[] = 1,
    attrs: Record<string, number | number[] | string | Tensor | { float: number } | { floats: number[] }> = {},
    domain = '',
  ): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs;
    const attribute = Object.entries(attrs).map(([k, v]) => {
      if (typeof v === 'object' && v !== null && 'float' in v) return makeAttribute(k, v.float, 'float');
      if (typeof v === 'object' && v !== null && 'floats' in v) return makeAttribute(k, v.floats, 'floats');
      return makeAttribute(k, v as number | number[] | string | Tensor);
    });
    const node = onnx.NodeProto.create({ opType, input: inputs, output: outs, name: this.fresh(`${opType}_node`), attribute, domain }) as Node;
    this.constMemo = undefined;
    this.g.node.push(node);
    for (const o of outs) this.producer.set(o, node);
    for (const i of inputs) {
      if (!i) continue;
      let list = this.consumers.get(i);
      if (!list) this.consumers.set(i, (list = []));
      list.push(node);
    }
    this.inferNodeTypes(node);
    return outs;
  }
}
