/**
 * One attention layer's raw probabilities as one image per head on the patch grid, for the Layers view: for a
 * query token (the class token by default), A[h, q, patch tokens]; for layers without prefix tokens (Swin's
 * windows, models that pool all positions), the attention each position receives, the mean over the queries
 * of its window (of all tokens, for global attention) of A[h, ·, position], with windows put back in place.
 */
import { LookCloserError } from '../errors';
import type { AttentionLayer } from './attention-layers';
import { tokenPositions } from './token-positions';

/** Per-head maps of a layer: [heads, gh, gw] row-major, and what they show. */
export interface AttentionTiles {
  readonly heads: number;
  readonly height: number;
  readonly width: number;
  readonly data: Float32Array;
  /** The query token whose row is shown, or 'received' for the mean attention each position receives. */
  readonly query: number | 'received';
}

/** The layer's per-head maps from its probabilities [groups, heads, N, N]; `query` picks a token of a global layer. */
export function attentionTiles(layer: AttentionLayer, probs: Float32Array, query?: number): AttentionTiles {
  const { height, width } = layer.grid;
  const cells = height * width;
  const n = layer.keys;
  const data = new Float32Array(layer.heads * cells);
  const q = query ?? (layer.prefix > 0 ? 0 : undefined);
  if (q !== undefined) {
    if (layer.groups !== 1) throw new LookCloserError('bad-argument', `Attention layer '${layer.node}' is windowed: its rows belong to windows, so no single query token's row covers the image.`);
    if (!Number.isInteger(q) || q < 0 || q >= layer.queries) throw new LookCloserError('bad-argument', `Query token ${q} is out of range: '${layer.node}' has ${layer.queries} queries (0–${layer.queries - 1}).`);
    for (let h = 0; h < layer.heads; h++) {
      const row = (h * layer.queries + q) * n + layer.prefix;
      for (let p = 0; p < cells; p++) data[h * cells + p] = probs[row + p];
    }
    return { heads: layer.heads, height, width, data, query: q };
  }
  const pos = tokenPositions(layer, probs);
  for (let g = 0; g < layer.groups; g++) {
    for (let h = 0; h < layer.heads; h++) {
      const base = (g * layer.heads + h) * layer.queries * n;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let i = 0; i < layer.queries; i++) s += probs[base + i * n + j];
        const p = pos[g * n + j] - layer.prefix;
        if (p >= 0) data[h * cells + p] = s / layer.queries;
      }
    }
  }
  return { heads: layer.heads, height, width, data, query: 'received' };
}
