/**
 * RISE — Petsiuk, Das, Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box Models", BMVC 2018,
 * §3 eq. 6: S_c = (1/(E[M]·N)) Σ_{i=1..N} f_c(x ⊙ M_i) · M_i. Each mask: an s×s grid of cells kept with
 * probability p, upsampled bilinearly to (s+1)·⌈H/s⌉ × (s+1)·⌈W/s⌉ and cropped to H×W at a random shift
 * (§3.2, as the authors' code, which multiplies the normalised tensor by the mask). Masks come from a seeded
 * generator (prng.ts): per mask s² uniforms for the cells (kept when u < p, row-major), then the row shift
 * ⌊u·⌈H/s⌉⌋ and the column shift ⌊u·⌈W/s⌉⌋. The masked inputs run through `forwardBatch` (stacked along the
 * batch axis when the model's batch is free, else one by one). f_c is the request's target (the paper: softmax).
 */
import { LookCloserError } from '../errors';
import { type Explainer, topK } from '../explainer';
import { normalizeMinMax } from '../render/overlay';
import { float32, Float32Tensor } from '../tensor';
import type { Explanation, Method } from './method';
import { MethodOption, numberOption, throwIfCancelled } from './options';
import { mulberry32 } from './prng';
import { ALL_TARGETS, targetScores } from './score-target';

/** The settings of RISE. */
export const RISE_OPTIONS: readonly MethodOption[] = [
  { name: 'masks', kind: 'int', default: 1000, min: 1, max: 100000, description: 'Random masks N (one forward pass each).' },
  { name: 'grid', kind: 'int', default: 7, min: 1, max: 64, description: 'Cells s per side of the coarse mask grid.' },
  { name: 'keep', kind: 'number', default: 0.5, min: 0.01, max: 1, description: 'Probability p that a grid cell is kept.' },
  { name: 'seed', kind: 'int', default: 0, min: 0, max: 4294967295, description: 'Seed of the random numbers (noise baseline, SmoothGrad noise, RISE masks).' },
  { name: 'batch-size', kind: 'int', default: 16, min: 1, max: 1024, description: 'Masked images per run when the model takes a dynamic batch.' },
];

/** Generates RISE masks [H·W] one after another from a seeded generator. */
export function riseMasks(height: number, width: number, grid: number, keep: number, seed: number): () => Float32Array {
  const u = mulberry32(seed);
  const ch = Math.ceil(height / grid);
  const cw = Math.ceil(width / grid);
  const uh = (grid + 1) * ch;
  const uw = (grid + 1) * cw;
  // Bilinear taps with half-pixel centres and clamped edges (PyTorch's interpolate, align_corners=False).
  const taps = (out: number) => Array.from({ length: out }, (_, d) => {
    const src = Math.max(0, (grid / out) * (d + 0.5) - 0.5);
    const i0 = Math.floor(src);
    const i1 = i0 < grid - 1 ? i0 + 1 : i0;
    return { i0, i1, l: src - i0 };
  });
  const ty = taps(uh);
  const tx = taps(uw);
  return () => {
    const cells = Float64Array.from({ length: grid * grid }, () => (u() < keep ? 1 : 0));
    const dy = Math.floor(u() * ch);
    const dx = Math.floor(u() * cw);
    const m = new Float32Array(height * width);
    for (let y = 0; y < height; y++) {
      const a = ty[y + dy];
      for (let x = 0; x < width; x++) {
        const b = tx[x + dx];
        const top = cells[a.i0 * grid + b.i0] * (1 - b.l) + cells[a.i0 * grid + b.i1] * b.l;
        const bottom = cells[a.i1 * grid + b.i0] * (1 - b.l) + cells[a.i1 * grid + b.i1] * b.l;
        m[y * width + x] = top * (1 - a.l) + bottom * a.l;
      }
    }
    return m;
  };
}

/** x ⊙ M for a [1,…] input and an [H·W] mask, the mask broadcast over channels. */
function applyMask(explainer: Explainer, x: Float32Tensor, m: Float32Array): Float32Tensor {
  const hw = m.length;
  const c = x.data.length / hw;
  const nchw = explainer.input.layout === 'NCHW';
  return float32(Float32Array.from(x.data, (v, i) => v * m[nchw ? i % hw : Math.floor(i / c)]), x.dims);
}

/** RISE as a registry method: the raw result is the unnormalised saliency [H, W], the display its min-max scaling. */
export const rise: Method = {
  id: 'rise',
  title: 'RISE',
  citation: 'Petsiuk et al., RISE, BMVC 2018, eq. 6',
  family: 'perturbation',
  options: RISE_OPTIONS,
  targets: ALL_TARGETS,
  async run(explainer, request) {
    const o = request.options;
    const n = numberOption(RISE_OPTIONS, o, 'masks', 'RISE') ?? 1000;
    const s = numberOption(RISE_OPTIONS, o, 'grid', 'RISE') ?? 7;
    const p = numberOption(RISE_OPTIONS, o, 'keep', 'RISE') ?? 0.5;
    const seed = numberOption(RISE_OPTIONS, o, 'seed', 'RISE') ?? 0;
    const batch = numberOption(RISE_OPTIONS, o, 'batch-size', 'RISE') ?? 16;
    const forward = request.forward ?? (await explainer.forward(request.input));
    const classes = request.classes ?? topK(forward.probs, request.top ?? 1);
    const k = forward.logits.length;
    for (const c of classes) if (!Number.isInteger(c) || c < 0 || c >= k) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${k} classes (0–${k - 1}).`);
    const { height: H, width: W } = explainer.inputSize;
    const next = riseMasks(H, W, s, p, seed);
    const sal = classes.map(() => new Float64Array(H * W));
    for (let start = 0; start < n; start += batch) {
      throwIfCancelled(request.signal, 'RISE');
      const masks = Array.from({ length: Math.min(batch, n - start) }, next);
      const rows = await explainer.forwardBatch(masks.map((m) => applyMask(explainer, request.input, m)));
      rows.forEach((r, j) => {
        const f = targetScores(r.logits, classes, request.target, r.probs);
        const m = masks[j];
        classes.forEach((_, ci) => {
          for (let i = 0; i < m.length; i++) sal[ci][i] += f[ci] * m[i];
        });
      });
      request.onProgress?.(start + masks.length, n);
    }
    const explanations = classes.map((c, ci): Explanation => {
      const raw = Float32Array.from(sal[ci], (v) => v / (n * p));
      return { method: 'rise', classIndex: c, raw: float32(raw, [H, W]), display: { kind: 'heatmap', map: normalizeMinMax(raw), width: W, height: H } };
    });
    return { explanations, forward };
  },
};
