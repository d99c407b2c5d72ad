/**
 * Class Activation Mapping — Zhou, Khosla, Lapedriza, Oliva, Torralba, "Learning Deep Features for
 * Discriminative Localization", CVPR 2016, eq. (2): M_c(x,y) = Σ_k w_ck · f_k(x,y), valid when the
 * head is global average pooling followed by one linear layer (or, as in SqueezeNet, when the pooled
 * channels are the class scores themselves, so w = I).
 */
import { LookCloserError } from '../errors';
import { Graph, Node, attrFloat, attrInt } from '../onnx/graph';
import { asFloat32 } from '../tensor';
import { type CamTensors, camMethod } from './cam-template';
import type { Explainer } from '../explainer';

const PASSTHROUGH = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout']);

/** The linear head found after a feature map: W is [K×C] row-major (class-major). */
export interface LinearHead {
  readonly classes: number;
  readonly channels: number;
  /** W[c*channels + k]; undefined for the identity head (class c is channel c). */
  readonly weights?: Float32Array;
  /** Ops from the layer to the logits, e.g. "GlobalAveragePool → Flatten → Gemm". */
  readonly path: string;
}

function isGlobalAverage(graph: Graph, n: Node, shape: readonly number[]): boolean {
  if (n.opType === 'GlobalAveragePool') return true;
  if (n.opType === 'ReduceMean') {
    const axes = (n.attribute?.find((a) => a.name === 'axes')?.ints ?? []).map(Number);
    const fromInput = n.input[1] ? graph.constant(n.input[1]) : undefined;
    const all = fromInput ? Array.from(fromInput.data as ArrayLike<number | bigint>, Number) : axes;
    const s = new Set(all.map((a) => (a < 0 ? a + 4 : a)));
    return s.size === 2 && s.has(2) && s.has(3);
  }
  if (n.opType === 'AveragePool') {
    const k = (n.attribute?.find((a) => a.name === 'kernel_shape')?.ints ?? []).map(Number);
    return k[0] === shape[2] && k[1] === shape[3];
  }
  return false;
}

/** Describes the chain of ops from a tensor towards the logits (first consumer at each step). */
function describeChain(graph: Graph, from: string, logits: string): string {
  const ops: string[] = [];
  let t = from;
  for (let i = 0; i < 8 && t !== logits; i++) {
    const c = graph.consumers.get(t)?.[0];
    if (!c) break;
    ops.push(c.opType);
    t = c.output[0];
  }
  return ops.join(' → ') || '(nothing)';
}

/** Finds GAP → (Flatten|Reshape)* → Gemm/MatMul(+Add) or GAP → logits after `layer`, or throws naming the head. */
export function findLinearHead(graph: Graph, layer: string, logits: string, shape: readonly number[]): LinearHead {
  const channels = shape[1];
  const fail = (why: string) =>
    new LookCloserError('method-not-applicable',
      `CAM needs global average pooling followed by one linear layer between layer '${layer}' and the scores '${logits}'; ` +
      `this model's head is ${describeChain(graph, layer, logits)} (${why}). Use --method gradcam, which works with any head.`);
  const pool = (graph.consumers.get(layer) ?? []).find((n) => isGlobalAverage(graph, n, shape));
  if (!pool) throw fail('no global average pooling reads this layer');
  const skip = (t: string) => {
    for (;;) {
      if (t === logits) return t;
      const cs = graph.consumers.get(t) ?? [];
      if (cs.length !== 1 || !PASSTHROUGH.has(cs[0].opType)) return t;
      t = cs[0].output[0];
    }
  };
  const t = skip(pool.output[0]);
  if (t === logits) return { classes: channels, channels, path: describeChain(graph, layer, logits) };
  const cs = graph.consumers.get(t) ?? [];
  if (cs.length !== 1) throw fail(`the pooled features feed ${cs.length} nodes`);
  const lin = cs[0];
  let w: Float32Array;
  let classes: number;
  if (lin.opType === 'Gemm') {
    const W = graph.constant(lin.input[1]);
    if (!W || W.dims.length !== 2) throw fail('the Gemm weight is not a constant matrix');
    const transB = attrInt(lin, 'transB', 0);
    const alpha = attrFloat(lin, 'alpha', 1);
    if (attrInt(lin, 'transA', 0)) throw fail('Gemm with transA');
    const m = asFloat32(W).data;
    const [r, c] = W.dims;
    classes = transB ? r : c;
    if ((transB ? c : r) !== channels) throw fail(`the Gemm weight is [${r}, ${c}] but the layer has ${channels} channels`);
    w = new Float32Array(classes * channels);
    for (let cls = 0; cls < classes; cls++) for (let k = 0; k < channels; k++) w[cls * channels + k] = alpha * (transB ? m[cls * c + k] : m[k * c + cls]);
  } else if (lin.opType === 'MatMul') {
    const W = graph.constant(lin.input[1]);
    if (!W || W.dims.length !== 2 || W.dims[0] !== channels) throw fail('the MatMul weight is not a constant [C, K] matrix');
    const m = asFloat32(W).data;
    classes = W.dims[1];
    w = new Float32Array(classes * channels);
    for (let cls = 0; cls < classes; cls++) for (let k = 0; k < channels; k++) w[cls * channels + k] = m[k * classes + cls];
  } else {
    throw fail(`${lin.opType} follows the pooling, not a linear layer`);
  }
  let out = skip(lin.output[0]);
  if (out !== logits) {
    const add = graph.consumers.get(out) ?? [];
    if (add.length === 1 && add[0].opType === 'Add' && add.some((n) => n.input.some((i) => graph.isConstant(i)))) out = skip(add[0].output[0]);
  }
  if (out !== logits) throw fail('the linear layer is followed by more layers before the scores');
  return { classes, channels, weights: w, path: describeChain(graph, layer, logits) };
}

/** Heads found so far, per explainer and layer: reading and transposing the head's weights costs milliseconds per call. */
const HEADS = new WeakMap<Explainer, Map<string, LinearHead>>();

function linearHead(explainer: Explainer, layer: string, shape: readonly number[]): LinearHead {
  let byLayer = HEADS.get(explainer);
  if (!byLayer) HEADS.set(explainer, (byLayer = new Map()));
  let head = byLayer.get(layer);
  if (!head) byLayer.set(layer, (head = findLinearHead(explainer.graph, layer, explainer.scores.logits, shape)));
  return head;
}

/** CAM's channel weights (eq. 2): α_c = row c of the head's W, or the one-hot e_c for the identity head. */
export function camWeights({ classes, head }: CamTensors & { readonly head: LinearHead }): Float32Array[] {
  return classes.map((c) => {
    if (!Number.isInteger(c) || c < 0 || c >= head.classes) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${head.classes} classes (0–${head.classes - 1}).`);
    if (!head.weights) {
      const alpha = new Float32Array(head.channels);
      alpha[c] = 1;
      return alpha;
    }
    return head.weights.slice(c * head.channels, (c + 1) * head.channels);
  });
}

/** CAM as a CAM-family method: α_ck = w_ck of the linear head. */
export const cam = camMethod({
  id: 'cam',
  title: 'CAM',
  citation: 'Zhou et al., Learning Deep Features for Discriminative Localization, CVPR 2016, eq. 2',
  needs: 'activations',
  prepare(explainer, { layer, shape, target }) {
    if (target !== 'logit') {
      throw new LookCloserError('method-not-applicable', `CAM explains the pre-softmax logit (the class weights of the linear head); use --method gradcam for --target softmax.`);
    }
    return { head: linearHead(explainer, layer, shape) };
  },
  weights: camWeights,
});
