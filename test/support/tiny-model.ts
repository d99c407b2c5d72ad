/** Builds small ONNX models in memory for operator tests. */
import { onnx } from '../../src/core/onnx/model';
import { makeAttribute, tensorToProto } from '../../src/core/onnx/model';
import type { Tensor } from '../../src/core/tensor';

/** A node as tests write it. */
export interface TinyNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[] | string | { float: number } | { floats: number[] }>;
}

/** Builds a model: float32 inputs with a symbolic batch axis, constants as initializers, one float output. */
export function tinyModel(spec: {
  inputs: Record<string, number[]>;
  nodes: TinyNode[];
  output: string;
  initializers?: Record<string, Tensor>;
  opset?: number;
}): Uint8Array {
  const vi = (name: string, dims: (number | string)[], elemType = 1) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  const node = spec.nodes.map((n, i) =>
    onnx.NodeProto.create({
      opType: n.op, input: n.inputs, output: n.outputs, name: `n${i}_${n.op}`,
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => {
        if (typeof v === 'object' && !Array.isArray(v) && 'float' in v) return makeAttribute(k, v.float, 'float');
        if (typeof v === 'object' && !Array.isArray(v) && 'floats' in v) return makeAttribute(k, v.floats, 'floats');
        return makeAttribute(k, v as number | number[] | string);
      }),
    }),
  );
  const graph = onnx.GraphProto.create({
    name: 'tiny',
    input: Object.entries(spec.inputs).map(([k, d]) => vi(k, ['N', ...d.slice(1)])),
    output: [onnx.ValueInfoProto.create({ name: spec.output, type: { tensorType: { elemType: 1 } } })],
    node,
    initializer: Object.entries(spec.initializers ?? {}).map(([k, t]) => tensorToProto(k, t)),
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: spec.opset ?? 17 }], graph, producerName: 'look-closer-tests' });
  return onnx.ModelProto.encode(model).finish();
}

/** A seeded pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random float32 tensor data in [lo, hi). */
export function randomData(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Distinct values spaced at least `gap` apart, away from 0 and the given kinks, in random order (for piecewise-linear ops). */
export function spacedData(n: number, r: () => number, gap = 0.05, kinks: number[] = [0]): Float32Array {
  const vals: number[] = [];
  let v = -(n * gap) / 2;
  while (vals.length < n) {
    v += gap;
    if (kinks.some((k) => Math.abs(v - k) < gap / 2)) continue;
    vals.push(v);
  }
  for (let i = vals.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  return Float32Array.from(vals);
}
