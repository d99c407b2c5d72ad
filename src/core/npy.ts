/** Reading and writing NumPy .npy files (format 1.0 written; 1.0, 2.0 and 3.0 read), for input tensors and maps. */

import { LookCloserError } from './errors';
import { fromHalfBits } from './tensor';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** numpy pads headers so the data starts on this boundary (numpy.lib.format.ARRAY_ALIGN). */
const ARRAY_ALIGN = 64;
/** numpy leaves room in the header for the first axis to grow to this many digits (GROWTH_AXIS_MAX_DIGITS). */
const GROWTH_AXIS_MAX_DIGITS = 21;

/** The element types decodeNpy reads, with their byte sizes. */
const READABLE: Readonly<Record<string, number>> = { f4: 4, f8: 8, f2: 2, i8: 8, i4: 4, i2: 2, i1: 1, u1: 1, u2: 2, b1: 1 };

function pyTuple(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** Encodes a C-order array as an .npy file (format 1.0), byte for byte as numpy.save writes it. */
export function encodeNpy(data: Float32Array | Float64Array | Int32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new LookCloserError('bad-argument', `Cannot save ${data.length} values with shape (${shape.join(', ')}).`);
  }
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Float64Array ? '<f8' : '<i4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyTuple(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const preamble = MAGIC.length + 4;
  header += ' '.repeat(ARRAY_ALIGN - ((preamble + header.length + 1) % ARRAY_ALIGN)) + '\n';
  const bytes = new Uint8Array(preamble + header.length + data.byteLength);
  bytes.set(MAGIC, 0);
  bytes[6] = 1;
  bytes[7] = 0;
  bytes[8] = header.length & 0xff;
  bytes[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) bytes[preamble + i] = header.charCodeAt(i);
  const body = new DataView(bytes.buffer, preamble + header.length);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) body.setFloat32(i * 4, data[i], true);
    else if (data instanceof Float64Array) body.setFloat64(i * 8, data[i], true);
    else body.setInt32(i * 4, data[i], true);
  }
  return bytes;
}

function bad(message: string): LookCloserError {
  return new LookCloserError('bad-input', `Cannot read .npy data: ${message}`);
}

function reader(view: DataView, kind: string, le: boolean): (p: number) => number {
  switch (kind) {
    case 'f4':
      return (p) => view.getFloat32(p, le);
    case 'f8':
      return (p) => view.getFloat64(p, le);
    case 'f2':
      return (p) => fromHalfBits(view.getUint16(p, le));
    case 'i8':
      return (p) => Number(view.getBigInt64(p, le));
    case 'i4':
      return (p) => view.getInt32(p, le);
    case 'i2':
      return (p) => view.getInt16(p, le);
    case 'u2':
      return (p) => view.getUint16(p, le);
    case 'i1':
      return (p) => view.getInt8(p);
    default:
      return (p) => view.getUint8(p);
  }
}

function parseHeader(text: string): { little: boolean; kind: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw bad(`the header ${JSON.stringify(text.trim())} is not a numpy array header.`);
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s.replace(/L$/, '')));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`the shape (${shape[1]}) is not a list of sizes.`);
  return { little: descr[1] !== '>', kind: descr[2], fortran: fortran[1] === 'True', shape: dims };
}

/** Decodes an .npy file to float32 in C order, converting float64, float16 and integer data. */
export function decodeNpy(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('the file does not start with the NumPy magic bytes.');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('the file ends inside its header.');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw bad(`format version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are).`);
  }
  if (start + headerLen > bytes.length) throw bad('the file ends inside its header.');
  let text = '';
  for (let i = 0; i < headerLen; i++) text += String.fromCharCode(bytes[start + i]);
  const h = parseHeader(text);
  if (h.fortran) throw bad('the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray) instead.');
  const size = READABLE[h.kind];
  if (size === undefined) {
    throw bad(`element type '${h.kind}' is not supported (float32, float64, float16 and integer arrays are).`);
  }
  const count = h.shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (offset + count * size > bytes.length) {
    throw bad(`the file is truncated: shape (${h.shape.join(', ')}) needs ${count * size} data bytes but only ${bytes.length - offset} are present.`);
  }
  const read = reader(view, h.kind, h.little);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(offset + i * size);
  return { data, shape: h.shape };
}
