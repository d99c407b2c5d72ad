/**
 * Every operator's gradient rule against central finite differences of the forward graph in onnxruntime
 * (float32; eps and tolerances per case). Several output elements are seeded at once, so the class-batched
 * backward is checked too. Piecewise-linear ops get inputs spaced away from their kinks and ties.
 */
import { strict as assert } from 'node:assert';
import { GRAD_RULES } from '../../src/core/grad/rules';
import type { Tensor } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { assertClose, backwardGrad, finiteDiff, probe } from '../support/finite-diff';
import { TinyNode, randomData, rng, spacedData, tinyModel } from '../support/tiny-model';

interface Case {
  name: string;
  /** The op type whose rule this case covers. */
  op: string;
  inputs: Record<string, number[]>;
  nodes: TinyNode[];
  init?: Record<string, Tensor>;
  /** How to fill each input: random in [lo,hi), or spaced away from kinks. */
  fill?: Record<string, { lo?: number; hi?: number; spaced?: number[]; gap?: number }>;
  /** Inputs to differentiate (default: every input). */
  targets?: string[];
  /** Opset of the tiny model (default 17). */
  opset?: number;
  eps?: number;
  tol?: number;
}

const f32 = (dims: number[], data: ArrayLike<number>): Tensor => ({ type: 'float32', dims, data: Float32Array.from(data) });
const i64 = (data: number[]): Tensor => ({ type: 'int64', dims: [data.length], data: BigInt64Array.from(data.map(BigInt)) });
const r0 = rng(7);
const w = (dims: number[], scale = 0.5) => f32(dims, randomData(dims.reduce((a, b) => a * b, 1), r0, -scale, scale));
const un = (op: string, attrs?: TinyNode['attrs'], extra: string[] = []): TinyNode[] => [{ op, inputs: ['x', ...extra], outputs: ['y'], attrs }];

