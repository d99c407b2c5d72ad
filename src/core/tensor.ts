/** Dense tensors as the core passes them around: a typed array plus dims, independent of any runtime. */

/** Element types the core exchanges with a runtime. */
export type DType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

/** A dense row-major tensor. float16 data is stored as raw IEEE half bits in a Uint16Array. */
export interface Tensor {
  readonly type: DType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;
}

/** A float32 tensor, the type every method computes in. */
export interface Float32Tensor extends Tensor {
  readonly type: 'float32';
  readonly data: Float32Array;
}

/** Number of elements of a shape. */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Builds a float32 tensor, checking that data length and dims agree. */
export function float32(data: Float32Array, dims: readonly number[]): Float32Tensor {
  if (data.length !== sizeOf(dims)) {
    throw new Error(`Tensor data has ${data.length} elements but dims [${dims.join(', ')}] need ${sizeOf(dims)}`);
  }
  return { type: 'float32', data, dims: [...dims] };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Converts one float32 value to IEEE half bits (round to nearest even). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return half;
}

/** Converts IEEE half bits to a number. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts a float32 array to half bits. */
export function float32ToHalf(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i]);
  return out;
}

/** Converts half bits to a float32 array. */
export function halfToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = fromHalfBits(src[i]);
  return out;
}

/** Returns any floating tensor as float32 (copying only when needed). */
export function asFloat32(t: Tensor): Float32Tensor {
  if (t.type === 'float32') return t as Float32Tensor;
  if (t.type === 'float16') return float32(halfToFloat32(t.data as Uint16Array), t.dims);
  if (t.type === 'float64' || t.type === 'int32' || t.type === 'uint8' || t.type === 'int8') {
    return float32(Float32Array.from(t.data as ArrayLike<number>), t.dims);
  }
  if (t.type === 'int64') return float32(Float32Array.from(t.data as BigInt64Array, Number), t.dims);
  throw new Error(`Cannot read a ${t.type} tensor as float32`);
}
