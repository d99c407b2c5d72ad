/**
 * Where each attention token lies: global attention's tokens are the prefix tokens then the patch grid in
 * row-major order; windowed attention (Swin, Liu et al., ICCV 2021, §3.2) partitions the stage's grid into
 * windows, row-major over windows and within each, after a cyclic shift of −s (torch.roll) in shifted blocks.
 * The shift is read from the probabilities themselves: a shifted block masks attention between the regions the
 * roll brought together (logit −100, so a probability ~e⁻¹⁰⁰), and in the bottom-right window, token (y, 0)
 * attends to token (0, 0) exactly when y < w − s_h (likewise columns). Undoing the shift, window token (g, y, x)
 * sits at ((g_y·w + y + s_h) mod H, (g_x·w + x + s_w) mod W).
 */
import { LookCloserError } from '../errors';
import type { AttentionLayer } from './attention-layers';

/** Probabilities below this count as masked out (a masked logit of −100 gives about 4e−44). */
const MASKED = 1e-20;

/** The cyclic shift (rows, columns) of a windowed layer, read from its probabilities [groups, heads, N, N]. */
export function windowShift(layer: AttentionLayer, probs: Float32Array): { readonly rows: number; readonly cols: number } {
  const win = layer.window;
  if (!win || layer.groups < 2) return { rows: 0, cols: 0 };
  const n = layer.keys;
  const last = (layer.groups - 1) * layer.heads * n * n;
  const masked = (q: number) => probs[last + q * n] < MASKED;
  let rows = 0;
  for (let y = 1; y < win.height; y++) if (masked(y * win.width)) rows++;
  let cols = 0;
  for (let x = 1; x < win.width; x++) if (masked(x)) cols++;
  return { rows, cols };
}

/**
 * For each (group, token) of a layer, its index among the layer's tokens as they lie on the image: prefix tokens
 * first, then the grid row-major. `probs` (the layer's probabilities) is read for windowed layers' shift.
 */
export function tokenPositions(layer: AttentionLayer, probs: Float32Array): Int32Array {
  const n = layer.keys;
  const out = new Int32Array(layer.groups * n);
  const win = layer.window;
  if (layer.layout === 'grouped') throw new LookCloserError('method-not-applicable', `The tokens of attention layer '${layer.node}' have no known place on the image.`);
  if (!win || layer.groups === 1) {
    for (let g = 0; g < layer.groups; g++) for (let i = 0; i < n; i++) out[g * n + i] = i;
    return out;
  }
  const { height: H, width: W } = layer.grid;
  const across = W / win.width;
  const s = windowShift(layer, probs);
  for (let g = 0; g < layer.groups; g++) {
    const gy = Math.floor(g / across);
    const gx = g % across;
    for (let y = 0; y < win.height; y++) {
      for (let x = 0; x < win.width; x++) {
        const py = (gy * win.height + y + s.rows) % H;
        const px = (gx * win.width + x + s.cols) % W;
        out[g * n + y * win.width + x] = py * W + px;
      }
    }
  }
  return out;
}
