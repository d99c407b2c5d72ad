/** The smallest model onnxruntime accepts, so a worker can start its runtime before the real model arrives. */

const enc = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited protobuf field. */
function field(no: number, bytes: readonly number[]): number[] {
  return [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
}

/** A varint protobuf field. */
function int(no: number, n: number): number[] {
  return [...varint(no << 3), ...varint(n)];
}

function str(no: number, s: string): number[] {
  return field(no, [...enc.encode(s)]);
}

/** ValueInfoProto{name, type: TypeProto{tensor_type{elem_type FLOAT, shape [1]}}}. */
function floatOfOne(name: string): number[] {
  return [...str(1, name), ...field(2, field(1, [...int(1, 1), ...field(2, field(1, int(1, 1)))]))];
}

/** ModelProto (IR 8, opset 17) of one Identity node from float input 'x' [1] to output 'y'. */
export function warmUpModel(): Uint8Array {
  const node = [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Identity')];
  const graph = [...field(1, node), ...str(2, 'warm-up'), ...field(11, floatOfOne('x')), ...field(12, floatOfOne('y'))];
  return new Uint8Array([...int(1, 8), ...field(7, graph), ...field(8, int(2, 17))]);
}
