/**
 * Sanity checks for explanation methods (Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018):
 *
 * - Cascading model-parameter randomisation (§3.1): the learnable layers are randomised from the top down
 *   (randomize.ts) and the method re-run at each step on the same input and class. A map that stays alike
 *   (Spearman rank correlation of |map| high after every layer is random) does not depend on what the model
 *   learned — Adebayo et al. find guided backprop and Guided Grad-CAM behave so, like an edge detector.
 * - A randomised-label control (§3.2 retrains on permuted labels, which an explainer cannot do). Here: the
 *   method explains a seeded random other class of the unchanged model. Permuting the rows of the last layer
 *   (the labels, as the model sees them) gives exactly this map, since class c of the permuted model is class
 *   π(c) of the original; so no second model is built. A map that barely changes with the class does not
 *   explain the class.
 *
 * Maps are compared as Adebayo et al. do: Spearman of the absolute map and of the signed map (channels summed
 * for input-space gradients: Σ|g_c| and Σg_c), and SSIM of the shown heat maps (max_c |g| for gradients,
 * min-max normalised to 0..1, at input resolution).
 */
import { LookCloserError } from '../errors';
import { Explainer } from '../explainer';
import type { InputSource } from '../attention/crop';
import { heatmapAt } from '../attention/heatmap';
import { explanationHeatmap } from '../methods/explanation-heatmap';
import type { Explanation, Method, ScoreTarget } from '../methods/method';
import type { CancelSignal, OptionValues } from '../methods/options';
import { throwIfCancelled } from '../methods/options';
import { mulberry32 } from '../methods/prng';
import type { Runtime } from '../runtime';
import type { Float32Tensor } from '../tensor';
import { WeightLayer, cascadeSteps, randomizedModelBytes, weightLayersTopDown } from './randomize';
import { spearman, ssim } from './similarity';

/** Above this Spearman correlation of |map| with every layer randomised, a method is flagged as insensitive to the model. */
export const DEFAULT_SANITY_THRESHOLD = 0.5;

/**
 * Above this Spearman correlation the two notes (top half random, another class) are raised. Stricter than the flag:
 * at 0.5 every method measured on SqueezeNet's bald-eagle photo exceeded both (Grad-CAM 0.53 with half the layers
 * random, 0.66 for another class), so the notes said nothing; at 0.8 they single out guided backprop and Eigen-CAM.
 */
export const DEFAULT_SANITY_NOTE_THRESHOLD = 0.8;

/** Cascade steps when not given: the top-down layers in up to 8 groups (each step builds and loads one randomised model). */
export const DEFAULT_SANITY_STEPS = 8;

/** What to check. */
export interface SanitySettings {
  readonly methods: readonly Method[];
  /** The explained class (the same at every step). */
  readonly classIndex: number;
  /** Target layer of CAM-family methods (the same tensor in every randomised model). */
  readonly layer?: string;
  readonly target?: ScoreTarget;
  /** Method options per method. */
  readonly options?: (m: Method) => OptionValues | undefined;
  /** Cascade steps (default 8, at most one per layer); layers are grouped from the top when fewer than the layers. */
  readonly steps?: number;
  /** Seed of the random weights and of the control's class (default 0). */
  readonly seed?: number;
  /** Run the randomised-label control (default true when the model has two classes or more). */
  readonly labelControl?: boolean;
  /** Flag threshold on the last step's Spearman of |map| (default 0.5). */
  readonly threshold?: number;
  /** Threshold of the two notes (default 0.8). */
  readonly noteThreshold?: number;
  /** The image the input came from (methods that need the preprocessing or the original read it: attention crops, IG's black baseline). */
  readonly source?: InputSource;
  readonly signal?: CancelSignal;
  /** Called after each method run: runs done, runs in all, what just ran. */
  readonly onProgress?: (done: number, total: number, what: string) => void;
}

/** Similarity of one map to the original; null where a map holds non-finite values. */
export interface Similarity {
  readonly spearmanAbs: number | null;
  readonly spearmanSigned: number | null;
  readonly ssim: number | null;
}

/** One method's results: per-step arrays aligned with {@link SanityReport.steps}. */
export interface MethodSanity {
  readonly method: string;
  readonly title: string;
  readonly layer: string | null;
  readonly cascade: { readonly spearmanAbs: (number | null)[]; readonly spearmanSigned: (number | null)[]; readonly ssim: (number | null)[] };
  /** The randomised-label control, when run. */
  readonly labelControl?: Similarity & { readonly class: number };
  /** True when the map barely changes with every layer randomised (last step's Spearman of |map| above the threshold). */
  readonly flagged: boolean;
  /** A note, not the flag: the map barely changes with the top half of the layers randomised (the first step with half of them random; above the note threshold). */
  readonly flaggedTopHalf: boolean;
  /** A note, not the flag: another class's map barely differs (the label control's Spearman of |map| above the note threshold). */
  readonly flaggedClass: boolean;
  /** One sentence: what the numbers say. */
  readonly verdict: string;
}

