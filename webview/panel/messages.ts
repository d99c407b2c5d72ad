/** What the panel controller takes (host requests and notes, user events, job results) and what it asks the driver to do. */
import type {
  ExecutionProviderSetting, ExplainOptions, GainSummary, ImagePayload, LabelsFile, LayersState, ModelHeld, ModelPayload, PanelToHostNote, Timings,
} from '../../src/protocol/protocol';
import type { MetricValues } from '../../src/core/metrics/registry';
import type { BoxFraction, CompareCellView, ImageInfo, ModelInfo, OutcomeView, PanelState, Persisted, PresetInfo, PreviewInfo, Reply, SanityView, Work } from './state';

/** The backend as it stands after some work. */
export interface RuntimeNote {
  readonly backend: ModelInfo['backend'];
  readonly fallbacks: readonly string[];
}

/** Host requests: `ticket` names the driver's pending answer. */
export type HostMsg =
  /** `preview`: the host offers a first map of its own while the panel loads the model (the model then comes without its bytes). */
  | { readonly type: 'open'; readonly ticket: number; readonly model: ModelPayload | ModelHeld; readonly image: ImagePayload; readonly ep: ExecutionProviderSetting; readonly options: ExplainOptions; readonly preview?: boolean; readonly previewDecoded?: boolean }
  | { readonly type: 'explain'; readonly ticket: number; readonly options: ExplainOptions }
  | { readonly type: 'activations'; readonly ticket: number; readonly layer: string }
  | { readonly type: 'showChannel'; readonly ticket: number; readonly layer: string; readonly channel?: number }
  | { readonly type: 'showGate'; readonly ticket: number; readonly tensor?: string }
  | { readonly type: 'projectChannel'; readonly ticket: number; readonly layer: string; readonly channel: number }
  | { readonly type: 'settings'; readonly ep: ExecutionProviderSetting };

/** What the user does in the panel. */
export type UserMsg =
  | { readonly type: 'pickMethod'; readonly method: string }
  | { readonly type: 'pickLayer'; readonly layer: string }
  | { readonly type: 'pickClass'; readonly classIndex: number }
  | { readonly type: 'pickColormap'; readonly colormap: string }
  | { readonly type: 'pickOpacity'; readonly opacity: number }
  | { readonly type: 'pickPreset'; readonly preset: string }
  /** Cancel the job in flight (ticket: only when it is that host request's job). */
  | { readonly type: 'cancel'; readonly ticket?: number }
  /** Back from a channel, gate or projection to the explanation. */
  | { readonly type: 'back' }
  | { readonly type: 'save'; readonly what: 'PNG' | '.npy' }
  | { readonly type: 'pickLabels' }
  | { readonly type: 'saveSidecar' }
  /** Run the sanity checks on the shown map (slow: one randomised model per step; progress and Cancel as any job). */
  | { readonly type: 'checkSanity' }
  /** What to explain: logit, softmax, sigmoid or contrast:B (re-explains). */
  | { readonly type: 'pickTarget'; readonly target: string }
  /** The pointing game's box drawn on the picture (fractions of it); undefined clears it. */
  | { readonly type: 'setBox'; readonly box?: BoxFraction }
  /** Open the "Compare methods" view and run every available method on the shown class and target. */
  | { readonly type: 'compareMethods' }
  /** The methods "Compare methods" runs (registry ids, remembered; empty: the default eight). */
  | { readonly type: 'pickCompareMethods'; readonly methods: readonly string[] }
  /** The metric the comparison is ranked by (a RANK_KEYS key). */
  | { readonly type: 'rankBy'; readonly key: string }
  /** Close the comparison view (a comparison in flight is cancelled). */
  | { readonly type: 'closeCompare' };

