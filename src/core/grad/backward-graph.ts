/**
 * Reverse-mode differentiation by graph rewriting: appends to a forward ONNX graph the nodes that compute
 * d(score)/d(target) for chosen tensors, out of standard ONNX operators only, so the same runtime
 * (onnxruntime-web wasm/WebGPU, onnxruntime-node) that runs the forward pass runs the backward pass.
 *
 * Only nodes on a path from a target to the logits are differentiated, and only input gradients are
 * formed (never weight gradients). Gradients are batched over the explained classes: the seed
 * d(score)/d(logits) has one row per class, built inside the graph from a `classes` input (or from
 * TopK of the logits), so one run computes the forward activations once for every class.
 */
import { LookCloserError } from '../errors';
import { Graph, Node, describeNode } from '../onnx/graph';
import { ONNX_TYPE, onnx, opsetOf } from '../onnx/model';
import { shallowCloneModel } from '../onnx/derived-model';
import type { ScoreInfo } from '../model-info';
import { Emitter, GradContext, RectifierMode, isLrp, unsupportedNode } from './rule';
import { GRAD_RULES } from './rules';
import { lrpRule } from './rules/lrp';
import { upgradeToOpset } from '../onnx/upgrade';
import type { Tensor } from '../tensor';

/** What the backward graph should compute. */
export interface BackwardSpec {
  /** Tensors whose gradients are wanted (a layer, the image input, or both). */
  readonly targets: readonly string[];
  /** Differentiate the pre-softmax logit or the softmax probability of each class. */
  readonly score: 'logit' | 'softmax';
  readonly mode: RectifierMode;
  /**
   * 'classes': an int64 [K] input names the classes; 'topk': an int64 [1] input K picks the top K; 'either':
   * both inputs, the explained classes being the named ones followed by the top K (K = 0: only the named
   * ones), so that one graph and one session serve both kinds of request.
   */
  readonly seed: 'classes' | 'topk' | 'either';
  /** Method name for error messages. */
  readonly method: string;
  /**
   * Differentiate this tensor instead of the logits: its flattened batch-1 elements act as the "classes",
   * so the seed is one-hot at a position (Zeiler–Fergus projection of one activation). Only with score 'logit'.
   */
  readonly from?: string;
}

/** Names in the rewritten model. */
export interface BackwardGraph {
  readonly model: onnx.ModelProto;
  /** int64 [K] class indices (seeds 'classes' and 'either') or int64 [1] K (seed 'topk'). */
  readonly seedInput: string;
  /** int64 [1] K of the top-K classes appended to the named ones (seed 'either' only). */
  readonly topInput?: string;
  /** Output holding the explained class indices, int64 [K]. */
  readonly classesOutput: string;
  /** Output per target: float32 gradient of shape [K, ...targetShape[1:]]. */
  readonly gradOutputs: Readonly<Record<string, string>>;
  /** False when some rule mixes the class batch; then run one class per call. */
  readonly batchSafe: boolean;
  /** Nodes that must stay on the CPU on WebGPU (MaxPool with an Indices output). */
  readonly cpuNodes: readonly string[];
}

/** Seed input names. */
export const SEED_CLASSES = 'lc/classes';
export const SEED_K = 'lc/k';
const CLASSES_OUT = 'lc/classes_out';
/** The dim_param naming the class axis of every gradient (the named classes plus the top K). */
const GRAD_BATCH = 'lc_explained_classes';

/**
 * Tensors reachable forward from any target through floating-point values (`order` is topological). Integer
 * and boolean tensors (Shape, Range, indices, masks) carry no gradient: a float tensor made from them alone, such
 * as ConstantOfShape(Shape(x)) or a mask scattered into it, does not depend on the target's values.
 */
function forwardReach(graph: Graph, order: readonly Node[], targets: readonly string[]): Set<string> {
  const reach = new Set(targets);
  const carries = (t: string): boolean => {
    const d = graph.dtype(t);
    return d === undefined || d === 'float32' || d === 'float16' || d === 'float64';
  };
  for (const n of order) if (n.input.some((i) => i && reach.has(i) && carries(i))) for (const o of n.output) if (o) reach.add(o);
  return reach;
}

/** Tensors from which `score` can be reached (`order` is topological). */
function backwardReach(order: readonly Node[], score: string): Set<string> {
  const reach = new Set([score]);
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    if (n.output.some((o) => o && reach.has(o))) for (const inp of n.input) if (inp) reach.add(inp);
  }
  return reach;
}

/**
 * Orders nodes topologically (models are required to be sorted, but not all exporters comply). A sorted
 * graph keeps its order; otherwise Kahn's algorithm, taking the earliest ready node first, in O(nodes ·
 * log nodes + edges) (the repeated scans it replaces were quadratic on long chains).
 */
