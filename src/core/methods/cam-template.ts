/**
 * The template shared by the CAM family (pytorch-grad-cam's base_cam): it resolves and checks the layer, fetches
 * what the method declares it needs (the layer's activations, the explained scores' gradients there, or the model
 * itself for methods that rerun it), and turns the method's maths into maps. A method supplies only the maths, as
 * functions of tensors (async for those that rerun the model): channel weights α_ck (get_cam_weights), giving
 * Σ_k α_ck·A_k, or the whole map per class (get_cam_image). The template applies ReLU at the layer's resolution
 * (the raw map) and forms the display map, upsampled bilinearly with half-pixel centres to the input size, then
 * min-max normalised.
 */
import { LookCloserError } from '../errors';
import { type Explainer, type ForwardResult, topK } from '../explainer';
import { bilinearTaps } from '../preprocess/resize';
import { Float32Tensor, float32 } from '../tensor';
import { type MapLayout, camLayer, toChannelsFirst } from '../token-layout';
import type { ExplainRequest, Explanation, Method, ScoreTarget } from './method';
import { firstComponentProjection } from './first-component';
import { booleanOption, type CancelSignal, throwIfCancelled, type MethodOption, numberOption, type OptionValues, type ProgressCallback } from './options';
import { ALL_TARGETS, checkTarget, targetGradients, targetScores } from './score-target';

/**
 * What a CAM method's maths reads: the forward pass only, also the explained scores' gradients at the layer,
 * or also the model, to rerun it on altered inputs or activations (Score-CAM, Ablation-CAM).
 */
export type CamNeeds = 'activations' | 'gradients' | 'reruns';

/** The layer's activations and the explained classes, as every CAM method's maths receives them. */
export interface CamTensors {
  /** A: the layer's activations, [1, C, h, w]. */
  readonly activations: Float32Tensor;
  /** The explained classes, in output order. */
  readonly classes: readonly number[];
}

/** CamTensors plus ∂y_c/∂A, one row per explained class, for methods that need gradients. */
export interface CamGradients extends CamTensors {
  /** ∂y_c/∂A: [K, C, h, w], row i for classes[i]. */
  readonly gradients: Float32Tensor;
}

/** CamTensors plus what a method needs to rerun the model: the explainer, the input, the layer and the explained score. */
export interface CamReruns extends CamTensors {
  readonly explainer: Explainer;
  /** The model input the activations come from, [1, …]. */
  readonly input: Float32Tensor;
  readonly layer: string;
  /** How the layer's tensor maps to `activations` (token tensors and channels-last maps are laid out channels first). */
  readonly layout: MapLayout;
  /** The layer's activations as the model has them (what edited maps go back into, prefix tokens included). */
  readonly layerActivations: Float32Tensor;
  readonly target: ScoreTarget;
  /** The explained classes' scores (logit or softmax, as `target`) on the unaltered input, in `classes` order. */
  readonly scores: Float32Array;
  readonly options?: OptionValues;
  readonly signal?: CancelSignal;
  readonly onProgress?: ProgressCallback;
}

/** The batch-size setting of 'reruns' methods (each sets its own default). */
export const BATCH_SIZE_OPTION: MethodOption = {
  name: 'batch-size', kind: 'int', min: 1, max: 1024, description: 'Edited inputs per run when the model takes a batch.',
};

/** The batch size a rerunning method uses: its `batch-size` option, else `fallback`. */
export function rerunBatchSize(ctx: { readonly options?: OptionValues }, method: string, fallback: number): number {
  return numberOption([BATCH_SIZE_OPTION], ctx.options, 'batch-size', method) ?? fallback;
}

/**
 * pytorch-grad-cam's `eigen_smooth` (base_cam.get_cam_image): the map is the first-principal-component projection of
 * the weighted activations α_k·A_k instead of their sum. Declared by every method that gives channel weights.
 */