/** The whole check. */
export interface SanityReport {
  readonly class: number;
  readonly seed: number;
  readonly threshold: number;
  readonly noteThreshold: number;
  /** The learnable layers, top down. */
  readonly layers: readonly string[];
  /** Each cascade step: how many layers (from the top) are random, and the deepest of them. */
  readonly steps: readonly { readonly randomised: number; readonly deepest: string }[];
  readonly methods: readonly MethodSanity[];
}

/** A map reduced for comparison: signed and absolute values at the map's resolution, and the shown heat map at input resolution. */
export interface ComparableMap {
  readonly signed: Float32Array;
  readonly abs: Float32Array;
  readonly shown: Float32Array;
  readonly finite: boolean;
}

/** Reduces an explanation for comparison (channels of input-space gradients summed: Σg_c and Σ|g_c|). */
export function comparableMap(e: Explanation, width: number, height: number): ComparableMap {
  let signed: Float32Array;
  let abs: Float32Array;
  const g = e.display.kind === 'gradient' ? e.display.grad : e.raw.dims.filter((d) => d > 1).length > 2 ? e.raw : undefined;
  if (g) {
    const c = g.dims[g.dims.length - 3];
    const n = g.data.length / c;
    signed = new Float32Array(n);
    abs = new Float32Array(n);
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < n; i++) {
        const v = g.data[k * n + i];
        signed[i] += v;
        abs[i] += Math.abs(v);
      }
    }
  } else {
    signed = e.raw.data;
    abs = signed.map(Math.abs);
  }
  const finite = signed.every(Number.isFinite) && abs.every(Number.isFinite);
  const shown = finite ? heatmapAt(explanationHeatmap(e), width, height) : new Float32Array(width * height);
  return { signed, abs, shown, finite };
}

/** Spearman (|map| and signed) and SSIM of a map against the original. */
export function similarity(original: ComparableMap, other: ComparableMap, width: number, height: number): Similarity {
  if (!original.finite || !other.finite || original.signed.length !== other.signed.length) return { spearmanAbs: null, spearmanSigned: null, ssim: null };
  return {
    spearmanAbs: spearman(original.abs, other.abs),
    spearmanSigned: spearman(original.signed, other.signed),
    ssim: ssim(original.shown, other.shown, width, height),
  };
}

/** A seeded class other than `not`, from `count` classes. */
export function controlClass(count: number, not: number, seed: number): number {
  const u = mulberry32(seed ^ 0x5bd1e995)();
  const k = Math.floor(u * (count - 1));
  return k >= not ? k + 1 : k;
}

/** Runs a method for one class and reduces its map. */
async function mapOf(ex: Explainer, m: Method, input: Float32Tensor, classIndex: number, s: SanitySettings, layer: string | undefined): Promise<{ map: ComparableMap; layer?: string }> {
  const r = await m.run(ex, { input, classes: [classIndex], layer, target: s.target ?? 'logit', options: s.options?.(m), source: s.source, signal: s.signal });
  const e = r.explanations.find((x) => x.classIndex === classIndex) ?? r.explanations[0];
  if (!e) throw new LookCloserError('runtime', `${m.title} returned no explanation for class ${classIndex}.`);
  return { map: comparableMap(e, ex.inputSize.width, ex.inputSize.height), layer: e.layer };
}

const above = (v: number | null | undefined, t: number) => typeof v === 'number' && v > t;
const fmt = (v: number | null | undefined) => (typeof v === 'number' ? v.toFixed(2) : 'not measurable');

function verdict(last: number | null, half: number | null, t: number, note: number, control?: Similarity): string {
  const parts = [above(last, t)
    ? `Barely changes with every layer randomised (Spearman of |map| ${fmt(last)} > ${t}): it does not depend on what the model learned.`
    : above(half, note)
      ? `Barely changes with the top half of the layers randomised (Spearman of |map| ${fmt(half)} > ${note}); changes only once the lower layers are random (${fmt(last)}).`
      : `Changes when the model is randomised (Spearman of |map| ${fmt(half)} with the top half random, ${fmt(last)} with every layer).`];
  if (control) parts.push(above(control.spearmanAbs, note) ? `Barely changes with the class (Spearman ${fmt(control.spearmanAbs)} > ${note} for another class).` : `Another class's map: Spearman ${fmt(control.spearmanAbs)}.`);
  return parts.join(' ');
}

