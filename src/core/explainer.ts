/** A loaded classifier: forward passes, exposed layers, cached rewritten graphs, and the method registry's entry point. */
import { LookCloserError } from './errors';
import { Graph } from './onnx/graph';
import { decodeModel, encodeModel, opsetOf, toNum } from './onnx/model';
import { encodeDerived, shallowCloneModel } from './onnx/derived-model';
import { SharedWeights, adoptInitializers } from './onnx/shared-weights';
import { ImageInput, LayerInfo, ScoreInfo, candidateTensors, defaultLayer, findImageInput, findScores } from './model-info';
import { Runtime, Session } from './runtime';
import { BackwardGraph, BackwardSpec, buildBackward } from './grad/backward-graph';
import { upgradeToOpset } from './onnx/upgrade';
import { inferShapes } from './onnx/shape-inference';
import { Float32Tensor, Tensor, asFloat32, float32, float32ToHalf } from './tensor';

/** Backward graphs with more nodes than this skip onnxruntime's graph optimisations (see backwardSession). */
const LARGE_BACKWARD_GRAPH = 5000;

/** Result of one forward pass. */
export interface ForwardResult {
  /** Pre-softmax scores, one per class. */
  readonly logits: Float32Array;
  /** Class probabilities. */
  readonly probs: Float32Array;
  /** Exposed intermediate tensors, as float32. */
  readonly tensors: Readonly<Record<string, Float32Tensor>>;
}

/** A prediction for one class. */
export interface Prediction {
  readonly index: number;
  readonly label: string;
  readonly score: number;
}

/** Softmax of a vector (numerically stable). */
export function softmax(x: Float32Array): Float32Array {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  const out = new Float32Array(x.length);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += out[i] = Math.exp(x[i] - m);
  for (let i = 0; i < x.length; i++) out[i] /= s;
  return out;
}

/** Indices of the k largest values, largest first. */
export function topK(x: Float32Array, k: number): number[] {
  return Array.from(x.keys()).sort((a, b) => x[b] - x[a]).slice(0, Math.max(0, Math.min(k, x.length)));
}

/** Gradients of the explained scores, one row per class, plus the forward pass of the same run. */
export interface GradientResult {
  readonly classes: number[];
  /** Per target: gradient of shape [K·d0, ...targetShape[1:]] (d0 = targetShape[0], 1 for batch-first tensors), class-major. */
  readonly grads: Readonly<Record<string, Float32Tensor>>;
  readonly forward: ForwardResult;
}

/** What to differentiate and for which classes (explicit, or the top K predicted). */
export type GradientRequest = Omit<BackwardSpec, 'seed'> & ({ readonly classes: readonly number[] } | { readonly top: number });

/** A classifier loaded for explanation. */
export class Explainer {
  readonly graph: Graph;
  readonly input: ImageInput;
  readonly scores: ScoreInfo;
  /**
   * The forward session: one per model, exposing every output asked for so far. A request for a new output
   * replaces it by one exposing the union, and the old one is released once its runs finish.
   */
  private fwd?: { readonly outputs: ReadonlySet<string>; readonly session: Promise<TrackedSession> };
  /** The weights, held once and fed to the derived sessions (probes; backward graphs and layer tails where the runtime shares weights). */
  readonly weights = new SharedWeights();
  private probed?: Promise<Map<string, number[]>>;
  private classCount?: Promise<number>;
  /** Whether stacking inputs along the batch axis worked (undefined until tried). */
  private stackable?: boolean;
  /** Whether stacking inputs into one backward run worked (undefined until tried). */
  private gradStackable?: boolean;
  private upgraded?: Promise<{
    model: ReturnType<typeof decodeModel>;
    /** The upgraded model's bytes, where derived sessions embed the weights (a runtime without shared weights). */
    bytes?: Uint8Array;
    shapes: Map<string, number[]>;
    values: Map<string, Tensor>;
    exposed: Set<string>;
  }>;
  private readonly backward = new Map<string, Promise<{ graph: BackwardGraph; session: Session; weights: Record<string, Tensor> }>>();
  /** Spatial size fed to the model (fixed by the model or chosen by the preset). */
  inputSize: { height: number; width: number };

  private constructor(readonly runtime: Runtime, readonly name: string, model: ReturnType<typeof decodeModel>, private readonly bytes: Uint8Array) {
    this.graph = new Graph(model);
    this.input = findImageInput(this.graph, name);
    this.scores = findScores(this.graph);
    this.inputSize = { height: this.input.height ?? 224, width: this.input.width ?? 224 };
  }

