/**
 * Tensors as they cross a channel (webview ↔ extension host ↔ runtime thread): checked and rebuilt as the
 * core's Tensor without copying when the transport kept the typed array (VS Code and worker threads do),
 * copied only when it did not (an ArrayBuffer at an odd offset, or a JSON-like array). Anything else is refused.
 */
import { LookCloserError } from '../core/errors';
import type { DType, Tensor } from '../core/tensor';

/** Typed-array constructors by element type (float16 travels as raw half bits). */
const ARRAYS = {
  float32: Float32Array, float16: Uint16Array, float64: Float64Array, int64: BigInt64Array,
  int32: Int32Array, bool: Uint8Array, uint8: Uint8Array, int8: Int8Array,
} as const;

/** Limits of one tensor on the wire. */
export const TENSOR_LIMITS = {
  /** Dimensions of a shape. */
  rank: 8,
  /** Elements of one tensor (1 GiB of float32). */
  elements: 2 ** 28,
} as const;

function refuse(what: string, why: string): LookCloserError {
  return new LookCloserError('bad-argument', `${what} is refused: ${why}.`);
}

/** True for an element type the core exchanges with a runtime. */
export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(ARRAYS, x);
}

/** A shape: at most TENSOR_LIMITS.rank non-negative integers whose product is at most TENSOR_LIMITS.elements. */
export function checkDims(x: unknown, what: string): number[] {
  if (!Array.isArray(x)) throw refuse(what, 'its dims are not a list');
  if (x.length > TENSOR_LIMITS.rank) throw refuse(what, `it has ${x.length} dimensions (at most ${TENSOR_LIMITS.rank})`);
  let n = 1;
  for (const d of x) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw refuse(what, `dimension ${JSON.stringify(d)} is not a non-negative integer`);
    n *= d;
  }
  if (n > TENSOR_LIMITS.elements) throw refuse(what, `it has ${n} elements (at most ${TENSOR_LIMITS.elements})`);
  return [...x] as number[];
}

/** A tensor that arrived over a channel, as the core's Tensor; `what` names it in errors ("feed 'input'"). */
export function tensorFromWire(x: unknown, what: string): Tensor {
  if (typeof x !== 'object' || x === null) throw refuse(what, 'it is not a tensor');
  const { type, dims: rawDims, data } = x as { type?: unknown; dims?: unknown; data?: unknown };
  if (!isDType(type)) throw refuse(what, `element type ${JSON.stringify(type)} is not one of ${Object.keys(ARRAYS).join(', ')}`);
  const dims = checkDims(rawDims, what);
  const n = dims.reduce((a, b) => a * b, 1);
  const Ctor = ARRAYS[type];
  let out: Tensor['data'];
  if (data instanceof Ctor && !(type === 'bool' && !(data instanceof Uint8Array))) out = data;
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    const buf = data instanceof ArrayBuffer ? data : data.buffer;
    const offset = data instanceof ArrayBuffer ? 0 : data.byteOffset;
    const bytes = data instanceof ArrayBuffer ? data.byteLength : data.byteLength;
    if (bytes !== n * Ctor.BYTES_PER_ELEMENT) throw refuse(what, `its data has ${bytes} bytes but ${type} [${dims.join(', ')}] needs ${n * Ctor.BYTES_PER_ELEMENT}`);
    // A view at an offset the element size does not divide cannot be reinterpreted in place: copy its bytes.
    out = offset % Ctor.BYTES_PER_ELEMENT === 0
      ? new Ctor(buf as ArrayBuffer, offset, n)
      : new Ctor(new Uint8Array(buf, offset, bytes).slice().buffer);
  } else if (Array.isArray(data) && type !== 'int64') {
    if (!data.every((v) => typeof v === 'number')) throw refuse(what, 'its data holds values that are not numbers');
    out = (Ctor as Float32ArrayConstructor).from(data as number[]) as Tensor['data'];
  } else {
    throw refuse(what, 'its data is not a typed array');
  }
  if (out.length !== n) throw refuse(what, `its data has ${out.length} elements but dims [${dims.join(', ')}] need ${n}`);
  return { type, dims, data: out };
}

/**
 * The tensor with data of its own: a view into a larger buffer is copied, since every transport (VS Code's
 * webview messages, structured clone) would otherwise send the whole buffer behind it.
 */
export function compactTensor(t: Tensor): Tensor {
  const d = t.data;
  return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? t : { type: t.type, dims: t.dims, data: d.slice() };
}

/** The bytes as a buffer of their own (see compactTensor). */
export function compactBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

/**
 * The ArrayBuffers a message may hand over instead of copying (worker threads' transfer list): those of typed
 * arrays that span their whole buffer, each once. A view into a larger buffer is left to be copied, since
 * transferring would detach data the sender still holds.
 */
export function transferablesOf(x: unknown, depth = 4, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(x)) {
    if (x.buffer instanceof ArrayBuffer && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength) out.add(x.buffer);
  } else if (depth > 0 && typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) transferablesOf(v, depth - 1, out);
  }
  return [...out];
}
