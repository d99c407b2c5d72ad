/**
 * ROAD, RemOve And Debias — Rong, Leemann, Borisov, Kasneci, Kasneci, "A Consistent and Efficient Evaluation
 * Strategy for Attribution Methods", ICML 2022, §4: the pixels above a percentile of the map (most relevant
 * first, MoRF) or below one (least relevant first, LeRF) are removed and filled by noisy linear imputation, each
 * removed pixel the weighted mean of its 8 neighbours (weight 1/6 on the sides, 1/12 on the diagonals, §4.2) plus
 * Gaussian noise (σ = 0.01, seeded here). A good map makes MoRF's probability fall and keeps LeRF's up; the
 * combined score (LeRF − MoRF) / 2 over the percentiles is pytorch-grad-cam's ROADCombined. The sparse system is
 * solved by conjugate gradients (it is symmetric positive definite when every hole touches a known pixel),
 * preconditioned by a multigrid V-cycle.
 */
import { LookCloserError } from '../errors';
import type { Explainer, ForwardResult } from '../explainer';
import type { Float32Tensor } from '../tensor';
import { float32 } from '../tensor';
import { buildLevels, vCycle } from './masked-multigrid';
import { at, classProbs, planeDims } from './perturb';

/** Neighbour offsets (row, column) and weights of the imputation (the paper's §4.2, as pytorch-grad-cam's road.py). */
const NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1 / 12], [0, 1, 1 / 6], [-1, 1, 1 / 12], [1, -1, 1 / 12], [0, -1, 1 / 6], [-1, -1, 1 / 12], [1, 0, 1 / 6], [-1, 0, 1 / 6],
];

/** Levels (holes at least 2^(levels−1) pixels wide) from which the CG is preconditioned by multigrid. */
const MULTIGRID_FROM_LEVELS = 5;

/** Settings of ROAD. */
export interface RoadOptions {
  /** Percentiles of the map (default [25, 50, 75]: 6 forward passes). */
  readonly percentiles?: readonly number[];
  /** Standard deviation of the imputation noise (default 0.01; 0 for none). */
  readonly noise?: number;
  /** Seed of the noise (default 0). */
  readonly seed?: number;
  /** The forward pass on the unperturbed input, when already run. */
  readonly before?: ForwardResult;
}

/** ROAD's scores for one class, as --json reports them. */
export interface RoadJson {
  readonly percentiles: readonly number[];
  /** The class probability on the input. */
  readonly before: number;
  /** The probability after imputing the pixels above each percentile (MoRF) or below 100 − it (LeRF). */
  readonly morf: readonly number[];
  readonly lerf: readonly number[];
  /** Means over the percentiles of the probability change after − before. */
  readonly morfChange: number;
  readonly lerfChange: number;
  /** (LeRF − MoRF) / 2 averaged over the percentiles (higher is better). */
  readonly combined: number;
}

