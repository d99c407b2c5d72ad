/**
 * One copy of a model's weights for all the sessions derived from it.
 *
 * An onnxruntime session copies every initializer of its graph into its own memory (the wasm heap for
 * onnxruntime-web), so N derived graphs (backward graphs, probes, layer tails) of a 100 MB model would hold
 * N+1 copies. A derived graph instead gets its large floating-point initializers turned into graph inputs,
 * fed on every run from tensors held here once per model: views into the model's bytes where the data is
 * aligned, one copy otherwise. A run then copies the weights into the runtime transiently (onnxruntime-web
 * frees them after the run), which costs far less than a backward pass (see README "Benchmarks").
 */
import { onnx, toNum } from './model';
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

/** The model's weights as tensors, read once and shared by every derived session. */
export class SharedWeights {
  /** Keyed by the tensor proto, which derived models share with their base (shallowCloneModel). */
  private readonly tensors = new Map<onnx.ITensorProto, Tensor>();

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

  /** Bytes held here: views into the model's bytes count too (they keep those bytes alive). */
  get byteLength(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.data.byteLength;
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
    return tensor;
  }
}
