/** Gradient rules of inference-time normalisations: BatchNormalization, LayerNormalization. */
import { attrFloat, attrInt } from '../../onnx/graph';
import { asFloat32 } from '../../tensor';
import type { GradRule } from '../rule';

/** BatchNormalization (inference): g · scale / √(var + ε), per channel. */
export const batchNormalization: GradRule = (ctx) => {
  const { emit, node } = ctx;
  if (attrInt(node, 'training_mode', 0)) ctx.unsupported('training_mode = 1');
  if (ctx.needs.slice(1).some(Boolean)) ctx.unsupported('its parameters depend on the input');
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const scale = ctx.constant(node.input[1]);
  const variance = ctx.constant(node.input[4]);
  const rank = ctx.shape(node.input[0]).length;
  const dims = [1, -1, ...Array(rank - 2).fill(1)];
  if (scale && variance) {
    const s = asFloat32(scale).data;
    const v = asFloat32(variance).data;
    const k = s.map((si, i) => si / Math.sqrt(v[i] + eps));
    return [emit.op('Mul', [ctx.gradOut[0]!, emit.f32(k, [1, k.length, ...Array(rank - 2).fill(1)])])];
  }
  const k = emit.op('Div', [ctx.f32(node.input[1]), emit.op('Sqrt', [emit.op('Add', [ctx.f32(node.input[4]), emit.scalar(eps)])])]);
  return [emit.op('Mul', [ctx.gradOut[0]!, emit.op('Reshape', [k, emit.i64(dims)])])];
};

/**
 * LayerNormalization over axes [axis, rank): with x̂ = (x − μ)/σ and h = g·γ,
 * dx = (h − mean(h) − x̂·mean(h·x̂)) / σ.
 */
export const layerNormalization: GradRule = (ctx) => {
  const { emit, node } = ctx;
  if (ctx.needs.slice(1).some(Boolean)) ctx.unsupported('its scale or bias depends on the input');
  const rank = ctx.shape(node.input[0]).length;
  const axis = (attrInt(node, 'axis', -1) + rank) % rank;
  if (axis === 0) ctx.unsupported('normalisation over the batch axis');
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const x = ctx.f32(node.input[0]);
  const mu = emit.reduce('ReduceMean', x, axes);
  const xc = emit.op('Sub', [x, mu]);
  const sigma = emit.op('Sqrt', [emit.op('Add', [emit.reduce('ReduceMean', emit.op('Mul', [xc, xc]), axes), emit.scalar(eps)])]);
  const xhat = emit.op('Div', [xc, sigma]);
  const h = emit.op('Mul', [ctx.gradOut[0]!, ctx.f32(node.input[1])]);
  const mh = emit.reduce('ReduceMean', h, axes);
  const mhx = emit.reduce('ReduceMean', emit.op('Mul', [h, xhat]), axes);
  const num = emit.op('Sub', [emit.op('Sub', [h, mh]), emit.op('Mul', [xhat, mhx])]);
  return [emit.op('Div', [num, sigma])];
};
