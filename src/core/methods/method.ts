/** The contract every explanation method implements, and the values passed to it. */
import type { Explainer, ForwardResult } from '../explainer';
import type { Float32Tensor } from '../tensor';

/** What is explained: the pre-softmax logit of a class or its softmax probability. */
export type ScoreTarget = 'logit' | 'softmax';

/** One request: which classes (explicit, or the top K predicted), at which layer, which score. */
export interface ExplainRequest {
  readonly input: Float32Tensor;
  /** Classes to explain; when absent the top `top` predicted classes (default 1) are explained. */
  readonly classes?: readonly number[];
  readonly top?: number;
  /** Target layer; methods that need one use the explainer's default when absent. */
  readonly layer?: string;
  readonly target: ScoreTarget;
  /** A forward pass already run on this input; methods that only need activations reuse it when it holds them. */
  readonly forward?: ForwardResult;
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
  /** 'cam' methods explain a layer; 'input' methods backpropagate to the pixels. */
  readonly family: 'cam' | 'input';
  run(explainer: Explainer, request: ExplainRequest): Promise<ExplainResult>;
}
