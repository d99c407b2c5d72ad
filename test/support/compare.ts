/** Comparisons against reference arrays: cosine similarity and max abs error relative to the reference's scale. */
import { strict as assert } from 'node:assert';

/** Cosine similarity of two vectors (1 for two zero vectors). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i] * b[i], aa + a[i] * a[i], bb + b[i] * b[i]];
  if (aa === 0 && bb === 0) return 1;
  return ab / Math.sqrt(aa * bb);
}

/** Asserts cosine ≥ minCos and max |a − ref| ≤ relTol · max |ref|. */
export function assertMatches(actual: ArrayLike<number>, ref: ArrayLike<number>, what: string, minCos = 0.9999, relTol = 1e-3): void {
  assert.equal(actual.length, ref.length, `${what}: ${actual.length} values vs ${ref.length} in the reference`);
  let scale = 0, err = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    err = Math.max(err, Math.abs(actual[i] - ref[i]));
  }
  const cos = cosine(actual, ref);
  assert.ok(cos >= minCos, `${what}: cosine ${cos.toFixed(7)} < ${minCos}`);
  assert.ok(err <= relTol * scale, `${what}: max |Δ| ${err.toExponential(3)} > ${relTol} × max|ref| ${scale.toExponential(3)}`);
}
