/**
 * Transformer layers as CAM targets. A `[1, N, C]` token tensor (a few prefix tokens — class, distillation,
 * registers — then an h×w patch grid, row-major) and a `[1, H, W, C]` channels-last map (Swin, ConvNeXt blocks)
 * are laid out as the `[1, C, h, w]` map every CAM method reads, the way pytorch-grad-cam's `reshape_transform`
 * does for ViTs: drop the prefix tokens, reshape to h×w, move channels first. Activations and gradients get the
 * same layout, so no method's maths changes. The grid of a token tensor comes from the graph (the nearest 4-D map
 * upstream whose h·w leaves 0–16 prefix tokens: the patch embedding's output), else from the one factorisation
 * N − prefix = h·w that a single patch stride makes out of the input size, else from `--token-grid` / the sidecar's
 * `tokenGrid` (which also overrides both).
 */
import { LookCloserError } from './errors';
import { type Graph, attrInts } from './onnx/graph';
import { type Float32Tensor, float32 } from './tensor';

/** A patch grid: rows and columns of patch tokens. */
export interface Grid {
  readonly height: number;
  readonly width: number;
}

/** How a layer's tensor maps to a `[1, C, h, w]` feature map. */
export type MapLayout =
  | { readonly kind: 'nchw' }
  | { readonly kind: 'nhwc' }
  | {
    readonly kind: 'tokens';
    /** Tokens before the patch grid (class, distillation, register tokens). */
    readonly prefix: number;
    readonly height: number;
    readonly width: number;
    /** Where the grid came from: the patch embedding upstream, the one consistent factorisation, or `--token-grid` / the sidecar. */
    readonly source: 'graph' | 'factorised' | 'grid';
  };

/** Most prefix tokens a token tensor may carry before its patch grid (class + distillation + registers). */
export const MAX_PREFIX_TOKENS = 16;

/** Largest grid side accepted from `--token-grid` or the sidecar. */
const MAX_GRID_SIDE = 4096;

/** Ops whose 4-D output is channels-first by ONNX's definition. */
const NCHW_OPS = new Set(['Conv', 'ConvTranspose', 'BatchNormalization', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'InstanceNormalization', 'LRN']);

/** True when one whole patch stride s divides the input into an a×b grid (a·s = H and b·s = W). */
function gridLike(a: number, b: number, input: Grid): boolean {
  if (a * b < 2 || input.height % a !== 0) return false;
  const s = input.height / a;
  return b * s === input.width;
}

/** Whether a 4-D tensor is channels-last: its producer says so (a Transpose to [0,2,3,1]), or only its axes 1–2 form a grid of the input. */
function channelsLast(graph: Graph, name: string, shape: readonly number[], input: Grid): boolean {
  const p = graph.producer.get(name);
  if (p && NCHW_OPS.has(p.opType)) return false;
  if (p?.opType === 'Transpose') {
    const perm = attrInts(p, 'perm')?.join(',');
    if (perm === '0,2,3,1') return true;
    if (perm === '0,3,1,2') return false;
  }
  return gridLike(shape[1], shape[2], input) && !gridLike(shape[2], shape[3], input);
}

/** The spatial grid of a 4-D tensor, in its layout. */
function spatial(graph: Graph, name: string, shape: readonly number[], input: Grid): [number, number] {
  return channelsLast(graph, name, shape, input) ? [shape[1], shape[2]] : [shape[2], shape[3]];
}

/** True for a `[1, N, C]` tensor that could hold tokens. */
export function isTokenShape(shape: readonly number[] | undefined): shape is readonly [number, number, number] {
  return !!shape && shape.length === 3 && shape[0] === 1 && shape[1] >= 2 && shape[2] >= 1;
}

/** True when N tokens can be `prefix` tokens then `hw` patches: 0–MAX_PREFIX_TOKENS prefix tokens, fewer than the patches. */
function plausiblePrefix(n: number, hw: number): boolean {
  const prefix = n - hw;
  return hw >= 2 && prefix >= 0 && prefix <= MAX_PREFIX_TOKENS && prefix < hw;
}

/** Grids already found per graph, keyed by input size and tensor (null: none upstream), so listing every layer stays linear. */
const foundGrids = new WeakMap<Graph, Map<string, Grid | null>>();

