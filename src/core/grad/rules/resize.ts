/**
 * Gradient rule of Resize (nearest and linear, any coordinate transformation). Resizing a 4-D map is
 * separable and linear: Y = R_h · X · R_wᵀ per plane, with interpolation matrices computed here from
 * the static shapes, so the gradient is gX = R_hᵀ · gY · R_w (two MatMuls with constant matrices).
 */
import { attrInt, attrString } from '../../onnx/graph';
import type { GradContext, GradRule } from '../rule';

/** Source coordinate of an output index, per ONNX Resize's coordinate_transformation_mode. */
function sourceCoord(mode: string, x: number, scale: number, inLen: number, outLen: number): number {
  switch (mode) {
    case 'asymmetric': return x / scale;
    case 'align_corners': return outLen === 1 ? 0 : (x * (inLen - 1)) / (outLen - 1);
    case 'pytorch_half_pixel': return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'tf_half_pixel_for_nn': return (x + 0.5) / scale;
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    default: return NaN;
  }
}

/** The [outLen × inLen] interpolation matrix of one axis. */
export function resizeMatrix(ctx: GradContext, inLen: number, outLen: number, scale: number): Float32Array {
  const n = ctx.node;
  const mode = attrString(n, 'mode', 'nearest');
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nearestMode = attrString(n, 'nearest_mode', 'round_prefer_floor');
  const m = new Float32Array(outLen * inLen);
  for (let o = 0; o < outLen; o++) {
    const x = sourceCoord(ctm, o, scale, inLen, outLen);
    if (Number.isNaN(x)) ctx.unsupported(`coordinate_transformation_mode '${ctm}'`);
    if (mode === 'nearest') {
      let i: number;
      if (nearestMode === 'floor') i = Math.floor(x);
      else if (nearestMode === 'ceil') i = Math.ceil(x);
      else if (nearestMode === 'round_prefer_ceil') i = Math.round(x);
      else i = x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
      i = Math.min(Math.max(i, 0), inLen - 1);
      m[o * inLen + i] = 1;
    } else if (mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), inLen - 1);
      const i0 = Math.floor(xc);
      const i1 = Math.min(i0 + 1, inLen - 1);
      const t = xc - i0;
      m[o * inLen + i0] += 1 - t;
      m[o * inLen + i1] += t;
    } else {
      ctx.unsupported(`Resize mode '${mode}' (nearest and linear are supported)`);
    }
  }
  return m;
}

/** Resize of the two spatial axes of a 4-D map: gX = R_hᵀ · gY · R_w. */
export const resize: GradRule = (ctx) => {
  const { emit, node } = ctx;
  const inShape = ctx.shape(node.input[0]);
  const outShape = ctx.shape(node.output[0]);
  if (inShape.length !== 4 || inShape[0] !== outShape[0] || inShape[1] !== outShape[1]) ctx.unsupported('only resizing the spatial axes of a 4-D map is supported');
  if (attrInt(node, 'antialias', 0)) ctx.unsupported('antialias = 1');
  const scalesT = node.input[2] ? ctx.constant(node.input[2]) : undefined;
  const scales = scalesT && scalesT.dims.reduce((a, b) => a * b, 1) === 4 ? Array.from(scalesT.data as Float32Array) : undefined;
  const [H, W] = inShape.slice(2);
  const [Ho, Wo] = outShape.slice(2);
  const rh = resizeMatrix(ctx, H, Ho, scales ? scales[2] : Ho / H);
  const rw = resizeMatrix(ctx, W, Wo, scales ? scales[3] : Wo / W);
  const rhT = new Float32Array(H * Ho);
  for (let o = 0; o < Ho; o++) for (let i = 0; i < H; i++) rhT[i * Ho + o] = rh[o * H + i];
  const left = emit.op('MatMul', [emit.f32(rhT, [H, Ho]), ctx.gradOut[0]!]);
  return [emit.op('MatMul', [left, emit.f32(rw, [Wo, W])])];
};
