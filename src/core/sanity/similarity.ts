/**
 * How alike two maps are, as the sanity checks of Adebayo et al. (Sanity Checks for Saliency Maps, NeurIPS
 * 2018, §3) measure it: Spearman's rank correlation and the structural similarity index (SSIM) of Wang et
 * al. (Image Quality Assessment: From Error Visibility to Structural Similarity, IEEE TIP 2004, eq. 13 with
 * the 11×11 circular-symmetric Gaussian window, σ 1.5, K₁ 0.01, K₂ 0.03, §III-C). scripts/make_sanity_reference.py
 * computes the same SSIM in numpy; test/unit/sanity-similarity.test.ts compares them.
 */
import { LookCloserError } from '../errors';

/** Ranks of the values, 1-based, ties given the mean of the ranks they span. */
export function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = mean;
    i = j + 1;
  }
  return r;
}

/** Pearson's correlation; 0 when either vector is constant (no ordering to share). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new LookCloserError('bad-argument', `Cannot correlate maps of ${a.length} and ${b.length} values.`);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb))) : 0;
}

/** Spearman's rank correlation: Pearson's on the ranks (ties averaged); 0 when either map is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new LookCloserError('bad-argument', `Cannot rank-correlate maps of ${a.length} and ${b.length} values.`);
  return pearson(ranks(a), ranks(b));
}

/** The normalised 1-D Gaussian of Wang et al.'s window: `size` taps (odd), standard deviation `sigma`. */
export function gaussianTaps(size: number, sigma: number): Float64Array {
  const h = (size - 1) / 2;
  const g = new Float64Array(size);
  let s = 0;
  for (let i = 0; i < size; i++) s += g[i] = Math.exp(-((i - h) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) g[i] /= s;
  return g;
}

/** Options of {@link ssim}. */
export interface SsimOptions {
  /** Window side (odd; default 11, shrunk to the largest odd side that fits a smaller map). */
  readonly window?: number;
  /** The window's Gaussian σ (default 1.5). */
  readonly sigma?: number;
  /** Dynamic range L of the values (default 1: maps normalised to 0..1). */
  readonly range?: number;
}

/** Filters with the separable window, keeping only positions where it fits entirely ('valid', as Wang et al.'s filter2). */
function filterValid(x: Float64Array, w: number, h: number, g: Float64Array): { out: Float64Array; w: number; h: number } {
  const k = g.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  const rowsPass = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x0 = 0; x0 < ow; x0++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += g[i] * x[y * w + x0 + i];
      rowsPass[y * ow + x0] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y0 = 0; y0 < oh; y0++) {
    for (let x0 = 0; x0 < ow; x0++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += g[i] * rowsPass[(y0 + i) * ow + x0];
      out[y0 * ow + x0] = s;
    }
  }
  return { out, w: ow, h: oh };
}

/**
 * Mean SSIM of two `width × height` maps (Wang et al. 2004, eq. 13 averaged over the window positions, eq. 17):
 * local means, variances and covariance under the Gaussian window; C₁ = (0.01 L)², C₂ = (0.03 L)².
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, o: SsimOptions = {}): number {
  const n = width * height;
  if (a.length !== n || b.length !== n) throw new LookCloserError('bad-argument', `SSIM needs two ${width}×${height} maps, got ${a.length} and ${b.length} values.`);
  let side = Math.min(o.window ?? 11, width, height);
  if (side % 2 === 0) side--;
  if (side < 1) throw new LookCloserError('bad-argument', `SSIM needs a map of at least 1×1, got ${width}×${height}.`);
  const g = gaussianTaps(side, o.sigma ?? 1.5);
  const L = o.range ?? 1;
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  const fa = Float64Array.from(a);
  const fb = Float64Array.from(b);
  const prod = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]);
  const mu1 = filterValid(fa, width, height, g).out;
  const mu2 = filterValid(fb, width, height, g).out;
  const s11 = filterValid(prod(fa, fa), width, height, g).out;
  const s22 = filterValid(prod(fb, fb), width, height, g).out;
  const s12 = filterValid(prod(fa, fb), width, height, g).out;
  let sum = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i];
    const m2 = mu2[i];
    const v1 = s11[i] - m1 * m1;
    const v2 = s22[i] - m2 * m2;
    const cov = s12[i] - m1 * m2;
    sum += ((2 * m1 * m2 + c1) * (2 * cov + c2)) / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2));
  }
  return sum / mu1.length;
}