/** numpy's default percentile (linear interpolation between order statistics). */
export function percentile(values: Float32Array, p: number): number {
  const s = Float64Array.from(values).sort();
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Pixels removed at percentile `p`: MoRF removes map ≥ the p-th percentile; LeRF removes 1 − map ≥ the p-th percentile of 1 − map. */
export function roadMask(map01: Float32Array, p: number, order: 'morf' | 'lerf'): Uint8Array {
  const m = order === 'morf' ? map01 : map01.map((v) => 1 - v);
  const t = percentile(m, p);
  const mask = Uint8Array.from(m, (v) => (v >= t ? 1 : 0));
  // A map that ties at its lowest value over more than p% of the pixels (a ReLU'd CAM, Eigen-CAM) puts the
  // threshold on the tie, and ≥ would remove every pixel: then only the pixels strictly above the tie go.
  return mask.every((v) => v === 1) ? Uint8Array.from(m, (v) => (v > t ? 1 : 0)) : mask;
}

/** A seeded standard normal generator (mulberry32 and Box–Muller). */
export function gaussianNoise(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Noisy linear imputation of the removed pixels (`removed[p]` = 1) of a [1, …] tensor, every channel alike. */
export function noisyLinearImpute(x: Float32Tensor, removed: Uint8Array, layout: 'NCHW' | 'NHWC', noise = 0.01, seed = 0): Float32Tensor {
  const { ch, h, w } = planeDims(x, layout);
  const hw = h * w;
  const unknown: number[] = [];
  const vid = new Int32Array(hw).fill(-1);
  for (let p = 0; p < hw; p++) if (removed[p]) vid[p] = unknown.push(p) - 1;
  const n = unknown.length;
  const out = Float32Array.from(x.data);
  if (n === 0) return float32(out, x.dims);
  if (n === hw) throw new LookCloserError('bad-argument', 'ROAD would remove every pixel; no known pixel is left to impute from.');
  // M u = b with M = diag(Σ in-image weights) − W over removed neighbours, b = Σ known neighbours' weight × value.
  // The removed neighbours in compressed rows (typed arrays: the solve is the metric's hot loop).
  const diag = new Float64Array(n);
  const rowStart = new Int32Array(n + 1);
  const cols = new Int32Array(8 * n);
  const vals = new Float64Array(8 * n);
  const b = Array.from({ length: ch }, () => new Float64Array(n));
  let nz = 0;
  for (let i = 0; i < n; i++) {
    const p = unknown[i];
    const r = Math.floor(p / w);
    const c = p % w;
    rowStart[i] = nz;
    for (const [dr, dc, wt] of NEIGHBOURS) {
      const rr = r + dr;
      const cc = c + dc;
      if (rr < 0 || cc < 0 || rr >= h || cc >= w) continue;
      diag[i] += wt;
      const q = rr * w + cc;
      if (removed[q]) { cols[nz] = vid[q]; vals[nz++] = wt; } else for (let k = 0; k < ch; k++) b[k][i] += wt * x.data[at(layout, ch, hw, q, k)];
    }
  }
  rowStart[n] = nz;
  const dot = (a: Float64Array, c: Float64Array) => { let s = 0; for (let i = 0; i < n; i++) s += a[i] * c[i]; return s; };
  const rnd = gaussianNoise(seed);
  const noiseOf = Array.from({ length: ch }, () => Float64Array.from({ length: n }, () => rnd()));
  // Conjugate gradients per channel preconditioned by a multigrid V-cycle (masked-multigrid.ts: without it a hole
  // of most of the image took thousands of iterations, seconds of JavaScript per map), the channels advancing
  // together so that one pass over the sparse rows serves every channel still iterating. The stopping rule is the
  // unpreconditioned one, ‖r‖² ≤ 1e-20‖b‖², so the answer is the same to that tolerance.
  // Holes narrower than 16 pixels (fewer than 5 levels: random or scattered masks) converge in tens of plain
  // iterations, where a V-cycle would cost more than it saves: there z = r, which is plain CG.
  const levels = buildLevels(h, w, removed, NEIGHBOURS);
  const grid = new Float64Array(hw);
  const precondition = levels.length < MULTIGRID_FROM_LEVELS ? (rk: Float64Array, zk: Float64Array) => zk.set(rk) : (rk: Float64Array, zk: Float64Array) => {
    for (let i = 0; i < n; i++) grid[unknown[i]] = rk[i];
    const e = vCycle(levels, 0, grid, NEIGHBOURS);
    for (let i = 0; i < n; i++) zk[i] = e[unknown[i]];
  };
  const u = Array.from({ length: ch }, () => new Float64Array(n));
  const r = b.map((bk) => Float64Array.from(bk));
  const z = r.map((rk) => { const zk = new Float64Array(n); precondition(rk, zk); return zk; });
  const d = z.map((zk) => Float64Array.from(zk));
  const q = Array.from({ length: ch }, () => new Float64Array(n));
  const rr = r.map((rk) => dot(rk, rk));
  const rz = r.map((rk, k) => dot(rk, z[k]));
  const stop = rr.map((v) => 1e-20 * Math.max(v, 1e-300));
  const live: number[] = [];
  for (let k = 0; k < ch; k++) if (rr[k] > stop[k]) live.push(k);
  for (let it = 0; it < 10 * n && live.length; it++) {
    const m = live.length;
    const ds = live.map((k) => d[k]);
    const qs = live.map((k) => q[k]);
    const acc = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      const di = diag[i];
      for (let j = 0; j < m; j++) acc[j] = di * ds[j][i];
      for (let t = rowStart[i]; t < rowStart[i + 1]; t++) {
        const wt = vals[t];
        const cj = cols[t];
        for (let j = 0; j < m; j++) acc[j] -= wt * ds[j][cj];
      }
      for (let j = 0; j < m; j++) qs[j][i] = acc[j];
    }
    for (const k of live) {
      const dk = d[k], qk = q[k], uk = u[k], rk = r[k], zk = z[k];
      const alpha = rz[k] / dot(dk, qk);
      for (let i = 0; i < n; i++) { uk[i] += alpha * dk[i]; rk[i] -= alpha * qk[i]; }
      rr[k] = dot(rk, rk);
      if (!(rr[k] > stop[k])) continue;
      precondition(rk, zk);
      const next = dot(rk, zk);
      const beta = next / rz[k];
      rz[k] = next;
      for (let i = 0; i < n; i++) dk[i] = zk[i] + beta * dk[i];
    }
    for (let j = live.length - 1; j >= 0; j--) if (!(rr[live[j]] > stop[live[j]])) live.splice(j, 1);
  }
  for (let k = 0; k < ch; k++) for (let i = 0; i < n; i++) out[at(layout, ch, hw, unknown[i], k)] = u[k][i] + noise * noiseOf[k][i];
  return float32(out, x.dims);
}

/** ROAD's MoRF and LeRF probabilities at each percentile for class `k` (2 passes per percentile, +1 without `before`). */
export async function road(explainer: Explainer, x: Float32Tensor, map01: Float32Array, k: number, o: RoadOptions = {}): Promise<RoadJson> {
  const layout = explainer.input.layout;
  const percentiles = o.percentiles ?? [25, 50, 75];
  const inputs: Float32Tensor[] = [];
  for (const order of ['morf', 'lerf'] as const) {
    for (const p of percentiles) inputs.push(noisyLinearImpute(x, roadMask(map01, p, order), layout, o.noise ?? 0.01, o.seed ?? 0));
  }
  if (!o.before) inputs.push(x);
  const ps = await classProbs(explainer, inputs, k);
  const before = o.before ? o.before.probs[k] : ps[inputs.length - 1];
  const m = percentiles.length;
  const morf = ps.slice(0, m);
  const lerf = ps.slice(m, 2 * m);
  const mean = (v: number[]) => v.reduce((a, c) => a + c, 0) / v.length;
  const morfChange = mean(morf) - before;
  const lerfChange = mean(lerf) - before;
  return { percentiles, before, morf, lerf, morfChange, lerfChange, combined: (lerfChange - morfChange) / 2 };
}
