import { strict as assert } from 'node:assert';
import { LookCloserError } from '../../src/core/errors';
import { decodeNpy, encodeNpy } from '../../src/core/npy';

/*
 * Files written by Debian's python3-numpy 1.24.2 with numpy.save (the 'v2' one with
 * numpy.lib.format.write_array(f, a, version=(2, 0))), base64-encoded; each comment gives the array.
 */
const NUMPY = {
  /** np.arange(6, dtype='<f4').reshape(2, 3) */
  f4_2x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEA=',
  /** np.arange(12, dtype='<f4').reshape(1, 3, 2, 2) / 4 */
  f4_1x3x2x2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDMsIDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPgAAAD8AAEA/AACAPwAAoD8AAMA/AADgPwAAAEAAABBAAAAgQAAAMEA=',
  /** np.array([1.5, -2.25, 3], '<f8') */
  f8_3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAALAAAAAAAAACEA=',
  /** np.array([[1, 0.5], [-2, 65504]], '<f2') */
  f2_2x2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPAA4AMD/ew==',
  /** np.array([1, -2, 3000000000], '<i8') */
  i8_3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AF7QsgAAAAA=',
  /** np.array([[7, -8], [9, 10]], '<i4') */
  i4_2x2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAA+P///wkAAAAKAAAA',
  /** np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)) */
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
  /** np.float32(7) */
  scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAOBA',
  /** np.array([1.25, -3], '>f4') */
  be_f4: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/oAAAwEAAAA==',
  /** np.array([1 + 2j], '<c8') */
  c8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGM4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQA==',
  /** np.array([0, 128, 255], 'u1') */
  u1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAgP8=',
  /** np.arange(3, dtype='<f4'), format version 2.0 */
  v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEA=',
};

function bytesOf(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

function throwsBadInput(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-input' && message.test(e.message));
}

describe('encodeNpy', () => {
  it('writes exactly what numpy.save writes (header padding included)', () => {
    assert.deepEqual(encodeNpy(Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]), bytesOf(NUMPY.f4_2x3));
    const quarters = Float32Array.from({ length: 12 }, (_, i) => i / 4);
    assert.deepEqual(encodeNpy(quarters, [1, 3, 2, 2]), bytesOf(NUMPY.f4_1x3x2x2));
    assert.deepEqual(encodeNpy(Float64Array.from([1.5, -2.25, 3]), [3]), bytesOf(NUMPY.f8_3));
    assert.deepEqual(encodeNpy(Int32Array.from([7, -8, 9, 10]), [2, 2]), bytesOf(NUMPY.i4_2x2));
    assert.deepEqual(encodeNpy(Float32Array.from([7]), []), bytesOf(NUMPY.scalar));
  });

  it('aligns the data to 64 bytes and ends the header with a newline', () => {
    for (const shape of [[5], [123456], [1, 1000, 7, 7], []]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy(new Float32Array(n), shape);
      const headerEnd = 10 + (bytes[8] | (bytes[9] << 8));
      assert.equal(headerEnd % 64, 0, `shape ${shape}`);
      assert.equal(bytes[headerEnd - 1], 0x0a);
      assert.equal(bytes.length, headerEnd + 4 * n);
    }
  });

  it('round-trips float32, float64 and int32 data', () => {
    const f = Float32Array.from([0.1, -2.5e-8, 3e30, -0]);
    assert.deepEqual(decodeNpy(encodeNpy(f, [2, 2])), { data: f, shape: [2, 2] });
    const d = decodeNpy(encodeNpy(Float64Array.from([0.1, 1e300]), [2]));
    assert.deepEqual([...d.data], [Math.fround(0.1), Infinity]);
    assert.deepEqual([...decodeNpy(encodeNpy(Int32Array.from([-7, 2 ** 24]), [1, 2])).data], [-7, 2 ** 24]);
  });

  it('rejects a shape that does not match the data', () => {
    assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), LookCloserError);
  });
});

describe('decodeNpy', () => {
  it('reads numpy files of each supported type, converting to float32', () => {
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.f4_2x3)), { data: Float32Array.from([0, 1, 2, 3, 4, 5]), shape: [2, 3] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.f8_3)), { data: Float32Array.from([1.5, -2.25, 3]), shape: [3] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.f2_2x2)), { data: Float32Array.from([1, 0.5, -2, 65504]), shape: [2, 2] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.i8_3)), { data: Float32Array.from([1, -2, 3000000000]), shape: [3] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.i4_2x2)), { data: Float32Array.from([7, -8, 9, 10]), shape: [2, 2] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.u1)), { data: Float32Array.from([0, 128, 255]), shape: [3] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.scalar)), { data: Float32Array.from([7]), shape: [] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.be_f4)), { data: Float32Array.from([1.25, -3]), shape: [2] });
    assert.deepEqual(decodeNpy(bytesOf(NUMPY.v2)), { data: Float32Array.from([0, 1, 2]), shape: [3] });
  });

  it('reads from a view into a larger buffer', () => {
    const file = bytesOf(NUMPY.f4_2x3);
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    assert.deepEqual(decodeNpy(big.subarray(3)).shape, [2, 3]);
  });

  it('rejects Fortran order, unsupported types, truncation and non-npy data with clear errors', () => {
    throwsBadInput(() => decodeNpy(bytesOf(NUMPY.fortran)), /Fortran order/);
    throwsBadInput(() => decodeNpy(bytesOf(NUMPY.c8)), /element type 'c8' is not supported/);
    const full = bytesOf(NUMPY.f4_2x3);
    throwsBadInput(() => decodeNpy(full.subarray(0, full.length - 1)), /truncated: shape \(2, 3\) needs 24 data bytes but only 23/);
    throwsBadInput(() => decodeNpy(full.subarray(0, 50)), /ends inside its header/);
    throwsBadInput(() => decodeNpy(new TextEncoder().encode('hello, not numpy')), /magic/);
    throwsBadInput(() => decodeNpy(new Uint8Array(0)), /magic/);
  });
});