  /**
   * Decodes and checks a model and creates its forward session. `bytes` is kept (not copied): do not modify or
   * transfer it. `expose` names tensors the first session exposes beside the scores (the layer the first map will
   * read, so that map needs no second session); names the graph does not have are ignored.
   */
  static async load(runtime: Runtime, bytes: Uint8Array, name: string, expose: (ex: Explainer) => readonly string[] = () => []): Promise<Explainer> {
    const ex = Explainer.open(runtime, bytes, name);
    await ex.start(expose);
    return ex;
  }

  /** Decodes and checks a model without creating a session (start creates the first): its graph, input and scores are known. */
  static open(runtime: Runtime, bytes: Uint8Array, name: string): Explainer {
    return new Explainer(runtime, name, decodeModel(bytes, name), bytes);
  }

  /** Creates the forward session of a model opened with open, exposing what `expose` names (see load). */
  async start(expose: (ex: Explainer) => readonly string[] = () => []): Promise<void> {
    try {
      await this.session(this.known(expose));
    } catch (e) {
      // onnxruntime's own words ("protobuf parsing failed") do not say which model it was given.
      if (e instanceof LookCloserError && e.kind === 'runtime') throw new LookCloserError('bad-model', `Cannot load '${this.name}': ${e.message}`, e);
      throw e;
    }
  }

  /** The tensors `pick` names that this graph produces (none when `pick` throws). */
  private known(pick: (ex: Explainer) => readonly string[]): string[] {
    try {
      return pick(this).filter((n) => this.graph.producer.has(n));
    } catch {
      return [];
    }
  }

  /** Whether backward graphs and layer tails take the weights as inputs from {@link weights} (see Runtime.sharedWeights). */
  get sharesWeights(): boolean {
    return this.runtime.sharedWeights !== false;
  }

  /** Dims of the model input tensor for the current input size. */
  get inputDims(): number[] {
    const { height, width } = this.inputSize;
    const c = this.input.channels;
    return this.input.layout === 'NCHW' ? [1, c, height, width] : [1, height, width, c];
  }

  /**
   * The forward session with (at least) the logits and `extraOutputs` exposed. One forward session serves
   * every output set: asking for a tensor it does not expose yet replaces it by one exposing the union.
   */
  session(extraOutputs: readonly string[]): Promise<Session> {
    // The logits are always exposed, also when the graph ends in Softmax/LogSoftmax.
    const want = [...new Set([...extraOutputs, this.scores.logits])];
    const cur = this.fwd;
    if (cur && want.every((n) => cur.outputs.has(n))) return cur.session;
    for (const name of want) {
      if (!this.graph.producer.has(name) && !this.graph.initializers.has(name)) {
        throw new LookCloserError('bad-argument', `The model has no tensor named '${name}'. Run 'look-closer layers MODEL' to list them.`);
      }
    }
    const outputs = new Set([...(cur?.outputs ?? []), ...want]);
    // Only the added outputs are encoded (appended to the model's bytes): re-encoding the weights costs more than the session.
    const model = shallowCloneModel(this.graph.model);
    const g = new Graph(model);
    for (const name of outputs) g.addOutput(name);
    const next = {
      outputs,
      // Replicable: the metrics run many independent batches through it (a runtime may run a copy on another core).
      session: this.runtime.createSession(encodeDerived({ model: this.graph.model, bytes: this.bytes }, model), { replicable: true }).then((s) => new TrackedSession(s, () => this.fwd?.session)),
    };
    this.fwd = next;
    next.session.then(
      // The replaced session goes once its runs are done; a run that still holds it moves to the new one.
      () => void cur?.session.then((old) => old.retire(), () => undefined),
      () => {
        // A failed replacement leaves the previous session in place.
        if (this.fwd === next) this.fwd = cur;
      },
    );
    return next.session;
  }

  /**
   * How many forward runs may usefully be in flight at once (1 unless the runtime replicated the forward session
   * on another core; see Session.parallelRuns). Code that issues independent batches (the metrics) issues this many.
   */
  async parallelRuns(): Promise<number> {
    const n = (await this.session([])).parallelRuns ?? 1;
    return Number.isInteger(n) && n > 1 ? n : 1;
  }

