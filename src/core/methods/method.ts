/** The contract every explanation method implements, and the values passed to it. */
import type { Explainer, ForwardResult } from '../explainer';
import type { Float32Tensor } from '../tensor';
import type { Grid } from '../token-layout';
import type { AttentionCrops } from '../attention/attention-crops';
import type { InputSource } from '../attention/crop';
import type { CancelSignal, MethodOption, OptionValues, ProgressCallback } from './options';

/**
 * What is explained: the pre-softmax logit of a class, its softmax probability, its sigmoid (multi-label
 * models), or `contrast:B`, the logit minus class B's logit ("why this class and not B"); see score-target.ts.
 */
export type ScoreTarget = 'logit' | 'softmax' | 'sigmoid' | `contrast:${number}`;

/** The kind of a target, without its argument. */
export type TargetKind = 'logit' | 'softmax' | 'sigmoid' | 'contrast';

/** One request: which classes (explicit, or the top K predicted), at which layer, which score. */
export interface ExplainRequest {
  readonly input: Float32Tensor;
  /** Classes to explain; when absent the top `top` predicted classes (default 1) are explained. */
  readonly classes?: readonly number[];
  readonly top?: number;
  /** Target layer; methods that need one use the explainer's default when absent. */
  readonly layer?: string;
  /** The patch grid of token-tensor layers ([1, N, C]) where the graph does not tell it (`--token-grid`, the sidecar's `tokenGrid`). */
  readonly grid?: Grid;
  readonly target: ScoreTarget;
  /** A forward pass already run on this input; methods that only need activations reuse it when it holds them. */
  readonly forward?: ForwardResult;
  /** Method-specific settings, by the names in `Method.options`. */
  readonly options?: OptionValues;
  /** The original image the input was made from; methods that resample it (attention crops) take crops from it. */
  readonly source?: InputSource;
  /** Progress of methods that run many passes (occlusion, attention crops). */
  readonly onProgress?: ProgressCallback;
  /** Cancels methods that run many passes; they throw a 'cancelled' LookCloserError. */
  readonly signal?: CancelSignal;
}

/** One explanation of one class. */
export interface Explanation {
  readonly method: string;
  readonly classIndex: number;
  /** The layer explained (CAM family), undefined for input-gradient methods. */
  readonly layer?: string;
  /** The raw result, written as .npy: a [h,w] map at the layer's resolution, or a [C,H,W] input gradient. */
  readonly raw: Float32Tensor;
  /** How to show it: a heat map in [0,1] at input resolution, or an input-space gradient image. */
  readonly display:
    | { readonly kind: 'heatmap'; readonly map: Float32Array; readonly width: number; readonly height: number }
    | { readonly kind: 'gradient'; readonly grad: Float32Tensor };
  /** What only some methods produce, tagged by kind (attention crops: scales, boxes and predictions). */
  readonly payload?: MethodPayload;
}

/** Method-specific results carried by an explanation, one variant per kind. */
export type MethodPayload =
  | { readonly kind: 'attention-crops'; readonly crops: AttentionCrops }
  | IntegratedGradientsPayload;

/** What Integrated Gradients reports besides the attributions: the completeness check of its eq. 3 (Sundararajan et al. 2017, §3 Proposition 1). */
export interface IntegratedGradientsPayload {
  readonly kind: 'integrated-gradients';
  readonly steps: number;
  readonly baseline: string;
  /** The explained score F at the input and at the baseline. */
  readonly score: number;
  readonly baselineScore: number;
  /** Σ attributions. */
  readonly attributionSum: number;
  /** Σ attributions − (F(x) − F(baseline)); zero for the exact integral, shrinking as the steps grow. */
  readonly completenessGap: number;
}

/** What a method returns: its explanations and the forward pass it ran (predictions come from it). */
export interface ExplainResult {
  readonly explanations: Explanation[];
  readonly forward: ForwardResult;
}

/** An explanation method as the registry holds it. */
export interface Method {
  readonly id: string;
  readonly title: string;
  /** Paper and equation the file implements. */
  readonly citation: string;
  /**
   * 'cam' methods explain a layer; 'input' methods backpropagate to the pixels; 'perturbation' methods rerun the model on
   * altered inputs; 'attention' methods read a transformer's attention probabilities (offered only where the graph has them).
   */
  readonly family: 'cam' | 'input' | 'perturbation' | 'attention';
  /** Settings the method reads from `ExplainRequest.options` (CLI flags, sidecar `methodOptions`, panel controls). */
  readonly options?: readonly MethodOption[];
  /** The score targets the method honours (score-target.ts); logit and softmax when absent. */
  readonly targets?: readonly TargetKind[];
  /** True when the method needs only a forward pass and reuses `ExplainRequest.forward` (batch mode then stacks images in one). */
  readonly reusesForward?: boolean;
  /** Why the method cannot run on this model, read from the graph without running it; undefined when it can. */
  unavailableOn?(explainer: Explainer): string | undefined;
  run(explainer: Explainer, request: ExplainRequest): Promise<ExplainResult>;
}
