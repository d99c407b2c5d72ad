/**
 * One copy of a model's weights for all the sessions derived from it.
 *
 * An onnxruntime session copies every initializer of its graph into its own memory (the wasm heap for
 * onnxruntime-web), so N derived graphs (backward graphs, probes, layer tails) of a 100 MB model would hold
 * N+1 copies. A derived graph instead gets its large floating-point initializers turned into graph inputs,
 * fed on every run from tensors held here once per model: views into the model's bytes where the data is
 * aligned, one copy otherwise. A run then copies the weights into the runtime transiently (onnxruntime-web
 * frees them after the run), which costs far less than a backward pass (see README "Benchmarks").
 *
 * What onnxruntime would fold at load from those weights (the transposed and flipped kernels of convolution
 * gradients) is folded here instead, once per model: {@link SharedWeights.fold} evaluates those nodes in a
 * one-off session and feeds their results as inputs too, shared by every graph that computes the same thing.
 */
import { Graph } from './graph';
import { encodeModel, onnx, toNum } from './model';
import type { Runtime } from '../runtime';
import type { Tensor } from '../tensor';

/** Initializers smaller than this stay constants: shape-like values and scalars must stay foldable. */
const MIN_BYTES = 4096;

/** Element types that move: float32 and float16 (the weights); integer tensors are shape arithmetic. */
const MOVABLE: Partial<Record<number, { type: 'float32' | 'float16'; bytes: number }>> = {
  [onnx.TensorProto.DataType.FLOAT]: { type: 'float32', bytes: 4 },
  [onnx.TensorProto.DataType.FLOAT16]: { type: 'float16', bytes: 2 },
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Makes `copy` (a deep copy of `original`, e.g. upgraded to a newer opset) use the original's tensor protos
 * wherever an initializer of the same name holds the same bytes, so that the weights exist once in memory and
 * {@link SharedWeights} reads them once for both. Returns how many it replaced.
 */
export function adoptInitializers(original: onnx.ModelProto, copy: onnx.ModelProto): number {
  const byName = new Map((original.graph?.initializer ?? []).map((t) => [t.name, t]));
  const g = copy.graph as onnx.GraphProto;
  let n = 0;
  g.initializer = g.initializer.map((t) => {
    const o = byName.get(t.name);
    const a = o?.rawData;
    const b = t.rawData;
    const dims = (x: onnx.ITensorProto) => (x.dims ?? []).map(toNum).join(',');
    if (!o || !a || !b || o.dataType !== t.dataType || a.length !== b.length || dims(o) !== dims(t)) return t;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return t;
    n++;
    return o as onnx.TensorProto;
  });
  return n;
}

/** The data of every tensor a {@link SharedWeights} holds (weights and folded kernels), for runtimes that keep them. */
const SHARED_DATA = new WeakSet<object>();

/**
 * Whether a feed is one of a model's shared weights: the same tensor (never modified) on every run, so a runtime
 * that copies feeds across a boundary (a worker) may send it once and keep it there.
 */
export function isSharedWeight(t: Tensor): boolean {
  return SHARED_DATA.has(t.data);
}

/** The model's weights as tensors, read once and shared by every derived session. */
export class SharedWeights {
  /** Keyed by the tensor proto, which derived models share with their base (shallowCloneModel). */
  private readonly tensors = new Map<onnx.ITensorProto, Tensor>();
  /** Tensors computed from the weights alone, keyed by what computes them (op, attributes, inputs, recursively). */
  private readonly folded = new Map<string, Tensor>();

  /**
   * Turns the large float initializers of `model` (a derived model, edited in place) into graph inputs and
   * returns the tensors to feed them on every run (shared, never modified: do not write into them).
   */
  detach(model: onnx.ModelProto): Record<string, Tensor> {
    const g = model.graph as onnx.GraphProto;
    const kept: onnx.ITensorProto[] = [];
    const feeds: Record<string, Tensor> = {};
    // Models before IR version 4 list every initializer among the graph inputs too: those inputs stay as they are.
    const declared = new Set(g.input.map((i) => i.name));
    for (const t of g.initializer) {
      const tensor = this.read(t);
      if (!tensor) {
        kept.push(t);
        continue;
      }
      feeds[t.name!] = tensor;
      if (!declared.has(t.name)) g.input.push(onnx.ValueInfoProto.create({
        name: t.name,
        type: { tensorType: { elemType: t.dataType, shape: { dim: tensor.dims.map((d) => ({ dimValue: d })) } } },
      }));
    }
    g.initializer = kept as onnx.TensorProto[];
    return feeds;
  }

  /**
   * Replaces the nodes of `model` (after {@link detach}) that compute only from the detached weights and
   * constants by graph inputs holding their results, computed once per model in a one-off session (cached by
   * what they compute, so graphs sharing a transposed kernel share its tensor). Returns the feeds for the
   * edited model: the weights it still reads and the folded tensors.
   */
  async fold(model: onnx.ModelProto, weights: Readonly<Record<string, Tensor>>, runtime: Runtime): Promise<Record<string, Tensor>> {
    const g = model.graph as onnx.GraphProto;
    const sig = new Map<string, string>();
    for (const name of Object.keys(weights)) sig.set(name, `w:${name}`);
    const small = new Map(g.initializer.map((t) => [t.name!, t]));
    const leaf = (name: string) => {
      const t = small.get(name);
      return t ? `c:${t.dataType}:${(t.dims ?? []).map(toNum).join('x')}:${Array.from(t.rawData ?? []).join(',')}:${JSON.stringify(t.int64Data ?? t.floatData ?? t.int32Data ?? [])}` : undefined;
    };
    const outputs = new Set(g.output.map((o) => o.name));
    const folded: onnx.INodeProto[] = [];
    for (const n of g.node) {
      const ins = (n.input ?? []).map((i) => (i ? sig.get(i) ?? leaf(i) : ''));
      const fromWeights = (n.input ?? []).some((i) => i && sig.has(i) && sig.get(i)!.length > 0);
      if (!fromWeights || ins.some((x) => x === undefined) || (n.attribute ?? []).some((a) => a.g || a.graphs?.length) || (n.output ?? []).some((o) => outputs.has(o))) continue;
      const attrs = JSON.stringify((n.attribute ?? []).map((a) => onnx.AttributeProto.toObject(a as onnx.AttributeProto, { longs: String, bytes: String })));
      (n.output ?? []).forEach((o, k) => o && sig.set(o, `${n.domain ?? ''}:${n.opType}:${attrs}(${ins.join('|')})#${k}`));
      folded.push(n);
    }
    if (!folded.length) return { ...weights };
    const foldedSet = new Set(folded);
    const rest = g.node.filter((n) => !foldedSet.has(n));
    // The folded tensors the remaining graph reads, and the weights it still reads.
    const reads = new Set(rest.flatMap((n) => n.input ?? []));
    for (const o of g.output) reads.add(o.name!);
    const frontier = folded.flatMap((n) => n.output ?? []).filter((o) => o && reads.has(o));
    const missing = [...new Set(frontier.filter((o) => !this.folded.has(sig.get(o)!)))];
    if (missing.length) {
      // A one-off model: the folded nodes, fed the weights, exposing what is missing.
      const dtypes = new Graph(model);
      const once = onnx.ModelProto.create({ ...model, irVersion: Math.max(8, toNum(model.irVersion)), graph: onnx.GraphProto.create({
        name: 'fold', node: folded, initializer: g.initializer, input: g.input.filter((i) => i.name! in weights),
        output: missing.map((o) => onnx.ValueInfoProto.create({ name: o, type: { tensorType: { elemType: onnx.TensorProto.DataType[(dtypes.dtype(o) ?? 'float32') === 'float16' ? 'FLOAT16' : 'FLOAT'] } } })),
      }) });
      if (missing.some((o) => !['float32', 'float16'].includes(dtypes.dtype(o) ?? ''))) return { ...weights };
      try {
        const s = await runtime.createSession(encodeModel(once), { optimization: 'disabled' });
        try {
          const out = await s.run(weights, missing);
          for (const o of missing) {
            this.folded.set(sig.get(o)!, out[o]);
            SHARED_DATA.add(out[o].data);
          }
        } finally {
          await s.release();
        }
      } catch {
        // Folding is an optimisation: a graph the one-off session cannot run keeps its nodes (the model is unchanged so far).
        return { ...weights };
      }
    }
    g.node = rest as onnx.NodeProto[];
    const feeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(weights)) if (reads.has(name)) feeds[name] = t;
    g.input = g.input.filter((i) => !(i.name! in weights) || reads.has(i.name!));
    for (const o of new Set(frontier)) {
      const t = this.folded.get(sig.get(o)!)!;
      feeds[o] = t;
      g.input.push(onnx.ValueInfoProto.create({
        name: o, type: { tensorType: { elemType: t.type === 'float16' ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT, shape: { dim: t.dims.map((d) => ({ dimValue: d })) } } },
      }));
    }
    return feeds;
  }

  /** Bytes held here: views into the model's bytes count too (they keep those bytes alive). */
  get byteLength(): number {
    let n = 0;
    for (const t of [...this.tensors.values(), ...this.folded.values()]) n += t.data.byteLength;
    return n;
  }

  /** The tensor of an initializer that moves (cached), else undefined. */
  private read(t: onnx.ITensorProto): Tensor | undefined {
    const cached = this.tensors.get(t);
    if (cached) return cached;
    const kind = MOVABLE[t.dataType ?? 0];
    if (!kind || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
    const dims = (t.dims ?? []).map(toNum);
    const n = dims.reduce((a, b) => a * b, 1);
    if (n * kind.bytes < MIN_BYTES) return undefined;
    let data: Float32Array | Uint16Array;
    const raw = t.rawData?.length ? t.rawData : undefined;
    if (raw) {
      if (raw.length !== n * kind.bytes || !LITTLE_ENDIAN) return undefined;
      // A view into the model's bytes when aligned (no copy); else one aligned copy (by hand: raw may be a
      // Node Buffer, whose slice() is a view).
      let aligned = raw;
      if (raw.byteOffset % kind.bytes !== 0) {
        aligned = new Uint8Array(raw.length);
        aligned.set(raw);
      }
      data = kind.type === 'float32' ? new Float32Array(aligned.buffer, aligned.byteOffset, n) : new Uint16Array(aligned.buffer, aligned.byteOffset, n);
    } else {
      // Typed fields: float_data for float32, int32_data (the bits) for float16.
      const field = kind.type === 'float32' ? t.floatData : t.int32Data;
      if (!field || field.length !== n) return undefined;
      data = kind.type === 'float32' ? Float32Array.from(field) : Uint16Array.from(field);
    }
    const tensor = { type: kind.type, dims, data } as Tensor;
    this.tensors.set(t, tensor);
    SHARED_DATA.add(data);
    return tensor;
  }
}
