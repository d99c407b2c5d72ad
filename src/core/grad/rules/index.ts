/** The gradient-rule table: one entry per ONNX operator, keyed by op type (default domain). */
import type { GradRule } from '../rule';
import * as act from './activations';
import * as ew from './elementwise';
import * as lay from './layout';
import * as lin from './linear';
import * as norm from './normalization';
import * as red from './reduce';
import * as rs from './resize';
import * as sp from './spatial';

/** Input-gradient rules by op type. */
export const GRAD_RULES: Readonly<Record<string, GradRule>> = {
  // activations (Relu and Clip follow the rectifier mode)
  Relu: act.relu,
  Clip: act.clip,
  LeakyRelu: act.leakyRelu,
  PRelu: act.prelu,
  Sigmoid: act.sigmoid,
  HardSigmoid: act.hardSigmoid,
  HardSwish: act.hardSwish,
  Tanh: act.tanh,
  Erf: act.erf,
  Gelu: act.gelu,
  Exp: act.exp,
  Log: act.log,
  Neg: act.neg,
  Sqrt: act.sqrt,
  Reciprocal: act.reciprocal,
  Softplus: act.softplus,
  Elu: act.elu,
  Softmax: act.softmax,
  LogSoftmax: act.logSoftmax,
  // arithmetic with broadcasting
  Add: ew.add,
  Sum: ew.sum,
  Sub: ew.sub,
  Mul: ew.mul,
  Div: ew.div,
  Pow: ew.pow,
  Expand: ew.expand,
  Where: ew.where,
  // linear
  Gemm: lin.gemm,
  MatMul: lin.matmul,
  Einsum: lin.einsum,
  // convolution and pooling
  Conv: sp.conv,
  ConvTranspose: sp.convTranspose,
  MaxPool: sp.maxPool,
  AveragePool: sp.averagePool,
  GlobalAveragePool: sp.globalAveragePool,
  GlobalMaxPool: sp.globalMaxPool,
  Resize: rs.resize,
  // reductions
  ReduceMean: red.reduceMean,
  ReduceSum: red.reduceSum,
  ReduceMax: red.reduceMax,
  ReduceL2: red.reduceL2,
  // normalisation (inference)
  BatchNormalization: norm.batchNormalization,
  LayerNormalization: norm.layerNormalization,
  // layout
  Flatten: lay.reshapeBack,
  Reshape: lay.reshapeBack,
  Squeeze: lay.reshapeBack,
  Unsqueeze: lay.reshapeBack,
  Identity: lay.passThrough,
  Dropout: lay.passThrough,
  Cast: lay.passThrough,
  Transpose: lay.transpose,
  Concat: lay.concat,
  Split: lay.split,
  Slice: lay.slice,
  Pad: lay.pad,
  Gather: lay.gather,
};