const CASES: Case[] = [
  { name: 'Relu', op: 'Relu', inputs: { x: [1, 3, 5, 7] }, nodes: un('Relu'), fill: { x: { spaced: [0] } } },
  { name: 'Clip as ReLU6 (min 0)', op: 'Clip', inputs: { x: [1, 2, 4, 5] }, nodes: un('Clip', {}, ['lo', 'hi']), init: { lo: f32([], [0]), hi: f32([], [0.5]) }, fill: { x: { spaced: [0, 0.5] } } },
  { name: 'Clip (−0.3, 0.4)', op: 'Clip', inputs: { x: [1, 2, 3, 5] }, nodes: un('Clip', {}, ['lo', 'hi']), init: { lo: f32([], [-0.3]), hi: f32([], [0.4]) }, fill: { x: { spaced: [-0.3, 0.4] } } },
  { name: 'LeakyRelu', op: 'LeakyRelu', inputs: { x: [1, 3, 4, 4] }, nodes: un('LeakyRelu', { alpha: { float: 0.1 } }), fill: { x: { spaced: [0] } } },
  { name: 'PRelu', op: 'PRelu', inputs: { x: [1, 3, 4, 4] }, nodes: un('PRelu', {}, ['s']), init: { s: f32([3, 1, 1], [0.1, -0.2, 0.3]) }, fill: { x: { spaced: [0] } } },
  { name: 'Sigmoid', op: 'Sigmoid', inputs: { x: [1, 3, 4, 5] }, nodes: un('Sigmoid'), fill: { x: { lo: -3, hi: 3 } } },
  { name: 'HardSigmoid', op: 'HardSigmoid', inputs: { x: [1, 3, 4, 5] }, nodes: un('HardSigmoid', { alpha: { float: 0.2 }, beta: { float: 0.5 } }), fill: { x: { spaced: [-2.5, 2.5], gap: 0.1 } } },
  { name: 'HardSwish', op: 'HardSwish', inputs: { x: [1, 3, 4, 7] }, nodes: un('HardSwish'), fill: { x: { spaced: [-3, 3], gap: 0.1 } } },
  { name: 'Tanh', op: 'Tanh', inputs: { x: [1, 3, 4, 5] }, nodes: un('Tanh'), fill: { x: { lo: -2, hi: 2 } } },
  { name: 'Erf', op: 'Erf', inputs: { x: [1, 3, 4, 5] }, nodes: un('Erf'), fill: { x: { lo: -2, hi: 2 } } },
  { name: 'Exp', op: 'Exp', inputs: { x: [1, 2, 3, 5] }, nodes: un('Exp') },
  { name: 'Log', op: 'Log', inputs: { x: [1, 2, 3, 5] }, nodes: un('Log'), fill: { x: { lo: 0.5, hi: 2 } } },
  { name: 'Neg', op: 'Neg', inputs: { x: [1, 2, 3, 5] }, nodes: un('Neg') },
  { name: 'Sqrt', op: 'Sqrt', inputs: { x: [1, 2, 3, 5] }, nodes: un('Sqrt'), fill: { x: { lo: 0.5, hi: 2 } } },
  { name: 'Reciprocal', op: 'Reciprocal', inputs: { x: [1, 2, 3, 5] }, nodes: un('Reciprocal'), fill: { x: { lo: 0.5, hi: 2 } } },
  { name: 'Softplus', op: 'Softplus', inputs: { x: [1, 2, 3, 5] }, nodes: un('Softplus'), fill: { x: { lo: -2, hi: 2 } } },
  { name: 'Elu', op: 'Elu', inputs: { x: [1, 2, 3, 5] }, nodes: un('Elu', { alpha: { float: 0.7 } }), fill: { x: { spaced: [0] } } },
  { name: 'Softmax axis 1', op: 'Softmax', inputs: { x: [1, 4, 3] }, nodes: un('Softmax', { axis: 1 }), fill: { x: { lo: -2, hi: 2 } } },
  { name: 'LogSoftmax last axis', op: 'LogSoftmax', inputs: { x: [1, 3, 5] }, nodes: un('LogSoftmax', { axis: -1 }), fill: { x: { lo: -2, hi: 2 } } },
  { name: 'Add with broadcasting', op: 'Add', inputs: { x: [1, 3, 4, 5], b: [1, 3, 1, 1] }, nodes: [{ op: 'Add', inputs: ['x', 'b'], outputs: ['y'] }] },
  { name: 'Sum of three', op: 'Sum', inputs: { x: [1, 2, 3, 4], b: [1, 1, 3, 4] }, nodes: [{ op: 'Sum', inputs: ['x', 'b', 'x'], outputs: ['y'] }] },
  { name: 'Sub with broadcasting', op: 'Sub', inputs: { x: [1, 3, 1, 5], b: [1, 3, 4, 1] }, nodes: [{ op: 'Sub', inputs: ['x', 'b'], outputs: ['y'] }] },
  { name: 'Mul with broadcasting (SE gate)', op: 'Mul', inputs: { x: [1, 3, 4, 5], b: [1, 3, 1, 1] }, nodes: [{ op: 'Mul', inputs: ['x', 'b'], outputs: ['y'] }] },
  { name: 'Div with broadcasting', op: 'Div', inputs: { x: [1, 3, 4, 5], b: [1, 1, 4, 5] }, nodes: [{ op: 'Div', inputs: ['x', 'b'], outputs: ['y'] }], fill: { b: { lo: 0.5, hi: 2 } } },
  { name: 'Pow with a constant exponent', op: 'Pow', inputs: { x: [1, 3, 4, 5] }, nodes: un('Pow', {}, ['e']), init: { e: f32([], [2]) }, fill: { x: { lo: 0.2, hi: 2 } } },
  { name: 'Pow with an activation exponent', op: 'Pow', inputs: { x: [1, 2, 3, 4], b: [1, 2, 3, 4] }, nodes: [{ op: 'Pow', inputs: ['x', 'b'], outputs: ['y'] }], fill: { x: { lo: 0.5, hi: 2 } } },
  { name: 'Expand', op: 'Expand', inputs: { x: [1, 3, 1, 5] }, nodes: un('Expand', {}, ['s']), init: { s: i64([1, 3, 4, 5]) } },
  { name: 'Where', op: 'Where', inputs: { x: [1, 2, 3, 4], b: [1, 2, 3, 4] }, nodes: [{ op: 'Where', inputs: ['c', 'x', 'b'], outputs: ['y'] }], init: { c: { type: 'bool', dims: [1, 1, 3, 4], data: Uint8Array.from({ length: 12 }, (_, i) => i % 3 === 0 ? 1 : 0) } } },
  { name: 'Gemm transB alpha beta bias', op: 'Gemm', inputs: { x: [1, 6] }, nodes: un('Gemm', { transB: 1, alpha: { float: 0.7 }, beta: { float: 0.5 } }, ['W', 'c']), init: { W: w([4, 6]), c: w([4]) } },
  { name: 'Gemm plain', op: 'Gemm', inputs: { x: [1, 6] }, nodes: un('Gemm', {}, ['W']), init: { W: w([6, 4]) } },
  { name: 'MatMul with weights', op: 'MatMul', inputs: { x: [1, 5, 6] }, nodes: un('MatMul', {}, ['W']), init: { W: w([6, 4]) } },
  { name: 'MatMul of two activations', op: 'MatMul', inputs: { x: [1, 2, 5, 6], b: [1, 2, 6, 3] }, nodes: [{ op: 'MatMul', inputs: ['x', 'b'], outputs: ['y'] }] },
  { name: 'Conv grouped, strided, dilated, asymmetric pads', op: 'Conv', inputs: { x: [1, 4, 9, 11] }, nodes: un('Conv', { group: 2, strides: [2, 2], pads: [1, 0, 2, 1], dilations: [1, 2], kernel_shape: [3, 3] }, ['W', 'B']), init: { W: w([6, 2, 3, 3]), B: w([6]) } },
  { name: 'Conv depthwise stride 2', op: 'Conv', inputs: { x: [1, 3, 8, 7] }, nodes: un('Conv', { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }, ['W']), init: { W: w([3, 1, 3, 3]) } },
  { name: 'Conv auto_pad SAME_UPPER stride 2', op: 'Conv', inputs: { x: [1, 2, 7, 6] }, nodes: un('Conv', { auto_pad: 'SAME_UPPER', strides: [2, 2] }, ['W']), init: { W: w([3, 2, 4, 3]) } },
  { name: 'Conv stride 1 (as Conv): grouped, dilated, asymmetric pads', op: 'Conv', inputs: { x: [1, 4, 9, 8] }, nodes: un('Conv', { group: 2, pads: [2, 0, 1, 3], dilations: [2, 1], kernel_shape: [3, 2] }, ['W', 'B']), init: { W: w([6, 2, 3, 2]), B: w([6]) } },
  { name: 'Conv stride 1 (as Conv): depthwise 3×3, auto_pad SAME_LOWER with an even kernel', op: 'Conv', inputs: { x: [1, 3, 6, 7] }, nodes: un('Conv', { group: 3, auto_pad: 'SAME_LOWER', kernel_shape: [4, 3] }, ['W']), init: { W: w([3, 1, 4, 3]) } },
  { name: 'Conv stride 1 (as Conv): 1-D, depth multiplier 2', op: 'Conv', inputs: { x: [1, 2, 9] }, nodes: un('Conv', { group: 2, pads: [1, 2] }, ['W']), init: { W: w([4, 1, 3]) } },
  { name: 'Conv stride 1 with pads wider than the kernel (ConvTranspose path)', op: 'Conv', inputs: { x: [1, 2, 5, 5] }, nodes: un('Conv', { pads: [3, 0, 0, 3] }, ['W']), init: { W: w([3, 2, 2, 2]) } },
  { name: 'Conv 1×1 with odd leftovers (stride 3)', op: 'Conv', inputs: { x: [1, 3, 8, 8] }, nodes: un('Conv', { strides: [3, 3] }, ['W']), init: { W: w([2, 3, 2, 2]) } },
  { name: 'ConvTranspose stride 2, grouped, asymmetric pads, output_padding', op: 'ConvTranspose', inputs: { x: [1, 4, 4, 5] }, nodes: un('ConvTranspose', { group: 2, strides: [2, 2], pads: [1, 0, 0, 1], output_padding: [1, 1] }, ['W', 'B']), init: { W: w([4, 3, 3, 3]), B: w([6]) } },
  { name: 'ConvTranspose dilated', op: 'ConvTranspose', inputs: { x: [1, 2, 3, 4] }, nodes: un('ConvTranspose', { dilations: [2, 1], pads: [1, 1, 1, 1] }, ['W']), init: { W: w([2, 3, 3, 2]) } },
  { name: 'MaxPool 3×3 stride 2 pad 1 ceil_mode (overlapping)', op: 'MaxPool', inputs: { x: [1, 2, 9, 10] }, nodes: un('MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }), fill: { x: { spaced: [], gap: 0.02 } }, eps: 0.005 },
  { name: 'MaxPool 2×2 stride 2', op: 'MaxPool', inputs: { x: [1, 3, 6, 7] }, nodes: un('MaxPool', { kernel_shape: [2, 2], strides: [2, 2] }), fill: { x: { spaced: [], gap: 0.02 } }, eps: 0.005 },
  { name: 'AveragePool exclude pad, ceil_mode', op: 'AveragePool', inputs: { x: [1, 2, 9, 8] }, nodes: un('AveragePool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }) },
  { name: 'AveragePool include pad', op: 'AveragePool', inputs: { x: [1, 2, 7, 8] }, nodes: un('AveragePool', { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 1 }) },
  { name: 'AveragePool 2×2 stride 2 floor with leftover', op: 'AveragePool', inputs: { x: [1, 2, 7, 9] }, nodes: un('AveragePool', { kernel_shape: [2, 2], strides: [2, 2] }) },
  { name: 'Resize linear half_pixel ×2 (scales)', op: 'Resize', inputs: { x: [1, 2, 3, 4] }, nodes: un('Resize', { mode: 'linear' }, ['', 'sc']), init: { sc: f32([4], [1, 1, 2, 2]) } },
  { name: 'Resize linear align_corners to 7×5', op: 'Resize', inputs: { x: [1, 2, 3, 4] }, nodes: un('Resize', { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, ['', 'sc']), init: { sc: f32([4], [1, 1, 7 / 3, 5 / 4]) } },
  { name: 'Resize nearest asymmetric floor ×2', op: 'Resize', inputs: { x: [1, 2, 3, 3] }, nodes: un('Resize', { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, ['', 'sc']), init: { sc: f32([4], [1, 1, 2, 2]) } },
  { name: 'GlobalAveragePool', op: 'GlobalAveragePool', inputs: { x: [1, 3, 5, 6] }, nodes: un('GlobalAveragePool') },
  { name: 'GlobalMaxPool', op: 'GlobalMaxPool', inputs: { x: [1, 3, 4, 5] }, nodes: un('GlobalMaxPool'), fill: { x: { spaced: [], gap: 0.02 } }, eps: 0.005 },
  { name: 'ReduceMean over H,W (keepdims 0)', op: 'ReduceMean', inputs: { x: [1, 3, 4, 5] }, nodes: un('ReduceMean', { axes: [2, 3], keepdims: 0 }) },
  { name: 'ReduceSum with axes input', op: 'ReduceSum', inputs: { x: [1, 3, 4, 5] }, nodes: un('ReduceSum', { keepdims: 1 }, ['ax']), init: { ax: i64([1]) } },
  { name: 'ReduceMax over channels (CBAM)', op: 'ReduceMax', inputs: { x: [1, 4, 3, 5] }, nodes: un('ReduceMax', { axes: [1], keepdims: 1 }), fill: { x: { spaced: [], gap: 0.02 } }, eps: 0.005 },
  { name: 'BatchNormalization', op: 'BatchNormalization', inputs: { x: [1, 3, 4, 5] }, nodes: un('BatchNormalization', { epsilon: { float: 1e-3 } }, ['s', 'b', 'm', 'v']), init: { s: w([3]), b: w([3]), m: w([3]), v: f32([3], [0.5, 1.5, 2]) } },
  { name: 'LayerNormalization last axis', op: 'LayerNormalization', inputs: { x: [1, 4, 6] }, nodes: un('LayerNormalization', { axis: -1, epsilon: { float: 1e-5 } }, ['g', 'b']), init: { g: w([6], 1), b: w([6]) } },
  { name: 'Flatten', op: 'Flatten', inputs: { x: [1, 3, 2, 4] }, nodes: [...un('Flatten', { axis: 1 }).map((n) => ({ ...n, outputs: ['f'] })), { op: 'Mul', inputs: ['f', 'f'], outputs: ['y'] }] },
  { name: 'Reshape', op: 'Reshape', inputs: { x: [1, 3, 4, 5] }, nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { s: i64([-1, 12, 5]) } },
  { name: 'Squeeze', op: 'Squeeze', inputs: { x: [1, 3, 1, 5] }, nodes: [{ op: 'Squeeze', inputs: ['x', 'a'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { a: i64([2]) } },
  { name: 'Unsqueeze', op: 'Unsqueeze', inputs: { x: [1, 3, 5] }, nodes: [{ op: 'Unsqueeze', inputs: ['x', 'a'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { a: i64([2]) } },
  { name: 'Identity', op: 'Identity', inputs: { x: [1, 3, 5] }, nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }] },
  { name: 'Dropout (inference)', op: 'Dropout', inputs: { x: [1, 3, 5] }, nodes: [{ op: 'Dropout', inputs: ['x'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }] },
  { name: 'Cast float→float', op: 'Cast', inputs: { x: [1, 3, 5] }, nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['r'], attrs: { to: 1 } }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }] },
  { name: 'Transpose (channels last)', op: 'Transpose', inputs: { x: [1, 3, 4, 5] }, nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['r'], attrs: { perm: [0, 2, 3, 1] } }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }] },
  { name: 'Concat of a tensor and its square', op: 'Concat', inputs: { x: [1, 2, 3, 4] }, nodes: [{ op: 'Mul', inputs: ['x', 'x'], outputs: ['s'] }, { op: 'Concat', inputs: ['x', 's', 'x'], outputs: ['y'], attrs: { axis: 1 } }] },
  { name: 'Split and multiply the halves', op: 'Split', inputs: { x: [1, 6, 3, 4] }, nodes: [{ op: 'Split', inputs: ['x', 'sp'], outputs: ['a', 'b', 'c'], attrs: { axis: 1 } }, { op: 'Mul', inputs: ['a', 'c'], outputs: ['y'] }], init: { sp: i64([2, 2, 2]) } },
  { name: 'Slice step 1 with negative start', op: 'Slice', inputs: { x: [1, 4, 6, 5] }, nodes: [{ op: 'Slice', inputs: ['x', 'st', 'en', 'ax'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { st: i64([1, -4]), en: i64([3, 100]), ax: i64([1, 2]) } },
  { name: 'Slice with steps 2 and −1', op: 'Slice', inputs: { x: [1, 4, 6, 5] }, nodes: [{ op: 'Slice', inputs: ['x', 'st', 'en', 'ax', 'sp'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { st: i64([0, -1]), en: i64([6, -100]), ax: i64([2, 3]), sp: i64([2, -1]) } },
  { name: 'Pad constant with a negative pad', op: 'Pad', inputs: { x: [1, 2, 5, 6] }, nodes: [{ op: 'Pad', inputs: ['x', 'p'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { p: i64([0, 0, 1, -1, 0, 0, 2, 3]) } },
  { name: 'Gather with constant indices', op: 'Gather', inputs: { x: [1, 4, 3, 2] }, nodes: [{ op: 'Gather', inputs: ['x', 'i'], outputs: ['r'], attrs: { axis: 1 } }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { i: i64([2, 0, 2, -1]) } },
  // Transformers: attention's qkv split along axis 0 of a permuted 5-D tensor, Einsum attention, cosine attention's
  // ReduceL2, opset-20 Gelu. Ops along axis 0 run one class at a time (the backward is built with exact shapes).
  { name: 'Gather along axis 0 of a permuted qkv tensor (Swin)', op: 'Gather', inputs: { x: [1, 4, 12] }, nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['r'] }, { op: 'Transpose', inputs: ['r'], outputs: ['t'], attrs: { perm: [2, 0, 3, 1, 4] } }, { op: 'Gather', inputs: ['t', 'i0'], outputs: ['q'], attrs: { axis: 0 } }, { op: 'Gather', inputs: ['t', 'i2'], outputs: ['v'], attrs: { axis: 0 } }, { op: 'Mul', inputs: ['q', 'v'], outputs: ['y'] }], init: { s: i64([-1, 4, 3, 2, 2]), i0: { type: 'int64', dims: [], data: BigInt64Array.from([0n]) }, i2: { type: 'int64', dims: [], data: BigInt64Array.from([-1n]) } } },
  { name: 'Split along axis 0 and Squeeze (timm unbind)', op: 'Split', inputs: { x: [1, 4, 12] }, nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['r'] }, { op: 'Transpose', inputs: ['r'], outputs: ['t'], attrs: { perm: [2, 0, 3, 1, 4] } }, { op: 'Split', inputs: ['t', 'sp'], outputs: ['a', 'b', 'c'], attrs: { axis: 0 } }, { op: 'Squeeze', inputs: ['a', 'z'], outputs: ['q'] }, { op: 'Squeeze', inputs: ['c', 'z'], outputs: ['v'] }, { op: 'Mul', inputs: ['q', 'v'], outputs: ['y'] }], init: { s: i64([-1, 4, 3, 2, 2]), sp: i64([1, 1, 1]), z: i64([0]) } },
  { name: 'Slice along axis 0 with step 2', op: 'Slice', inputs: { x: [1, 6, 4] }, nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0, 2] } }, { op: 'Slice', inputs: ['t', 'st', 'en', 'ax', 'sp'], outputs: ['r0'] }, { op: 'Transpose', inputs: ['r0'], outputs: ['r'], attrs: { perm: [1, 0, 2] } }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['y'] }], init: { st: i64([1, 0]), en: i64([6, 3]), ax: i64([0, 2]), sp: i64([2, 1]) } },
  { name: 'Slice along axis 0 (Swin roll)', op: 'Slice', inputs: { x: [1, 6, 4] }, nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0, 2] } }, { op: 'Slice', inputs: ['t', 'st', 'en', 'ax'], outputs: ['a'] }, { op: 'Slice', inputs: ['t', 'en', 'big', 'ax'], outputs: ['b'] }, { op: 'Concat', inputs: ['b', 'a'], outputs: ['r'], attrs: { axis: 0 } }, { op: 'Mul', inputs: ['r', 't'], outputs: ['m'] }, { op: 'Transpose', inputs: ['m'], outputs: ['y'], attrs: { perm: [1, 0, 2] } }], init: { st: i64([0]), en: i64([2]), big: i64([100]), ax: i64([0]) } },
  { name: 'Concat along axis 0', op: 'Concat', inputs: { x: [1, 3, 4] }, nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0, 2] } }, { op: 'Mul', inputs: ['t', 't'], outputs: ['s'] }, { op: 'Concat', inputs: ['t', 's'], outputs: ['c'], attrs: { axis: 0 } }, { op: 'Mul', inputs: ['c', 'c'], outputs: ['m'] }, { op: 'Transpose', inputs: ['m'], outputs: ['y'], attrs: { perm: [1, 0, 2] } }] },
  { name: 'Pad along axis 0', op: 'Pad', inputs: { x: [1, 3, 4] }, nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0, 2] } }, { op: 'Pad', inputs: ['t', 'p'], outputs: ['r'] }, { op: 'Mul', inputs: ['r', 'r'], outputs: ['m'] }, { op: 'Transpose', inputs: ['m'], outputs: ['y'], attrs: { perm: [1, 0, 2] } }], init: { p: i64([1, 0, 0, 2, 0, 1]) } },
  { name: 'Softmax over axis 0 of a transposed tensor', op: 'Softmax', inputs: { x: [1, 4, 3] }, nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0, 2] } }, { op: 'Softmax', inputs: ['t'], outputs: ['m'], attrs: { axis: 0 } }, { op: 'Transpose', inputs: ['m'], outputs: ['y'], attrs: { perm: [1, 0, 2] } }], fill: { x: { lo: -2, hi: 2 } } },
  { name: 'Einsum attention scores (MaxViT)', op: 'Einsum', inputs: { x: [1, 2, 2, 3, 4], b: [1, 2, 2, 5, 4] }, nodes: [{ op: 'Einsum', inputs: ['x', 'b'], outputs: ['y'], attrs: { equation: 'BGHID,BGHJD->BGHIJ' } }] },
  { name: 'Einsum implicit output with a letter only one operand has', op: 'Einsum', inputs: { x: [1, 3, 4] }, nodes: [{ op: 'Einsum', inputs: ['x', 'W'], outputs: ['y'], attrs: { equation: 'bij,jk' } }], init: { W: w([4, 5]) } },
  { name: 'Einsum summing an axis away', op: 'Einsum', inputs: { x: [1, 3, 4] }, nodes: [{ op: 'Einsum', inputs: ['x', 'W'], outputs: ['y'], attrs: { equation: 'bij,k->bk' } }], init: { W: w([5]) } },
  { name: 'ReduceL2 (F.normalize in cosine attention)', op: 'ReduceL2', inputs: { x: [1, 2, 3, 4] }, nodes: [{ op: 'ReduceL2', inputs: ['x'], outputs: ['n'], attrs: { axes: [-1], keepdims: 1 } }, { op: 'Div', inputs: ['x', 'n'], outputs: ['y'] }] },
  { name: 'ReduceL2 keepdims 0', op: 'ReduceL2', inputs: { x: [1, 3, 5] }, nodes: un('ReduceL2', { axes: [1], keepdims: 0 }) },
  { name: 'Gelu (opset 20, exact)', op: 'Gelu', opset: 20, inputs: { x: [1, 3, 4, 5] }, nodes: un('Gelu'), fill: { x: { lo: -3, hi: 3 } } },
  { name: 'Gelu (opset 20, tanh approximation)', op: 'Gelu', opset: 20, inputs: { x: [1, 3, 4, 5] }, nodes: un('Gelu', { approximate: 'tanh' }), fill: { x: { lo: -3, hi: 3 } } },
];

