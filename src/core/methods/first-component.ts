/**
 * The first-principal-component projection of a [C, h·w] map stack, shared by Eigen-CAM, EigenGrad-CAM and the
 * CAM template's eigen-smooth option (pytorch-grad-cam's get_2d_projection, signed as
 * get_2d_projection_with_sign_correction).
 */

/**
 * Eigenvalues and eigenvectors of a symmetric n×n matrix (row-major, overwritten) by cyclic Jacobi rotations
 * (Golub & Van Loan, Matrix Computations, §8.5): returns the largest eigenvalue and its unit eigenvector.
 */
export function topEigenpair(s: Float64Array, n: number): { value: number; vector: Float64Array } {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += s[i] * s[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += s[p * n + q] * s[p * n + q];
    if (!(off > 1e-26 * total)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = s[p * n + q];
        if (apq === 0) continue;
        const theta = (s[q * n + q] - s[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const skp = s[k * n + p], skq = s[k * n + q];
          s[k * n + p] = c * skp - sn * skq;
          s[k * n + q] = sn * skp + c * skq;
        }
        for (let k = 0; k < n; k++) {
          const spk = s[p * n + k], sqk = s[q * n + k];
          s[p * n + k] = c * spk - sn * sqk;
          s[q * n + k] = sn * spk + c * sqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (s[i * n + i] > s[best * n + best]) best = i;
  return { value: s[best * n + best], vector: Float64Array.from({ length: n }, (_, k) => v[k * n + best]) };
}

/**
 * The first-principal-component projection of one [C, h·w] map stack (channel-major), as get_2d_projection
 * (NaN → 0, channels centred over positions), signed so that |max| ≥ |min|; length h·w.
 */
export function firstComponentProjection(data: ArrayLike<number>, c: number, hw: number): Float32Array {
  // X: hw × c, X[j, k] = data[k·hw + j] − mean_k.
  const x = new Float64Array(hw * c);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let j = 0; j < hw; j++) {
      const v = data[k * hw + j];
      mean += Number.isNaN(v) ? 0 : v;
    }
    mean /= hw;
    for (let j = 0; j < hw; j++) {
      const v = data[k * hw + j];
      x[j * c + k] = (Number.isNaN(v) ? 0 : v) - mean;
    }
  }
  const p = new Float64Array(hw);
  if (hw <= c) {
    // X·v₁ = σ₁·u₁, u₁ the top eigenvector of X·Xᵀ (hw × hw).
    const g = new Float64Array(hw * hw);
    for (let i = 0; i < hw; i++) {
      for (let j = i; j < hw; j++) {
        let s = 0;
        for (let k = 0; k < c; k++) s += x[i * c + k] * x[j * c + k];
        g[i * hw + j] = g[j * hw + i] = s;
      }
    }
    const { value, vector } = topEigenpair(g, hw);
    const sigma = Math.sqrt(Math.max(value, 0));
    for (let j = 0; j < hw; j++) p[j] = sigma * vector[j];
  } else {
    // v₁, the top eigenvector of Xᵀ·X (c × c), then X·v₁.
    const g = new Float64Array(c * c);
    for (let a = 0; a < c; a++) {
      for (let b = a; b < c; b++) {
        let s = 0;
        for (let j = 0; j < hw; j++) s += x[j * c + a] * x[j * c + b];
        g[a * c + b] = g[b * c + a] = s;
      }
    }
    const { vector } = topEigenpair(g, c);
    for (let j = 0; j < hw; j++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += x[j * c + k] * vector[k];
      p[j] = s;
    }
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of p) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const sign = Math.abs(lo) > Math.abs(hi) ? -1 : 1;
  return Float32Array.from(p, (v) => sign * v);
}