  /** Converts a float32 input to what the model wants (float16 bits for float16 models) and checks its shape. */
  feed(x: Float32Tensor): Record<string, Tensor> {
    const want = this.input.declared;
    const bad = x.dims.length !== 4 || want.some((d, i) => typeof d === 'number' && d !== x.dims[i]);
    if (bad) {
      throw new LookCloserError('bad-input',
        `Input tensor has shape [${x.dims.join(', ')}] but model input '${this.input.name}' wants [${want.join(', ')}].`);
    }
    const t: Tensor = this.input.dtype === 'float16' ? { type: 'float16', dims: x.dims, data: float32ToHalf(x.data) } : x;
    return { [this.input.name]: t };
  }

  /** Runs the model once, returning scores and the requested intermediate tensors. */
  async forward(x: Float32Tensor, extra: readonly string[] = []): Promise<ForwardResult> {
    const s = await this.session(extra);
    const fetch = [...new Set([this.scores.output, this.scores.logits, ...extra])].filter((n) => s.outputNames.includes(n));
    const out = await s.run(this.feed(x), fetch);
    const logits = asFloat32(out[this.scores.logits]).data;
    let probs: Float32Array;
    const o = asFloat32(out[this.scores.output]).data;
    if (this.scores.finalOp === 'softmax') probs = o;
    else if (this.scores.finalOp === 'log-softmax') probs = o.map(Math.exp);
    else probs = softmax(logits);
    const tensors: Record<string, Float32Tensor> = {};
    for (const n of extra) tensors[n] = asFloat32(out[n]);
    return { logits: Float32Array.from(logits), probs: Float32Array.from(probs), tensors };
  }

  /**
   * Runs the model on several inputs of shape [1, …]: stacked into one batch when the model's batch axis is
   * free, else one by one (also when a model that declares a free batch axis cannot run a batch, e.g. a
   * Reshape to a fixed [1, …] inside). One result per input, as `forward` would return it.
   */
  async forwardBatch(xs: readonly Float32Tensor[], extra: readonly string[] = []): Promise<ForwardResult[]> {
    if (xs.length > 1 && this.stackable !== false && typeof this.input.declared[0] !== 'number') {
      try {
        const r = await this.forwardStacked(xs, extra);
        this.stackable = true;
        return r;
      } catch (e) {
        if (this.stackable) throw e;
        this.stackable = false;
      }
    }
    const out: ForwardResult[] = [];
    for (const x of xs) out.push(await this.forward(x, extra));
    return out;
  }

  private async forwardStacked(xs: readonly Float32Tensor[], extra: readonly string[]): Promise<ForwardResult[]> {
    const b = xs.length;
    const one = xs[0].data.length;
    const data = new Float32Array(b * one);
    xs.forEach((x, i) => {
      if (x.dims[0] !== 1 || x.data.length !== one) throw new LookCloserError('bad-input', 'Stacked inputs must all have the shape [1, …] of the first.');
      data.set(x.data, i * one);
    });
    const s = await this.session(extra);
    const names = [...new Set([this.scores.output, this.scores.logits, ...extra])].filter((n) => s.outputNames.includes(n));
    const out = await s.run(this.feed(float32(data, [b, ...xs[0].dims.slice(1)])), names);
    const rows = (name: string): Float32Tensor[] => {
      const t = asFloat32(out[name]);
      if (t.dims[0] !== b) throw new LookCloserError('runtime', `Output '${name}' has batch ${t.dims[0]} for ${b} stacked inputs.`);
      const n = t.data.length / b;
      return Array.from({ length: b }, (_, i) => float32(t.data.slice(i * n, (i + 1) * n), [1, ...t.dims.slice(1)]));
    };
    const logits = rows(this.scores.logits);
    const outputs = rows(this.scores.output);
    const tensors = extra.map(rows);
    return logits.map((l, i) => {
      const o = outputs[i].data;
      const probs = this.scores.finalOp === 'softmax' ? o : this.scores.finalOp === 'log-softmax' ? o.map(Math.exp) : softmax(l.data);
      return { logits: l.data, probs, tensors: Object.fromEntries(extra.map((n, k) => [n, tensors[k][i]])) };
    });
  }

