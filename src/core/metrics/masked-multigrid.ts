/**
 * A multigrid V-cycle for ROAD's imputation system (road.ts), used as the preconditioner of its conjugate
 * gradients: the 8-neighbour weighted-mean operator on the removed pixels of an image, the known pixels held at
 * zero (Dirichlet). Geometric coarsening by 2×2 blocks (a block is unknown when all its pixels are), piecewise-
 * constant prolongation P and restriction Pᵀ, the operator rediscretised on each level (for smooth errors
 * PᵀAP ≈ the coarse stencil, since both weight sums are 1), two Jacobi sweeps before and two after (the same sweeps,
 * so the cycle is symmetric positive definite, as PCG needs). Briggs, Henson & McCormick, A Multigrid Tutorial (2000),
 * ch. 3–4; the CG solve and its stopping rule stay ROAD's, so the preconditioner changes the speed, not the answer.
 *
 * Layout (the solve's hot loops): every level is a grid padded by one cell on each side, so that the stencil needs
 * no edge tests (padding and known cells hold zero, which subtracts nothing); the channels are interleaved (value
 * of channel k at padded cell P is at P·C + k), so one pass over the unknown cells serves every channel, and each
 * level's work arrays are allocated once per mask.
 */

/** Neighbour offsets (row, column) and weights of the imputation stencil. */
export type Stencil = readonly (readonly [number, number, number])[];

/** One level: a padded grid, its unknown cells and its work arrays (C values per padded cell). */
export interface Level {
  readonly h: number;
  readonly w: number;
  /** Padded row length, w + 2. */
  readonly stride: number;
  /** Channels per cell of the work arrays. */
  readonly channels: number;
  /** Padded indices of the unknown cells, row-major. */
  readonly cells: Int32Array;
  /** Σ in-image neighbour weights per padded cell (meaningful on unknown cells). */
  readonly diag: Float64Array;
  /** The stencil as padded-index offsets and weights. */
  readonly offs: Int32Array;
  readonly wts: Float64Array;
  /** Padded index on the next finer level of each cell's top-left child (levels below the finest). */
  readonly child: Int32Array;
  /** Work arrays: the correction, the operator applied to it, and the right-hand side (coarse levels). */
  readonly e: Float64Array;
  readonly tmp: Float64Array;
  readonly rhs: Float64Array;
}

/**
 * Jacobi damping, sweeps before and after the coarse correction, and the size below which a level is smoothed only.
 * ω = 1 damps the stencil's high frequencies best (D⁻¹A lies in [2/3, 4/3] there: factor 1/3; ω = 0.8 gave 0.47),
 * and D⁻¹A < 2 keeps the cycle positive definite. Two sweeps each way: 12 CG iterations where one sweep at ω = 0.8
 * took 24 (6 masks of a ResNet-18 Grad-CAM map), ~20 % less time.
 */
const OMEGA = 1;
const SWEEPS = 2;
const COARSEST = 64;
const COARSEST_SWEEPS = 40;

/** A level from its unpadded mask (1 = unknown). */
function level(h: number, w: number, mask: Uint8Array, stencil: Stencil, channels: number, finer?: Level): Level {
  const stride = w + 2;
  const size = (h + 2) * stride;
  const diag = new Float64Array(size);
  let count = 0;
  for (let i = 0; i < h * w; i++) count += mask[i];
  const cells = new Int32Array(count);
  const child = new Int32Array(finer ? count : 0);
  const dr = stencil.map((x) => x[0]);
  const dc = stencil.map((x) => x[1]);
  const wt = stencil.map((x) => x[2]);
  let t = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (!mask[r * w + c]) continue;
      const p = (r + 1) * stride + c + 1;
      let s = 0;
      for (let j = 0; j < wt.length; j++) if (r + dr[j] >= 0 && r + dr[j] < h && c + dc[j] >= 0 && c + dc[j] < w) s += wt[j];
      diag[p] = s;
      if (finer) child[t] = (2 * r + 1) * finer.stride + 2 * c + 1;
      cells[t++] = p;
    }
  }
  return {
    h, w, stride, channels, cells, diag,
    offs: Int32Array.from(stencil, ([dr, dc]) => dr * stride + dc), wts: Float64Array.from(stencil, ([, , wt]) => wt),
    child, e: new Float64Array(size * channels), tmp: new Float64Array(size * channels), rhs: new Float64Array(finer ? size * channels : 0),
  };
}

/** The hierarchy of levels for a removed-pixel mask (`h × w`, 1 = removed), finest first, with work arrays for `channels` channels. */
export function buildLevels(h: number, w: number, removed: Uint8Array, stencil: Stencil, channels = 1): Level[] {
  const levels = [level(h, w, removed, stencil, channels)];
  let fm = removed;
  for (;;) {
    const f = levels[levels.length - 1];
    if (f.h * f.w <= COARSEST || f.h < 2 || f.w < 2) break;
    const hc = Math.ceil(f.h / 2);
    const wc = Math.ceil(f.w / 2);
    const mask = new Uint8Array(hc * wc).fill(1);
    for (let r = 0; r < f.h; r++) for (let c = 0; c < f.w; c++) if (!fm[r * f.w + c]) mask[(r >> 1) * wc + (c >> 1)] = 0;
    if (!mask.includes(1)) break;
    levels.push(level(hc, wc, mask, stencil, channels, f));
    fm = mask;
  }
  return levels;
}

