/**
 * Cascading model-parameter randomisation (Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018,
 * §3.1 "Cascading randomization"): the learnable layers' weights are replaced by random values from the
 * top (the logits) down, one more block of layers per step, so a method can be re-run on a model that knows
 * less and less. Here the layers are the Conv, ConvTranspose, Gemm and MatMul nodes whose weight is an
 * initializer; each weight (and bias) becomes seeded normal noise N(0, σ²) with σ the standard deviation of
 * the tensor it replaces ("random values of the same scale"), in the tensor's own type (float32, float16).
 */
import { LookCloserError } from '../errors';
import { mulberry32, normals } from '../methods/prng';
import { Graph } from '../onnx/graph';
import { encodeModel, onnx, tensorFromProto, tensorToProto } from '../onnx/model';
import { shallowCloneModel } from '../onnx/derived-model';
import { Tensor, float32ToHalf, halfToFloat32 } from '../tensor';

/** Operators whose second input is a learned weight. */
const WEIGHT_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** One learnable layer: a node's name and the initializers (weight, then bias) it reads. */
export interface WeightLayer {
  /** The node's name, or its first output when unnamed. */
  readonly name: string;
  readonly op: string;
  readonly initializers: readonly string[];
}

/** The learnable layers of a model, from the top (nearest the logits) down. */
export function weightLayersTopDown(model: onnx.ModelProto): WeightLayer[] {
  const g = new Graph(model);
  const seen = new Set<string>();
  const layers: WeightLayer[] = [];
  for (const n of g.nodes) {
    if (!WEIGHT_OPS.has(n.opType)) continue;
    const inits = [n.input[1], n.opType === 'MatMul' ? undefined : n.input[2]].filter((x): x is string => !!x && g.initializers.has(x) && isFloat(g.initializers.get(x)!) && !seen.has(x));
    if (!inits.length || inits[0] !== n.input[1]) continue;
    for (const i of inits) seen.add(i);
    layers.push({ name: n.name || n.output[0], op: n.opType, initializers: inits });
  }
  return layers.reverse();
}

const FLOAT_TYPES = new Set([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.DOUBLE]);

function isFloat(t: onnx.ITensorProto): boolean {
  return FLOAT_TYPES.has(t.dataType ?? 0);
}

/** Values of a float tensor as float64 numbers. */
function valuesOf(t: Tensor): Float64Array {
  return t.type === 'float16' ? Float64Array.from(halfToFloat32(t.data as Uint16Array)) : Float64Array.from(t.data as Float32Array | Float64Array);
}

/** Standard deviation (population) of the values. */
function std(v: Float64Array): number {
  let m = 0;
  for (const x of v) m += x;
  m /= v.length || 1;
  let s = 0;
  for (const x of v) s += (x - m) ** 2;
  return Math.sqrt(s / (v.length || 1));
}

/** Seeded N(0, σ²) noise of the proto's shape and type; σ = the proto's own standard deviation. */
function randomLike(p: onnx.ITensorProto, seed: number): onnx.TensorProto {
  const t = tensorFromProto(p);
  const v = valuesOf(t);
  const sigma = std(v);
  const z = normals(mulberry32(seed));
  const r = new Float64Array(v.length);
  for (let i = 0; i < r.length; i++) r[i] = sigma * z();
  const data = t.type === 'float16' ? float32ToHalf(r) : t.type === 'float64' ? r : Float32Array.from(r);
  return tensorToProto(p.name ?? '', { type: t.type, dims: t.dims, data } as Tensor);
}

/** A per-tensor seed, so each layer gets the same noise at every step of the cascade. */
function tensorSeed(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) | 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** The model's bytes with the given layers' weights and biases replaced by seeded noise of the same scale. */
export function randomizedModelBytes(model: onnx.ModelProto, layers: readonly WeightLayer[], seed: number): Uint8Array {
  const copy = shallowCloneModel(model);
  const g = copy.graph as onnx.GraphProto;
  const names = new Set(layers.flatMap((l) => l.initializers));
  let replaced = 0;
  g.initializer = g.initializer.map((p) => {
    if (!p.name || !names.has(p.name)) return p;
    replaced++;
    return randomLike(p, tensorSeed(seed, p.name));
  });
  if (replaced !== names.size) throw new LookCloserError('runtime', `Internal: ${names.size - replaced} of the weights to randomise are not initializers of the model.`);
  return encodeModel(copy);
}

/** The cascade's steps: step s (1-based) randomises the top ⌈s·L/S⌉ of the L layers; the last step randomises them all. */
export function cascadeSteps(layers: readonly WeightLayer[], steps: number): WeightLayer[][] {
  const n = layers.length;
  if (!n) throw new LookCloserError('method-not-applicable', 'The model has no Conv, Gemm or MatMul layer with a weight initializer to randomise.');
  const s = Math.max(1, Math.min(steps, n));
  return Array.from({ length: s }, (_, i) => layers.slice(0, Math.ceil(((i + 1) * n) / s)));
}
