/**
 * Built-in attention: gating modules found in any graph. A gate is a Sigmoid or HardSigmoid whose output,
 * through Reshape/Unsqueeze/Expand/Identity and at most one Add of the constant 1, multiplies a 4-D feature map:
 * - channel (C×1×1): Squeeze-and-Excitation (Hu, Shen, Sun, CVPR 2018, eq. 4: x̃_c = s_c·u_c) and CBAM's
 *   channel attention (Woo et al., ECCV 2018, eq. 2: M_c(F) = σ(MLP(AvgPool F) + MLP(MaxPool F)));
 * - spatial (1×H×W): CBAM's spatial attention (eq. 3: M_s(F) = σ(f^{7×7}([AvgPool F; MaxPool F])));
 * - full (C×H×W): the soft mask branch of Residual Attention Networks (Wang et al., CVPR 2017, eq. 3:
 *   H = (1 + M(x)) · F(x)).
 * Self-gating activations are not attention and are skipped: SiLU/Swish x·σ(x), Hardswish x·hσ(x), and
 * GELU's x·σ(1.702x), where the multiplied map is (an elementwise function of) the gate's own input.
 */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import { Graph, Node } from '../onnx/graph';
import { Float32Tensor, float32 } from '../tensor';

/** How a gate's mask broadcasts over the feature map. */
export type GateKind = 'channel' | 'spatial' | 'full';

/** One gating module. */
export interface Gate {
  /** The activation's output tensor (the raw gate values). */
  readonly tensor: string;
  /** The activation node's name. */
  readonly node: string;
  readonly activation: 'Sigmoid' | 'HardSigmoid';
  readonly kind: GateKind;
  /** The mask as it is multiplied in (after reshapes, and after the Add of 1 when `residual`). */
  readonly mask: string;
  /** The gated feature map. */
  readonly feature: string;
  /** The Mul's output: the feature map after gating. */
  readonly output: string;
  /** True for (1 + M)·F (residual attention). */
  readonly residual: boolean;
  /** The gate's shape [c, h, w] as it broadcasts: [C,1,1], [1,H,W] or [C,H,W]. */
  readonly shape: readonly [number, number, number];
  /** The feature map's shape [C, H, W]. */
  readonly featureShape: readonly [number, number, number];
  /** The ops from the activation to the Mul, e.g. ['Sigmoid', 'Reshape', 'Mul']. */
  readonly path: readonly string[];
}

const PASS = new Set(['Reshape', 'Unsqueeze', 'Expand', 'Identity', 'Cast']);
/** Elementwise ops through which a tensor stays "the same map" for the self-gating test. */
const ELEMENTWISE = new Set(['Identity', 'Cast', 'Mul', 'Add', 'Sub', 'Div', 'Neg']);

function isConstantOne(graph: Graph, t: string): boolean {
  const c = graph.constant(t);
  if (!c) return false;
  const d = c.data as ArrayLike<number | bigint>;
  for (let i = 0; i < d.length; i++) if (Number(d[i]) !== 1) return false;
  return d.length > 0;
}

/** True when `t` is `source` or an elementwise function of it and constants only (x·1.702, x + 3, …). */
function derivesElementwise(graph: Graph, t: string, source: string, hops = 4): boolean {
  if (t === source) return true;
  if (hops === 0) return false;
  const p = graph.producer.get(t);
  if (!p || !ELEMENTWISE.has(p.opType)) return false;
  const live = p.input.filter((i) => i && !graph.isConstant(i));
  return live.length === 1 && derivesElementwise(graph, live[0], source, hops - 1);
}

/** The 4-D shape right-aligned from a possibly shorter one. */
function rank4(s: readonly number[]): number[] {
  return [...Array(Math.max(0, 4 - s.length)).fill(1), ...s].slice(-4);
}

/** Classifies a mask shape against its feature map's, or undefined when it is none of the three kinds. */
export function gateKind(mask: readonly number[], feature: readonly number[]): GateKind | undefined {
  const [, c, h, w] = rank4(mask);
  const [, C, H, W] = feature;
  if (H * W <= 1) return undefined;
  if (c === C && h === H && w === W) return C === 1 ? 'spatial' : 'full';
  if (c === C && h === 1 && w === 1 && C > 1) return 'channel';
  if (c === 1 && h === H && w === W) return 'spatial';
  return undefined;
}