function topoOrder(graph: Graph): Node[] {
  const nodes = graph.nodes;
  const known = new Set<string>([...graph.initializers.keys(), ...graph.g.input.map((i) => i.name!)]);
  let sorted = true;
  for (const n of nodes) {
    if (!n.input.every((x) => !x || known.has(x))) {
      sorted = false;
      break;
    }
    for (const o of n.output) known.add(o);
  }
  if (sorted) return [...nodes];

  const available = new Set<string>([...graph.initializers.keys(), ...graph.g.input.map((i) => i.name!)]);
  const waiting = new Map<string, number[]>();
  const missing = nodes.map((n, k) => {
    const need = new Set(n.input.filter((x) => x && !available.has(x)));
    for (const x of need) {
      const list = waiting.get(x);
      if (list) list.push(k);
      else waiting.set(x, [k]);
    }
    return need.size;
  });
  const ready = new MinHeap();
  missing.forEach((m, k) => m === 0 && ready.push(k));
  const out: Node[] = [];
  while (ready.size) {
    const n = nodes[ready.pop()];
    out.push(n);
    for (const o of n.output) {
      if (!o || available.has(o)) continue;
      available.add(o);
      for (const k of waiting.get(o) ?? []) if (--missing[k] === 0) ready.push(k);
    }
  }
  if (out.length < nodes.length) {
    const stuck = nodes.find((_, k) => missing[k] > 0)!;
    throw new LookCloserError('bad-model', `The graph has a cycle or reads an undefined tensor at ${describeNode(stuck)}.`);
  }
  return out;
}

