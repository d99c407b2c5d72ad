/**
 * Recurrent attention crops after RA-CNN — Fu, Zheng, Mei, "Look Closer to See Better", CVPR 2017, §3:
 * at each scale the class's attention map (any map method; Grad-CAM by default) or the model's own attention
 * proposal gives a square box [tx, ty, tl] (eq. 2–4, `box.ts`); the box is cropped and zoomed back to the
 * input size (eq. 5–6, `crop.ts`) and classified again. The fused prediction is the mean of the scales'
 * class probabilities (the paper fuses the scales' normalised descriptors with a learned layer; a fixed
 * classifier has none, so the probabilities are averaged).
 */
import { LookCloserError } from '../errors';
import { Explainer, ForwardResult, topK } from '../explainer';
import { CancelSignal, ProgressCallback, throwIfCancelled } from '../methods/options';
import type { ModelInputSpec } from '../preprocess/preprocess';
import { asFloat32, Float32Tensor } from '../tensor';
import { AttentionBox, boxFromMap, boxRect, constrainBox } from './box';
import { InputSource, ZoomedInput, baseInput, zoomInput } from './crop';
import { Heatmap, heatmapAt } from './heatmap';

/** A class and its probability. */
export interface ClassScore {
  readonly index: number;
  readonly score: number;
}

/** A model output that proposes the box itself (RA-CNN's APN): three numbers tx, ty, tl. */
export interface AttentionProposal {
  /** Name of the tensor holding [tx, ty, tl] (any shape with three elements). */
  readonly output: string;
  /** 'pixels' of the scale's input (as RA-CNN's APN outputs them), or 'fraction' of its side. */
  readonly units: 'pixels' | 'fraction';
}

/** One scale: what the model saw, what it predicted, and where the next scale looks. */
export interface AttentionScale {
  /** 1 for the input itself, 2 and 3 for the zooms. */
  readonly scale: number;
  /** The scale's input tensor, the region it shows (original image pixels when there is an image) and its picture. */
  readonly input: ZoomedInput;
  /** The forward pass on this scale. */
  readonly forward: ForwardResult;
  /** The class probabilities (the forward pass's; they sum to 1 up to the model's float precision). */
  readonly probs: Float32Array;
  readonly top: readonly ClassScore[];
  /** The explained class's attention map on this scale at input resolution, 0..1 (scales that proposed a box from a map). */
  readonly map?: Float32Array;
  /** The box the next scale zooms into, in this scale's input pixels (absent on the last scale). */
  readonly box?: AttentionBox;
}

/** Attention crops of one class. */
export interface AttentionCrops {
  readonly classIndex: number;
  /** What proposed the boxes. */
  readonly proposer: { readonly kind: 'map'; readonly method: string; readonly layer?: string } | ({ readonly kind: 'proposal' } & AttentionProposal);
  readonly scales: readonly AttentionScale[];
  /** Mean of the scales' probabilities. */
  readonly fused: Float32Array;
  readonly fusedTop: readonly ClassScore[];
}

/** Maps one scale's input for the explained class: its heat map and the forward pass that came with it. */
export interface ScaleMapper {
  /** Id of the method that makes the map, and the layer it explains (CAM family). */
  readonly method: string;
  readonly layer?: string;
  map(input: Float32Tensor, classIndex: number, signal?: CancelSignal): Promise<{ readonly heatmap: Heatmap; readonly forward: ForwardResult }>;
}

/** Settings of an attention-crop run. */
export interface AttentionCropOptions {
  readonly classIndex: number;
  /** What maps each scale for the class (any registry method, wrapped by the attention-crop method; Grad-CAM by default). */
  readonly mapper?: ScaleMapper;
  /** Number of scales including the input (default 3, as in RA-CNN). */
  readonly scales?: number;
  /** Strong-attention threshold on the normalised map (default 0.5). */
  readonly threshold?: number;
  /** Lower bound of tl as a fraction of the parent's side (default 1/3). */
  readonly minHalfSide?: number;
  /** Predictions listed per scale (default 5). */
  readonly top?: number;
  /** Use the model's own proposal output instead of a map. */
  readonly proposal?: AttentionProposal;
  /** The original image, so crops come from it at full resolution. */
  readonly source?: InputSource;
  readonly onProgress?: ProgressCallback;
  readonly signal?: CancelSignal;
}