export const EIGEN_SMOOTH_OPTION: MethodOption = {
  name: 'eigen-smooth', kind: 'boolean',
  description: 'Map: the first principal component of the weighted activations α_k·A_k instead of their sum (pytorch-grad-cam eigen_smooth).',
};

/**
 * The eigen-smoothed map of one class: get_2d_projection of α_k·A_k read as an (h·w)×C matrix (channels centred over
 * positions), through the one projection Eigen-CAM uses, so signed as get_2d_projection_with_sign_correction
 * (|max| ≥ |min|) where pytorch-grad-cam keeps LAPACK's arbitrary sign.
 */
export function eigenSmoothMap(a: Float32Tensor, alpha: Float32Array): Float32Array {
  const [, c, h, w] = a.dims;
  const hw = h * w;
  const weighted = new Float64Array(c * hw);
  for (let k = 0; k < c; k++) {
    const wk = alpha[k];
    for (let i = 0; i < hw; i++) weighted[k * hw + i] = wk * a.data[k * hw + i];
  }
  return firstComponentProjection(weighted, c, hw);
}

/**
 * pytorch-grad-cam's `aug_smooth` (base_cam.forward_augmentation_smoothing with its default ttach transforms): the
 * method runs on the input flipped horizontally or not × its values multiplied by 0.9, 1 or 1.1 (ttach's Multiply
 * scales the tensor's values, not its size); each map, ReLU'd and min-max scaled as scale_cam_image, is flipped
 * back, and the six are averaged. Declared by every CAM-family method.
 */
export const AUG_SMOOTH_OPTION: MethodOption = {
  name: 'aug-smooth', kind: 'boolean',
  description: 'Average the maps of the input flipped or not × scaled by 0.9, 1, 1.1, each min-max scaled and flipped back (pytorch-grad-cam aug_smooth; 6 runs).',
};

/** The augmentations of aug-smooth, the unaltered input first. */
const AUGMENTATIONS: readonly { readonly flip: boolean; readonly factor: number }[] = [false, true].flatMap((flip) => [1, 0.9, 1.1].map((factor) => ({ flip, factor })));

/** The model input flipped along its width (axis 3 of NCHW, 2 of NHWC) if asked, with its values times `factor`. */
function augmentInput(x: Float32Tensor, layout: 'NCHW' | 'NHWC', flip: boolean, factor: number): Float32Tensor {
  const dims = x.dims;
  const out = new Float32Array(x.data.length);
  if (!flip) {
    for (let i = 0; i < out.length; i++) out[i] = x.data[i] * factor;
    return float32(out, [...dims]);
  }
  if (dims.length !== 4) throw new LookCloserError('bad-argument', `aug-smooth flips a [1,C,H,W] or [1,H,W,C] input; this one is [${dims.join(',')}].`);
  // NCHW: rows of W values; NHWC: rows of W pixels of C values.
  const [w, stride] = layout === 'NCHW' ? [dims[3], 1] : [dims[2], dims[3]];
  const row = w * stride;
  for (let base = 0; base < out.length; base += row) {
    for (let x0 = 0; x0 < w; x0++) {
      const from = base + x0 * stride, to = base + (w - 1 - x0) * stride;
      for (let k = 0; k < stride; k++) out[to + k] = x.data[from + k] * factor;
    }
  }
  return float32(out, [...dims]);
}

/** scale_cam_image at the layer's resolution after ReLU: (r − min r) / (1e-7 + max(r − min r)), r = ReLU(m), flipped along w if asked. */
function scaledMap(m: Float32Array, h: number, w: number, flip: boolean): Float32Array {
  const r = relu(m);
  let lo = Infinity, hi = -Infinity;
  for (const v of r) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const out = new Float32Array(r.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + (flip ? w - 1 - x : x)] = (r[y * w + x] - lo) / (1e-7 + (hi - lo));
  return out;
}

