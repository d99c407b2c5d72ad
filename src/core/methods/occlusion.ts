/**
 * Occlusion sensitivity — Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014,
 * §4.2 and fig. 7: a grey square slides over the image and the classifier's score for the class is recorded
 * for every position; the map is the drop of the score, s(x) − s(x with the square at p). Grey is the preset's
 * mean pixel, which is 0 after normalisation. The occluded images run in batches when the model's batch axis
 * is dynamic, else one by one.
 */
import { LookCloserError } from '../errors';
import { Explainer, topK } from '../explainer';
import { normalizeMinMax } from '../render/overlay';
import { asFloat32, float32, Float32Tensor } from '../tensor';
import type { Explanation, Method, ScoreTarget } from './method';
import { CancelSignal, MethodOption, ProgressCallback, numberOption, throwIfCancelled } from './options';
import { ALL_TARGETS, targetScores } from './score-target';

/** How to occlude. */
export interface OcclusionOptions {
  /** Classes whose score drops are mapped (all come from the same runs). */
  readonly classes: readonly number[];
  /** Side of the square in input pixels (default: `defaultPatch`). */
  readonly patch?: number;
  /** Step between positions in input pixels (default: half the patch). */
  readonly stride?: number;
  /** 'softmax' (the probability, as in the paper's fig. 7) or 'logit' (default 'softmax'). */
  readonly target?: ScoreTarget;
  /** Value written into the occluded pixels of the normalised tensor (default 0: the preset's mean, grey). */
  readonly fill?: number;
  /** Occluded images per run when the batch axis is dynamic (default 16); 1 runs them one by one. */
  readonly batchSize?: number;
  readonly onProgress?: ProgressCallback;
  readonly signal?: CancelSignal;
}

/** The occlusion maps of some classes. */
export interface OcclusionResult {
  readonly classes: readonly number[];
  readonly patch: number;
  readonly stride: number;
  /** Top-left corners of the square: rows `ys`, columns `xs` (the grid is ys.length × xs.length). */
  readonly ys: readonly number[];
  readonly xs: readonly number[];
  /** Score of each class on the unoccluded input. */
  readonly baseline: Float32Array;
  /** Per class: the drop s − s_occluded at each grid position, row-major [ys.length × xs.length]. */
  readonly grid: readonly Float32Array[];
  /** Per class: at each input pixel, the mean drop over the positions whose square covers it [H × W]. */
  readonly pixels: readonly Float32Array[];
  /** Whether the occluded images ran in batches. */
  readonly batched: boolean;
  /** Number of model runs. */
  readonly runs: number;
}

/** A patch side that suits the input: about a seventh of the shorter side (32 px for 224, 4 px for 28). */
export function defaultPatch(height: number, width: number): number {
  return Math.max(1, Math.round(Math.min(height, width) / 7));
}

/** Top-left positions along an axis of `size`: 0, stride, …, and the last one that still fits, so every pixel is covered. */
function positions(size: number, patch: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + patch <= size; p += stride) out.push(p);
  if (out[out.length - 1] !== size - patch) out.push(size - patch);
  return out;
}

/** True when the model's image input has a symbolic batch axis. */
export function dynamicBatch(explainer: Explainer): boolean {
  return typeof explainer.input.declared[0] !== 'number';
}

/** Runs the model on a batch of inputs [B, …] and returns each row's scores for the classes. */
async function scoreBatch(explainer: Explainer, x: Float32Tensor, classes: readonly number[], target: ScoreTarget): Promise<Float32Array[]> {
  const s = await explainer.session([]);
  const out = await s.run(explainer.feed(x), [explainer.scores.logits]);
  const logits = asFloat32(out[explainer.scores.logits]).data;
  const b = x.dims[0];
  const k = logits.length / b;
  const rows: Float32Array[] = [];
  for (let i = 0; i < b; i++) {
    const z = logits.subarray(i * k, (i + 1) * k);
    rows.push(targetScores(z, classes, target));
  }
  return rows;
}

