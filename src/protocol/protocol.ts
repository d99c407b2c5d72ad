/**
 * Every message between the extension host and its two webviews (the explanation panel and the
 * Layers side view). Each direction is a closed union switched on `type`; requests name their response
 * type in the matching `…Responses` map. Pure TypeScript: no `vscode`, no DOM.
 */
import type { ChannelStats, LayerActivations } from '../core/app/layer-activations';
import type { OutputRow, PreprocessingInfo } from '../core/app/types';
import type { Prediction } from '../core/explainer';
import type { GainJson } from '../core/metrics/gain';
import type { MetricValues } from '../core/metrics/registry';
import type { ModelConfigs } from '../core/model-configs';
import type { Tensor } from '../core/tensor';
import type { ScoreTarget } from '../core/methods/method';
import type { Direction, ResponsesMatch } from './messenger';

export { assertNever } from './messenger';

/**
 * Where models run: 'auto' picks the fastest available (WebGPU when the webview has an adapter, else 'cpu');
 * 'webgpu' and 'wasm' force onnxruntime-web in the webview (WASM there is single-threaded); 'cpu' runs
 * onnxruntime multi-threaded in the extension host (src/extension/host-runtime.ts).
 */
export type ExecutionProviderSetting = 'auto' | 'webgpu' | 'wasm' | 'cpu';

/**
 * Without WebGPU, `auto` runs a model on the extension host's CPU from this size on, and only where the host has
 * onnxruntime-node and a fast channel to the page (a local desktop window: the host says so with the page's
 * `data-native-cpu`); smaller models, and every model elsewhere, stay in the webview's WASM (webview/host-runtime.ts,
 * where the measurements are).
 */
export const AUTO_HOST_FROM_BYTES = 40 * 2 ** 20;

// ---------------------------------------------------------------- shared data

/** A model as the host hands it to the panel: its bytes plus the sidecar and labels it found. */
export interface ModelPayload {
  /** Stable identity (the model's URI); the panel reuses a loaded model with the same key. */
  readonly key: string;
  /** File name shown to the user. */
  readonly name: string;
  /** Where it came from, shown in the panel (workspace path, or "bundled"). */
  readonly origin: string;
  readonly bytes: Uint8Array;
  /**
   * Identity of the file's bytes as the host read them (its URI, size and modification time): another fingerprint
   * means other bytes, so the panel loads them again; the same one lets the host leave the bytes out (ModelHeld).
   * Absent (a payload built without a stat): the byte count stands for it.
   */
  readonly fingerprint?: string;
  /** Text of `<model>.onnx.json`, when present. */
  readonly sidecarText?: string;
  /** Labels named by the sidecar. */
  readonly labels?: LabelsFile;
  /** Hugging Face / timm `config.json` and `preprocessor_config.json` beside the model. */
  readonly configs?: ModelConfigs;
  /** Bundled label sets, used by class count when nothing names labels (ImageNet-1k, digits). */
  readonly fallbackLabels: { readonly imagenet: string; readonly digits: string };
  /** Whether a sidecar can be written next to the model (false for the bundled model). */
  readonly writable: boolean;
}

/**
 * A model the panel already holds: everything of its payload but the bytes (the sidecar, labels and configs are small
 * and read again, so an edited sidecar still counts). The panel uses its loaded model when the fingerprints agree,
 * and asks the host for the bytes (`modelBytes`) when they do not.
 */
export type ModelHeld = Omit<ModelPayload, 'bytes'> & { readonly bytes?: undefined; readonly fingerprint: string };

/** A labels file: its text, a name to show, and its URI (for the sidecar). */
export interface LabelsFile {
  readonly text: string;
  readonly name: string;
  readonly uri: string;
}

