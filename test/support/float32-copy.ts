/** Makes a float32 copy of a float16 model (every weight, constant, input/output and Cast), as an independent reference. */
import { onnx } from '../../src/core/onnx/model';
import { halfToFloat32 } from '../../src/core/tensor';
import { tensorFromProto, tensorToProto } from '../../src/core/onnx/model';

/** Returns the bytes of the float32 copy. */
export function float32Copy(bytes: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const fix = (t: onnx.ITensorProto): onnx.ITensorProto => {
    if (t.dataType !== 10) return t;
    const v = tensorFromProto(t);
    return tensorToProto(t.name ?? '', { type: 'float32', dims: v.dims, data: halfToFloat32(v.data as Uint16Array) });
  };
  g.initializer = g.initializer!.map((t) => fix(t) as onnx.TensorProto);
  for (const vi of [...g.input!, ...g.output!, ...(g.valueInfo ?? [])]) {
    if (vi.type?.tensorType?.elemType === 10) vi.type.tensorType.elemType = 1;
  }
  for (const n of g.node!) {
    for (const a of n.attribute ?? []) {
      if (a.t) a.t = fix(a.t) as onnx.TensorProto;
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === 10) a.i = 1;
    }
  }
  return onnx.ModelProto.encode(m).finish();
}
