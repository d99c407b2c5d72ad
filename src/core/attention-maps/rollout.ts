/**
 * The maths of attention rollout and its gradient-weighted variant as a chain of per-layer token-mixing
 * matrices, applied to one row vector: the query token's row of R = M_L ⋯ M_1 is e_qᵀ·M_L ⋯ M_1, so the chain
 * runs from the last layer back, at O(N²) per layer instead of a matrix product's O(N³).
 *
 * - Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020, §3):
 *   M = (Ā + I) / rowsum(Ā + I), Ā the heads' mean (or max, or min) — the residual connection as identity.
 * - Gradient-weighted rollout (Chefer, Gur & Wolf, "Generic Attention-model Explainability…", ICCV 2021,
 *   eqs. 5–6): Ā = E_h[(∇A ⊙ A)⁺], R ← R + Ā·R from R = I, i.e. M = I + Ā.
 *
 * A windowed layer's matrix is block-diagonal over its windows once the tokens are put back where they lie
 * (token-positions.ts). Between layers on grids of different sizes (Swin's patch merging, f×f patches into
 * one) the row moves to the finer grid as if the merged token averaged its f² patches: each gets 1/f² of it.
 */
import { LookCloserError } from '../errors';
import type { AttentionLayer } from './attention-layers';
import { tokenPositions } from './token-positions';

/** How heads are combined in attention rollout. */
export type HeadFusion = 'mean' | 'max' | 'min';

/** One layer of the chain: a matrix per window over the window's tokens, and where those tokens lie. */
export interface ChainStep {
  readonly layer: AttentionLayer;
  /** [groups, N, N] row-major. */
  readonly matrices: Float64Array;
  /** Index of each (group, token) among the layer's tokens (prefix, then the grid row-major). */
  readonly positions: Int32Array;
}

/** Tokens of a layer's space: prefix tokens plus grid cells. */
export function tokenCount(layer: AttentionLayer): number {
  return layer.prefix + layer.grid.height * layer.grid.width;
}

/** Heads combined per window: [groups, N, N] from probabilities [groups, heads, N, N]. */
export function fuseHeads(layer: AttentionLayer, values: ArrayLike<number>, how: HeadFusion): Float64Array {
  const nn = layer.queries * layer.keys;
  const out = new Float64Array(layer.groups * nn);
  for (let g = 0; g < layer.groups; g++) {
    for (let i = 0; i < nn; i++) {
      let acc = how === 'mean' ? 0 : values[g * layer.heads * nn + i];
      for (let h = 0; h < layer.heads; h++) {
        const v = values[(g * layer.heads + h) * nn + i];
        acc = how === 'mean' ? acc + v : how === 'max' ? Math.max(acc, v) : Math.min(acc, v);
      }
      out[g * nn + i] = how === 'mean' ? acc / layer.heads : acc;
    }
  }
  return out;
}

/** Attention rollout's step: (Ā + I) normalised to unit row sums. */
export function rolloutStep(layer: AttentionLayer, probs: Float32Array, how: HeadFusion): ChainStep {
  const m = fuseHeads(layer, probs, how);
  const n = layer.keys;
  for (let g = 0; g < layer.groups; g++) {
    for (let i = 0; i < n; i++) {
      const row = g * n * n + i * n;
      m[row + i] += 1;
      let s = 0;
      for (let j = 0; j < n; j++) s += m[row + j];
      for (let j = 0; j < n; j++) m[row + j] /= s;
    }
  }
  return { layer, matrices: m, positions: tokenPositions(layer, probs) };
}

/** Gradient-weighted rollout's step: I + E_h[(∇A ⊙ A)⁺], for one class's gradient `grad` (same layout as `probs`). */
export function gradientStep(layer: AttentionLayer, probs: Float32Array, grad: ArrayLike<number>): ChainStep {
  const prod = new Float64Array(probs.length);
  for (let i = 0; i < probs.length; i++) prod[i] = Math.max(0, grad[i] * probs[i]);
  const m = fuseHeads(layer, prod, 'mean');
  const n = layer.keys;
  for (let g = 0; g < layer.groups; g++) for (let i = 0; i < n; i++) m[g * n * n + i * n + i] += 1;
  return { layer, matrices: m, positions: tokenPositions(layer, probs) };
}

/** r·M for one step: r and the result over the layer's tokens. */
function applyStep(r: Float64Array, s: ChainStep): Float64Array {
  const n = s.layer.keys;
  const out = new Float64Array(r.length);
  for (let g = 0; g < s.layer.groups; g++) {
    const pos = s.positions.subarray(g * n, (g + 1) * n);
    const base = g * n * n;
    for (let i = 0; i < n; i++) {
      const ri = r[pos[i]];
      if (ri === 0) continue;
      const row = base + i * n;
      for (let j = 0; j < n; j++) out[pos[j]] += ri * s.matrices[row + j];
    }
  }
  return out;
}

/** Moves a row over `later`'s tokens onto `earlier`'s (the same, or a grid finer by an integer factor). */
function toEarlier(r: Float64Array, later: AttentionLayer, earlier: AttentionLayer): Float64Array {
  const a = earlier.grid;
  const b = later.grid;
  if (a.height === b.height && a.width === b.width && earlier.prefix === later.prefix) return r;
  const f = a.height / b.height;
  if (earlier.prefix !== later.prefix || !Number.isInteger(f) || a.width !== b.width * f) {
    throw new LookCloserError('method-not-applicable',
      `Attention layers '${earlier.node}' (${earlier.prefix} + ${a.height}×${a.width} tokens) and '${later.node}' (${later.prefix} + ${b.height}×${b.width}) do not chain: the later grid is not the earlier one merged by a whole factor.`);
  }
  const out = new Float64Array(tokenCount(earlier));
  for (let k = 0; k < earlier.prefix; k++) out[k] = r[k];
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      out[earlier.prefix + y * a.width + x] = r[later.prefix + Math.floor(y / f) * b.width + Math.floor(x / f)] / (f * f);
    }
  }
  return out;
}

/**
 * The query's row of M_L ⋯ M_1 over the first layer's tokens: `query` a token index of the last layer, or
 * 'mean' for the mean of all its rows (models without a class token pool all positions).
 */
export function chainRow(steps: readonly ChainStep[], query: number | 'mean'): Float64Array {
  const last = steps[steps.length - 1].layer;
  const t = tokenCount(last);
  let r: Float64Array = new Float64Array(t);
  if (query === 'mean') r.fill(1 / t);
  else if (Number.isInteger(query) && query >= 0 && query < t) r[query] = 1;
  else throw new LookCloserError('bad-argument', `Query token ${query} is out of range: the last attention layer has ${t} tokens (0–${t - 1}).`);
  for (let i = steps.length - 1; i >= 0; i--) {
    r = applyStep(r, steps[i]);
    if (i > 0) r = toEarlier(r, steps[i].layer, steps[i - 1].layer);
  }
  return r;
}

/** The grid part of a row over a layer's tokens: [gh·gw] row-major. */
export function gridPart(r: Float64Array, layer: AttentionLayer): Float32Array {
  return Float32Array.from(r.subarray(layer.prefix, tokenCount(layer)));
}