/** A binary min-heap of node indices. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= a[i]) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

/** Builds the backward graph. `shapes` maps every float tensor of the (upgraded) forward graph to its batch-1 shape. */
export function buildBackward(
  forward: onnx.ModelProto,
  shapes: ReadonlyMap<string, readonly number[]>,
  scores: ScoreInfo,
  spec: BackwardSpec,
  values: ReadonlyMap<string, Tensor> = new Map(),
): BackwardGraph {
  // Rules only append nodes, so a copy sharing the weights suffices (and lets the caller append to the model's bytes).
  const model = opsetOf(forward) >= 17 ? shallowCloneModel(forward) : upgradeToOpset(forward, 17);
  const graph = new Graph(model);
  const order = topoOrder(graph);
  const emit = new Emitter(graph);
  const shape = (t: string): number[] => {
    const s = shapes.get(t);
    if (s) return [...s];
    const init = graph.initializers.get(t);
    if (init) return (init.dims ?? []).map(Number);
    const c = graph.constant(t);
    if (c) return [...c.dims];
    throw new LookCloserError('runtime', `Internal: no shape known for tensor '${t}' while building gradients for ${spec.method}.`);
  };
  const casts = new Map<string, string>();
  const f32 = (t: string): string => {
    if (graph.dtype(t) !== 'float16') return t;
    let c = casts.get(t);
    if (!c) casts.set(t, (c = emit.op('Cast', [t], { to: 1 })));
    return c;
  };

  for (const t of spec.targets) {
    if (!shapes.has(t) && !graph.realInputs.some((i) => i.name === t)) {
      throw new LookCloserError('bad-argument', `The model has no tensor '${t}' to differentiate; run 'look-closer layers MODEL' to list them.`);
    }
  }

  // Seed: one row per class of d(score_c)/d(logits) (or per flat position of `spec.from`).
  if (spec.from && spec.score !== 'logit') throw new LookCloserError('bad-argument', `${spec.method} seeds tensor '${spec.from}' directly; it has no softmax score.`);
  const root = spec.from ?? scores.logits;
  const logitShape = shape(root);
  const numClasses = logitShape.slice(1).reduce((a, b) => a * b, 1);
  // One row per forward input: a batch-1 pass (every class row reads it) or a stacked one (row i seeds input i).
  const logitsFlat = emit.op('Reshape', [f32(root), emit.i64([-1, numClasses])]);
  let classes = '';
  if (spec.seed === 'classes' || spec.seed === 'either') {
    graph.addInput(SEED_CLASSES, 'int64', ['K']);
    classes = SEED_CLASSES;
  }
  if (spec.seed === 'topk' || spec.seed === 'either') {
    graph.addInput(SEED_K, 'int64', [1]);
    const [, idx] = graph.addNode('TopK', [logitsFlat, SEED_K], 2, { axis: 1, largest: 1, sorted: 1 });
    const top = emit.op('Reshape', [idx, emit.i64([-1])]);
    classes = spec.seed === 'either' ? emit.op('Concat', [SEED_CLASSES, top], { axis: 0 }) : top;
  }
  graph.addNode('Identity', [classes], [CLASSES_OUT]);
  graph.addOutput(CLASSES_OUT, 'int64');
  const range = emit.i64(Array.from({ length: numClasses }, (_, i) => i));
  const onehot = emit.op('Cast', [emit.op('Equal', [emit.op('Unsqueeze', [classes, emit.i64([1])]), emit.op('Reshape', [range, emit.i64([1, numClasses])])])], { to: 1 });
  let seed = onehot;
  if (spec.score === 'softmax') {
    // d p_c / d z = p_c (e_c − p)
    const p = emit.op('Softmax', [logitsFlat], { axis: 1 });
    const pc = emit.reduceSum(emit.op('Mul', [onehot, p]), [1]);
    seed = emit.op('Mul', [pc, emit.op('Sub', [onehot, p])]);
  }
  seed = emit.op('Reshape', [seed, emit.i64([-1, ...logitShape.slice(1)])]);

  const active = forwardReach(graph, order, spec.targets);
  const relevant = backwardReach(order, root);
  if (!spec.targets.every((t) => relevant.has(t))) {
    const t = spec.targets.find((x) => !relevant.has(x))!;
    throw new LookCloserError('bad-argument', spec.from
      ? `Tensor '${t}' does not influence '${root}'; pick a tensor before it.`
      : `Tensor '${t}' does not influence the scores '${scores.logits}'; pick a layer before the classifier output.`);
  }
  // Every gradient gets a value_info naming its class axis, the rest of its shape being the forward tensor's.
  // onnxruntime's allocation planner reuses a buffer (or computes in place) only between tensors whose dims
  // it can prove equal, and otherwise scans every free buffer; the unnamed dims a Reshape to -1 leaves made
  // session creation quadratic in depth (guided backprop on a chain of 5,000 Relus: 220 s, now seconds).
  const annotated = new Set<string>();
  const annotate = (grad: string, of: string): void => {
    if (annotated.has(grad) || !grad.startsWith('lc/') || !graph.producer.has(grad) || graph.dtype(grad) !== 'float32') return;
    const s = shapes.get(of);
    if (!s?.length || s[0] !== 1) return;
    annotated.add(grad);
    const dim = [{ dimParam: GRAD_BATCH }, ...s.slice(1).map((d) => ({ dimValue: d }))];
    graph.g.valueInfo.push(onnx.ValueInfoProto.create({ name: grad, type: { tensorType: { elemType: ONNX_TYPE.float32, shape: { dim } } } }));
  };
  annotate(seed, root);
  const grads = new Map<string, string[]>([[root, [seed]]]);
  const total = (t: string): string | undefined => {
    const parts = grads.get(t);
    if (!parts?.length) return undefined;
    if (parts.length > 1) {
      grads.set(t, [emit.op('Sum', parts)]);
      annotate(grads.get(t)![0], t);
    }
    return grads.get(t)![0];
  };

  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    if (!node.output.some((o) => grads.has(o))) continue;
    const needs = node.input.map((x) => !!x && active.has(x) && relevant.has(x) && (graph.dtype(x) === 'float32' || graph.dtype(x) === 'float16'));
    if (!needs.some(Boolean)) continue;
    const rule = isLrp(spec.mode) ? lrpRule(node, spec.method) : GRAD_RULES[node.opType];
    if (!rule || (node.domain && node.domain !== 'ai.onnx')) {
      throw new LookCloserError('unsupported-operator',
        `Operator '${node.opType}' (node '${node.name || node.output[0]}') has no gradient rule yet; ${spec.method} needs one between '${spec.targets.join("', '")}' and the output.`);
    }
    const ctx: GradContext = {
      node, graph, mode: spec.mode, emit, needs, shape, f32,
      gradOut: node.output.map((o) => (o ? total(o) : undefined)),
      constant: (t) => graph.constant(t) ?? values.get(t),
      unsupported: (why) => { throw unsupportedNode(node, why, spec.method); },
    };
    const gIn = rule(ctx);
    node.input.forEach((x, k) => {
      if (!needs[k] || !gIn[k]) return;
      annotate(gIn[k]!, x);
      const list = grads.get(x);
      if (list) list.push(gIn[k]!);
      else grads.set(x, [gIn[k]!]);
    });
  }

  const gradOutputs: Record<string, string> = {};
  for (const t of spec.targets) {
    const g = total(t);
    if (!g) throw new LookCloserError('bad-argument', `No gradient reaches '${t}' from the scores; it may only feed integer shape arithmetic.`);
    const name = `lc/grad/${t}`;
    graph.addNode('Identity', [g], [name]);
    graph.addOutput(name, 'float32');
    gradOutputs[t] = name;
  }
  const cpuNodes = graph.nodes.filter((n) => n.opType === 'MaxPool' && n.output.length > 1 && n.output[1]).map((n) => n.name || n.output[0]);
  return {
    model, seedInput: spec.seed === 'topk' ? SEED_K : SEED_CLASSES, topInput: spec.seed === 'either' ? SEED_K : undefined, classesOutput: CLASSES_OUT,
    gradOutputs, batchSafe: emit.batchUnsafe.length === 0, cpuNodes,
  };
}