/** Finds every gate of a graph; `shapes` holds the batch-1 shape of each float tensor (`Explainer.shapes()`). */
export function findGates(graph: Graph, shapes: ReadonlyMap<string, readonly number[]>): Gate[] {
  const gates: Gate[] = [];
  for (const act of graph.nodes) {
    if (act.opType !== 'Sigmoid' && act.opType !== 'HardSigmoid') continue;
    const start = act.output[0];
    // Walk forward through reshapes and at most one Add(1) to every Mul the gate reaches.
    const walk = (t: string, path: string[], residual: boolean, depth: number): void => {
      if (depth > 6) return;
      for (const n of graph.consumers.get(t) ?? []) {
        if (PASS.has(n.opType) && n.input[0] === t) walk(n.output[0], [...path, n.opType], residual, depth + 1);
        else if (n.opType === 'Add' && !residual && n.input.length === 2) {
          const other = n.input[0] === t ? n.input[1] : n.input[0];
          if (isConstantOne(graph, other)) walk(n.output[0], [...path, 'Add(1)'], true, depth + 1);
        } else if (n.opType === 'Mul' && n.input.length === 2) {
          const feature = n.input[0] === t ? n.input[1] : n.input[0];
          const gate = check(act, n, t, feature, [...path, 'Mul'], residual);
          if (gate) gates.push(gate);
        }
      }
    };
    const check = (a: Node, mul: Node, mask: string, feature: string, path: string[], residual: boolean): Gate | undefined => {
      if (graph.isConstant(feature)) return undefined;
      const fs = shapes.get(feature);
      const ms = shapes.get(mask) ?? shapes.get(start);
      if (!fs || fs.length !== 4 || !ms) return undefined;
      if (derivesElementwise(graph, a.input[0], feature)) return undefined;
      const kind = gateKind(ms, fs);
      if (!kind) return undefined;
      const [, C, H, W] = fs;
      const shape: [number, number, number] = kind === 'channel' ? [C, 1, 1] : kind === 'spatial' ? [1, H, W] : [C, H, W];
      return {
        tensor: start, node: a.name || start, activation: a.opType as Gate['activation'], kind, mask, feature,
        output: mul.output[0], residual, shape, featureShape: [C, H, W], path: [a.opType, ...path],
      };
    };
    walk(start, [], false, 0);
  }
  return gates;
}

/** Finds the gates of a loaded model. */
export async function listGates(explainer: Explainer): Promise<Gate[]> {
  return findGates(explainer.graph, await explainer.shapes());
}

/** A gate's values for one input. */
export interface GateValues {
  readonly gate: Gate;
  /** The activation's values reshaped to `gate.shape` (0..1): [C,1,1], [1,H,W] or [C,H,W]. */
  readonly values: Float32Tensor;
  /** Channel gates: the C weights. */
  readonly weights?: Float32Array;
  /** Spatial and full gates: an H×W map to show over the image (full gates: the mean over channels). */
  readonly map?: Float32Array;
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

/** Runs the model once and returns every gate's values for the input. */
export async function gateValues(explainer: Explainer, input: Float32Tensor, gates?: readonly Gate[]): Promise<GateValues[]> {
  const list = gates ?? (await listGates(explainer));
  if (!list.length) return [];
  const f = await explainer.forward(input, [...new Set(list.map((g) => g.tensor))]);
  return list.map((gate) => {
    const t = f.tensors[gate.tensor];
    const [c, h, w] = gate.shape;
    if (t.data.length !== c * h * w) {
      throw new LookCloserError('runtime', `Gate '${gate.tensor}' has ${t.data.length} values, but its ${gate.kind} shape [${gate.shape.join(', ')}] needs ${c * h * w}.`);
    }
    const values = float32(Float32Array.from(t.data), [c, h, w]);
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of values.data) [min, max, sum] = [Math.min(min, v), Math.max(max, v), sum + v];
    let map: Float32Array | undefined;
    if (gate.kind !== 'channel') {
      map = new Float32Array(h * w);
      for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) map[i] += values.data[k * h * w + i] / c;
    }
    return { gate, values, weights: gate.kind === 'channel' ? values.data : undefined, map, min, max, mean: sum / values.data.length };
  });
}
