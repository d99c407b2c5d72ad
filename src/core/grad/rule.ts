/** The contract of one operator's gradient rule, and the helpers rules emit ONNX nodes with. */
import { LookCloserError } from '../errors';
import { Graph, Node, describeNode } from '../onnx/graph';
import { Tensor } from '../tensor';

/**
 * How rectifiers (Relu, and Clip with min 0 as in ReLU6) pass gradients back:
 * 'plain' is the true gradient, 'guided' is guided backpropagation (Springenberg et al. 2015),
 * 'deconvnet' is the Zeiler–Fergus deconvnet rule (ReLU applied to the gradient); an LrpMode replaces the rules
 * of the linear layers and rectifiers by layer-wise relevance propagation rules (rules/lrp.ts).
 */
export type RectifierMode = 'plain' | 'guided' | 'deconvnet' | LrpMode;

/** The LRP rule of each layer kind: which composite (rules/lrp.ts), the ε of its ε-rule, and the other rules' parameters. */
export interface LrpMode {
  readonly kind: 'lrp';
  readonly composite: LrpComposite;
  readonly epsilon: number;
  /** α and β of the αβ-rule (α − β = 1), in the composites that use it. */
  readonly alpha?: number;
  readonly beta?: number;
  /** γ of the γ-rule, in 'epsilon-gamma-box'. */
  readonly gamma?: number;
  /** zB's input bounds in 'epsilon-gamma-box', one value or one per channel; absent: the per-channel minimum and maximum of the first layer's input. */
  readonly low?: readonly number[];
  readonly high?: readonly number[];
  /** The first output of each first layer (Conv, Gemm or MatMul that the input reaches through no other), in composites with a first-layer rule. */
  readonly first?: readonly string[];
}

/**
 * Zennit's composites: 'epsilon-plus' (EpsilonPlus) z⁺ on convolutions, ε on dense layers; 'epsilon' ε on both;
 * 'zplus' z⁺ on both; 'epsilon-alpha2-beta1' (EpsilonAlpha2Beta1) αβ on convolutions; the '-flat' ones (EpsilonPlusFlat,
 * EpsilonAlpha2Beta1Flat) the flat rule on the first layer; 'epsilon-gamma-box' (EpsilonGammaBox) zB on the first
 * convolution and γ on the others.
 */
export type LrpComposite = 'epsilon-plus' | 'epsilon' | 'zplus' | 'epsilon-alpha2-beta1' | 'epsilon-plus-flat' | 'epsilon-gamma-box' | 'epsilon-alpha2-beta1-flat';

/** True when the backward pass propagates LRP relevance rather than a gradient. */
export function isLrp(mode: RectifierMode): mode is LrpMode {
  return typeof mode === 'object' && mode.kind === 'lrp';
}

/** Gradients are batched over classes: a gradient of a [1, …] forward tensor has shape [K, …]. */
export interface GradContext {
  readonly node: Node;
  readonly graph: Graph;
  readonly mode: RectifierMode;
  /** The gradient flowing into each output, or undefined where none flows. */
  readonly gradOut: readonly (string | undefined)[];
  /** Which inputs need a gradient (those that depend on a target). */
  readonly needs: readonly boolean[];
  readonly emit: Emitter;
  /** Static forward shape of a tensor (batch 1). */
  shape(tensor: string): number[];
  /** The forward value of a tensor as float32 (a Cast is inserted for float16 models). */
  f32(tensor: string): string;
  /** Constant value of a tensor (weights, folded constants), or undefined when it depends on the input. */
  constant(tensor: string): Tensor | undefined;
  /** Throws an error naming this node and why its gradient cannot be built. */
  unsupported(why: string): never;
}

/** One operator's input-gradient rule: returns the gradient for each input (undefined for none). */
export type GradRule = (ctx: GradContext) => (string | undefined)[];

/** Emits backward nodes into the graph, with constant and shape helpers. */
export class Emitter {
  /** Reasons the graph is not safe to run with several classes in one batch (then classes run one by one). */
  readonly batchUnsafe: string[] = [];

  constructor(readonly graph: Graph) {}

  /** Adds a node with one output and returns that output. */
  op(type: string, inputs: string[], attrs: Parameters<Graph['addNode']>[3] = {}): string {
    return this.graph.addNode(type, inputs, 1, attrs)[0];
  }

  /** A 1-D int64 constant. */
  i64(values: readonly number[]): string {
    return this.graph.addInitializer('i64', { type: 'int64', dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  /** A float32 constant of the given dims. */
  f32(values: ArrayLike<number>, dims: readonly number[]): string {
    return this.graph.addInitializer('f32', { type: 'float32', dims: [...dims], data: Float32Array.from(values) });
  }

  /** A float32 scalar constant. */
  scalar(v: number): string {
    return this.f32([v], []);
  }

  /** ReduceSum over axes (axes as an input, opset ≥ 13). */
  reduceSum(x: string, axes: readonly number[], keepdims = true): string {
    return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
  }

  /** ReduceMean/ReduceMax over axes, as attribute (opset < 18) or input (opset ≥ 18). */
  reduce(op: 'ReduceMean' | 'ReduceMax', x: string, axes: readonly number[], keepdims = true): string {
    if (this.graph.opset >= 18) return this.op(op, [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op(op, [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  /** Reshapes a batched gradient to the forward shape `shape` (whose axis 0 is the batch of 1). */
  reshapeTo(g: string, shape: readonly number[], why: string): string {
    if (shape.length && shape[0] === 1) return this.op('Reshape', [g, this.i64([-1, ...shape.slice(1)])]);
    this.batchUnsafe.push(why);
    return this.op('Reshape', [g, this.i64(shape)]);
  }

  /**
   * Sums a gradient of the broadcast result shape `outShape` back to an operand of shape `inShape`
   * (numpy broadcasting); axis 0 of a full-rank operand is the class batch and is never reduced.
   */
  unbroadcast(g: string, outShape: readonly number[], inShape: readonly number[], why: string): string {
    const r = outShape.length;
    const padded = [...Array(r - inShape.length).fill(1), ...inShape];
    const axes: number[] = [];
    for (let i = 0; i < r; i++) if (padded[i] === 1 && outShape[i] !== 1) axes.push(i);
    let out = g;
    if (inShape.length < r) {
      // The operand has no batch axis: summing over it would mix the classes.
      this.batchUnsafe.push(why);
      out = this.reduceSum(out, [0, ...axes.filter((a) => a !== 0)]);
      return this.op('Reshape', [out, this.i64(inShape.length ? [...inShape] : [])]);
    }
    if (axes.length) out = this.reduceSum(out, axes);
    return out;
  }
}

/** Builds the error for a node whose gradient cannot be formed. */
export function unsupportedNode(node: Node, why: string, method: string): LookCloserError {
  return new LookCloserError('unsupported-operator', `${describeNode(node)}: ${why}; ${method} cannot backpropagate through it.`);
}