/** What the maths of a method that needs `N` receives, with what its `prepare` step returned. */
export type CamContext<N extends CamNeeds, X extends object> =
  (N extends 'gradients' ? CamGradients : N extends 'reruns' ? CamReruns : CamTensors) & X;

/**
 * A CAM method's maths on one context: channel weights α per class (the map is Σ_k α_k·A_k), or the map per class
 * before ReLU ([h·w], owned by the template). `R` is what they return: the arrays, or a promise of them for
 * methods that rerun the model.
 */
export type CamMaths<C, R = Float32Array[]> =
  | { weights(ctx: C): R; map?: undefined }
  | { map(ctx: C): R; weights?: undefined };

/** Where a CAM method is asked to look: the layer, its [1,C,h,w] shape as a map and the explained score. */
export interface CamLayer {
  readonly layer: string;
  readonly shape: readonly number[];
  /** How the layer's tensor maps to [1,C,h,w]. */
  readonly layout: MapLayout;
  readonly target: ScoreTarget;
}

/** A CAM method as written: names, what it needs, an optional look-up in the model, and its maths. */
export type CamSpec<N extends CamNeeds, X extends object> = {
  readonly id: string;
  readonly title: string;
  readonly citation: string;
  /** 'activations' and 'reruns' methods read the layer from a forward pass, so a precomputed `request.forward` holding the layer is reused. */
  readonly needs: N;
  /** Settings the maths reads from `ctx.options` ('reruns' methods). */
  readonly options?: readonly MethodOption[];
  /** Reads what the maths needs from the model besides tensors (CAM: the linear head) and refuses requests the method cannot serve; runs before any pass. */
  prepare?(explainer: Explainer, at: CamLayer): X;
} & CamMaths<CamContext<N, X>, Float32Array[] | Promise<Float32Array[]>>;

/** Σ_k α_k·A_k for A of shape [1,C,h,w] (channels with α_k = 0 are skipped: CAM's identity head is one-hot). */
export function weightedSum(a: Float32Tensor, alpha: Float32Array): Float32Array {
  const [, c, h, w] = a.dims;
  const hw = h * w;
  const out = new Float32Array(hw);
  for (let k = 0; k < c; k++) {
    const wk = alpha[k];
    if (wk === 0) continue;
    const base = k * hw;
    for (let i = 0; i < hw; i++) out[i] += wk * a.data[base + i];
  }
  return out;
}

/** ReLU in place (NaN and -0 become 0). */
function relu(m: Float32Array): Float32Array {
  for (let i = 0; i < m.length; i++) if (!(m[i] > 0)) m[i] = 0;
  return m;
}

/** Indices where a run of equal taps starts or ends: the samples at which a piecewise-linear interpolation can peak. */
function runEnds(taps: Int32Array): number[] {
  const ends: number[] = [];
  for (let i = 0; i < taps.length; i++) {
    if (i === 0 || taps[i] !== taps[i - 1] || i === taps.length - 1 || taps[i] !== taps[i + 1]) ends.push(i);
  }
  return ends;
}

/**
 * The display map: bilinear half-pixel upsampling to the input size, then min-max normalisation; the same
 * values as normalizeMinMax(resizeBilinear(…)) in one output pass (it runs once per class). Each source row
 * is interpolated horizontally once (in float64, as resizeBilinear does per pixel). Within one cell of the
 * source grid the interpolant is bilinear, so over the cell's output samples it peaks at the samples on the
 * cell's edges: the minimum and maximum come from those few samples (first and last of each run of equal
 * taps) before the pass, which then writes normalised values directly (clamped to [0, 1] against rounding).
 */