  /**
   * Shapes of every candidate tensor (cached): inferred from the graph where every operator's shape rule is known
   * (src/core/onnx/shape-inference.ts, no session), else from one forward pass on a zero input.
   */
  shapes(): Promise<Map<string, number[]>> {
    if (!this.probed) {
      this.probed = (async () => {
        const cands = candidateTensors(this.graph).map((c) => c.name);
        let inferred = new Map<string, number[]>();
        try {
          inferred = inferShapes(this.graph, this.input.name, this.inputDims);
        } catch {
          // A graph the rules cannot read (malformed attributes) is probed instead, which reports what is wrong.
        }
        if (cands.every((c) => inferred.has(c))) return new Map(cands.map((c) => [c, inferred.get(c)!]));
        try {
          // The backward graphs need the same probe (of the opset-17 model); one session serves both.
          const up = await this.upgradedModel();
          if (cands.every((c) => up.exposed.has(c))) return new Map(cands.filter((c) => up.shapes.has(c)).map((c) => [c, up.shapes.get(c)!]));
        } catch {
          // A model the upgrade cannot handle still lists its layers: probe the original below.
        }
        const zero = float32(new Float32Array(this.inputDims.reduce((a, b) => a * b, 1)), this.inputDims);
        // A one-off session (not the forward one, which would keep every candidate exposed).
        const probe = shallowCloneModel(this.graph.model);
        const pg = new Graph(probe);
        for (const c of cands) pg.addOutput(c);
        const weights = this.sharesWeights ? this.weights.detach(probe) : {};
        const bytes = this.sharesWeights ? encodeModel(probe) : encodeDerived({ model: this.graph.model, bytes: this.bytes }, probe);
        const s = await this.runtime.createSession(bytes, { optimization: 'disabled' });
        try {
          const out = await s.run({ ...weights, ...this.feed(zero) }, cands);
          const shapes = new Map<string, number[]>();
          for (const c of cands) if (out[c]) shapes.set(c, [...out[c].dims]);
          return shapes;
        } finally {
          await s.release();
        }
      })();
    }
    return this.probed;
  }

  /** Every tensor that can be explained or inspected, in graph order, with its producing op and shape. */
  async layers(): Promise<LayerInfo[]> {
    const shapes = await this.shapes();
    return candidateTensors(this.graph)
      .filter((c) => shapes.has(c.name))
      .map((c) => ({ name: c.name, op: c.node.opType, node: c.node.name || c.name, shape: shapes.get(c.name)! }));
  }

  /** The suggested target layer: the feature map feeding the global pooling. */
  async defaultLayer(): Promise<string> {
    return defaultLayer(this.graph, this.scores.logits, await this.shapes());
  }

  /** Checks that a layer exists and is a 4-D feature map; returns its shape. */
  async featureMapShape(layer: string, method: string): Promise<number[]> {
    const shapes = await this.shapes();
    const s = shapes.get(layer);
    if (!s) throw new LookCloserError('bad-argument', `The model has no explainable tensor named '${layer}'. Run 'look-closer layers MODEL' to list them.`);
    if (s.length !== 4) {
      throw new LookCloserError('method-not-applicable', `Layer '${layer}' has rank ${s.length} (shape [${s.join(', ')}]); ${method} needs a 4-D feature map [1,C,H,W].`);
    }
    return s;
  }

  /**
   * The model upgraded to opset ≥ 17 (what the backward graphs extend), with the batch-1 shape of every
   * tensor and the value of every integer tensor (shape arithmetic is evaluated, never differentiated).
   */
  private upgradedModel() {
    if (!this.upgraded) {
      this.upgraded = (async () => {
        // Models at opset ≥ 17 are used as they are (no copy, and their own bytes).
        const current = opsetOf(this.graph.model) >= 17;
        const model = current ? this.graph.model : upgradeToOpset(this.graph.model, 17);
        // The upgrade deep-copies the model: its unchanged weights go back to being the original's (one copy in memory).
        if (!current) adoptInitializers(this.graph.model, model);
        const bytes = current ? this.bytes : this.sharesWeights ? undefined : encodeModel(model);
        const g = new Graph(model);
        const names = g.nodes.filter((n) => n.opType !== 'Constant').flatMap((n) => n.output).filter((o) => o && g.dtype(o) && g.dtype(o) !== 'bool');
        const probe = shallowCloneModel(model);
        const pg = new Graph(probe);
        for (const n of names) pg.addOutput(n, g.dtype(n));
        // The probe holds no weights of its own where the runtime shares them: they are fed from the shared copy.
        const weights = this.sharesWeights ? this.weights.detach(probe) : {};
        // Every tensor is an output, so graph optimisations could fuse nothing: skip them.
        const s = await this.runtime.createSession(this.sharesWeights ? encodeModel(probe) : encodeDerived({ model, bytes: bytes! }, probe), { optimization: 'disabled' });
        try {
          const zero = float32(new Float32Array(this.inputDims.reduce((a, b) => a * b, 1)), this.inputDims);
          const out = await s.run({ ...weights, ...this.feed(zero) }, names);
          const shapes = new Map<string, number[]>();
          const values = new Map<string, Tensor>();
          shapes.set(this.input.name, this.inputDims);
          for (const n of names) {
            const t = out[n];
            if (!t) continue;
            shapes.set(n, [...t.dims]);
            if (t.type === 'int64' || t.type === 'int32') values.set(n, t);
          }
          return { model, bytes, shapes, values, exposed: new Set(names) };
        } finally {
          await s.release();
        }
      })();
      this.upgraded.catch(() => (this.upgraded = undefined));
    }
    return this.upgraded;
  }