describe('gradient rules vs finite differences', function () {
  const runtime = webRuntime();

  it('names the operator, the node and the method when a rule is missing', async () => {
    const bytes = tinyModel({ inputs: { x: [1, 2, 3, 4] }, nodes: [{ op: 'Cos', inputs: ['x'], outputs: ['y'] }], output: 'y' });
    const x = f32([1, 2, 3, 4], randomData(24, rng(1)));
    await assert.rejects(backwardGrad(runtime, bytes, { x }, 'y', 'x', [0]), /Operator 'Cos' \(node 'n0_Cos'\) has no gradient rule yet; test needs one between 'x' and the output/);
  });

  it('has at least one case for every rule in the table', () => {
    const covered = new Set(CASES.map((c) => c.op));
    const missing = Object.keys(GRAD_RULES).filter((op) => !covered.has(op));
    assert.deepEqual(missing, []);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const r = rng(c.name.length * 7919 + 13);
      const bytes = tinyModel({ inputs: c.inputs, nodes: c.nodes, output: 'y', initializers: c.init, opset: c.opset });
      const feeds: Record<string, Tensor> = {};
      for (const [k, dims] of Object.entries(c.inputs)) {
        const n = dims.reduce((a, b) => a * b, 1);
        const fill = c.fill?.[k];
        feeds[k] = f32(dims, fill?.spaced ? spacedData(n, r, fill.gap ?? 0.05, fill.spaced) : randomData(n, r, fill?.lo ?? -1, fill?.hi ?? 1));
      }
      // Output size from a forward run, then three seeded output elements.
      const { shapes } = await probe(runtime, bytes, feeds);
      const outN = shapes.get('y')!.slice(1).reduce((a, b) => a * b, 1);
      const classes = [0, Math.floor(outN / 2), outN - 1].filter((v, i, a) => a.indexOf(v) === i);
      for (const t of c.targets ?? Object.keys(c.inputs)) {
        const { data } = await backwardGrad(runtime, bytes, feeds, 'y', t, classes);
        const fd = await finiteDiff(runtime, bytes, feeds, 'y', t, classes, c.eps ?? 1e-2);
        assertClose(data, fd, c.tol ?? 2e-3, `${c.name}: d y[${classes}] / d ${t}`);
      }
    });
  }
});
