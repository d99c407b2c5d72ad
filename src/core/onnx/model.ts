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

/** Reads a TensorProto (initializer or Constant value) into a core tensor. */
export function tensorFromProto(t: onnx.ITensorProto, context = ''): Tensor {
  const dims = (t.dims ?? []).map(toNum);
  const n = sizeOf(dims);
  const code = t.dataType ?? 0;
  const type = dtypeOfOnnx(code);
  const where = context || `tensor '${t.name ?? ''}'`;
  if (!type) throw new LookCloserError('unsupported-model', `${where} has ONNX data type ${code}, which Look Closer does not read.`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new LookCloserError('unsupported-model', `${where} uses external data; embed the weights in the model file.`);
  }
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const bad = (got: number) => new LookCloserError('bad-model', `${where} holds ${got} values but its dims [${dims.join(', ')}] need ${n}; the model is corrupt.`);
  switch (type) {
    case 'float32': {
      const out = new Float32Array(n);
      if (raw) {
        if (raw.length !== n * 4) throw bad(raw.length / 4);
        const v = littleEndianView(raw);
        for (let i = 0; i < n; i++) out[i] = v.getFloat32(i * 4, true);
      } else {
        if ((t.floatData?.length ?? 0) !== n) throw bad(t.floatData?.length ?? 0);
        out.set(t.floatData!);
      }
      return { type, dims, data: out };
    }
    case 'float64': {
      const out = new Float64Array(n);
      if (raw) {
        if (raw.length !== n * 8) throw bad(raw.length / 8);
        const v = littleEndianView(raw);
        for (let i = 0; i < n; i++) out[i] = v.getFloat64(i * 8, true);
      } else {
        if ((t.doubleData?.length ?? 0) !== n) throw bad(t.doubleData?.length ?? 0);
        out.set(t.doubleData!);
      }
      return { type, dims, data: out };
    }
    case 'float16': {
      const out = new Uint16Array(n);
      if (raw) {
        if (raw.length !== n * 2) throw bad(raw.length / 2);
        const v = littleEndianView(raw);
        for (let i = 0; i < n; i++) out[i] = v.getUint16(i * 2, true);
      } else {
        if ((t.int32Data?.length ?? 0) !== n) throw bad(t.int32Data?.length ?? 0);
        for (let i = 0; i < n; i++) out[i] = t.int32Data![i];
      }
      return { type, dims, data: out };
    }
    case 'int64': {
      const out = new BigInt64Array(n);
      if (raw) {
        if (raw.length !== n * 8) throw bad(raw.length / 8);
        const v = littleEndianView(raw);
        for (let i = 0; i < n; i++) out[i] = v.getBigInt64(i * 8, true);
      } else {
        if ((t.int64Data?.length ?? 0) !== n) throw bad(t.int64Data?.length ?? 0);
        for (let i = 0; i < n; i++) out[i] = toBigInt(t.int64Data![i]);
      }
      return { type, dims, data: out };
    }
    case 'int32': case 'int8': case 'uint8': case 'bool': {
      const out = type === 'int32' ? new Int32Array(n) : type === 'int8' ? new Int8Array(n) : new Uint8Array(n);
      if (raw) {
        const bytesPer = type === 'int32' ? 4 : 1;
        if (raw.length !== n * bytesPer) throw bad(raw.length / bytesPer);
        const v = littleEndianView(raw);
        for (let i = 0; i < n; i++) out[i] = type === 'int32' ? v.getInt32(i * 4, true) : type === 'int8' ? v.getInt8(i) : v.getUint8(i);
      } else {
        if ((t.int32Data?.length ?? 0) !== n) throw bad(t.int32Data?.length ?? 0);
        for (let i = 0; i < n; i++) out[i] = t.int32Data![i];
      }
      return { type, dims, data: out };
    }
  }
  throw new LookCloserError('unsupported-model', `${where}: unsupported data type ${type}`);
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