/**
 * Runs the checks on one input: each method on the original model, on each step of the cascade, and for the
 * control class. Each randomised model is one new explainer (sessions and backward graphs built again).
 */
export async function sanityCheck(runtime: Runtime, base: Explainer, input: Float32Tensor, s: SanitySettings): Promise<SanityReport> {
  const seed = s.seed ?? 0;
  const threshold = s.threshold ?? DEFAULT_SANITY_THRESHOLD;
  const note = s.noteThreshold ?? DEFAULT_SANITY_NOTE_THRESHOLD;
  const layers: WeightLayer[] = weightLayersTopDown(base.graph.model);
  const steps = cascadeSteps(layers, s.steps ?? DEFAULT_SANITY_STEPS);
  const classes = await base.numClasses();
  const control = (s.labelControl ?? true) && classes >= 2 ? controlClass(classes, s.classIndex, seed) : undefined;
  const { width, height } = base.inputSize;
  const total = s.methods.length * (1 + steps.length + (control !== undefined ? 1 : 0));
  let done = 0;
  const tick = (what: string) => s.onProgress?.(++done, total, what);
  const defaultLayer = s.methods.some((m) => m.family === 'cam') && s.layer === undefined ? await base.defaultLayer() : s.layer;
  const originals: { map: ComparableMap; layer?: string }[] = [];
  const controls: (Similarity | undefined)[] = [];
  for (const m of s.methods) {
    throwIfCancelled(s.signal, 'The sanity check');
    const layer = m.family === 'cam' ? defaultLayer : undefined;
    const o = await mapOf(base, m, input, s.classIndex, s, layer);
    if (!o.map.finite) throw new LookCloserError('runtime', `${m.title}'s map for class ${s.classIndex} holds non-finite values on the original model; nothing to compare.`);
    originals.push(o);
    tick(`${m.id}: original model`);
    if (control !== undefined) {
      throwIfCancelled(s.signal, 'The sanity check');
      controls.push(similarity(o.map, (await mapOf(base, m, input, control, s, layer)).map, width, height));
      tick(`${m.id}: class ${control} (label control)`);
    } else controls.push(undefined);
  }
  const cascade = s.methods.map(() => ({ spearmanAbs: [] as (number | null)[], spearmanSigned: [] as (number | null)[], ssim: [] as (number | null)[] }));
  for (const [k, step] of steps.entries()) {
    throwIfCancelled(s.signal, 'The sanity check');
    const bytes = randomizedModelBytes(base.graph.model, step, seed);
    const ex = await Explainer.load(runtime, bytes, `${base.name} (top ${step.length} layers randomised)`);
    ex.inputSize = base.inputSize;
    try {
      for (const [i, m] of s.methods.entries()) {
        throwIfCancelled(s.signal, 'The sanity check');
        const r = await mapOf(ex, m, input, s.classIndex, s, originals[i].layer);
        const sim = similarity(originals[i].map, r.map, width, height);
        cascade[i].spearmanAbs.push(sim.spearmanAbs);
        cascade[i].spearmanSigned.push(sim.spearmanSigned);
        cascade[i].ssim.push(sim.ssim);
        tick(`${m.id}: step ${k + 1}/${steps.length} (${step.length} of ${layers.length} layers random)`);
      }
    } finally {
      await ex.dispose();
    }
  }
  const halfStep = steps.findIndex((st) => 2 * st.length >= layers.length);
  const methods: MethodSanity[] = s.methods.map((m, i) => {
    const last = cascade[i].spearmanAbs[cascade[i].spearmanAbs.length - 1] ?? null;
    const half = cascade[i].spearmanAbs[halfStep] ?? null;
    const c = controls[i];
    return {
      method: m.id, title: m.title, layer: originals[i].layer ?? null, cascade: cascade[i],
      ...(c && control !== undefined ? { labelControl: { class: control, ...c } } : {}),
      flagged: above(last, threshold), flaggedTopHalf: above(half, note), flaggedClass: above(c?.spearmanAbs, note),
      verdict: verdict(last, half, threshold, note, c),
    };
  });
  return {
    class: s.classIndex, seed, threshold, noteThreshold: note, layers: layers.map((l) => l.name),
    steps: steps.map((st) => ({ randomised: st.length, deepest: st[st.length - 1].name })), methods,
  };
}
