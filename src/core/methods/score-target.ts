/**
 * What a method explains, as a value: the logit of class c, its softmax probability, its sigmoid (multi-label
 * models), or the contrast of two logits ("why c and not B", z_c − z_B). The backward graph seeds only the
 * logit or the softmax; the other two are formed from logit gradients here, which is exact where the gradient
 * is linear in the seed: d σ(z_c) = σ'(z_c)·d z_c is a positive scale per class (exact in every rectifier mode,
 * guided and deconvnet included, since their masks read only the sign); d(z_c − z_B) = d z_c − d z_B holds
 * for the plain gradient only (guided backprop and deconvnet rectify the gradient, so they refuse it).
 */
import { LookCloserError } from '../errors';
import { Explainer, GradientRequest, GradientResult, softmax, topK } from '../explainer';
import type { BackwardSpec } from '../grad/backward-graph';
import { isLrp, type RectifierMode } from '../grad/rule';
import type { Float32Tensor } from '../tensor';
import { float32 } from '../tensor';
import type { ScoreTarget, TargetKind } from './method';

/** The targets every method honours when it declares none. */
export const DEFAULT_TARGETS: readonly TargetKind[] = ['logit', 'softmax'];

/** Every target kind (plain-gradient and forward-only methods). */
export const ALL_TARGETS: readonly TargetKind[] = ['logit', 'softmax', 'sigmoid', 'contrast'];

/** The kind of a target. */
export function targetKind(t: ScoreTarget): TargetKind {
  return t.startsWith('contrast:') ? 'contrast' : (t as TargetKind);
}

/** The class a contrast target subtracts, or undefined for the other targets. */
export function contrastClass(t: ScoreTarget): number | undefined {
  return t.startsWith('contrast:') ? Number(t.slice('contrast:'.length)) : undefined;
}

/** Parses `logit`, `softmax`, `sigmoid` or `contrast:B` (B a class index), as the CLI and the panel pass it. */
export function parseScoreTarget(text: string, numClasses?: number): ScoreTarget {
  if (text === 'logit' || text === 'softmax' || text === 'sigmoid') return text;
  const m = /^contrast:(\d+)$/.exec(text);
  if (m) {
    const b = Number(m[1]);
    if (numClasses !== undefined && b >= numClasses) throw new LookCloserError('bad-argument', `Target '${text}': class ${b} is out of range: the model has ${numClasses} classes (0–${numClasses - 1}).`);
    return `contrast:${b}`;
  }
  throw new LookCloserError('bad-argument', `Target must be logit, softmax, sigmoid or contrast:B (B a class index, e.g. contrast:281), got '${text}'.`);
}

/** Throws 'method-not-applicable' when a method cannot honour a target (its declared `targets`, logit and softmax by default). */
export function checkTarget(method: { readonly title: string; readonly targets?: readonly TargetKind[] }, target: ScoreTarget, why?: string): void {
  const allowed = method.targets ?? DEFAULT_TARGETS;
  if (allowed.includes(targetKind(target))) return;
  throw new LookCloserError('method-not-applicable',
    `${method.title} cannot explain target '${target}'${why ? `: ${why}` : ''}; it explains ${allowed.join(', ')}.`);
}

/** The explained score of each class from the logits of one run (softmax: `probs` when the run has them, as the model's own output). */
export function targetScores(logits: Float32Array, classes: readonly number[], target: ScoreTarget, probs?: Float32Array): Float32Array {
  const kind = targetKind(target);
  if (kind === 'softmax') {
    const p = probs ?? softmax(logits);
    return Float32Array.from(classes, (c) => p[c]);
  }
  if (kind === 'sigmoid') return Float32Array.from(classes, (c) => 1 / (1 + Math.exp(-logits[c])));
  if (kind === 'contrast') {
    const b = contrastClass(target)!;
    return Float32Array.from(classes, (c) => logits[c] - logits[b]);
  }
  return Float32Array.from(classes, (c) => logits[c]);
}

/** A gradient request without its score: the target supplies it. */
export type TargetGradientRequest = Omit<BackwardSpec, 'seed' | 'score'> & ({ readonly classes: readonly number[] } | { readonly top: number });

/**
 * `explainer.gradients` for any target: logit and softmax go to the backward graph as they are; sigmoid scales
 * each class's logit gradient by σ'(z_c); contrast:B subtracts class B's logit gradient (plain mode only).
 */
export async function targetGradients(
  explainer: Explainer, x: Float32Tensor, req: TargetGradientRequest, target: ScoreTarget,
): Promise<GradientResult> {
  const kind = targetKind(target);
  if (kind === 'logit' || kind === 'softmax') return explainer.gradients(x, withScore(req, kind));
  if (kind === 'sigmoid') {
    const r = await explainer.gradients(x, withScore(req, 'logit'));
    const scale = r.classes.map((c) => {
      const s = 1 / (1 + Math.exp(-r.forward.logits[c]));
      return s * (1 - s);
    });
    return { ...r, grads: mapRows(r.grads, r.classes.length, (row, k) => row.map((v) => v * scale[k])) };
  }
  // LRP is linear in its seed (every rule scales the relevance it receives), so a contrast's relevance is a difference too.
  if (req.mode !== 'plain' && !isLrp(req.mode)) {
    throw new LookCloserError('method-not-applicable',
      `${req.method} cannot explain target '${target}': its ${modeName(req.mode)} rule depends on the gradient's sign, so the gradient of z_c − z_B is not the difference of the two gradients.`);
  }
  const b = contrastClass(target)!;
  const n = await explainer.numClasses();
  if (!Number.isInteger(b) || b < 0 || b >= n) throw new LookCloserError('bad-argument', `Target '${target}': class ${b} is out of range: the model has ${n} classes (0–${n - 1}).`);
  const classes = 'classes' in req ? [...req.classes] : topK((await explainer.forward(x)).probs, req.top);
  const r = await explainer.gradients(x, { targets: req.targets, mode: req.mode, method: req.method, from: req.from, score: 'logit', classes: [...classes, b] });
  const k = classes.length;
  const grads = Object.fromEntries(Object.entries(r.grads).map(([t, g]) => {
    const n1 = g.data.length / (k + 1);
    const against = g.data.subarray(k * n1);
    const data = new Float32Array(k * n1);
    for (let i = 0; i < k; i++) for (let j = 0; j < n1; j++) data[i * n1 + j] = g.data[i * n1 + j] - against[j];
    return [t, float32(data, [k, ...g.dims.slice(1)])];
  }));
  return { classes: r.classes.slice(0, k), grads, forward: r.forward };
}

function withScore(req: TargetGradientRequest, score: 'logit' | 'softmax'): GradientRequest {
  const { targets, ...rest } = req;
  return { targets, score, ...rest };
}

function modeName(mode: RectifierMode): string {
  return mode === 'guided' ? 'guided-backprop' : mode === 'deconvnet' ? 'deconvnet' : String(mode);
}

function mapRows(grads: GradientResult['grads'], k: number, f: (row: Float32Array, i: number) => Float32Array): GradientResult['grads'] {
  return Object.fromEntries(Object.entries(grads).map(([t, g]) => {
    const n = g.data.length / k;
    const data = new Float32Array(g.data.length);
    for (let i = 0; i < k; i++) data.set(f(g.data.subarray(i * n, (i + 1) * n), i), i * n);
    return [t, float32(data, g.dims)];
  }));
}