  /** The backward graph and its session for a spec (cached per targets, score, rectifier mode, seed kind and seeded tensor). */
  private backwardSession(spec: BackwardSpec) {
    const key = JSON.stringify([spec.targets, spec.score, spec.mode, spec.seed, spec.from ?? null]);
    let b = this.backward.get(key);
    if (!b) {
      b = (async () => {
        const up = await this.upgradedModel();
        const graph = buildBackward(up.model, up.shapes, this.scores, spec, up.values);
        const g = new Graph(graph.model);
        for (const t of spec.targets) if (t !== this.input.name) g.addOutput(t);
        for (const t of [this.scores.logits, this.scores.output]) g.addOutput(t);
        // onnxruntime's graph optimisations grow faster than linearly with the node count (a backward graph of
        // 20,000 nodes, a 5,000-Relu chain, spent over a minute in them); past that size they cost more than they save.
        const optimization = (graph.model.graph?.node?.length ?? 0) > LARGE_BACKWARD_GRAPH ? 'disabled' : undefined;
        // The backward graph holds no weights of its own: they are graph inputs fed from the shared copy on each run.
        // What onnxruntime would fold from them at load (transposed, flipped kernels) is folded once per model instead.
        const weights = this.sharesWeights ? await this.weights.fold(graph.model, this.weights.detach(graph.model), this.runtime) : {};
        const bytes = this.sharesWeights ? encodeModel(graph.model) : encodeDerived({ model: up.model, bytes: up.bytes! }, graph.model);
        const session = await this.runtime.createSession(bytes, { cpuNodes: graph.cpuNodes, optimization });
        return { graph, session, weights };
      })();
      this.backward.set(key, b);
      b.catch(() => this.backward.delete(key));
    }
    return b;
  }