export function displayMap(raw: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outW * outH);
  const { x0s, x1s, fxs } = bilinearTaps(w, outW);
  const { x0s: y0s, x1s: y1s, fxs: fys } = bilinearTaps(h, outH);
  const rows = new Float64Array(h * outW);
  for (let r = 0; r < h; r++) {
    for (let x = 0; x < outW; x++) {
      const a = raw[r * w + x0s[x]];
      const b = raw[r * w + x1s[x]];
      rows[r * outW + x] = a + (b - a) * fxs[x];
    }
  }
  const at = (y: number, x: number) => {
    const top = rows[y0s[y] * outW + x];
    return Math.fround(top + (rows[y1s[y] * outW + x] - top) * fys[y]);
  };
  let lo = Infinity;
  let hi = -Infinity;
  const xs = runEnds(x0s);
  for (const y of runEnds(y0s)) {
    for (const x of xs) {
      const v = at(y, x);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const range = hi - lo;
  if (!(range > 0) || !Number.isFinite(range)) return out;
  for (let y = 0; y < outH; y++) {
    const r0 = y0s[y] * outW;
    const r1 = y1s[y] * outW;
    const ly = fys[y];
    const row = y * outW;
    for (let x = 0; x < outW; x++) {
      const top = rows[r0 + x];
      const v = (Math.fround(top + (rows[r1 + x] - top) * ly) - lo) / range;
      out[row + x] = v > 1 ? 1 : v < 0 ? 0 : v;
    }
  }
  return out;
}

/** The template's pure part: per class, the raw map ReLU(M_c) [h,w] at the layer and the display map at the input size. */
export function camExplanations<C extends CamTensors>(
  id: string, maths: CamMaths<C>, ctx: C, layer: string, size: { readonly height: number; readonly width: number },
): Explanation[] {
  const maps = maths.map ? maths.map(ctx) : maths.weights(ctx).map((alpha) => weightedSum(ctx.activations, alpha));
  return mapsToExplanations(id, maps, ctx, layer, size);
}

/** Per class, ReLU of the map M_c [h·w] (in place) as the raw map and its display map. */
function mapsToExplanations(
  id: string, maps: Float32Array[], ctx: CamTensors, layer: string, size: { readonly height: number; readonly width: number },
): Explanation[] {
  const [, , h, w] = ctx.activations.dims;
  if (maps.length !== ctx.classes.length) throw new LookCloserError('runtime', `Internal: ${id} gave ${maps.length} maps for ${ctx.classes.length} classes.`);
  const { height, width } = size;
  return ctx.classes.map((c, i): Explanation => {
    const raw = relu(maps[i]);
    return {
      method: id, classIndex: c, layer,
      raw: float32(raw, [h, w]),
      display: { kind: 'heatmap', map: displayMap(raw, h, w, height, width), width, height },
    };
  });
}

/**
 * Runs the passes a method needs at `layer`: a forward pass (reusing `request.forward` when it holds the layer), or
 * the gradients of the explained scores; activations and gradients come back laid out as [K, C, h, w] maps.
 */
async function fetchTensors(
  explainer: Explainer, request: ExplainRequest, layer: string, layout: MapLayout, needs: CamNeeds, title: string,
): Promise<{ tensors: CamTensors | CamGradients | CamReruns; forward: ForwardResult }> {
  if (needs === 'gradients') {
    const r = await targetGradients(explainer, request.input, {
      targets: [layer], mode: 'plain', method: title,
      ...(request.classes ? { classes: request.classes } : { top: request.top ?? 1 }),
    }, request.target);
    const tensors: CamGradients = {
      activations: toChannelsFirst(r.forward.tensors[layer], layout), gradients: toChannelsFirst(r.grads[layer], layout), classes: r.classes,
    };
    return { tensors, forward: r.forward };
  }
  const forward = request.forward?.tensors[layer] ? request.forward : await explainer.forward(request.input, [layer]);
  const layerActivations = forward.tensors[layer];
  const tensors: CamTensors = { activations: toChannelsFirst(layerActivations, layout), classes: request.classes ?? topK(forward.probs, request.top ?? 1) };
  if (needs === 'activations') return { tensors, forward };
  const n = forward.logits.length;
  for (const c of tensors.classes) if (!Number.isInteger(c) || c < 0 || c >= n) throw new LookCloserError('bad-argument', `Class ${c} is out of range: the model has ${n} classes (0–${n - 1}).`);
  const reruns: CamReruns = {
    ...tensors, explainer, input: request.input, layer, layout, layerActivations, target: request.target,
    scores: targetScores(forward.logits, tensors.classes, request.target, forward.probs),
    options: request.options, signal: request.signal, onProgress: request.onProgress,
  };
  return { tensors: reruns, forward };
}

/** Builds a CAM-family method from what it needs and its maths. */
export function camMethod<N extends CamNeeds, X extends object = Record<never, never>>(spec: CamSpec<N, X>): Method {
  const method: Method = {
    id: spec.id,
    title: spec.title,
    citation: spec.citation,
    family: 'cam',
    options: [...(spec.options ?? []), ...(spec.weights ? [EIGEN_SMOOTH_OPTION] : []), AUG_SMOOTH_OPTION],
    reusesForward: spec.needs !== 'gradients',
    // Methods that read only activations (CAM, Eigen-CAM) keep the default targets; the others read the score.
    ...(spec.needs === 'activations' ? {} : { targets: ALL_TARGETS }),
    async run(explainer, request) {
      checkTarget(method, request.target);
      const layer = request.layer ?? (await explainer.defaultLayer());
      const { layout, shape } = camLayer(explainer.graph, await explainer.shapes(), explainer.inputSize, layer, spec.title, request.grid);
      const extra = spec.prepare ? spec.prepare(explainer, { layer, shape, layout, target: request.target }) : ({} as X);
      const smooth = spec.weights ? booleanOption([EIGEN_SMOOTH_OPTION], request.options, 'eigen-smooth', spec.title) : undefined;
      const toMap = smooth ? eigenSmoothMap : weightedSum;
      const once = async (req: ExplainRequest) => {
        const { tensors, forward } = await fetchTensors(explainer, req, layer, layout, spec.needs, spec.title);
        // fetchTensors returns gradients exactly when spec.needs is 'gradients', and the model access exactly when it is 'reruns', which is what CamContext<N, X> says.
        const ctx = { ...tensors, ...extra } as CamContext<N, X>;
        const maps = spec.map ? await spec.map(ctx) : (await spec.weights(ctx)).map((alpha) => toMap(ctx.activations, alpha));
        if (maps.length !== ctx.classes.length) throw new LookCloserError('runtime', `Internal: ${spec.id} gave ${maps.length} maps for ${ctx.classes.length} classes.`);
        return { maps, ctx, forward };
      };
      if (!booleanOption([AUG_SMOOTH_OPTION], request.options, 'aug-smooth', spec.title)) {
        const { maps, ctx, forward } = await once(request);
        return { explanations: mapsToExplanations(spec.id, maps, ctx, layer, explainer.inputSize), forward };
      }
      // aug-smooth: the classes are those of the unaltered input (pytorch-grad-cam takes each augmented input's top class when none is given).
      const first = await once(request);
      const [, , h, w] = first.ctx.activations.dims;
      const sums = first.maps.map((m) => Float64Array.from(scaledMap(m, h, w, false)));
      for (const { flip, factor } of AUGMENTATIONS.slice(1)) {
        throwIfCancelled(request.signal, spec.title);
        const input = augmentInput(request.input, explainer.input.layout, flip, factor);
        const { maps } = await once({ ...request, input, forward: undefined, classes: first.ctx.classes });
        maps.forEach((m, i) => scaledMap(m, h, w, flip).forEach((v, j) => (sums[i][j] += v)));
      }
      const mean = sums.map((s) => Float32Array.from(s, (v) => v / AUGMENTATIONS.length));
      return { explanations: mapsToExplanations(spec.id, mean, first.ctx, layer, explainer.inputSize), forward: first.forward };
    },
  };
  return method;
}
