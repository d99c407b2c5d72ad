/**
 * Finds the attention probabilities of a transformer in its ONNX graph: a Softmax over the last (key) axis whose
 * input comes from a MatMul (or Einsum) of two computed tensors, Q·Kᵀ, through scaling (Mul, Div), added biases
 * or masks (Add, Sub, Where) and reshapes, and whose output is the left operand of a MatMul (or an Einsum
 * operand), A·V, possibly through Dropout, Cast or Reshape. The same test finds torchvision's ViT
 * ([B·heads, N, N] from MultiheadAttention), BEiT-style [B, heads, N, N] and Swin's windowed
 * [B·windows, heads, w², w²] tensors. For each it works out from the batch-1 shape how many heads and windows
 * there are and, from the input's aspect ratio, the token layout: prefix tokens (class, distillation) followed
 * by a row-major patch grid, or for windowed attention the stage's grid cut into square windows.
 */
import { LookCloserError } from '../errors';
import { attrInt, Graph, Node } from '../onnx/graph';

/** One attention layer: where its probabilities are and how its tokens lie on the image. */
export interface AttentionLayer {
  /** Name of the Softmax output holding the probabilities. */
  readonly tensor: string;
  /** The Softmax node's name (or its output's when unnamed). */
  readonly node: string;
  /** Batch-1 shape of the tensor. */
  readonly shape: readonly number[];
  readonly heads: number;
  /** Windows (1 for global attention); the data is [groups, heads, queries, keys] row-major. */
  readonly groups: number;
  readonly queries: number;
  readonly keys: number;
  /** Tokens before the patch grid (class, distillation): 0 for windowed attention. */
  readonly prefix: number;
  /** The patch grid the tokens cover (for windowed attention, the whole stage's grid). */
  readonly grid: { readonly height: number; readonly width: number };
  /** Window size in patches, for windowed attention. */
  readonly window?: { readonly height: number; readonly width: number };
  /**
   * 'global': one group over all tokens; 'windows': Swin's windows (a relative position bias is added to Q·Kᵀ),
   * whose tokens token-positions.ts puts back on the grid; 'grouped': several groups whose tokens lie on the image
   * in a way the graph does not tell (MobileViT's patch pixels, MaxViT's block and grid partitions).
   */
  readonly layout: 'global' | 'windows' | 'grouped';
}

/** Ops allowed between Q·Kᵀ and the Softmax (scale, bias, mask, reshape). */
const BETWEEN_SCORES = new Set(['Mul', 'Div', 'Add', 'Sub', 'Where', 'Reshape', 'Cast', 'Identity', 'Squeeze', 'Unsqueeze']);
/** Ops allowed between the Softmax and A·V. */
const BETWEEN_VALUES = new Set(['Dropout', 'Identity', 'Cast', 'Reshape']);
const PRODUCTS = new Set(['MatMul', 'Einsum']);
/** Most prefix tokens tried when splitting a token count into prefix + grid. */
const MAX_PREFIX = 16;

/**
 * Whether the Softmax's input is computed from a product of two non-constant tensors (Q·Kᵀ) within a few ops,
 * and whether a constant (a relative position bias) is added on the way.
 */
function fromQueryKeyProduct(graph: Graph, softmax: Node): { readonly found: boolean; readonly bias: boolean } {
  let bias = false;
  let frontier = [softmax.input[0]];
  for (let depth = 0; depth < 12 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      const p = graph.producer.get(t);
      if (!p) continue;
      const live = p.input.filter((i) => i && !graph.isConstant(i));
      if (PRODUCTS.has(p.opType)) {
        if (live.length >= 2) return { found: true, bias };
        continue;
      }
      if (p.opType === 'Add' && live.length < p.input.length) bias = true;
      if (BETWEEN_SCORES.has(p.opType)) next.push(...(p.opType === 'Reshape' || p.opType === 'Squeeze' || p.opType === 'Unsqueeze' ? live.slice(0, 1) : live));
    }
    frontier = next;
  }
  return { found: false, bias };
}

