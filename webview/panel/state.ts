/**
 * The explanation panel's state: what the user chose, what is loaded, what is shown, and the job in flight.
 * Plain data only (no DOM, no onnxruntime): the controller computes it, the views draw it, and it runs in Node tests.
 */
import type { ExplainSettings } from '../../src/core/app/explain-image';
import type { ScoreTarget } from '../../src/core/methods/method';
import type { MetricId, MetricValues } from '../../src/core/metrics/registry';
import type {
  ExecutionProviderSetting, ExplainOptions, GainSummary, GateRow, ImagePayload, LayerRow, ModelHeld, ModelPayload, Timings,
} from '../../src/protocol/protocol';

/** What the user chose in the panel; the explain options of it are persisted. */
export interface Choices {
  /** A registry method id; undefined: the first registry method that applies. */
  readonly method?: string;
  readonly layer?: string;
  readonly classIndex?: number;
  readonly colormap: string;
  /** Heat-map opacity, 0..1. */
  readonly opacity: number;
  /** A preset picked in the panel; undefined: the sidecar's, the metadata's or a guess. */
  readonly preset?: string;
  /** What to explain (src/core/methods/score-target.ts); undefined: the logit. */
  readonly target?: ScoreTarget;
}

/** What the webview keeps with vscode.setState; the host reads it to restore the panel after a reload. */
export interface Persisted {
  readonly imageUri?: string;
  readonly modelUri?: string;
  readonly options?: ExplainOptions;
  /** The methods picked for "Compare methods". */
  readonly compareMethods?: readonly string[];
}

/** The preprocessing in effect, as the panel shows it. */
export interface PresetInfo {
  readonly name: string;
  readonly source: string;
  readonly reason: string;
  readonly channels: 'rgb' | 'bgr' | 'gray';
}

/** The loaded model, as far as the panel shows it. */
export interface ModelInfo {
  readonly key: string;
  /** Identity of what was loaded (key, size, sidecar, labels): another fingerprint means another load. */
  readonly fingerprint: string;
  readonly ep: ExecutionProviderSetting;
  readonly name: string;
  readonly origin: string;
  readonly writable: boolean;
  readonly classes: number;
  readonly layers: readonly LayerRow[];
  /** Layers a CAM-family method can target. */
  readonly targetLayers: readonly LayerRow[];
  readonly defaultLayer?: string;
  readonly gates: readonly GateRow[];
  readonly preprocessing: PresetInfo;
  /** The preset the classifier uses now (undefined: its own choice). */
  readonly preset?: string;
  readonly labels?: readonly string[];
  readonly labelsSource: string;
  /** Registered methods that cannot run on this model, and why (the picker marks them). */
  readonly unavailable?: readonly { readonly method: string; readonly reason: string }[];
  /** URI of labels picked in the panel (for the sidecar). */
  readonly pickedLabelsUri?: string;
  /** The backend that ran last: "WebGPU", "WASM" or both, or "CPU" (the extension host's). */
  readonly backend: 'WebGPU + WASM' | 'WebGPU' | 'WASM' | 'CPU';
  /** Why that backend was chosen, when the panel chose it (e.g. auto without a WebGPU adapter). */
  readonly backendReason?: string;
  /** Why WebGPU was not used, every reason so far. */
  readonly fallbacks: readonly string[];
  /** Set when a float32 copy of the model runs, and why. */
  readonly conversion?: string;
}

/** The loaded image. */
export interface ImageInfo {
  readonly key: string;
  /** Identity of the bytes loaded (key and size). */
  readonly fingerprint: string;
  readonly name: string;
}

/** A class and its probability. */
export interface ClassScore {
  readonly index: number;
  readonly score: number;
}

/** One explained class of an outcome, as shown and summarised. */
export interface OutputView {
  readonly classIndex: number;
  readonly display: 'heatmap' | 'gradient';
  /** Minimum and maximum of the raw map (the .npy values). */
  readonly rawRange: readonly [number, number];
  /** Dims of the raw map. */
  readonly shape: readonly number[];
  /** Where the heat map peaks, as fractions of the original image. */
  readonly peak?: { readonly x: number; readonly y: number };
  /** Pixel size of the picture drawn for it. */
  readonly rendered: { readonly width: number; readonly height: number };
  /** Attention crops: each scale's top-1 and the fused top-1. */
  readonly crops?: { readonly scales: readonly (ClassScore & { readonly scale: number })[]; readonly fused: ClassScore };
}

/** What one explain run produced, without its pixels (the driver keeps those under the same id). */
export interface OutcomeView {
  /** The job that produced it. */
  readonly id: number;
  readonly method: { readonly id: string; readonly title: string; readonly family: 'cam' | 'input' | 'perturbation' | 'attention' };
  readonly layer?: string;
  /** Why another method ran than the first one, when one did not apply. */
  readonly note?: string;
  /** Top 5. */
  readonly predictions: readonly ClassScore[];
  /** Probability of every class. */
  readonly probs: ArrayLike<number>;
  readonly outputs: readonly OutputView[];
  /** What was explained (absent: the logit). */
  readonly target?: ScoreTarget;
}