  /** Runs forward and backward once: gradients of each class's score w.r.t. the targets, and the forward pass. */
  async gradients(x: Float32Tensor, req: GradientRequest): Promise<GradientResult> {
    const topk = 'top' in req;
    // One graph serves named classes and top-K requests alike (seed 'either'): one session, one copy of the weights.
    const spec: BackwardSpec = { targets: req.targets, score: req.score, mode: req.mode, method: req.method, seed: 'either', from: req.from };
    const { graph, session, weights } = await this.backwardSession(spec);
    if (!topk && req.from) {
      const n = (await this.upgradedModel()).shapes.get(req.from)!.slice(1).reduce((a, b) => a * b, 1);
      for (const c of req.classes) {
        if (!Number.isInteger(c) || c < 0 || c >= n) throw new LookCloserError('bad-argument', `Position ${c} is out of range: tensor '${req.from}' has ${n} elements (0–${n - 1}).`);
      }
    } else if (!topk) {
      const n = await this.numClasses();
      for (const c of req.classes) {
        if (!Number.isInteger(c) || c < 0 || c >= n) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${n} classes (0–${n - 1}).`);
      }
    }
    const fetch = [graph.classesOutput, ...Object.values(graph.gradOutputs), ...req.targets.filter((t) => t !== this.input.name), this.scores.logits, this.scores.output];
    const i64 = (v: readonly number[]): Tensor => ({ type: 'int64', dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
    const runOnce = async (named: readonly number[], k: number) =>
      session.run({ ...weights, ...this.feed(x), [graph.seedInput]: i64(named), [graph.topInput!]: i64([k]) }, [...new Set(fetch)]);
    let outs: Record<string, Tensor>[];
    if (graph.batchSafe || (!topk && req.classes.length === 1) || (topk && req.top === 1)) {
      outs = [await runOnce(topk ? [] : req.classes, topk ? req.top : 0)];
    } else {
      // Some rule mixes the class batch: run one class at a time (the forward is recomputed per class).
      let classes: readonly number[];
      if (topk) classes = req.from ? topK((await this.forward(x, [req.from])).tensors[req.from].data, req.top) : topK((await this.forward(x)).probs, req.top);
      else classes = req.classes;
      const cs = [...classes];
      outs = [];
      for (const c of cs) outs.push(await runOnce([c], 0));
    }
    const classes = outs.flatMap((o) => Array.from(o[graph.classesOutput].data as BigInt64Array, Number));
    const grads: Record<string, Float32Tensor> = {};
    for (const [t, name] of Object.entries(graph.gradOutputs)) {
      const parts = outs.map((o) => asFloat32(o[name]));
      // A target whose axis 0 is not the batch (attention of shape [batch × heads, N, N]) comes from one-class runs
      // in its full forward shape: stack those as [K, ...shape].
      const rowsFirst = outs.every((o, i) => parts[i].dims[0] === o[graph.classesOutput].data.length);
      const dims = [classes.length, ...parts[0].dims.slice(rowsFirst ? 1 : 0)];
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
      let off = 0;
      for (const p of parts) {
        data.set(p.data, off);
        off += p.data.length;
      }
      grads[t] = float32(data, dims);
    }
    const o = outs[0];
    const logits = Float32Array.from(asFloat32(o[this.scores.logits]).data);
    const out = asFloat32(o[this.scores.output]).data;
    const probs = this.scores.finalOp === 'softmax' ? Float32Array.from(out) : this.scores.finalOp === 'log-softmax' ? out.map(Math.exp) : softmax(logits);
    const tensors: Record<string, Float32Tensor> = {};
    for (const t of req.targets) if (t !== this.input.name) tensors[t] = asFloat32(o[t]);
    return { classes, grads, forward: { logits, probs, tensors } };
  }

  /**
   * Input gradients at several inputs of shape [1, …] for the same named classes, in one run: the inputs stacked
   * along the batch axis, each repeated once per class, so that the forward pass runs on the whole batch and gradient
   * row i·K + k meets the activations of input i (seeded with class k). One result per input, as `gradients` gives
   * it. Falls back to one run per input where stacking cannot work: a fixed batch axis, a backward graph some rule
   * of which mixes rows (not batchSafe), a target other than the image input, or a model that fails on a batch.
   */
  async gradientsStacked(xs: readonly Float32Tensor[], req: GradientRequest & { readonly classes: readonly number[] }): Promise<GradientResult[]> {
    const oneByOne = async () => {
      const out: GradientResult[] = [];
      for (const x of xs) out.push(await this.gradients(x, req));
      return out;
    };
    if (xs.length < 2 || this.gradStackable === false || typeof this.input.declared[0] === 'number' || req.from || req.targets.some((t) => t !== this.input.name)) return oneByOne();
    const spec: BackwardSpec = { targets: req.targets, score: req.score, mode: req.mode, method: req.method, seed: 'either' };
    const { graph, session, weights } = await this.backwardSession(spec);
    if (!graph.batchSafe) return oneByOne();
    const n = await this.numClasses();
    for (const c of req.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= n) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${n} classes (0–${n - 1}).`);
    }
    const k = req.classes.length;
    const size = xs[0].data.length;
    const rows = xs.length * k;
    const data = new Float32Array(rows * size);
    xs.forEach((x, i) => {
      if (x.dims[0] !== 1 || x.data.length !== size) throw new LookCloserError('bad-input', 'Stacked inputs must all have the shape [1, …] of the first.');
      for (let j = 0; j < k; j++) data.set(x.data, (i * k + j) * size);
    });
    const seeds = xs.flatMap(() => req.classes);
    const i64 = (v: readonly number[]): Tensor => ({ type: 'int64', dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
    const gradName = graph.gradOutputs[this.input.name];
    let o: Record<string, Tensor>;
    try {
      o = await session.run({ ...weights, ...this.feed(float32(data, [rows, ...xs[0].dims.slice(1)])), [graph.seedInput]: i64(seeds), [graph.topInput!]: i64([0]) },
        [...new Set([graph.classesOutput, gradName, this.scores.logits, this.scores.output])]);
    } catch (e) {
      if (this.gradStackable) throw e;
      this.gradStackable = false;
      return oneByOne();
    }
    const g = asFloat32(o[gradName]);
    const logits = asFloat32(o[this.scores.logits]);
    const outs = asFloat32(o[this.scores.output]);
    if (g.dims[0] !== rows || logits.dims[0] !== rows) {
      this.gradStackable = false;
      return oneByOne();
    }
    this.gradStackable = true;
    const per = g.data.length / rows;
    const nl = logits.data.length / rows;
    return xs.map((_, i): GradientResult => {
      const l = logits.data.slice(i * k * nl, (i * k + 1) * nl);
      const out = outs.data.slice(i * k * nl, (i * k + 1) * nl);
      const probs = this.scores.finalOp === 'softmax' ? out : this.scores.finalOp === 'log-softmax' ? out.map(Math.exp) : softmax(l);
      return {
        classes: [...req.classes], grads: { [this.input.name]: float32(g.data.slice(i * k * per, (i + 1) * k * per), [k, ...g.dims.slice(1)]) },
        forward: { logits: l, probs, tensors: {} },
      };
    });
  }

  /** Number of classes the model scores. */
  numClasses(): Promise<number> {
    if (!this.classCount) {
      this.classCount = (async () => {
        const declared = this.declaredClasses();
        if (declared) return declared;
        const s = this.probed && (await this.shapes()).get(this.scores.logits);
        if (s) return s.slice(1).reduce((a, b) => a * b, 1);
        const zero = float32(new Float32Array(this.inputDims.reduce((a, b) => a * b, 1)), this.inputDims);
        return (await this.forward(zero)).logits.length;
      })();
      this.classCount.catch(() => (this.classCount = undefined));
    }
    return this.classCount;
  }

  /** The class count from the declared shape of the logits (or of the Softmax output they feed), when fixed. */
  private declaredClasses(): number | undefined {
    const g = this.graph.g;
    const find = (name: string) => [...g.output, ...g.valueInfo].find((v) => v.name === name);
    let vi = find(this.scores.logits);
    if (!vi && this.graph.producer.get(this.scores.output)?.input[0] === this.scores.logits) vi = find(this.scores.output);
    const dims = vi?.type?.tensorType?.shape?.dim;
    if (!dims || dims.length < 2) return undefined;
    const rest = dims.slice(1).map((d) => (d.dimParam ? 0 : toNum(d.dimValue)));
    return rest.every((d) => d > 0) ? rest.reduce((a, b) => a * b, 1) : undefined;
  }

  /** Releases every session. */
  async dispose(): Promise<void> {
    const fwd = this.fwd;
    this.fwd = undefined;
    await (await fwd?.session.catch(() => undefined))?.retire();
    const bws = [...this.backward.values()];
    this.backward.clear();
    for (const b of bws) await (await b.catch(() => undefined))?.session.release();
  }
}

/**
 * A session that can be retired while runs may still use it: it is released once the last run finishes,
 * and a run started after that goes to its successor (a session exposing a superset of its outputs).
 */
class TrackedSession implements Session {
  private running = 0;
  private retired = false;
  private released?: Promise<void>;

  constructor(private readonly inner: Session, private readonly successor: () => Promise<Session> | undefined) {}

  get inputNames() {
    return this.inner.inputNames;
  }

  get outputNames() {
    return this.inner.outputNames;
  }

  get parallelRuns() {
    return this.inner.parallelRuns;
  }

  async run(feeds: Readonly<Record<string, Tensor>>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.released) {
      const next = this.successor();
      if (!next || (await next) === this) throw new LookCloserError('runtime', 'The model was closed.');
      return (await next).run(feeds, fetches);
    }
    this.running++;
    try {
      return await this.inner.run(feeds, fetches);
    } finally {
      if (--this.running === 0 && this.retired) void this.releaseNow();
    }
  }

  /** Releases the session now or, when runs are in flight, after the last. */
  retire(): Promise<void> {
    this.retired = true;
    return this.running === 0 ? this.releaseNow() : Promise.resolve();
  }

  /** Same as retire (the Session interface). */
  release(): Promise<void> {
    return this.retire();
  }

  private releaseNow(): Promise<void> {
    return (this.released ??= this.inner.release());
  }
}
