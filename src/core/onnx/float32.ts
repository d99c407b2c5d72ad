/**
 * A float32 copy of a float16 model (every weight, Constant, graph input/output, value_info and Cast target).
 * WebGPU adapters without the `shader-f16` feature (SwiftShader; Dawn on Vulkan) fail every float16 kernel,
 * so the webview runs this copy there. It differs from the float16 model by float16 rounding only.
 */
import { onnx, tensorFromProto, tensorToProto } from './model';
import { halfToFloat32 } from '../tensor';

/** True when the model has float16 inputs, outputs or weights. */
export function usesFloat16(model: onnx.IModelProto): boolean {
  const g = model.graph;
  return !!g && ((g.initializer ?? []).some((t) => t.dataType === 10) || [...(g.input ?? []), ...(g.output ?? [])].some((v) => v.type?.tensorType?.elemType === 10));
}

/** Returns a float32 copy of the model (the argument is left unchanged). */
export function float32Copy(model: onnx.IModelProto): onnx.ModelProto {
  const m = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = m.graph as onnx.GraphProto;
  const fix = (t: onnx.ITensorProto): onnx.TensorProto => {
    if (t.dataType !== 10) return t as onnx.TensorProto;
    const v = tensorFromProto(t);
    return tensorToProto(t.name ?? '', { type: 'float32', dims: v.dims, data: halfToFloat32(v.data as Uint16Array) });
  };
  g.initializer = g.initializer.map(fix);
  for (const vi of [...g.input, ...g.output, ...g.valueInfo]) {
    if (vi.type?.tensorType?.elemType === 10) vi.type.tensorType.elemType = 1;
  }
  for (const n of g.node) {
    for (const a of n.attribute ?? []) {
      if (a.t) a.t = fix(a.t);
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === 10) a.i = 1;
    }
  }
  return m;
}