/** A box on the shown picture (the region the model saw), as fractions 0..1 of its width and height. */
export interface BoxFraction {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** One cell of the "Compare methods" view. */
export interface CompareCellView {
  readonly method: string;
  readonly title: string;
  /** pending: not run yet; done: a map and its metrics; skipped: the method does not apply; failed: it threw. */
  readonly status: 'pending' | 'done' | 'skipped' | 'failed';
  readonly metrics?: MetricValues;
  /** Why it was skipped or failed. */
  readonly reason?: string;
  /** Milliseconds the method and its metrics took. */
  readonly ms?: number;
  /** The title of the method whose bit-identical map was measured already: its metrics are reused. */
  readonly sameAs?: string;
}

/** The "Compare methods" view: every available method for one class and target, filled in as each finishes. */
export interface CompareView {
  /** The job that fills it. */
  readonly job: number;
  /** The outcome whose input it compares on. */
  readonly outcome: number;
  readonly classIndex: number;
  readonly target: ScoreTarget;
  /** A ranking key of src/core/compare/compare-methods.ts (RANK_KEYS). */
  readonly rankBy: string;
  readonly cells: readonly CompareCellView[];
  /** Milliseconds from the first method's start to the last one's end, once every method finished. */
  readonly totalMs?: number;
  /** Milliseconds from the first method's start to the end of the last one finished so far. */
  readonly elapsedMs?: number;
}

/** The extension host's first map, while it is shown. */
export interface PreviewInfo {
  readonly labels?: readonly string[];
  /** What ran it, e.g. "onnxruntime-web 1.30 (wasm, 2 threads), extension host". */
  readonly backend: string;
  /** Milliseconds the host spent loading the model, and on the forward pass and the method. */
  readonly ms: { readonly load: number; readonly waited: number; readonly prepare: number; readonly forward: number; readonly explain: number };
}

/** What the stage shows: the explanation, one channel of a layer, or an attention gate. */
export type Shown =
  | { readonly kind: 'explanation' }
  | { readonly kind: 'channel'; readonly layer: string; readonly channel: number }
  | { readonly kind: 'gate'; readonly tensor: string };

/** A step of a job; the controller runs the pure ones itself and hands the others to the driver as work. */
export type Step =
  | { readonly kind: 'loadImage'; readonly image: ImagePayload }
  /**
   * Loads a model (undefined: the current one again, e.g. on another backend) and applies a preset; a model
   * without its bytes (the host offered a preview) gets them from the host first.
   */
  | { readonly kind: 'loadModel'; readonly model?: ModelPayload | ModelHeld; readonly ep: ExecutionProviderSetting; readonly preset?: string }
  /** Asks the extension host for the first map (src/extension/host-preview.ts) while the panel has no model yet; `image`: the key of the image the host decoded itself (no pixels sent). */
  | { readonly kind: 'preview'; readonly model: string; readonly image?: string }
  | { readonly kind: 'usePreset'; readonly preset: string | undefined }
  /** Explains with the settings the state gives when the step is reached. */
  | { readonly kind: 'explain' }
  /**
   * The checks of a shown map, after it is shown: GAIN and the faithfulness metrics `ids` (all but the pointing
   * game by default), and the pointing game when a box is drawn (fractions of the shown picture).
   */
  | { readonly kind: 'measure'; readonly outcome: number; readonly classIndex: number; readonly ids: readonly MetricId[]; readonly gain: boolean; readonly box?: BoxFraction }
  /** Shows the outcome explained by this job (pure); its checks come after. */
  | { readonly kind: 'commit' }
  /** One method of the "Compare methods" view, on the shown outcome's input (`first`: the comparison's clock starts). */
  | {
    readonly kind: 'compare'; readonly outcome: number; readonly method: string; readonly classIndex: number; readonly target: ScoreTarget; readonly layer?: string; readonly box?: BoxFraction; readonly first: boolean; readonly metrics: readonly MetricId[];
    /** The shown map's metrics, measured already (first step only): a compared map bit-identical to the shown one reuses them. */
    readonly shown?: MetricValues;
  }
  | { readonly kind: 'readActivations'; readonly layer: string }
  /** Shows a channel of the activations just read (pure). */
  | { readonly kind: 'showChannel'; readonly layer: string; readonly channel: number }
  | { readonly kind: 'readGate'; readonly tensor: string }
  | { readonly kind: 'project'; readonly layer: string; readonly channel: number }
  /** Adebayo et al.'s sanity checks of the shown map (src/core/sanity/): cascading randomisation and another class. */
  | { readonly kind: 'sanity'; readonly outcome: number; readonly method: string; readonly classIndex: number; readonly layer?: string };

/** The sanity check of one shown map, as the panel's line under the map says it. */
export interface SanityView {
  /** The outcome and class it checked. */
  readonly outcome: number;
  readonly classIndex: number;
  /** Spearman of |map| with every layer random, and the SSIM then; null where not measurable. */
  readonly spearmanAll: number | null;
  readonly ssimAll: number | null;
  /** Spearman of |map| for the control class. */
  readonly spearmanClass: number | null;
  readonly steps: number;
  readonly flagged: boolean;
  readonly verdict: string;
}

/** What the driver runs for a step; `explain` carries the settings for explainImage. */
export type Work =
  | Exclude<Step, { readonly kind: 'explain' | 'commit' | 'showChannel' | 'preview' }>
  | { readonly kind: 'explain'; readonly settings: ExplainSettings }
  | { readonly kind: 'preview'; readonly model: string; readonly image?: string; readonly settings: ExplainSettings };

/** What a finished job answers: the summary, the activations read, or nothing. */
export type Reply = 'summary' | 'activations' | 'none';

/** Long work in flight: one at a time; a new job supersedes it. */
export interface Job {
  readonly id: number;
  readonly title: string;
  /** The host request waiting for it. */
  readonly ticket?: number;
  readonly reply: Reply;
  /** Choices to go back to when it fails or is cancelled; undefined: it changes no choice. */
  readonly restore?: Choices;
  /** Whether a failure is told to the host (work the user started; the host reports failures of its own requests). */
  readonly tellHost: boolean;
  /** The step running now. */
  readonly running?: Step['kind'];
  readonly steps: readonly Step[];
  readonly timings: Timings;
  /** The outcome explained by this job, until it is shown. */
  readonly candidate?: OutcomeView;
}

/** The whole panel state. */
export interface PanelState {
  readonly choices: Choices;
  /** The execution-provider setting last given by the host. */
  readonly ep: ExecutionProviderSetting;
  readonly model?: ModelInfo;
  readonly image?: ImageInfo;
  readonly outcome?: OutcomeView;
  /**
   * Set while the shown outcome is the extension host's first map (the panel is still loading the model): the
   * labels it named its classes with and what computed it. The panel's own map replaces it.
   */
  readonly preview?: PreviewInfo;
  /** GAIN of the outcome's explanations, by class. */
  readonly gains: Readonly<Record<number, GainSummary>>;
  /** Faithfulness metrics of the outcome's explanations, by class (measured after the map is shown). */
  readonly metrics: Readonly<Record<number, MetricValues>>;
  /** The pointing game's box drawn on the picture (kept for the image until cleared). */
  readonly box?: BoxFraction;
  /** The last "Compare methods" view (shown while `compareOpen`). */
  readonly compare?: CompareView;
  readonly compareOpen?: boolean;
  /** The methods the user picked for "Compare methods" (undefined: the default eight; selectors.ts comparedMethods). */
  readonly compareChoice?: readonly string[];
  /** The last sanity check (shown while its outcome and class are). */
  readonly sanity?: SanityView;
  readonly view: Shown;
  /** A channel projected to pixels, shown in the inspect box. */
  readonly projection?: { readonly layer: string; readonly channel: number };
  /** The layer whose activations the driver holds for the current input. */
  readonly acts?: { readonly layer: string; readonly channels: number };
  readonly timings: Timings;
  readonly job?: Job;
  readonly nextJob: number;
  readonly status: string;
  readonly error?: string;
}

/** Colormap and opacity before the user picks any. */
export const DEFAULT_COLORMAP = 'jet';
export const DEFAULT_OPACITY = 0.5;

/** The state of a new panel, with the choices it persisted before a reload. */
export function initialState(persisted?: Persisted): PanelState {
  const o = persisted?.options;
  return {
    choices: {
      method: o?.method, layer: o?.layer, classIndex: o?.classIndex, colormap: o?.colormap ?? DEFAULT_COLORMAP, opacity: o?.opacity ?? DEFAULT_OPACITY,
      ...(o?.target !== undefined ? { target: persistedTarget(o.target) } : {}),
    },
    ep: 'auto', gains: {}, metrics: {}, view: { kind: 'explanation' }, timings: {}, nextJob: 1, status: '',
    ...(persisted?.compareMethods?.length ? { compareChoice: persisted.compareMethods.filter((x) => typeof x === 'string') } : {}),
  };
}

/** A persisted target, when it still parses (else the logit). */
function persistedTarget(t: string): ScoreTarget | undefined {
  return t === 'logit' || t === 'softmax' || t === 'sigmoid' || /^contrast:\d+$/.test(t) ? (t as ScoreTarget) : undefined;
}