/** Occlusion sensitivity of the classes: one run per square position (batched when the model allows). */
export async function occlusionSensitivity(explainer: Explainer, input: Float32Tensor, opts: OcclusionOptions): Promise<OcclusionResult> {
  const { height: H, width: W } = explainer.inputSize;
  const patch = opts.patch ?? defaultPatch(H, W);
  const stride = opts.stride ?? Math.max(1, Math.round(patch / 2));
  if (!Number.isInteger(patch) || patch < 1 || patch > Math.min(H, W)) {
    throw new LookCloserError('bad-argument', `Occlusion patch must be a whole number of pixels from 1 to ${Math.min(H, W)} (the input is ${W}×${H}), got ${patch}.`);
  }
  if (!Number.isInteger(stride) || stride < 1) throw new LookCloserError('bad-argument', `Occlusion stride must be a whole number of pixels ≥ 1, got ${stride}.`);
  const target = opts.target ?? 'softmax';
  const fill = opts.fill ?? 0;
  const classes = opts.classes;
  const batched = dynamicBatch(explainer) && (opts.batchSize ?? 16) > 1;
  const batchSize = batched ? (opts.batchSize ?? 16) : 1;
  const ys = positions(H, patch, stride);
  const xs = positions(W, patch, stride);
  const total = ys.length * xs.length;
  const nhwc = explainer.input.layout === 'NHWC';
  const C = explainer.input.channels;
  const per = input.data.length;
  throwIfCancelled(opts.signal, 'Occlusion');
  const baseline = (await scoreBatch(explainer, input, classes, target))[0];
  const grid = classes.map(() => new Float32Array(total));
  let runs = 1;
  for (let start = 0; start < total; start += batchSize) {
    throwIfCancelled(opts.signal, 'Occlusion');
    const b = Math.min(batchSize, total - start);
    const data = new Float32Array(per * b);
    for (let j = 0; j < b; j++) {
      const pos = start + j;
      const y0 = ys[Math.floor(pos / xs.length)];
      const x0 = xs[pos % xs.length];
      const img = data.subarray(j * per, (j + 1) * per);
      img.set(input.data);
      for (let y = y0; y < y0 + patch; y++) {
        for (let x = x0; x < x0 + patch; x++) {
          for (let c = 0; c < C; c++) img[nhwc ? (y * W + x) * C + c : (c * H + y) * W + x] = fill;
        }
      }
    }
    const rows = await scoreBatch(explainer, float32(data, [b, ...input.dims.slice(1)]), classes, target);
    runs++;
    rows.forEach((r, j) => classes.forEach((_, i) => (grid[i][start + j] = baseline[i] - r[i])));
    opts.onProgress?.(start + b, total);
  }
  const pixels = grid.map((g) => {
    const sum = new Float32Array(H * W);
    const count = new Float32Array(H * W);
    for (let r = 0; r < ys.length; r++) {
      for (let q = 0; q < xs.length; q++) {
        const v = g[r * xs.length + q];
        for (let y = ys[r]; y < ys[r] + patch; y++) {
          for (let x = xs[q]; x < xs[q] + patch; x++) {
            sum[y * W + x] += v;
            count[y * W + x]++;
          }
        }
      }
    }
    return sum.map((s, i) => s / count[i]);
  });
  return { classes, patch, stride, ys, xs, baseline, grid, pixels, batched, runs };
}

/** The settings of the occlusion method. */
export const OCCLUSION_OPTIONS: readonly MethodOption[] = [
  { name: 'patch', kind: 'int', min: 1, description: 'Side of the grey square in input pixels (default: a seventh of the shorter side).' },
  { name: 'stride', kind: 'int', min: 1, description: 'Step between square positions in input pixels (default: half the patch).' },
  { name: 'batch-size', kind: 'int', default: 16, min: 1, max: 1024, description: 'Occluded images per run when the model takes a dynamic batch.' },
];

/** Occlusion as a registry method: the raw result is the drop grid, the display the per-pixel mean drop, min-max normalised. */
export const occlusion: Method = {
  id: 'occlusion',
  title: 'Occlusion',
  citation: 'Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014, §4.2 fig. 7',
  family: 'perturbation',
  options: OCCLUSION_OPTIONS,
  targets: ALL_TARGETS,
  async run(explainer, request) {
    const forward = request.forward ?? (await explainer.forward(request.input));
    const classes = request.classes ?? topK(forward.probs, request.top ?? 1);
    const n = forward.logits.length;
    for (const c of classes) if (!Number.isInteger(c) || c < 0 || c >= n) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${n} classes (0–${n - 1}).`);
    const o = request.options;
    const r = await occlusionSensitivity(explainer, request.input, {
      classes, target: request.target,
      patch: numberOption(OCCLUSION_OPTIONS, o, 'patch', 'Occlusion'),
      stride: numberOption(OCCLUSION_OPTIONS, o, 'stride', 'Occlusion'),
      batchSize: numberOption(OCCLUSION_OPTIONS, o, 'batch-size', 'Occlusion'),
      onProgress: request.onProgress, signal: request.signal,
    });
    const { height, width } = explainer.inputSize;
    const explanations = classes.map((c, i): Explanation => ({
      method: 'occlusion', classIndex: c,
      raw: float32(r.grid[i], [r.ys.length, r.xs.length]),
      display: { kind: 'heatmap', map: normalizeMinMax(r.pixels[i]), width, height },
    }));
    return { explanations, forward };
  },
};
