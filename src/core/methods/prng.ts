/**
 * Seeded randomness for the methods that sample (SmoothGrad noise, RISE masks, IG's noise baseline), so a run
 * with the same seed is the same run everywhere: mulberry32 (Tommy Ettinger's 32-bit generator) for uniforms
 * and Box–Muller for normals. scripts/make_attribution_reference.py implements the same two functions.
 */

/** A generator of uniforms in [0, 1) (multiples of 2⁻³²) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normals from a uniform generator by Box–Muller: each pair (u₁, u₂) gives r·cos 2πu₂ then r·sin 2πu₂, r = √(−2 ln(1 − u₁)). */
export function normals(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}