/** The nearest 4-D tensor upstream of `layer` whose grid leaves 0–MAX_PREFIX_TOKENS of its N tokens as a prefix. */
function gridFromGraph(graph: Graph, shapes: ReadonlyMap<string, readonly number[]>, input: Grid, layer: string, n: number, c: number): Grid | undefined {
  let memo = foundGrids.get(graph);
  if (!memo) foundGrids.set(graph, (memo = new Map()));
  const key = (t: string) => `${input.height}x${input.width} ${t}`;
  const known = memo.get(key(layer));
  if (known !== undefined) return known ?? undefined;
  const seen = new Set<string>([layer]);
  let frontier = [layer];
  let found: Grid | undefined;
  search: while (frontier.length) {
    const next: string[] = [];
    for (const t of frontier) {
      const p = graph.producer.get(t);
      if (!p) continue;
      for (const i of p.input) {
        if (!i || seen.has(i) || graph.isConstant(i)) continue;
        seen.add(i);
        const s = shapes.get(i);
        // A token tensor upstream that was already searched answers for its own ancestors.
        const earlier = memo.get(key(i));
        if (earlier !== undefined && s?.[1] === n) {
          if (earlier) {
            found = earlier;
            break search;
          }
          continue;
        }
        if (s?.length === 4 && s[0] === 1) {
          const [h, w] = spatial(graph, i, s, input);
          // [1, C, h·w] is that map flattened (its last axis is the grid), not tokens.
          const flattened = c === h * w && n === (channelsLast(graph, i, s, input) ? s[3] : s[1]);
          if (plausiblePrefix(n, h * w) && !flattened) {
            found = { height: h, width: w };
            break search;
          }
        }
        next.push(i);
      }
    }
    frontier = next;
  }
  memo.set(key(layer), found ?? null);
  return found;
}

/** The one (prefix, h, w) with N − prefix = h·w that a single patch stride makes out of the input size, if exactly one. */
function gridFactorised(n: number, input: Grid): { prefix: number; height: number; width: number } | undefined {
  const found: { prefix: number; height: number; width: number }[] = [];
  for (let prefix = 0; prefix <= MAX_PREFIX_TOKENS && prefix < n - 1; prefix++) {
    const m = n - prefix;
    if (!plausiblePrefix(n, m)) continue;
    for (let h = 1; h <= m; h++) if (m % h === 0 && gridLike(h, m / h, input)) found.push({ prefix, height: h, width: m / h });
  }
  return found.length === 1 ? found[0] : undefined;
}

/**
 * How `layer` maps to a `[1, C, h, w]` map: 'nchw' for channels-first 4-D maps, 'nhwc' for channels-last ones,
 * 'tokens' for `[1, N, C]` token tensors whose grid is known (from `grid` when given); undefined otherwise.
 */
export function mapLayout(
  graph: Graph, shapes: ReadonlyMap<string, readonly number[]>, input: Grid, layer: string, grid?: Grid,
): MapLayout | undefined {
  const s = shapes.get(layer);
  if (!s) return undefined;
  if (s.length === 4) return channelsLast(graph, layer, s, input) ? { kind: 'nhwc' } : { kind: 'nchw' };
  if (!isTokenShape(s)) return undefined;
  const n = s[1];
  if (grid) {
    const prefix = n - grid.height * grid.width;
    return prefix >= 0 ? { kind: 'tokens', prefix, ...grid, source: 'grid' } : undefined;
  }
  const g = gridFromGraph(graph, shapes, input, layer, n, s[2]);
  if (g) return { kind: 'tokens', prefix: n - g.height * g.width, ...g, source: 'graph' };
  const f = gridFactorised(n, input);
  return f && { kind: 'tokens', ...f, source: 'factorised' };
}

/** The `[1, C, h, w]` shape a layer of shape `shape` has as a map in `layout`. */
export function mapShape(shape: readonly number[], layout: MapLayout): number[] {
  if (layout.kind === 'nchw') return [...shape];
  if (layout.kind === 'nhwc') return [shape[0], shape[3], shape[1], shape[2]];
  return [shape[0], shape[2], layout.height, layout.width];
}

/**
 * Checks that `layer` can be explained as a map and returns its layout and `[1, C, h, w]` shape; throws naming the
 * layer's shape (and `--token-grid` for token tensors whose grid is unknown) otherwise.
 */
export function camLayer(
  graph: Graph, shapes: ReadonlyMap<string, readonly number[]>, input: Grid, layer: string, method: string, grid?: Grid,
): { layout: MapLayout; shape: number[] } {
  const s = shapes.get(layer);
  if (!s) throw new LookCloserError('bad-argument', `The model has no explainable tensor named '${layer}'. Run 'look-closer layers MODEL' to list them.`);
  const layout = mapLayout(graph, shapes, input, layer, grid);
  if (layout) return { layout, shape: mapShape(s, layout) };
  if (isTokenShape(s)) {
    const why = grid
      ? `the token grid ${grid.height}x${grid.width} (--token-grid or the sidecar's tokenGrid) has ${grid.height * grid.width} patches, more than its ${s[1]} tokens`
      : `its patch grid cannot be inferred from the graph (no patch embedding upstream leaves 0–${MAX_PREFIX_TOKENS} prefix tokens, and ${s[1]} tokens do not factor into one grid of the ${input.height}×${input.width} input)`;
    const fix = grid ? `give a grid of at most ${s[1]} patches` : 'give the grid with --token-grid HxW (or "tokenGrid": [h, w] in the sidecar)';
    throw new LookCloserError('method-not-applicable', `Layer '${layer}' is a token tensor of shape [${s.join(', ')}] but ${why}; ${fix}.`);
  }
  throw new LookCloserError('method-not-applicable', `Layer '${layer}' has rank ${s.length} (shape [${s.join(', ')}]); ${method} needs a 4-D feature map [1,C,H,W] (or a [1,N,C] token tensor).`);
}

