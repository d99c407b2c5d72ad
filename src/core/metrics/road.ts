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
import { applyOperator, buildLevels, vCycle } from './masked-multigrid';
import { at, classProbs, planeDims } from './perturb';

/** Neighbour offsets (row, column) and weights of the imputation (the paper's §4.2, as pytorch-grad-cam's road.py). */
const NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1 / 12], [0, 1, 1 / 6], [-1, 1, 1 / 12], [1, -1, 1 / 12], [0, -1, 1 / 6], [-1, -1, 1 / 12], [1, 0, 1 / 6], [-1, 0, 1 / 6],
];

/** ROAD's default percentiles of the map (6 forward passes). */
const DEFAULT_PERCENTILES: readonly number[] = [25, 50, 75];

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
  /** Where the imputations are computed (default: the one a front end set with setRoadImputer, else inline). */
  readonly imputer?: RoadImputer;
  /** The imputed inputs, when already started (roadInputs with the same options): measureAll starts them first. */
  readonly imputed?: Promise<readonly Float32Tensor[]>;
}

/** One input's imputations: the tensor, its layout, the removed-pixel masks (one byte per pixel, 1 = removed), the noise and its seed. */
export interface ImputeJob {
  readonly x: Float32Tensor;
  readonly layout: 'NCHW' | 'NHWC';
  readonly masks: readonly Uint8Array[];
  readonly noise: number;
  readonly seed: number;
}

/**
 * Where ROAD's imputations are computed. They need only the input and the map, no forward pass, so they can run
 * while other metrics' passes do: inline by default; a front end can give one that runs them on another thread
 * (src/node/thread-imputer.ts, webview/impute-client.ts, both over remote-imputer.ts), which must return noisyLinearImpute's values for each mask, in order.
 */
export interface RoadImputer {
  /** The noisy linear imputation of the job's input for each of its masks, in order. */
  impute(job: ImputeJob): Promise<Float32Tensor[]>;
}

/** Resolves on the event loop's next task (a timer), so that whatever is queued before (a pass sent to a worker) goes first. */
function nextTask(): Promise<void> {
  const timer = (globalThis as { setTimeout?: (f: () => void, ms: number) => unknown }).setTimeout;
  return new Promise((resolve) => (timer ? timer(resolve, 0) : resolve()));
}

/**
 * The imputations in this thread, one mask per event-loop task: where onnxruntime runs on another thread (the
 * panel's worker, the extension host's runtime thread) they are computed while this thread waits for its passes.
 */
export const inlineImputer: RoadImputer = {
  async impute(job) {
    const out: Float32Tensor[] = [];
    for (const mask of job.masks) {
      await nextTask();
      out.push(noisyLinearImpute(job.x, mask, job.layout, job.noise, job.seed));
    }
    return out;
  },
};

let defaultImputer: RoadImputer = inlineImputer;

/** Sets where ROAD computes its imputations from now on (undefined: inline again); a front end's choice, e.g. a worker thread. */
export function setRoadImputer(imputer: RoadImputer | undefined): void {
  defaultImputer = imputer ?? inlineImputer;
}

/** Whether ROAD computes its imputations elsewhere (a front end gave it a worker): only then do they start before the other metrics' passes. */
export function roadImputesElsewhere(): boolean {
  return defaultImputer !== inlineImputer;
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
  return percentileSorted(Float64Array.from(values).sort(), p);
}