/** out = A·v on the unknown cells of a level (v is zero on known and padding cells), every channel; with `dot`, also vᵀ·out per channel. */
export function applyOperator(l: Level, v: Float64Array, out: Float64Array, dot?: Float64Array): void {
  const { cells, diag, offs, wts, channels: C } = l;
  const m = offs.length;
  if (dot) {
    applyOperator(l, v, out);
    if (C === 3) {
      let s0 = 0, s1 = 0, s2 = 0;
      for (let t = 0; t < cells.length; t++) {
        const i = cells[t] * 3;
        s0 += v[i] * out[i]; s1 += v[i + 1] * out[i + 1]; s2 += v[i + 2] * out[i + 2];
      }
      dot[0] = s0; dot[1] = s1; dot[2] = s2;
      return;
    }
    dot.fill(0);
    for (let t = 0; t < cells.length; t++) for (let k = 0, i = cells[t] * C; k < C; k++, i++) dot[k] += v[i] * out[i];
    return;
  }
  if (C === 3 && m === 8) {
    // ROAD's case, unrolled: the same operations in the same order as the general loop.
    const o0 = 3 * offs[0], o1 = 3 * offs[1], o2 = 3 * offs[2], o3 = 3 * offs[3], o4 = 3 * offs[4], o5 = 3 * offs[5], o6 = 3 * offs[6], o7 = 3 * offs[7];
    const w0 = wts[0], w1 = wts[1], w2 = wts[2], w3 = wts[3], w4 = wts[4], w5 = wts[5], w6 = wts[6], w7 = wts[7];
    for (let t = 0; t < cells.length; t++) {
      const p = cells[t];
      const dg = diag[p];
      for (let i = 3 * p, end = i + 3; i < end; i++) {
        let s = dg * v[i];
        s -= w0 * v[i + o0]; s -= w1 * v[i + o1]; s -= w2 * v[i + o2]; s -= w3 * v[i + o3];
        s -= w4 * v[i + o4]; s -= w5 * v[i + o5]; s -= w6 * v[i + o6]; s -= w7 * v[i + o7];
        out[i] = s;
      }
    }
    return;
  }
  for (let t = 0; t < cells.length; t++) {
    const p = cells[t];
    for (let k = 0; k < C; k++) {
      const i = p * C + k;
      let s = diag[p] * v[i];
      for (let j = 0; j < m; j++) s -= wts[j] * v[i + offs[j] * C];
      out[i] = s;
    }
  }
}

/** Jacobi sweeps (damped by ω) on e for the right-hand side rhs. */
function smooth(l: Level, e: Float64Array, rhs: Float64Array, sweeps: number): void {
  const { cells, diag, tmp, channels: C } = l;
  for (let s = 0; s < sweeps; s++) {
    applyOperator(l, e, tmp);
    for (let t = 0; t < cells.length; t++) {
      const p = cells[t];
      const dg = diag[p];
      for (let i = p * C, end = i + C; i < end; i++) e[i] += (OMEGA * (rhs[i] - tmp[i])) / dg;
    }
  }
}

/**
 * One V-cycle from zero on level `k` for the right-hand side `rhs` (level k's own `rhs` array below the finest;
 * zero on known cells): an approximation of A⁻¹·rhs, left in `levels[k].e`.
 */
export function vCycle(levels: readonly Level[], k: number, rhs: Float64Array = levels[k].rhs): Float64Array {
  const l = levels[k];
  const { cells, diag, e, tmp, channels: C } = l;
  if (k === levels.length - 1) {
    for (let t = 0; t < cells.length; t++) for (let i = cells[t] * C, end = i + C; i < end; i++) e[i] = 0;
    smooth(l, e, rhs, COARSEST_SWEEPS);
    return e;
  }
  // The first sweep from zero: A·0 = 0, so e = ω·rhs / diag (what a full sweep computes).
  for (let t = 0; t < cells.length; t++) {
    const p = cells[t];
    const dg = diag[p];
    for (let i = p * C, end = i + C; i < end; i++) e[i] = (OMEGA * (rhs[i] - 0)) / dg;
  }
  if (SWEEPS > 1) smooth(l, e, rhs, SWEEPS - 1);
  applyOperator(l, e, tmp);
  // Restriction Pᵀ: a coarse cell sums its fine residuals (row by row; missing children of an odd edge are padding, 0).
  const c = levels[k + 1];
  const rc = c.rhs;
  const row = l.stride * C;
  for (let t = 0; t < c.cells.length; t++) {
    const f = c.child[t] * C;
    const q = c.cells[t] * C;
    for (let j = 0; j < C; j++) {
      const a = f + j;
      rc[q + j] = (rhs[a] - tmp[a]) + (rhs[a + C] - tmp[a + C]) + (rhs[a + row] - tmp[a + row]) + (rhs[a + row + C] - tmp[a + row + C]);
    }
  }
  const ec = vCycle(levels, k + 1);
  // Prolongation P: each fine pixel of an unknown block takes the block's correction.
  for (let t = 0; t < c.cells.length; t++) {
    const f = c.child[t];
    const q = c.cells[t] * C;
    const r0 = Math.floor(f / l.stride) - 1;
    const c0 = (f % l.stride) - 1;
    const right = c0 + 1 < l.w;
    const down = r0 + 1 < l.h;
    for (let j = 0; j < C; j++) {
      const v = ec[q + j];
      const a = f * C + j;
      e[a] += v;
      if (right) e[a + C] += v;
      if (down) e[a + row] += v;
      if (right && down) e[a + row + C] += v;
    }
  }
  smooth(l, e, rhs, SWEEPS);
  return e;
}
