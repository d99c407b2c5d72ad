/**
 * A multigrid V-cycle for ROAD's imputation system (road.ts), used as the preconditioner of its conjugate
 * gradients: the 8-neighbour weighted-mean operator on the removed pixels of an image, the known pixels held at
 * zero (Dirichlet). Geometric coarsening by 2×2 blocks (a block is unknown when all its pixels are), piecewise-
 * constant prolongation P and restriction Pᵀ, the operator rediscretised on each level (for smooth errors
 * PᵀAP ≈ the coarse stencil, since both weight sums are 1), damped Jacobi before and after (the same sweeps, so the
 * cycle is symmetric positive definite, as PCG needs). Briggs, Henson & McCormick, A Multigrid Tutorial (2000),
 * ch. 3–4; the CG solve and its stopping rule stay ROAD's, so the preconditioner changes the speed, not the answer.
 */

/** Neighbour offsets (row, column) and weights of the imputation stencil. */
export type Stencil = readonly (readonly [number, number, number])[];

interface Level {
  readonly h: number;
  readonly w: number;
  /** 1 where the value is unknown. */
  readonly mask: Uint8Array;
  /** Σ in-image neighbour weights of each cell. */
  readonly diag: Float64Array;
}

/** Jacobi damping, sweeps before and after the coarse correction, and the size below which a level is smoothed only. */
const OMEGA = 0.8;
const SWEEPS = 1;
const COARSEST = 64;
const COARSEST_SWEEPS = 40;

function level(h: number, w: number, mask: Uint8Array, stencil: Stencil): Level {
  const diag = new Float64Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    let s = 0;
    for (const [dr, dc, wt] of stencil) if (r + dr >= 0 && r + dr < h && c + dc >= 0 && c + dc < w) s += wt;
    diag[r * w + c] = s;
  }
  return { h, w, mask, diag };
}

/** The hierarchy of levels for a removed-pixel mask, finest first. */
export function buildLevels(h: number, w: number, removed: Uint8Array, stencil: Stencil): Level[] {
  const levels = [level(h, w, removed, stencil)];
  for (;;) {
    const f = levels[levels.length - 1];
    if (f.h * f.w <= COARSEST || f.h < 2 || f.w < 2) break;
    const hc = Math.ceil(f.h / 2);
    const wc = Math.ceil(f.w / 2);
    const mask = new Uint8Array(hc * wc).fill(1);
    for (let r = 0; r < f.h; r++) for (let c = 0; c < f.w; c++) if (!f.mask[r * f.w + c]) mask[(r >> 1) * wc + (c >> 1)] = 0;
    if (!mask.includes(1)) break;
    levels.push(level(hc, wc, mask, stencil));
  }
  return levels;
}

/** out = A·v on the unknown cells (v is zero on known cells); 0 elsewhere. */
function apply(l: Level, v: Float64Array, out: Float64Array, stencil: Stencil): void {
  const { h, w, mask, diag } = l;
  const offs = stencil.map(([dr, dc]) => dr * w + dc);
  const wts = stencil.map(([, , wt]) => wt);
  const m = stencil.length;
  for (let r = 0; r < h; r++) {
    const edgeRow = r === 0 || r === h - 1;
    for (let c = 0; c < w; c++) {
      const p = r * w + c;
      if (!mask[p]) { out[p] = 0; continue; }
      let s = diag[p] * v[p];
      if (edgeRow || c === 0 || c === w - 1) {
        for (const [dr, dc, wt] of stencil) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr >= 0 && rr < h && cc >= 0 && cc < w) s -= wt * v[rr * w + cc];
        }
      } else {
        for (let j = 0; j < m; j++) s -= wts[j] * v[p + offs[j]];
      }
      out[p] = s;
    }
  }
}

function smooth(l: Level, e: Float64Array, rhs: Float64Array, sweeps: number, stencil: Stencil, tmp: Float64Array): void {
  for (let s = 0; s < sweeps; s++) {
    apply(l, e, tmp, stencil);
    for (let p = 0; p < e.length; p++) if (l.mask[p]) e[p] += (OMEGA * (rhs[p] - tmp[p])) / l.diag[p];
  }
}

/** One V-cycle from zero on level `k` for the right-hand side `rhs` (zero on known cells): an approximation of A⁻¹·rhs. */
export function vCycle(levels: readonly Level[], k: number, rhs: Float64Array, stencil: Stencil): Float64Array {
  const l = levels[k];
  const e = new Float64Array(l.h * l.w);
  const tmp = new Float64Array(l.h * l.w);
  if (k === levels.length - 1) {
    smooth(l, e, rhs, COARSEST_SWEEPS, stencil, tmp);
    return e;
  }
  smooth(l, e, rhs, SWEEPS, stencil, tmp);
  apply(l, e, tmp, stencil);
  const c = levels[k + 1];
  const rc = new Float64Array(c.h * c.w);
  for (let r = 0; r < l.h; r++) for (let cc = 0; cc < l.w; cc++) {
    const p = r * l.w + cc;
    const pc = (r >> 1) * c.w + (cc >> 1);
    if (l.mask[p] && c.mask[pc]) rc[pc] += rhs[p] - tmp[p];
  }
  const ec = vCycle(levels, k + 1, rc, stencil);
  for (let r = 0; r < l.h; r++) for (let cc = 0; cc < l.w; cc++) {
    const p = r * l.w + cc;
    const pc = (r >> 1) * c.w + (cc >> 1);
    if (l.mask[p] && c.mask[pc]) e[p] += ec[pc];
  }
  smooth(l, e, rhs, SWEEPS, stencil, tmp);
  return e;
}