/** Results of work and host answers. */
export type ResultMsg =
  | { readonly type: 'imageLoaded'; readonly job: number; readonly image: ImageInfo; readonly decodeMs: number }
  | { readonly type: 'modelLoaded'; readonly job: number; readonly model: ModelInfo; readonly loadMs: number }
  | { readonly type: 'presetUsed'; readonly job?: number; readonly preset: string | undefined; readonly preprocessing: PresetInfo }
  | { readonly type: 'explained'; readonly job: number; readonly outcome: OutcomeView; readonly timings: Timings; readonly runtime: RuntimeNote }
  /** The extension host's first map (src/extension/host-preview.ts), shown until the panel's own replaces it. */
  | { readonly type: 'previewed'; readonly job: number; readonly outcome: OutcomeView; readonly preview: PreviewInfo }
  /** The host could not give a first map (why): the panel loads the model and explains as it would without. */
  | { readonly type: 'previewSkipped'; readonly job: number; readonly why: string }
  /** The checks of a shown map: GAIN (when asked) and the faithfulness metrics measured. */
  | { readonly type: 'measured'; readonly job: number; readonly outcome: number; readonly classIndex: number; readonly gain?: GainSummary; readonly metrics: MetricValues; readonly runtime: RuntimeNote }
  /** One method of the comparison finished; `elapsedMs` counts from the comparison's first method. */
  | { readonly type: 'compared'; readonly job: number; readonly cell: CompareCellView; readonly elapsedMs: number }
  | { readonly type: 'activationsRead'; readonly job: number; readonly layer: string; readonly channels: number }
  | { readonly type: 'gateRead'; readonly job: number; readonly tensor: string; readonly kind: string }
  | { readonly type: 'projected'; readonly job: number; readonly layer: string; readonly channel: number }
  | { readonly type: 'sanityChecked'; readonly job: number; readonly sanity: SanityView }
  | { readonly type: 'progress'; readonly job: number; readonly done: number; readonly total: number }
  | { readonly type: 'labelsPicked'; readonly file?: LabelsFile }
  | { readonly type: 'labelsUsed'; readonly labels?: readonly string[]; readonly labelsSource: string; readonly pickedUri?: string }
  | { readonly type: 'saved'; readonly path: string }
  /** The picture of a new outcome was drawn in `ms`. */
  | { readonly type: 'drawn'; readonly ms: number }
  /** Work failed or was cancelled: of a job, or (no job) something the user started. */
  | { readonly type: 'failed'; readonly job?: number; readonly error: unknown; readonly cancelled: boolean };

/** Everything the controller takes. */
export type PanelMsg = HostMsg | UserMsg | ResultMsg;

/** What the controller asks the driver to do. */
export type Effect =
  /** Start a job: its cancel switch, and VS Code progress after half a second. */
  | { readonly kind: 'begin'; readonly job: number; readonly title: string }
  /** Run a step with the app layer, after the work before it stopped; its result comes back as a message. */
  | { readonly kind: 'work'; readonly job: number; readonly work: Work }
  | { readonly kind: 'abort'; readonly job: number }
  /** A job is over: answer its host request, if any. */
  | { readonly kind: 'end'; readonly job: number; readonly ticket?: number; readonly result: { readonly reply: Reply } | { readonly error: unknown } }
  /** vscode.setState: the one place the panel persists. */
  | { readonly kind: 'persist'; readonly value: Persisted }
  | { readonly kind: 'notify'; readonly note: Extract<PanelToHostNote, { readonly type: 'notice' | 'error' }> }
  /** Tell the host the layers changed (the driver adds the thumbnail). */
  | { readonly kind: 'layersChanged'; readonly state: Omit<LayersState, 'thumbnail'> }
  /** Set the classifier's preset at once (going back after a failed change). */
  | { readonly kind: 'usePreset'; readonly preset: string | undefined }
  | { readonly kind: 'useLabels'; readonly file: LabelsFile }
  | { readonly kind: 'save'; readonly what: 'PNG' | '.npy' }
  | { readonly kind: 'pickLabels' }
  | { readonly kind: 'saveSidecar'; readonly modelKey: string; readonly preset: string; readonly labelsUri?: string };

/** A transition: the next state and what to do. */
export interface Transition {
  readonly state: PanelState;
  readonly effects: readonly Effect[];
}
