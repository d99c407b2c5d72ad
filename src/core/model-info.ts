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

/** True when `node` turns a 4-D map into per-channel values: global pooling, spatial reduction, flatten to a vector, or a pool whose output is 1×1. */
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
    // A reshape to rank 3 or more (a transformer's heads merged back into channels) is no vector.
    const outRank = shapes.get(node.output[0])?.length;
    if (outRank !== undefined && outRank > 2) return false;
    return inShape[2] * inShape[3] > 1 || outRank === 2;
  }
  if (node.opType === 'AveragePool' || node.opType === 'MaxPool') {
    const o = shapes.get(node.output[0]);
    return !!o && o.length === 4 && o[2] === 1 && o[3] === 1 && inShape[2] * inShape[3] > 1;
  }
  return false;
}

/** Why a layer is the default target. */
export interface DefaultLayerChoice {
  readonly layer: string;
  readonly reason: string;
}

/** The 4-D map feeding the global pooling nearest the scores, with that pooling node. */
function pooledMap(graph: Graph, logits: string, shapes: ReadonlyMap<string, readonly number[]>): { layer: string; node: Node } | undefined {
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
        return { layer, node: p };
      }
      for (const i of p.input) if (i && !graph.isConstant(i)) next.push(i);
    }
    frontier = next;
  }
  return undefined;
}

/** Every non-constant tensor `from` is computed from, itself included. */
function ancestors(graph: Graph, from: string): Set<string> {
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length) {
    const p = graph.producer.get(stack.pop()!);
    if (!p) continue;
    for (const i of p.input) {
      if (!i || seen.has(i) || graph.isConstant(i)) continue;
      seen.add(i);
      stack.push(i);
    }
  }
  return seen;
}

/** Ops an attention's probabilities pass through on their way to the values' MatMul. */
const PROBS_PASSTHROUGH = new Set(['Dropout', 'Identity', 'Cast']);

/** True when `t` is a linear projection's output (MatMul/Gemm, or its bias Add): queries, keys, values or a fused qkv. */
function isProjection(graph: Graph, t: string): boolean {
  const p = graph.producer.get(t);
  if (!p) return false;
  if (p.opType === 'MatMul' || p.opType === 'Gemm') return true;
  if (p.opType !== 'Add') return false;
  const varying = p.input.filter((i) => i && !graph.isConstant(i));
  return varying.length === 1 && ['MatMul', 'Gemm'].includes(graph.producer.get(varying[0])?.opType ?? '');
}

/**
 * The input of the last self-attention (ViT-style models): the latest [1, N, C] token tensor that both the
 * attention's scores (queries·keys) and its values are computed from, skipping projection outputs — the
 * LayerNorm output feeding the last block's attention (pytorch-grad-cam's `blocks[-1].norm1`). After it, only the
 * class token reaches the head, so later token layers carry gradient at one token.
 */
function lastAttentionInput(graph: Graph, logits: string, shapes: ReadonlyMap<string, readonly number[]>): { layer: string; node: Node; index: number } | undefined {
  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  const scoreSide = ancestors(graph, logits);
  const softmaxes = graph.nodes.filter((n) => n.opType === 'Softmax' && scoreSide.has(n.output[0]) && (shapes.get(n.input[0])?.length ?? 0) >= 3);
  for (const sm of softmaxes.reverse()) {
    let probs = [sm.output[0]];
    let values: string | undefined;
    for (let hops = 0; hops < 4 && !values && probs.length; hops++) {
      const next: string[] = [];
      for (const t of probs) {
        for (const c of graph.consumers.get(t) ?? []) {
          if (c.opType === 'MatMul' && c.input[0] === t) values = c.input[1];
          else if (PROBS_PASSTHROUGH.has(c.opType)) next.push(c.output[0]);
        }
      }
      probs = next;
    }
    if (!values) continue;
    const fromValues = ancestors(graph, values);
    let best: { layer: string; node: Node; index: number } | undefined;
    for (const t of ancestors(graph, sm.input[0])) {
      const s = shapes.get(t);
      const p = graph.producer.get(t);
      if (!p || !fromValues.has(t) || !s || s.length !== 3 || s[0] !== 1 || s[1] < 2 || isProjection(graph, t)) continue;
      const index = order.get(p)!;
      if (!best || index > best.index) best = { layer: t, node: sm, index };
    }
    if (best) return best;
  }
  return undefined;
}

/**
 * The default target layer and why: the 4-D feature map that feeds the global pooling nearest the scores; in
 * ViT-style models (a self-attention after that pooling, or no pooling at all) the input of the last attention;
 * else the last 4-D tensor with a spatial extent.
 */
export function chooseDefaultLayer(graph: Graph, logits: string, shapes: ReadonlyMap<string, readonly number[]>): DefaultLayerChoice {
  const pooled = pooledMap(graph, logits, shapes);
  const nodes = graph.nodes;
  const attention = !pooled || nodes.some((n, i) => n.opType === 'Softmax' && i > nodes.indexOf(pooled.node))
    ? lastAttentionInput(graph, logits, shapes)
    : undefined;
  if (attention && (!pooled || attention.index > nodes.indexOf(pooled.node))) {
    return {
      layer: attention.layer,
      reason: `the input of the last self-attention (node '${attention.node.name || attention.node.output[0]}'): in class-token models the last layer where every patch token's gradient reaches the head (after that attention only the class token does)`,
    };
  }
  if (pooled) return { layer: pooled.layer, reason: `the feature map feeding the global pooling (node '${pooled.node.name || pooled.node.output[0]}')` };
  // No pooling found: the last 4-D tensor with a spatial extent.
  const cands = candidateTensors(graph).filter((c) => {
    const s = shapes.get(c.name);
    return s && s.length === 4 && s[2] * s[3] > 1;
  });
  if (!cands.length) {
    throw new LookCloserError('unsupported-model', `The model has no 4-D feature map with a spatial extent, so there is no layer to explain.`);
  }
  return { layer: cands[cands.length - 1].name, reason: 'the last 4-D tensor with a spatial extent (no global pooling and no self-attention found)' };
}

/** The default target layer (see chooseDefaultLayer). */
export function defaultLayer(graph: Graph, logits: string, shapes: ReadonlyMap<string, readonly number[]>): string {
  return chooseDefaultLayer(graph, logits, shapes).layer;
}


export { describeNode };