/** The model input's geometry as preprocessing describes it. */
export function inputSpec(explainer: Explainer): ModelInputSpec {
  return { ...explainer.inputSize, channels: explainer.input.channels, layout: explainer.input.layout };
}

function topScores(p: Float32Array, k: number): ClassScore[] {
  return topK(p, k).map((index) => ({ index, score: p[index] }));
}

/** Reads a proposal output as a box in pixels of a `width × height` input. */
export function proposalBox(t: Float32Tensor | undefined, p: AttentionProposal, width: number, height: number): AttentionBox {
  if (!t || t.data.length !== 3) {
    throw new LookCloserError('bad-argument',
      `Attention proposal output '${p.output}' must hold three numbers (tx, ty, tl); it has shape [${t?.dims.join(', ') ?? '?'}].`);
  }
  const side = Math.min(width, height);
  const f = p.units === 'fraction' ? side : 1;
  return { tx: t.data[0] * f, ty: t.data[1] * f, tl: t.data[2] * f };
}

/** Runs RA-CNN-style attention crops for one class: per scale a box, a crop from the original, a new prediction; then the fused prediction. */
export async function attentionCrops(explainer: Explainer, input: Float32Tensor, opts: AttentionCropOptions): Promise<AttentionCrops> {
  const n = opts.scales ?? 3;
  if (!Number.isInteger(n) || n < 1) throw new LookCloserError('bad-argument', `Attention crops need at least one scale, got ${n}.`);
  if (!opts.proposal && !opts.mapper) throw new LookCloserError('bad-argument', 'Attention crops need a map method or a proposal output.');
  const spec = inputSpec(explainer);
  const { width: W, height: H } = spec;
  const k = opts.top ?? 5;
  const scales: AttentionScale[] = [];
  let cur: ZoomedInput = baseInput(input, spec, opts.source);
  for (let s = 1; s <= n; s++) {
    throwIfCancelled(opts.signal, 'Attention crops');
    const last = s === n;
    let forward: ForwardResult;
    let map: Float32Array | undefined;
    let box: AttentionBox | undefined;
    if (opts.proposal) {
      forward = await explainer.forward(cur.tensor, [opts.proposal.output]);
      const raw = forward.tensors[opts.proposal.output];
      if (!last) box = constrainBox(proposalBox(raw && asFloat32(raw), opts.proposal, W, H), W, H, opts.minHalfSide);
    } else if (!last) {
      const r = await opts.mapper!.map(cur.tensor, opts.classIndex, opts.signal);
      forward = r.forward;
      map = heatmapAt(r.heatmap, W, H);
      box = boxFromMap(map, W, H, { threshold: opts.threshold, minHalfSide: opts.minHalfSide });
    } else {
      forward = await explainer.forward(cur.tensor);
    }
    const probs = forward.probs;
    scales.push({ scale: s, input: cur, forward, probs, top: topScores(probs, k), map, box });
    opts.onProgress?.(s, n);
    if (box) cur = zoomInput(input, cur, boxRect(box), spec, opts.source);
  }
  const fused = new Float32Array(scales[0].probs.length);
  for (const sc of scales) for (let i = 0; i < fused.length; i++) fused[i] += sc.probs[i] / scales.length;
  const proposer: AttentionCrops['proposer'] = opts.proposal
    ? { kind: 'proposal', ...opts.proposal }
    : { kind: 'map', method: opts.mapper!.method, layer: opts.mapper!.layer };
  return { classIndex: opts.classIndex, proposer, scales, fused, fusedTop: topScores(fused, k) };
}
