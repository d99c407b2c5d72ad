/** Test models without biases: the networks on which LRP's ε and z⁺ rules conserve relevance exactly. */
import { strict as assert } from 'node:assert';
import { decodeModel, encodeModel, tensorToProto } from '../../src/core/onnx/model';

/** The model with every Conv/Gemm bias and every BatchNorm shift (B and mean) set to zero: a network without biases. */
export function withoutBiases(bytes: Uint8Array): Uint8Array {
  const model = decodeModel(bytes, 'bias-free');
  const g = model.graph!;
  const zero = new Set<string>();
  for (const n of g.node ?? []) {
    if ((n.opType === 'Conv' || n.opType === 'Gemm') && n.input?.[2]) zero.add(n.input[2]);
    if (n.opType === 'BatchNormalization') [n.input![2], n.input![3]].forEach((i) => zero.add(i));
  }
  g.initializer = (g.initializer ?? []).map((t) => {
    if (!zero.has(t.name!)) return t;
    const dims = (t.dims ?? []).map(Number);
    return tensorToProto(t.name!, { type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
  });
  assert.ok(zero.size > 0);
  return encodeModel(model);
}
