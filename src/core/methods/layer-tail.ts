/**
 * The model from one layer onward, for CAM methods that edit the layer's activations and watch the scores
 * (Ablation-CAM, ReciproCAM): a derived model whose layer tensor is a graph input with a free batch axis, keeping
 * only the nodes the logits need from there (and the image input when a branch bypasses the layer). Its session
 * lives for one method run. Edited activations run in batches; a model that cannot run a batch from the layer
 * (a Reshape to a fixed [1, …] after it) runs them one by one. Its weights are graph inputs fed from the
 * explainer's shared copy, so the tail holds none of its own.
 */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import { Graph, type Node } from '../onnx/graph';
import { encodeModel, onnx, ONNX_TYPE } from '../onnx/model';
import { shallowCloneModel } from '../onnx/derived-model';
import type { Session } from '../runtime';
import { asFloat32, type Tensor } from '../tensor';
import type { ScoreTarget } from './method';
import { targetScores } from './score-target';

/** Every tensor a node reads, including those its subgraphs (If, Loop, Scan) read from the outer scope. */
function reads(n: onnx.INodeProto): string[] {
  const out = (n.input ?? []).filter((i) => i);
  for (const a of n.attribute ?? []) for (const g of [a.g, ...(a.graphs ?? [])]) if (g) for (const m of g.node ?? []) out.push(...reads(m));
  return out;
}

/** The part of `model` that computes the logits from `layer` (fed as an input) and, when needed, the image input. */
function tailModel(explainer: Explainer, layer: string, shape: readonly number[]): { model: onnx.ModelProto; feed: string; needsImage: boolean } {
  const model = shallowCloneModel(explainer.graph.model);
  const g = new Graph(model);
  const dtype = g.dtype(layer);
  if (!g.producer.has(layer) || (dtype !== 'float32' && dtype !== 'float16')) {
    throw new LookCloserError('method-not-applicable', `Layer '${layer}' is not a floating-point tensor computed by a node, so the model cannot be run from it.`);
  }
  const logits = explainer.scores.logits;
  const needed = new Set([logits]);
  const kept: Node[] = [];
  for (const n of [...g.nodes].reverse()) {
    if (!n.output.some((o) => needed.has(o))) continue;
    // The layer's producer stays only for another output it has; its layer output is renamed away.
    if (n.output.includes(layer)) n.output = n.output.map((o) => (o === layer ? g.fresh('unused') : o));
    kept.push(n);
    for (const i of reads(n)) if (i !== layer) needed.add(i);
  }
  kept.reverse();
  const image = explainer.input.name;
  const needsImage = needed.has(image);
  const gp = g.g;
  gp.node = kept;
  gp.initializer = gp.initializer.filter((t) => needed.has(t.name!));
  const inputs: onnx.IValueInfoProto[] = [];
  for (const i of gp.input) {
    if (!needed.has(i.name!)) continue;
    if (i.name !== image) {
      inputs.push(i);
      continue;
    }
    // The image input, with its batch axis made free (the edited activations come in batches).
    const dims = i.type?.tensorType?.shape?.dim ?? [];
    inputs.push(onnx.ValueInfoProto.create({
      name: image,
      type: { tensorType: { elemType: i.type?.tensorType?.elemType, shape: { dim: dims.map((d, k) => (k === 0 ? { dimParam: 'lc_batch' } : d)) } } },
    }));
  }
  gp.input = inputs as onnx.ValueInfoProto[];
  // value_info goes: its batch-1 shapes would contradict the free batch axis.
  gp.valueInfo = [];
  // The edited activations come as float32; a float16 layer gets them through a Cast (cheaper in the runtime than in JS).
  const feed = dtype === 'float32' ? layer : g.fresh('layer_float32');
  g.addInput(feed, 'float32', ['lc_batch', ...shape.slice(1)]);
  if (feed !== layer) {
    g.addNode('Cast', [feed], [layer], { to: ONNX_TYPE.float16 });
    gp.node.unshift(gp.node.pop()!);
  }
  gp.output = [onnx.ValueInfoProto.create({ name: logits, type: { tensorType: { elemType: ONNX_TYPE[g.dtype(logits) ?? 'float32'] } } })];
  return { model, feed, needsImage };
}

/** A session that runs the model from a layer onward on batches of edited activations. */
export class LayerTail {
  /** False once a batch failed: the remaining rows run one by one. */
  private batched = true;

  private constructor(
    private readonly explainer: Explainer,
    private readonly session: Session,
    private readonly layer: string,
    /** The float32 input the activations are fed to (the layer itself, or a Cast's input for a float16 layer). */
    private readonly feed: string,
    private readonly needsImage: boolean,
    /** The tail's weights, fed on every run (shared with the explainer's other sessions). */
    private readonly weights: Readonly<Record<string, Tensor>>,
  ) {}

  /** Builds and opens the tail of the explainer's model from `layer`; `release` it when done. */
  static async open(explainer: Explainer, layer: string, shape: readonly number[]): Promise<LayerTail> {
    const { model, feed, needsImage } = tailModel(explainer, layer, shape);
    const weights = explainer.sharesWeights ? explainer.weights.detach(model) : {};
    const session = await explainer.runtime.createSession(encodeModel(model));
    return new LayerTail(explainer, session, layer, feed, needsImage, weights);
  }

  /**
   * Runs `count` activation maps stored one after another in `data` ([count, C, h, w]) and returns, per row, the
   * scores (logits, or their softmax) of the classes; `input` ([1, …]) feeds a branch that bypasses the layer.
   */
  async scores(data: Float32Array, count: number, dims: readonly number[], input: Tensor, classes: readonly number[], target: ScoreTarget): Promise<Float32Array[]> {
    const per = data.length / count;
    const rows: Float32Array[] = [];
    const runRows = async (from: number, n: number) => {
      const slice = data.subarray(from * per, (from + n) * per);
      const feeds: Record<string, Tensor> = { ...this.weights, [this.feed]: { type: 'float32', dims: [n, ...dims.slice(1)], data: slice.slice() } };
      if (this.needsImage) {
        const one = this.explainer.feed(asFloat32(input))[this.explainer.input.name];
        const rep = new (one.data.constructor as Uint16ArrayConstructor | Float32ArrayConstructor)(one.data.length * n);
        for (let i = 0; i < n; i++) rep.set(one.data as Uint16Array & Float32Array, i * one.data.length);
        feeds[this.explainer.input.name] = { type: one.type, dims: [n, ...one.dims.slice(1)], data: rep };
      }
      const out = asFloat32((await this.session.run(feeds, [this.explainer.scores.logits]))[this.explainer.scores.logits]);
      if (out.dims[0] !== n) throw new LookCloserError('runtime', `The model run from layer '${this.layer}' gave ${out.dims[0]} rows for ${n}.`);
      const k = out.data.length / n;
      for (let i = 0; i < n; i++) {
        const z = out.data.subarray(i * k, (i + 1) * k);
        rows.push(targetScores(z, classes, target));
      }
    };
    if (this.batched && count > 1) {
      try {
        await runRows(0, count);
        return rows;
      } catch {
        this.batched = false;
        rows.length = 0;
      }
    }
    for (let i = 0; i < count; i++) await runRows(i, 1);
    return rows;
  }

  /** Releases the session. */
  release(): Promise<void> {
    return this.session.release();
  }
}