/** numpy's default percentile of values already sorted ascending. */
function percentileSorted(s: Float64Array, p: number): number {
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** The map ranked for one order (MoRF: the map; LeRF: 1 − map, in float32 as the map) and its sorted values. */
function ranked(map01: Float32Array, order: 'morf' | 'lerf'): { m: Float32Array; sorted: Float64Array } {
  const m = order === 'morf' ? map01 : map01.map((v) => 1 - v);
  return { m, sorted: Float64Array.from(m).sort() };
}

/** Pixels removed at percentile `p`: MoRF removes map ≥ the p-th percentile; LeRF removes 1 − map ≥ the p-th percentile of 1 − map. */
export function roadMask(map01: Float32Array, p: number, order: 'morf' | 'lerf'): Uint8Array {
  return maskAt(ranked(map01, order), p);
}

function maskAt({ m, sorted }: { m: Float32Array; sorted: Float64Array }, p: number): Uint8Array {
  const t = percentileSorted(sorted, p);
  const mask = new Uint8Array(m.length);
  let all = true;
  for (let i = 0; i < m.length; i++) {
    if (m[i] >= t) mask[i] = 1;
    else all = false;
  }
  // A map that ties at its lowest value over more than p% of the pixels (a ReLU'd CAM, Eigen-CAM) puts the
  // threshold on the tie, and ≥ would remove every pixel: then only the pixels strictly above the tie go.
  if (all) for (let i = 0; i < m.length; i++) mask[i] = m[i] > t ? 1 : 0;
  return mask;
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
  let n = 0;
  for (let p = 0; p < hw; p++) if (removed[p]) n++;
  const out = Float32Array.from(x.data);
  if (n === 0) return float32(out, x.dims);
  if (n === hw) throw new LookCloserError('bad-argument', 'ROAD would remove every pixel; no known pixel is left to impute from.');
  // M u = b with M = diag(Σ in-image weights) − W over removed neighbours, b = Σ known neighbours' weight × value.
  // One form of the operator for the CG and its preconditioner (masked-multigrid.ts): the pixel grid padded by one
  // cell, the channels interleaved, every vector zero outside the removed pixels, so that one pass over the
  // removed pixels serves every channel.
  const levels = buildLevels(h, w, removed, NEIGHBOURS, ch);
  const fine = levels[0];
  const { cells, stride } = fine;
  const size = fine.e.length;
  const b = new Float64Array(size);
  for (let t = 0; t < n; t++) {
    const pp = cells[t];
    const r = Math.floor(pp / stride) - 1;
    const c = (pp % stride) - 1;
    for (const [dr, dc, wt] of NEIGHBOURS) {
      const rr = r + dr;
      const cc = c + dc;
      if (rr < 0 || cc < 0 || rr >= h || cc >= w) continue;
      const q = rr * w + cc;
      if (!removed[q]) for (let k = 0; k < ch; k++) b[pp * ch + k] += wt * x.data[at(layout, ch, hw, q, k)];
    }
  }
  const dots = (a: Float64Array, c: Float64Array, into: Float64Array) => {
    if (ch === 3) {
      let s0 = 0, s1 = 0, s2 = 0;
      for (let t = 0; t < n; t++) {
        const i = cells[t] * 3;
        s0 += a[i] * c[i]; s1 += a[i + 1] * c[i + 1]; s2 += a[i + 2] * c[i + 2];
      }
      into[0] = s0; into[1] = s1; into[2] = s2;
      return;
    }
    into.fill(0);
    for (let t = 0; t < n; t++) for (let k = 0, i = cells[t] * ch; k < ch; k++, i++) into[k] += a[i] * c[i];
  };
  // Conjugate gradients per channel preconditioned by a multigrid V-cycle (without it a hole of most of the image
  // took thousands of iterations, seconds of JavaScript per map), the channels advancing together. The stopping
  // rule is the unpreconditioned one, ‖r‖² ≤ 1e-16‖b‖²: the imputed values are stored as float32, and they agree
  // with a solve to 1e-20 within one float32 ulp (6 masks of a ResNet-18 Grad-CAM map); a channel that meets it
  // stops changing. Holes narrower than 16 pixels (fewer than 5 levels: random or scattered masks)
  // converge in tens of plain iterations, where a V-cycle would cost more than it saves: there z = r (plain CG).
  const multigrid = levels.length >= MULTIGRID_FROM_LEVELS;
  const u = new Float64Array(size);
  const r = Float64Array.from(b);
  let z = multigrid ? vCycle(levels, 0, r) : r;
  const d = Float64Array.from(z);
  const q = new Float64Array(size);
  const rr = new Float64Array(ch);
  const rz = new Float64Array(ch);
  const dq = new Float64Array(ch);
  const next = new Float64Array(ch);
  dots(r, r, rr);
  dots(r, z, rz);
  const stop = Array.from(rr, (v) => 1e-16 * Math.max(v, 1e-300));
  const live = Array.from(rr, (v, k) => v > stop[k]);
  // A channel that stopped takes α = 0 and β = 0 from then on: its u and r no longer change (x + 0·y = x), so the
  // loops below need no per-channel test.
  const alpha = new Float64Array(ch);
  const beta = new Float64Array(ch);
  for (let it = 0; it < 10 * n && live.includes(true); it++) {
    applyOperator(fine, d, q, dq);
    for (let k = 0; k < ch; k++) alpha[k] = live[k] ? rz[k] / dq[k] : 0;
    rr.fill(0);
    if (ch === 3) {
      // The loop below for three channels, unrolled (the same operations in the same order).
      const a0 = alpha[0], a1 = alpha[1], a2 = alpha[2];
      let s0 = 0, s1 = 0, s2 = 0;
      for (let t = 0; t < n; t++) {
        const i = cells[t] * 3;
        u[i] += a0 * d[i]; u[i + 1] += a1 * d[i + 1]; u[i + 2] += a2 * d[i + 2];
        const r0 = r[i] - a0 * q[i], r1 = r[i + 1] - a1 * q[i + 1], r2 = r[i + 2] - a2 * q[i + 2];
        r[i] = r0; r[i + 1] = r1; r[i + 2] = r2;
        s0 += r0 * r0; s1 += r1 * r1; s2 += r2 * r2;
      }
      rr[0] = s0; rr[1] = s1; rr[2] = s2;
    } else {
      for (let t = 0; t < n; t++) {
        for (let k = 0, i = cells[t] * ch; k < ch; k++, i++) {
          u[i] += alpha[k] * d[i];
          const ri = r[i] - alpha[k] * q[i];
          r[i] = ri;
          rr[k] += ri * ri;
        }
      }
    }
    for (let k = 0; k < ch; k++) live[k] = live[k] && rr[k] > stop[k];
    if (!live.includes(true)) break;
    if (multigrid) z = vCycle(levels, 0, r);
    dots(r, z, next);
    for (let k = 0; k < ch; k++) {
      beta[k] = live[k] ? next[k] / rz[k] : 0;
      if (live[k]) rz[k] = next[k];
    }
    if (ch === 3) {
      const b0 = beta[0], b1 = beta[1], b2 = beta[2];
      for (let t = 0; t < n; t++) {
        const i = cells[t] * 3;
        d[i] = z[i] + b0 * d[i]; d[i + 1] = z[i + 1] + b1 * d[i + 1]; d[i + 2] = z[i + 2] + b2 * d[i + 2];
      }
    } else {
      for (let t = 0; t < n; t++) {
        for (let k = 0, i = cells[t] * ch; k < ch; k++, i++) d[i] = z[i] + beta[k] * d[i];
      }
    }
  }
  const rnd = gaussianNoise(seed);
  for (let k = 0; k < ch; k++) {
    for (let t = 0; t < n; t++) {
      const pp = cells[t];
      const p = (Math.floor(pp / stride) - 1) * w + (pp % stride) - 1;
      out[at(layout, ch, hw, p, k)] = u[pp * ch + k] + noise * rnd();
    }
  }
  return float32(out, x.dims);
}

/** ROAD's removed-pixel masks of a map: MoRF at each percentile, then LeRF at each. */
export function roadMasks(map01: Float32Array, percentiles: readonly number[]): Uint8Array[] {
  const masks: Uint8Array[] = [];
  for (const order of ['morf', 'lerf'] as const) {
    const r = ranked(map01, order);
    for (const p of percentiles) masks.push(maskAt(r, p));
  }
  return masks;
}

/** Starts ROAD's imputed inputs of a map (MoRF at each percentile, then LeRF) on the options' imputer. */
export function roadInputs(x: Float32Tensor, map01: Float32Array, layout: 'NCHW' | 'NHWC', o: RoadOptions = {}): Promise<Float32Tensor[]> {
  const masks = roadMasks(map01, o.percentiles ?? DEFAULT_PERCENTILES);
  return (o.imputer ?? defaultImputer).impute({ x, layout, masks, noise: o.noise ?? 0.01, seed: o.seed ?? 0 });
}

/** ROAD's MoRF and LeRF probabilities at each percentile for class `k` (2 passes per percentile, +1 without `before`). */
export async function road(explainer: Explainer, x: Float32Tensor, map01: Float32Array, k: number, o: RoadOptions = {}): Promise<RoadJson> {
  const percentiles = o.percentiles ?? DEFAULT_PERCENTILES;
  const inputs = [...(await (o.imputed ?? roadInputs(x, map01, explainer.input.layout, o)))];
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
