/** What a classifier looks like from outside: its image input, its scores, its explainable layers. */
import { LookCloserError } from './errors';
import { Graph, Node, attrInts, describeNode } from './onnx/graph';
import { toNum } from './onnx/model';
import { DType } from './tensor';

/** The image input of a model. */
export interface ImageInput {
  readonly name: string;
  readonly dtype: 'float32' | 'float16';
  /** Dims as declared; symbolic dims are strings. */
  readonly declared: readonly (number | string)[];
  readonly layout: 'NCHW' | 'NHWC';
  readonly channels: 1 | 3;
  /** Spatial size when fixed by the model, else undefined (the preset decides). */
  readonly height?: number;
  readonly width?: number;
}

/** Where the class scores come from. */
export interface ScoreInfo {
  /** The graph output the model returns. */
  readonly output: string;
  /** The pre-softmax logits tensor (the Softmax/LogSoftmax input), or the output itself. */
  readonly logits: string;
  /** What the final op does to the logits. */
  readonly finalOp: 'softmax' | 'log-softmax' | 'none';
}

const SOFTMAX_PASSTHROUGH = new Set(['Identity', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze']);

/** Finds the model's single image input or throws a message naming what is wrong. */
export function findImageInput(graph: Graph, modelName: string): ImageInput {
  const inputs = graph.realInputs;
  if (inputs.length !== 1) {
    throw new LookCloserError('unsupported-model',
      `'${modelName}' has ${inputs.length} inputs (${inputs.map((i) => `'${i.name}'`).join(', ')}); Look Closer explains image classifiers with exactly one image input. Export a model that takes one [N,C,H,W] tensor.`);
  }
  const inp = inputs[0];
  const tt = inp.type?.tensorType;
  const elem = tt?.elemType ?? 0;
  const dtype: DType | undefined = elem === 1 ? 'float32' : elem === 10 ? 'float16' : undefined;
  const dims = (tt?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null && toNum(d.dimValue) > 0 ? toNum(d.dimValue) : '?'));
  if (!dtype) {
    throw new LookCloserError('unsupported-model',
      `Input '${inp.name}' of '${modelName}' has element type ${elem}; Look Closer needs a float32 or float16 image tensor.`);
  }
  if (dims.length !== 4) {
    throw new LookCloserError('unsupported-model',
      `Input '${inp.name}' of '${modelName}' has shape [${dims.join(', ')}] (rank ${dims.length}); Look Closer needs a 4-D image input [N,C,H,W] or [N,H,W,C]. Is this an image classifier?`);
  }
  let layout: 'NCHW' | 'NHWC';
  let channels: number;
  if (dims[1] === 1 || dims[1] === 3) [layout, channels] = ['NCHW', dims[1]];
  else if (dims[3] === 1 || dims[3] === 3) [layout, channels] = ['NHWC', dims[3]];
  else if (typeof dims[1] !== 'number' && typeof dims[3] !== 'number') [layout, channels] = ['NCHW', 3];
  else {
    throw new LookCloserError('unsupported-model',
      `Input '${inp.name}' of '${modelName}' has shape [${dims.join(', ')}]: neither axis 1 nor axis 3 has 1 or 3 channels, so it is not a grayscale or RGB image input.`);
  }
  const [h, w] = layout === 'NCHW' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  return {
    name: inp.name!, dtype, declared: dims, layout, channels: channels as 1 | 3,
    height: typeof h === 'number' ? h : undefined, width: typeof w === 'number' ? w : undefined,
  };
}

/** Finds the scores output and, when the graph ends in Softmax/LogSoftmax, its logits. */
export function findScores(graph: Graph): ScoreInfo {
  const output = graph.g.output[0].name!;
  let t = output;
  for (let hops = 0; hops < 4; hops++) {
    const p = graph.producer.get(t);
    if (!p) break;
    if (p.opType === 'Softmax') return { output, logits: p.input[0], finalOp: 'softmax' };
    if (p.opType === 'LogSoftmax') return { output, logits: p.input[0], finalOp: 'log-softmax' };
    if (!SOFTMAX_PASSTHROUGH.has(p.opType)) break;
    t = p.input[0];
  }
  return { output, logits: output, finalOp: 'none' };
}

/** A tensor that can be explained or inspected. */
export interface LayerInfo {
  readonly name: string;
  readonly op: string;
  readonly node: string;
  readonly shape: readonly number[];
}

/** Float tensors computed from the input: candidates for layers (shapes come from a forward pass). */
export function candidateTensors(graph: Graph): { name: string; node: Node }[] {
  const seen = new Map<string, boolean>();
  const out: { name: string; node: Node }[] = [];
  for (const n of graph.nodes) {
    if (n.opType === 'Constant') continue;
    for (const o of n.output) {
      if (!o) continue;
      const d = graph.dtype(o);
      if (d !== 'float32' && d !== 'float16') continue;
      if (graph.isConstant(o, seen)) continue;
      out.push({ name: o, node: n });
    }
  }
  return out;
}

const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool']);

/** True when `node` turns a 4-D map into per-channel values: global pooling, spatial reduction, flatten, or a pool whose output is 1×1. */
export function isPoolingToVector(graph: Graph, node: Node, shapes: ReadonlyMap<string, readonly number[]>): boolean {
  const inShape = shapes.get(node.input[0]);
  if (!inShape || inShape.length !== 4) return false;
  if (GLOBAL_POOLS.has(node.opType)) return true;
  if (node.opType === 'ReduceMean' || node.opType === 'ReduceMax' || node.opType === 'ReduceSum') {
    let axes = attrInts(node, 'axes');
    if (!axes && node.input[1]) {
      const c = graph.constant(node.input[1]);
      if (c) axes = Array.from(c.data as ArrayLike<number | bigint>, Number);
    }
    if (!axes) return false;
    const norm = new Set(axes.map((a) => (a < 0 ? a + 4 : a)));
    return (norm.has(2) && norm.has(3)) || (norm.has(1) && norm.has(2));
  }
  if (node.opType === 'Flatten' || node.opType === 'Reshape') {
    return inShape[2] * inShape[3] > 1 || (shapes.get(node.output[0])?.length ?? 0) === 2;
  }
  if (node.opType === 'AveragePool' || node.opType === 'MaxPool') {
    const o = shapes.get(node.output[0]);
    return !!o && o.length === 4 && o[2] === 1 && o[3] === 1 && inShape[2] * inShape[3] > 1;
  }
  return false;
}

/** The default target layer: the 4-D feature map that feeds the global pooling nearest the scores. */
export function defaultLayer(graph: Graph, logits: string, shapes: ReadonlyMap<string, readonly number[]>): string {
  const visited = new Set<string>();
  let frontier = [logits];
  while (frontier.length) {
    const next: string[] = [];
    for (const t of frontier) {
      if (visited.has(t)) continue;
      visited.add(t);
      const p = graph.producer.get(t);
      if (!p) continue;
      if (isPoolingToVector(graph, p, shapes)) {
        const layer = p.input[0];
        // A Flatten/Reshape of an already-pooled 1×1 map: keep walking to the real pooling.
        const s = shapes.get(layer)!;
        if ((p.opType === 'Flatten' || p.opType === 'Reshape') && s[2] * s[3] === 1) {
          next.push(layer);
          continue;
        }
        return layer;
      }
      for (const i of p.input) if (i && !graph.isConstant(i)) next.push(i);
    }
    frontier = next;
  }
  // No pooling found: the last 4-D tensor with a spatial extent.
  const cands = candidateTensors(graph).filter((c) => {
    const s = shapes.get(c.name);
    return s && s.length === 4 && s[2] * s[3] > 1;
  });
  if (!cands.length) {
    throw new LookCloserError('unsupported-model', `The model has no 4-D feature map with a spatial extent, so there is no layer to explain.`);
  }
  return cands[cands.length - 1].name;
}


export { describeNode };