/** Rows of a layer's tensor (`[K, …]` in the layer's layout) as `[K, C, h, w]` maps. */
export function toChannelsFirst(t: Float32Tensor, layout: MapLayout): Float32Tensor {
  if (layout.kind === 'nchw') return t;
  const k = t.dims[0];
  if (layout.kind === 'nhwc') {
    const [, h, w, c] = t.dims;
    const hw = h * w;
    const out = new Float32Array(k * c * hw);
    for (let r = 0; r < k; r++) {
      const src = r * hw * c;
      const dst = r * c * hw;
      for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[dst + ch * hw + p] = t.data[src + p * c + ch];
    }
    return float32(out, [k, c, h, w]);
  }
  const [, n, c] = t.dims;
  const hw = layout.height * layout.width;
  const out = new Float32Array(k * c * hw);
  for (let r = 0; r < k; r++) {
    const src = (r * n + layout.prefix) * c;
    const dst = r * c * hw;
    for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[dst + ch * hw + p] = t.data[src + p * c + ch];
  }
  return float32(out, [k, c, layout.height, layout.width]);
}

/**
 * `count` edited maps (`[count, C, h, w]`) back in the layer's layout, to run the model from the layer; a token
 * tensor's prefix tokens keep their values from `original` (the layer's unedited `[1, N, C]` activations).
 */
export function fromChannelsFirst(data: Float32Array, count: number, layout: MapLayout, original: Float32Tensor): Float32Array {
  if (layout.kind === 'nchw') return data;
  if (layout.kind === 'nhwc') {
    const [, h, w, c] = original.dims;
    const hw = h * w;
    const out = new Float32Array(count * hw * c);
    for (let r = 0; r < count; r++) {
      const base = r * hw * c;
      for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[base + p * c + ch] = data[base + ch * hw + p];
    }
    return out;
  }
  const [, n, c] = original.dims;
  const hw = layout.height * layout.width;
  const out = new Float32Array(count * n * c);
  for (let r = 0; r < count; r++) {
    const base = r * n * c;
    out.set(original.data.subarray(0, layout.prefix * c), base);
    const src = r * c * hw;
    const dst = base + layout.prefix * c;
    for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[dst + p * c + ch] = data[src + ch * hw + p];
  }
  return out;
}

/** Checks a grid's sides: whole numbers from 1 to 4096, at least two patches. */
function checkSides(h: number, w: number, from: string, got: string): Grid {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || h > MAX_GRID_SIDE || w > MAX_GRID_SIDE || h * w < 2) {
    throw new LookCloserError('bad-argument', `${from} must be HxW, two whole numbers of patches from 1 to ${MAX_GRID_SIDE} (at least 2 patches in all), e.g. 14x14; got ${got}.`);
  }
  return { height: h, width: w };
}

/** Parses `--token-grid HxW` (e.g. 14x14; × also accepted). */
export function parseGrid(text: string, from = '--token-grid'): Grid {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(text);
  if (!m) return checkSides(NaN, NaN, from, `'${text}'`);
  return checkSides(Number(m[1]), Number(m[2]), from, `'${text}'`);
}

/** Reads the sidecar's `tokenGrid`: [height, width] or "HxW". */
export function gridValue(v: unknown, from: string): Grid {
  if (typeof v === 'string') return parseGrid(v, from);
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return checkSides(v[0], v[1], from, JSON.stringify(v));
  throw new LookCloserError('bad-argument', `${from} must be [height, width] or "HxW" (patches), e.g. [14, 14]; got ${JSON.stringify(v)?.slice(0, 80)}.`);
}

/** A token layout as `layers` shows it: "14×14 grid + 1 prefix token (from the patch embedding)". */
export function describeLayout(layout: MapLayout): string {
  if (layout.kind === 'nchw') return '';
  if (layout.kind === 'nhwc') return 'channels-last map';
  const from = layout.source === 'graph' ? 'patch embedding' : layout.source === 'factorised' ? 'token count and input size' : 'grid setting';
  return `tokens: ${layout.height}×${layout.width} grid + ${layout.prefix} prefix token${layout.prefix === 1 ? '' : 's'} (from the ${from})`;
}