/** An image file as the host hands it to the panel. */
export interface ImagePayload {
  readonly key: string;
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** What to show: every field is optional; absent fields keep the panel's current choice. */
export interface ExplainOptions {
  readonly method?: string;
  readonly layer?: string;
  readonly classIndex?: number;
  readonly colormap?: string;
  readonly opacity?: number;
  /** What to explain: logit (default), softmax, sigmoid or contrast:B (src/core/methods/score-target.ts). */
  readonly target?: string;
}

/** One predicted class. */
export interface PredictionRow {
  readonly index: number;
  readonly label: string;
  readonly score: number;
}

/** A tensor the model exposes: name, producing op, shape. */
export interface LayerRow {
  readonly name: string;
  readonly op: string;
  readonly shape: readonly number[];
}

/** Milliseconds per step of the last run; steps that did not run are absent. */
export interface Timings {
  readonly loadModel?: number;
  readonly decode?: number;
  readonly preprocess?: number;
  readonly forward?: number;
  readonly explain?: number;
  readonly render?: number;
}

/** What the panel shows after an explanation, as the host and tests see it. */
export interface ExplainSummary {
  readonly model: string;
  readonly image: string;
  /** "WebGPU", "WASM" (the webview's, single-threaded) or "CPU" (onnxruntime in the extension host). */
  readonly backend: 'WebGPU' | 'WASM' | 'CPU';
  /** Why this backend ran (e.g. "auto: no WebGPU adapter, so the extension host's CPU"), when the panel chose it. */
  readonly backendReason?: string;
  /** Why WebGPU was not used although it was asked for or available, when it was not. */
  readonly fallback?: string;
  readonly preset: { readonly name: string; readonly source: string; readonly reason: string };
  readonly labelsSource: string;
  readonly predictions: readonly PredictionRow[];
  readonly method: string;
  readonly layer?: string;
  readonly defaultLayer?: string;
  readonly classIndex: number;
  readonly label: string;
  /** Minimum and maximum of the raw map (the values saved as .npy). */
  readonly rawRange: readonly [number, number];
  /** 'heatmap' or 'gradient' (input-space image). */
  readonly display: 'heatmap' | 'gradient';
  /** Where the heatmap peaks, as fractions of the original image's width and height. */
  readonly peak?: { readonly x: number; readonly y: number };
  /** GAIN's check on the shown heat map: the class probability before and after erasing the attended region (absent until computed). */
  readonly gain?: GainSummary;
  /** What was explained: logit, softmax, sigmoid or contrast:B. */
  readonly target?: string;
  /** The faithfulness metrics of the shown map (src/core/metrics/), measured after it is shown (absent until then). */
  readonly metrics?: MetricValues;
  /** The last "Compare methods" view: its cells, ranking and total time (absent until one ran). */
  readonly compare?: CompareSummaryRow;
  /** Attention crops: each scale's top-1 and the fused prediction (the attention-crop method only). */
  readonly crops?: { readonly scales: readonly PredictionRow[]; readonly fused: PredictionRow };
  /** Pixel size of what is drawn. */
  readonly rendered: { readonly width: number; readonly height: number };
  readonly timings: Timings;
}

/** The panel's "Compare methods" view as the host and tests read it. */
export interface CompareSummaryRow {
  readonly classIndex: number;
  readonly target: string;
  readonly rankBy: string;
  /** Methods tried, and those finished (a map, skipped or failed). */
  readonly methods: number;
  readonly finished: number;
  /** Cells with a map. */
  readonly filled: number;
  /** Milliseconds from the first method's start to the last method's end (absent until it finished). */
  readonly totalMs?: number;
  /** Milliseconds from the first method's start to the end of the last one finished so far. */
  readonly elapsedMs?: number;
  readonly ranking: readonly { readonly method: string; readonly rank: number | null; readonly value: number | null }[];
}

/** GAIN's attention-mining check (Li et al. 2018) of the shown heat map, for its class (the core's one GAIN result type). */
export type GainSummary = GainJson & { readonly classIndex: number };

/** A layer's activation for the current image and its per-channel statistics (the core's application-layer types). */
export type { ChannelStats, LayerActivations };

/** A small picture of the image the model saw, RGBA bytes. */
export interface Thumbnail {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** An attention gate of the model (SE, CBAM, residual attention): a Sigmoid or HardSigmoid that multiplies a feature map. */
export interface GateRow {
  /** The activation's output tensor; identifies the gate. */
  readonly tensor: string;
  readonly node: string;
  readonly activation: 'Sigmoid' | 'HardSigmoid';
  /** channel (C×1×1), spatial (1×H×W) or full (C×H×W). */
  readonly kind: 'channel' | 'spatial' | 'full';
  /** The gate's shape [c, h, w] as it broadcasts. */
  readonly shape: readonly number[];
  /** The gated feature map's shape [C, H, W]. */
  readonly featureShape: readonly number[];
  /** (1 + M)·F, as in residual attention. */
  readonly residual: boolean;
}

/** What the Layers view shows for the active panel. */
export interface LayersState {
  readonly model: string;
  readonly image: string;
  readonly layers: readonly LayerRow[];
  readonly defaultLayer?: string;
  /** The panel's current target layer. */
  readonly targetLayer?: string;
  readonly thumbnail: Thumbnail;
  /** The model's attention gates (empty when it has none). */
  readonly gates: readonly GateRow[];
}

// ---------------------------------------------------------------- webview → host: the extension-host runtime

/** Starts the extension host's runtime (once per host) and says what it is. */
export interface RuntimeStartRequest {
  readonly type: 'runtimeStart';
}
/** Creates a session on the extension host's runtime from model bytes. */
export interface RuntimeCreateRequest {
  readonly type: 'runtimeCreate';
  readonly model: Uint8Array;
  /** Graph optimisation level (default 'all'). */
  readonly optimization?: 'disabled' | 'basic' | 'all';
}
/**
 * Runs a session this webview created; fetches defaults to every output. A model's shared weights (the inputs of
 * its derived graphs, core/onnx/shared-weights.ts) cross the channel once: `keep` names feeds of this request the
 * host keeps under the webview's ids, `kept` names feeds the host already keeps.
 */
export interface RuntimeRunRequest {
  readonly type: 'runtimeRun';
  readonly session: number;
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly fetches?: readonly string[];
  /** Feeds the host already keeps for this webview: feed name → the webview's id. */
  readonly kept?: Readonly<Record<string, number>>;
  /** Feeds of this request to keep for later runs: feed name → the webview's id. */
  readonly keep?: Readonly<Record<string, number>>;
}
/** Drops kept feeds the webview no longer holds. */
export interface RuntimeForgetRequest {
  readonly type: 'runtimeForget';
  readonly ids: readonly number[];
}
/** Releases a session this webview created. */
export interface RuntimeReleaseRequest {
  readonly type: 'runtimeRelease';
  readonly session: number;
}
/** Requests a model-running webview sends to use the extension host's runtime. */
export type RuntimeRequest = RuntimeStartRequest | RuntimeCreateRequest | RuntimeRunRequest | RuntimeReleaseRequest | RuntimeForgetRequest;

/** What the extension host's runtime is. */
export interface HostRuntimeInfo {
  /** e.g. "onnxruntime-web 1.30.0 (wasm, 8 threads)" or "onnxruntime-node 1.30.0 (cpu, 8 threads)". */
  readonly backend: string;
  readonly threads: number;
}

/** Response type of each runtime request. */
export interface RuntimeResponses {
  readonly runtimeStart: HostRuntimeInfo;
  readonly runtimeCreate: { readonly session: number; readonly inputNames: readonly string[]; readonly outputNames: readonly string[] };
  readonly runtimeRun: Record<string, Tensor>;
  readonly runtimeRelease: void;
  readonly runtimeForget: void;
}

// ---------------------------------------------------------------- host → panel

/** Load (or reuse) the model and image and show an explanation. */
export interface OpenRequest {
  readonly type: 'open';
  /** The model, without its bytes when the host knows the panel loaded these same bytes (the next image in a reused panel). */
  readonly model: ModelPayload | ModelHeld;
  readonly image: ImagePayload;
  readonly executionProvider: ExecutionProviderSetting;
  readonly options: ExplainOptions;
  /** When the user asked for it (epoch ms, the host's clock): the start of the panel's start-up timeline. */
  readonly requestedAt?: number;
  /**
   * The host is loading this model on its own CPU runtime and can explain a first map (PreviewRequest) while the
   * panel loads the model; the bytes are then left out (the panel asks for them with ModelBytesRequest when it loads).
   */
  readonly preview?: boolean;
  /** With `preview`: the host decoded the image itself and is explaining it already; the panel's PreviewRequest names it (imageKey) instead of sending pixels. */
  readonly previewDecoded?: boolean;
}
/** Change what is shown for the current image and re-explain. */
export interface ExplainRequestMessage {
  readonly type: 'explain';
  readonly options: ExplainOptions;
}
/** The current summary, or undefined before the first explanation. */
export interface SummaryRequest {
  readonly type: 'summary';
}
/** A layer's activations for the current image. */
export interface ActivationsRequest {
  readonly type: 'activations';
  readonly layer: string;
}
/** Show one channel of a layer large over the image (undefined channel: back to the explanation). */
export interface ShowChannelRequest {
  readonly type: 'showChannel';
  readonly layer: string;
  readonly channel?: number;
}
/** Show an attention gate for the current image: a spatial or full mask over the image, a channel gate as a bar chart (undefined tensor: back to the explanation). */
export interface ShowGateRequest {
  readonly type: 'showGate';
  readonly tensor?: string;
}
/** Project a channel's strongest activation to the pixels (deconvnet) and show it next to its image patch. */
export interface ProjectChannelRequest {
  readonly type: 'projectChannel';
  readonly layer: string;
  readonly channel: number;
}
/** Requests the host sends to the panel. */
export type PanelRequest = OpenRequest | ExplainRequestMessage | SummaryRequest | ActivationsRequest | ShowChannelRequest | ShowGateRequest | ProjectChannelRequest;

/** Response type of each panel request. */
export interface PanelResponses {
  readonly open: ExplainSummary;
  readonly explain: ExplainSummary;
  readonly summary: ExplainSummary | undefined;
  readonly activations: LayerActivations;
  readonly showChannel: void;
  readonly showGate: void;
  readonly projectChannel: void;
}

/** The host changed a setting the panel uses. */
export interface SettingsNote {
  readonly type: 'settings';
  readonly executionProvider: ExecutionProviderSetting;
}
/** Notifications the host sends to the panel. */
export type HostToPanelNote = SettingsNote;

/** What the host sends to the panel. */
export interface HostToPanel extends Direction {
  readonly requests: PanelRequest;
  readonly responses: PanelResponses;
  readonly notes: HostToPanelNote;
}

// ---------------------------------------------------------------- panel → host

/** Show VS Code progress for long work; answers when the user cancels, or is cancelled when the work ends. */
export interface ProgressRequest {
  readonly type: 'progress';
  readonly title: string;
}
/** Write a file into the workspace's output folder. */
export interface SaveRequest {
  readonly type: 'save';
  readonly fileName: string;
  readonly what: 'PNG' | '.npy';
  readonly bytes: Uint8Array;
}
/** Ask the user for a labels file. */
export interface PickLabelsRequest {
  readonly type: 'pickLabels';
}
/** Write the preset and labels to the model's sidecar. */
export interface SaveSidecarRequest {
  readonly type: 'saveSidecar';
  readonly modelKey: string;
  readonly preset: string;
  /** URI of the labels file; absent keeps the sidecar's. */
  readonly labelsUri?: string;
}
/** The panel was sent a model without its bytes (ModelHeld) but does not hold it: the host reads and sends the whole payload. */
export interface ModelBytesRequest {
  readonly type: 'modelBytes';
  /** The model's key (URI) the open request named. */
  readonly key: string;
}
/**
 * Explain the decoded image with the model the host loaded for an open request that offered a preview: the first
 * map, computed on the extension host's CPU while the panel loads the model itself.
 */
export interface PreviewRequest {
  readonly type: 'preview';
  /** The model's key (URI) the open request named. */
  readonly key: string;
  /** The decoded image, RGBA; absent when the open said the host decoded it (previewDecoded). */
  readonly image?: { readonly width: number; readonly height: number; readonly data: Uint8Array | Uint8ClampedArray };
  /** The image's key (URI), when the host decoded it. */
  readonly imageKey?: string;
  /** A registry method id; absent: the first that applies. */
  readonly method?: string;
  readonly target?: ScoreTarget;
  /** Explain the top K predicted classes (default 1). */
  readonly top?: number;
}
/** One explained class of a preview: the core's Explanation without method payloads. */
export interface PreviewOutput {
  readonly classIndex: number;
  readonly label: string;
  readonly layer?: string;
  readonly raw: Tensor;
  readonly display: { readonly kind: 'heatmap'; readonly map: Float32Array; readonly width: number; readonly height: number } | { readonly kind: 'gradient'; readonly grad: Tensor };
  readonly min: number;
  readonly max: number;
}
/** The host's answer to a PreviewRequest: what the panel needs to draw the first map and its predictions. */
export interface PreviewAnswer {
  readonly method: string;
  readonly layer?: string;
  readonly note?: string;
  readonly target: ScoreTarget;
  readonly logits: Float32Array;
  readonly probs: Float32Array;
  readonly predictions: readonly { readonly index: number; readonly label: string; readonly score: number }[];
  /** The preprocessing crop in image pixels (absent: the whole image). */
  readonly crop?: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  readonly outputs: readonly PreviewOutput[];
  /** The class labels in use (absent: none known). */
  readonly labels?: readonly string[];
  /** What ran it, e.g. "onnxruntime-node 1.30 (cpu, 2 threads), extension host". */
  readonly backend: string;
  /** Milliseconds: loading the model on the host (from the click), how long the request waited for that load, preprocessing, the forward pass, the method. */
  readonly ms: { readonly load: number; readonly waited: number; readonly prepare: number; readonly forward: number; readonly explain: number };
  /** Whether the image was preprocessed while the model loaded, before onnxruntime created its session (src/node/preview-thread.ts). */
  readonly preparedWhileLoading: boolean;
  /** When the request reached the host and when the host answered (epoch ms, the host's clock): where the time went, in the panel's console. */
  readonly at: { readonly arrived: number; readonly answered: number };
}
/** Requests the panel sends to the host. */
export type PanelToHostRequest = ProgressRequest | SaveRequest | PickLabelsRequest | SaveSidecarRequest | ModelBytesRequest | PreviewRequest | RuntimeRequest;

/** Response type of each panel-to-host request. */
export interface HostResponses extends RuntimeResponses {
  readonly progress: { readonly cancelled: boolean };
  readonly save: { readonly path: string };
  readonly pickLabels: LabelsFile | undefined;
  readonly saveSidecar: { readonly path: string };
  readonly modelBytes: ModelPayload;
  readonly preview: PreviewAnswer;
}

/** The webview is listening; the host may send. */
export interface ReadyNote {
  readonly type: 'ready';
}
/** Something failed; the host shows it as an error message. */
export interface ErrorNote {
  readonly type: 'error';
  readonly message: string;
}
/** Something the user should know that is not an error (e.g. a WebGPU fallback). */
export interface NoticeNote {
  readonly type: 'notice';
  readonly level: 'info' | 'warning';
  readonly message: string;
}
/** The panel's image, model, layers or target layer changed: the Layers view follows. */
export interface LayersChangedNote {
  readonly type: 'layersChanged';
  readonly state: LayersState;
}
/** Notifications the panel sends to the host. */
export type PanelToHostNote = ReadyNote | ErrorNote | NoticeNote | LayersChangedNote;

/** What the panel sends to the host. */
export interface PanelToHost extends Direction {
  readonly requests: PanelToHostRequest;
  readonly responses: HostResponses;
  readonly notes: PanelToHostNote;
}

// ---------------------------------------------------------------- host ↔ Layers view

/** What the Layers view shows: the active panel's layers, or why there are none. */
export interface ShowLayersNote {
  readonly type: 'show';
  readonly state?: LayersState;
  /** Shown when there is no state, e.g. "Explain an image to see its layers." */
  readonly empty?: string;
  /** The layer selected last and its activations, replayed when the view comes back. */
  readonly selected?: LayerActivations;
  readonly channel?: number;
}
/** Notifications the host sends to the Layers view. */
export type HostToLayersNote = ShowLayersNote;

/** Requests the host sends to the Layers view (none). */
export type HostToLayersRequest = never;

/** What the host sends to the Layers view. */
export interface HostToLayers extends Direction {
  readonly requests: HostToLayersRequest;
  readonly responses: Record<never, never>;
  readonly notes: HostToLayersNote;
}

/** Activations of a layer of the active panel's image. */
export interface SelectLayerRequest {
  readonly type: 'selectLayer';
  readonly layer: string;
}
/** Requests the Layers view sends to the host. */
export type LayersToHostRequest = SelectLayerRequest;

/** Response type of each Layers-view request. */
export interface LayersResponses {
  readonly selectLayer: LayerActivations;
}

/** Make a layer the panel's target layer. */
export interface UseAsTargetNote {
  readonly type: 'useAsTarget';
  readonly layer: string;
}
/** Show a channel large over the image in the panel (channel undefined: back to the explanation). */
export interface ShowChannelNote {
  readonly type: 'showChannel';
  readonly layer: string;
  readonly channel?: number;
}
/** Show an attention gate in the panel (tensor undefined: back to the explanation). */
export interface ShowGateNote {
  readonly type: 'showGate';
  readonly tensor?: string;
}
/** A channel tile's "Project to pixels": show the projection in the panel. */
export interface ProjectChannelNote {
  readonly type: 'projectChannel';
  readonly layer: string;
  readonly channel: number;
}
/** Notifications the Layers view sends to the host. */
export type LayersToHostNote = ReadyNote | ErrorNote | UseAsTargetNote | ShowChannelNote | ShowGateNote | ProjectChannelNote;

/** What the Layers view sends to the host. */
export interface LayersToHost extends Direction {
  readonly requests: LayersToHostRequest;
  readonly responses: LayersResponses;
  readonly notes: LayersToHostNote;
}

// ---------------------------------------------------------------- host ↔ folder (batch) view

/** What a folder run explains in every image. */
export interface BatchSettingsPayload {
  /** Method ids, in order (see the method registry). */
  readonly methods: readonly string[];
  /** Explain each image's top K predicted classes. */
  readonly top: number;
  /** Measure GAIN's score drop for every output. */
  readonly gain: boolean;
  /** What to explain: logit (absent), softmax, sigmoid or contrast:B. */
  readonly target?: string;
  readonly colormap: string;
  /** Heat-map opacity, 0..1. */
  readonly opacity: number;
}

/** Load the model for a folder run (the view shows progress while the host feeds it images). */
export interface BatchStartRequest {
  readonly type: 'batchStart';
  readonly model: ModelPayload;
  readonly executionProvider: ExecutionProviderSetting;
  /** The folder, as shown to the user. */
  readonly folder: string;
  readonly total: number;
  readonly settings: BatchSettingsPayload;
}

/** What the view reports once the model is loaded. */
export interface BatchStarted {
  /** e.g. "onnxruntime-web WASM". */
  readonly backend: string;
  /** Target layer of the CAM-family methods, or null when none runs. */
  readonly layer: string | null;
  /** The preprocessing in effect (the same fields as the CLI's summary). */
  readonly preprocessing: PreprocessingInfo;
  readonly loadMs: number;
  /** Why WebGPU was not used, or how the model was converted, when that happened. */
  readonly notices: readonly string[];
}

/** Explain one image of the folder. */
export interface BatchImageRequest {
  readonly type: 'batchImage';
  readonly image: ImagePayload;
  /** 0-based position in the folder, for the view's progress. */
  readonly index: number;
}

/** One explanation of one image: the batch summary's output row, with the PNG and .npy as bytes for the host to write. */
export type BatchOutputPayload = OutputRow<Uint8Array>;

/** Everything one image produced. */
export interface BatchImageResult {
  /** The picture the model saw (the preprocessing crop), PNG bytes. */
  readonly view: Uint8Array;
  readonly predictions: readonly Prediction[];
  readonly outputs: readonly BatchOutputPayload[];
  readonly ms: number;
}

/** Requests the host sends to the folder view. */
export type BatchViewRequest = BatchStartRequest | BatchImageRequest;

/** Response type of each folder-view request. */
export interface BatchViewResponses {
  readonly batchStart: BatchStarted;
  readonly batchImage: BatchImageResult;
}

/** The host recorded one image (explained or failed): the view lists it. */
export interface BatchRecordedNote {
  readonly type: 'recorded';
  readonly index: number;
  readonly name: string;
  /** Top-1 label and probability, when explained. */
  readonly top?: PredictionRow;
  readonly error?: string;
}
/** Notifications the host sends to the folder view. */
export type HostToBatchNote = BatchRecordedNote;

/** What the host sends to the folder view. */
export interface HostToBatch extends Direction {
  readonly requests: BatchViewRequest;
  readonly responses: BatchViewResponses;
  readonly notes: HostToBatchNote;
}

/** Notifications the folder view sends to the host. */
export type BatchToHostNote = ReadyNote | ErrorNote;

/** What the folder view sends to the host (its requests run models on the extension host's runtime). */
export interface BatchToHost extends Direction {
  readonly requests: RuntimeRequest;
  readonly responses: RuntimeResponses;
  readonly notes: BatchToHostNote;
}

// ---------------------------------------------------------------- compile-time checks

/** Every request type has exactly one response type, in each direction (a missing or extra key fails to compile). */
export const RESPONSE_MAPS_MATCH: readonly [
  ResponsesMatch<HostToPanel>, ResponsesMatch<PanelToHost>, ResponsesMatch<HostToLayers>, ResponsesMatch<LayersToHost>,
  ResponsesMatch<HostToBatch>, ResponsesMatch<BatchToHost>,
] = [true, true, true, true, true, true];