/** Whether the probabilities are multiplied into values (A·V) within a few ops. */
function intoValueProduct(graph: Graph, tensor: string): boolean {
  let frontier = [tensor];
  for (let depth = 0; depth < 4 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const c of graph.consumers.get(t) ?? []) {
        if (c.opType === 'MatMul' && c.input[0] === t) return true;
        if (c.opType === 'Einsum') return true;
        if (BETWEEN_VALUES.has(c.opType) && c.input[0] === t) next.push(c.output[0]);
      }
    }
    frontier = next;
  }
  return false;
}

/** Splits n cells into gh × gw with gh : gw = height : width, or undefined. */
export function gridOf(n: number, height: number, width: number): { height: number; width: number } | undefined {
  if (n < 1) return undefined;
  const gw = Math.round(Math.sqrt((n * width) / height));
  for (const w of [gw, gw - 1, gw + 1]) {
    if (w < 1 || n % w) continue;
    const h = n / w;
    if (h * width === w * height) return { height: h, width: w };
  }
  return undefined;
}

/** The token layout of a layer from its shape and the input size, or undefined when the tokens do not fit a grid. */
function layout(shape: readonly number[], input: { height: number; width: number }, bias: boolean): Omit<AttentionLayer, 'tensor' | 'node' | 'shape'> | undefined {
  const r = shape.length;
  if (r < 3 || r > 5) return undefined;
  const queries = shape[r - 2];
  const keys = shape[r - 1];
  const heads = r === 3 ? shape[0] : shape[r - 3];
  const groups = shape.slice(0, r - 3).reduce((a, b) => a * b, 1);
  if (groups > 1) {
    const w = Math.round(Math.sqrt(keys));
    const windows = gridOf(groups, input.height, input.width);
    if (w * w !== keys || queries !== keys || !windows) return undefined;
    return {
      heads, groups, queries, keys, prefix: 0, layout: r === 4 && bias ? 'windows' : 'grouped',
      grid: { height: windows.height * w, width: windows.width * w }, window: { height: w, width: w },
    };
  }
  for (let prefix = 0; prefix <= Math.min(MAX_PREFIX, keys - 1); prefix++) {
    const grid = gridOf(keys - prefix, input.height, input.width);
    if (grid && grid.height > 1 && grid.width > 1) return { heads, groups, queries, keys, prefix, grid, layout: 'global' };
  }
  return undefined;
}

/**
 * The attention layers of a model in graph order, from its graph and the batch-1 shapes of its tensors
 * (`Explainer.shapes()`), for an input of the given size. Softmaxes that are not attention (a classifier's
 * output), or whose tokens do not fit a patch grid, are left out.
 */
export function findAttentionLayers(
  graph: Graph, shapes: ReadonlyMap<string, readonly number[]>, input: { readonly height: number; readonly width: number },
): AttentionLayer[] {
  const out: AttentionLayer[] = [];
  for (const n of graph.nodes) {
    if (n.opType !== 'Softmax') continue;
    const tensor = n.output[0];
    const shape = shapes.get(tensor);
    if (!shape) continue;
    const axis = attrInt(n, 'axis', graph.opset >= 13 ? -1 : 1);
    if ((axis < 0 ? axis + shape.length : axis) !== shape.length - 1) continue;
    const scores = fromQueryKeyProduct(graph, n);
    if (!scores.found || !intoValueProduct(graph, tensor)) continue;
    const l = layout(shape, input, scores.bias);
    if (l) out.push({ tensor, node: n.name || tensor, shape: [...shape], ...l });
  }
  return out;
}

/** The model's attention layers, or a 'method-not-applicable' error naming the model and the method. */
export function requireAttentionLayers(
  graph: Graph, shapes: ReadonlyMap<string, readonly number[]>, input: { readonly height: number; readonly width: number }, model: string, method: string,
): AttentionLayer[] {
  const layers = findAttentionLayers(graph, shapes, input);
  if (!layers.length) {
    throw new LookCloserError('method-not-applicable',
      `${model} has no attention layer (a Softmax over keys between MatMul(Q, Kᵀ) and MatMul(·, V)); ${method} explains transformers.`);
  }
  return layers;
}
