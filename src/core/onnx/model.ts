/** Reading, writing and rewriting ONNX models as protobuf objects (onnx-proto / protobufjs). */
import { onnx } from 'onnx-proto';
import { LookCloserError } from '../errors';
import { DType, Tensor, sizeOf } from '../tensor';

export { onnx };

/** ONNX TensorProto.DataType codes by core dtype. */
export const ONNX_TYPE: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11,
};

/** Core dtype for an ONNX data-type code, or undefined for types the core does not handle. */
export function dtypeOfOnnx(code: number): DType | undefined {
  for (const [k, v] of Object.entries(ONNX_TYPE)) if (v === code) return k as DType;
  return undefined;
}

/** Converts a protobufjs int64 (number or Long) to a JS number. */
export function toNum(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Converts a protobufjs int64 to a bigint without losing precision. */
export function toBigInt(v: number | { toString(): string }): bigint {
  return typeof v === 'number' ? BigInt(v) : BigInt(v.toString());
}

/** Decodes ONNX model bytes, naming the file in any error. */
export function decodeModel(bytes: Uint8Array, name: string): onnx.ModelProto {
  if (bytes.length === 0) throw new LookCloserError('bad-model', `'${name}' is empty; expected an ONNX model (.onnx).`);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new LookCloserError('bad-model',
      `Cannot read '${name}' as an ONNX model (${why}). The file is corrupt or truncated, or it is not an ONNX model; re-export it (torch.onnx.export, tf2onnx) or download it again.`, e);
  }
  const g = model.graph as onnx.GraphProto | null;
  if (!g || !g.node || g.node.length === 0 || !g.output || g.output.length === 0) {
    throw new LookCloserError('bad-model',
      `'${name}' does not contain an ONNX graph with nodes and outputs; it is probably not an ONNX model, or it is truncated. Re-export or download it again.`);
  }
  if (!model.opsetImport.length) {
    throw new LookCloserError('bad-model', `'${name}' declares no operator set (opset_import is empty); the file is not a valid ONNX model.`);
  }
  for (const t of g.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      throw new LookCloserError('unsupported-model',
        `'${name}' keeps weight '${t.name}' in an external data file; save the model with its weights embedded (onnx.save_model(m, path, save_as_external_data=False)).`);
    }
  }
  return model;
}

/** Serialises a model to bytes. */
export function encodeModel(model: onnx.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Deep-copies a model. */
export function cloneModel(model: onnx.ModelProto): onnx.ModelProto {
  return onnx.ModelProto.decode(encodeModel(model));
}

/** The opset version the model imports for a domain ('' is the default ONNX domain). */
export function opsetOf(model: onnx.ModelProto, domain = ''): number {
  for (const o of model.opsetImport) {
    if ((o.domain || '') === domain || (domain === '' && o.domain === 'ai.onnx')) return toNum(o.version);
  }
  return 0;
}

function littleEndianView(raw: Uint8Array): DataView {
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** How one ONNX element type is read: its byte size, its array, a raw little-endian element, and the typed field that holds it otherwise. */
interface ElementReader {
  readonly bytes: number;
  make(n: number): Tensor['data'];
  raw(v: DataView, i: number): number | bigint;
  field(t: onnx.ITensorProto): ArrayLike<number | Long | string> | null | undefined;
  value(x: number | Long | string): number | bigint;
}

type Long = { low: number; high: number; unsigned: boolean };

const asNumber = (x: number | Long | string) => Number(x);
const READERS: Readonly<Record<DType, ElementReader>> = {
  float32: { bytes: 4, make: (n) => new Float32Array(n), raw: (v, i) => v.getFloat32(i * 4, true), field: (t) => t.floatData, value: asNumber },
  float64: { bytes: 8, make: (n) => new Float64Array(n), raw: (v, i) => v.getFloat64(i * 8, true), field: (t) => t.doubleData, value: asNumber },
  // float16 keeps its IEEE half bits (in int32Data when not raw).
  float16: { bytes: 2, make: (n) => new Uint16Array(n), raw: (v, i) => v.getUint16(i * 2, true), field: (t) => t.int32Data, value: asNumber },
  int64: { bytes: 8, make: (n) => new BigInt64Array(n), raw: (v, i) => v.getBigInt64(i * 8, true), field: (t) => t.int64Data, value: (x) => toBigInt(x) },
  int32: { bytes: 4, make: (n) => new Int32Array(n), raw: (v, i) => v.getInt32(i * 4, true), field: (t) => t.int32Data, value: asNumber },
  int8: { bytes: 1, make: (n) => new Int8Array(n), raw: (v, i) => v.getInt8(i), field: (t) => t.int32Data, value: asNumber },
  uint8: { bytes: 1, make: (n) => new Uint8Array(n), raw: (v, i) => v.getUint8(i), field: (t) => t.int32Data, value: asNumber },
  bool: { bytes: 1, make: (n) => new Uint8Array(n), raw: (v, i) => v.getUint8(i), field: (t) => t.int32Data, value: asNumber },
};

/** Reads a TensorProto (initializer or Constant value) into a core tensor. */
export function tensorFromProto(t: onnx.ITensorProto, context = ''): Tensor {
  const dims = (t.dims ?? []).map(toNum);
  const code = t.dataType ?? 0;
  const type = dtypeOfOnnx(code);
  const where = context || `tensor '${t.name ?? ''}'`;
  if (!type) throw new LookCloserError('unsupported-model', `${where} has ONNX data type ${code}, which Look Closer does not read.`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new LookCloserError('unsupported-model', `${where} uses external data; embed the weights in the model file.`);
  }
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new LookCloserError('bad-model', `${where} has dims [${dims.join(', ')}]; the model is corrupt.`);
  const n = sizeOf(dims);
  const r = READERS[type];
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const field = raw ? undefined : r.field(t);
  const got = raw ? raw.length / r.bytes : field?.length ?? 0;
  // Checked before allocating: a corrupt dims list must not ask for a huge array.
  if (got !== n) throw new LookCloserError('bad-model', `${where} holds ${got} values but its dims [${dims.join(', ')}] need ${n}; the model is corrupt.`);
  const out = r.make(n) as { [i: number]: number | bigint };
  if (raw) {
    const v = littleEndianView(raw);
    for (let i = 0; i < n; i++) out[i] = r.raw(v, i);
  } else {
    for (let i = 0; i < n; i++) out[i] = r.value(field![i]);
  }
  return { type, dims, data: out as Tensor['data'] } as Tensor;
}

/** Builds a TensorProto holding a core tensor as raw little-endian data. */
export function tensorToProto(name: string, t: Tensor): onnx.TensorProto {
  const data = t.data;
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return onnx.TensorProto.create({ name, dims: [...t.dims], dataType: ONNX_TYPE[t.type], rawData: bytes });
}

/** Builds an ONNX attribute from a JS value (number → INT unless `float`, arrays, strings, tensors). */
export function makeAttribute(name: string, value: number | number[] | string | Tensor, kind?: 'float' | 'floats'): onnx.AttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(value) });
  if (typeof value === 'number') {
    return kind === 'float' ? onnx.AttributeProto.create({ name, type: A.FLOAT, f: value }) : onnx.AttributeProto.create({ name, type: A.INT, i: value });
  }
  if (Array.isArray(value)) {
    return kind === 'floats' ? onnx.AttributeProto.create({ name, type: A.FLOATS, floats: value }) : onnx.AttributeProto.create({ name, type: A.INTS, ints: value });
  }
  return onnx.AttributeProto.create({ name, type: A.TENSOR, t: tensorToProto(name, value) });
}
