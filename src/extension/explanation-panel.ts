/** The host side of the explanation panel: one webview panel per image, running onnxruntime-web. */
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import type { ScoreTarget } from '../core/methods/method';
import { parseScoreTarget } from '../core/methods/score-target';
import { PRESETS } from '../core/preprocess/presets';
import { CancelledError, asFloat32 } from '../protocol/messenger';
import { fileFingerprint } from '../protocol/model-payload';
import type {
  ExecutionProviderSetting, ExplainOptions, ExplainSummary, HostToPanel, LayerActivations, LayersState, ModelHeld, ModelPayload, PanelToHost,
} from '../protocol/protocol';
import { logger } from './error-handling';
import { HostPreview, keptForNextImages, previewable } from './host-preview';
import { HostRuntimeSessions, sharedRuntimeThread } from './host-runtime';
import { CheckedSave, CheckedSidecar, checkLayersState, checkNotice, checkSave, checkSaveSidecar, checkTitle } from './validate';
import { PAGES } from './webview-html';
import { WebviewHost, autoMayUseHostCpu, webviewOptions } from './webview-host';
import { ModelRef, display, pickLabels, readImagePayload, readModelParts, readModelPayload, saveOutput, writeSidecar } from './workspace-files';

/** Who sends what the panel's handlers check, in their messages. */
const FROM = 'The explanation panel';

/** The webview panel type (also the `onWebviewPanel:` activation event). */
export const PANEL_VIEW_TYPE = 'lookCloser.explanation';

/** What a panel persists to be restored after a reload. */
export interface PanelState {
  readonly imageUri: string;
  readonly modelUri?: string;
  readonly options?: ExplainOptions;
}

/** What the panel tells its owner. */
export interface PanelEvents {
  onActive(panel: ExplanationPanel): void;
  onLayers(panel: ExplanationPanel, state: LayersState): void;
  onDispose(panel: ExplanationPanel): void;
}

/** The current execution-provider setting. */
export function executionProvider(): ExecutionProviderSetting {
  const v = vscode.workspace.getConfiguration('lookCloser').get<string>('executionProvider');
  return v === 'webgpu' || v === 'wasm' || v === 'cpu' ? v : 'auto';
}

/** A target option as the core's ScoreTarget, or undefined when it does not parse (the panel reports it). */
function parseScoreTargetOrUndefined(t: string): ScoreTarget | undefined {
  try {
    return parseScoreTarget(t);
  } catch {
    return undefined;
  }
}

/** The host's fingerprint of a model file: its URI, size and modification time, from a stat taken before any read (a write in between reads as changed next time). */
async function fingerprintOf(model: ModelRef): Promise<string> {
  const stat = await Promise.resolve(vscode.workspace.fs.stat(model.uri));
  return fileFingerprint(model.uri.toString(), stat.size, stat.mtime);
}

/** A panel's title: "Explain: cat.jpg". */
function panelTitle(image: vscode.Uri): string {
  return `Explain: ${image.path.split('/').pop() ?? 'image'}`;
}

/** Whether the next image opens in the panel that has its model loaded (`lookCloser.reusePanel`, default true). */
export function reusePanel(): boolean {
  return vscode.workspace.getConfiguration('lookCloser').get<boolean>('reusePanel') !== false;
}

/** One explanation panel: the webview, its host, and the image and model it shows. */
export class ExplanationPanel {
  private readonly host: WebviewHost<HostToPanel, PanelToHost>;
  /** The last layers state the panel reported (the Layers view follows it). */
  layers?: LayersState;
  model?: ModelRef;
  /** The fingerprint of the model bytes the webview loaded with the last open that succeeded (the next open may leave them out). */
  private sent?: string;
  /** The first map of an open that loads a model, computed on the host's CPU while the panel loads the model (host-preview.ts). */
  private readonly preview: HostPreview;
  /** The payload of the open in flight that left its bytes out (the panel asks for them with modelBytes). */
  private pending?: ModelPayload;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private image: vscode.Uri,
    private readonly extensionUri: vscode.Uri,
    private readonly events: PanelEvents,
  ) {
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'look-closer.svg');
    // Models the panel runs on the extension host's CPU (executionProvider 'cpu', or 'auto' without WebGPU); released when it closes.
    const runtime = new HostRuntimeSessions(sharedRuntimeThread(extensionUri.fsPath), FROM);
    this.preview = new HostPreview(sharedRuntimeThread(extensionUri.fsPath), FROM);
    panel.onDidDispose(() => {
      void runtime.dispose();
      void this.preview.release();
    });
    this.host = new WebviewHost<HostToPanel, PanelToHost>(panel, {
      what: 'Panel',
      // Every field the webview sends is checked (validate.ts, host-runtime.ts) before it is used.
      requests: {
        ...runtime.handlers,
        progress: (r, signal) => this.progress(checkTitle(FROM, r), signal),
        save: (r) => this.save(checkSave(FROM, r)),
        pickLabels: () => pickLabels(),
        saveSidecar: (r) => this.saveSidecar(checkSaveSidecar(FROM, r, PRESETS)),
        modelBytes: (r) => this.modelBytes(r),
        preview: (r, signal) => this.preview.explain(r, signal),
      },
      notes: {
        notice: (n) => {
          const { level, message } = checkNotice(FROM, n);
          logger()?.info(message);
          if (level === 'warning') void vscode.window.showWarningMessage(`Look Closer: ${message}`);
          else void vscode.window.showInformationMessage(`Look Closer: ${message}`);
        },
        layersChanged: (n) => {
          this.layers = checkLayersState(FROM, n.state);
          this.events.onLayers(this, this.layers);
        },
      },
    });
    this.host.showPage(PAGES.panel, panel.title, extensionUri, executionProvider());
    panel.onDidChangeViewState((e) => e.webviewPanel.active && this.events.onActive(this));
    panel.onDidDispose(() => this.events.onDispose(this));
  }

  /** The image this panel explains. */
  get imageUri(): vscode.Uri {
    return this.image;
  }

  /** Makes this panel the one of another image (the next `open` loads it; the model stays loaded). */
  showImage(image: vscode.Uri): void {
    this.image = image;
    this.panel.title = panelTitle(image);
  }

  /** Creates a panel for an image beside the active editor. */
  static create(imageUri: vscode.Uri, extensionUri: vscode.Uri, events: PanelEvents): ExplanationPanel {
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, panelTitle(imageUri), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
      ...webviewOptions(extensionUri),
      // The panel holds a loaded model and its sessions; rebuilding them on every tab switch would be slow.
      retainContextWhenHidden: true,
    });
    return new ExplanationPanel(panel, imageUri, extensionUri, events);
  }

  /**
   * Loads model and image into the webview and explains; resolves with what the panel shows. `requestedAt`: when
   * the user asked (epoch ms). A panel that must load the model, on 'auto' or 'cpu', is offered a first map from
   * the host (host-preview.ts): the host starts loading the model on its runtime now, and the open leaves the
   * bytes out (the panel asks for them with modelBytes once it has drawn the host's map), so the big message
   * does not queue ahead of the map on the webview channel.
   */
  async open(model: ModelRef, options: ExplainOptions = {}, signal?: AbortSignal, requestedAt?: number): Promise<ExplainSummary> {
    const fingerprint = await fingerprintOf(model);
    // The panel that loaded these same bytes keeps its model and sessions: only the small parts are read and travel again.
    const held = this.sent === fingerprint;
    const [parts, image] = await Promise.all([
      held ? readModelParts(model, this.extensionUri) : readModelPayload(model, this.extensionUri),
      readImagePayload(this.imageUri),
    ]);
    this.model = model;
    logger()?.info(`Explaining ${display(this.imageUri)} with ${model.origin}`);
    const ep = executionProvider();
    let sent: ModelPayload | ModelHeld = { ...parts, bytes: undefined, fingerprint };
    let lease: (() => Promise<void>) | undefined;
    const bytes = (parts as Partial<ModelPayload>).bytes;
    // The settings on which the host's runtime thread draws first maps (host-preview.ts).
    const hostPreviews = ep === 'auto' || ep === 'cpu';
    if (!held && bytes) {
      const payload: ModelPayload = { ...parts, bytes, fingerprint };
      if (hostPreviews && previewable(bytes.byteLength)) {
        lease = this.preview.prepare(payload);
        this.pending = payload;
        if (keptForNextImages(ep, bytes.byteLength, autoMayUseHostCpu())) this.preview.keep();
      } else sent = payload;
    } else if (held && hostPreviews) {
      // The panel keeps its model; the host's thread may too (keep): the next image's first map comes from there.
      lease = this.preview.reuse(sent.key, fingerprint);
    }
    // A PNG or JPEG the host can decode itself is explained at once, while the panel's page loads.
    const target = options.target === undefined ? undefined : parseScoreTargetOrUndefined(options.target);
    const decoded = lease !== undefined && this.preview.begin(image, options.method, target);
    this.sent = undefined;
    try {
      const summary = await this.host.request({
        type: 'open', model: sent, image, executionProvider: ep, options, requestedAt, ...(lease ? { preview: true } : {}), ...(decoded ? { previewDecoded: true } : {}),
      }, signal);
      this.sent = fingerprint;
      return summary;
    } finally {
      if (lease) {
        if (this.pending?.fingerprint === fingerprint) this.pending = undefined;
        // The panel has its own model now (or failed to load it): the host's copy is not needed any more, unless
        // an open that superseded this one uses it.
        void lease();
      }
    }
  }

  /** The model's payload with the host's fingerprint of its bytes: its URI, size and modification time (stat before read, so a write in between reads as changed next time). */
  private async readModel(model: ModelRef): Promise<ModelPayload> {
    const fingerprint = await fingerprintOf(model);
    return { ...(await readModelPayload(model, this.extensionUri)), fingerprint };
  }

  /** Re-explains the current image with other options. */
  async explain(options: ExplainOptions, signal?: AbortSignal): Promise<ExplainSummary> {
    return this.host.request({ type: 'explain', options }, signal);
  }

  /** What the panel shows now. */
  async summary(): Promise<ExplainSummary | undefined> {
    return this.host.request({ type: 'summary' });
  }

  /** A layer's activations for the current image. */
  async activations(layer: string, signal?: AbortSignal): Promise<LayerActivations> {
    const a = await this.host.request({ type: 'activations', layer }, signal);
    return { ...a, data: asFloat32(a.data) };
  }

  /** Shows one channel large over the image (undefined: back to the explanation). */
  async showChannel(layer: string, channel: number | undefined): Promise<void> {
    await this.host.request({ type: 'showChannel', layer, channel });
  }

  /** Shows an attention gate for the current image (undefined: back to the explanation). */
  async showGate(tensor: string | undefined): Promise<void> {
    await this.host.request({ type: 'showGate', tensor });
  }

  /** Projects a channel's strongest activation to the pixels and shows it next to its image patch. */
  async projectChannel(layer: string, channel: number): Promise<void> {
    await this.host.request({ type: 'projectChannel', layer, channel });
  }

  /** Tells the webview about a changed setting. */
  settingsChanged(): void {
    this.host.notify({ type: 'settings', executionProvider: executionProvider() });
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  get isDisposed(): boolean {
    return this.host.isDisposed;
  }

  /** A cancellable VS Code progress notification; answers when the user cancels or the panel's work ends. */
  private progress(title: string, signal: AbortSignal): Promise<{ cancelled: boolean }> {
    return Promise.resolve(vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Look Closer: ${title}`, cancellable: true },
      (_progress, token) => new Promise<{ cancelled: boolean }>((resolve) => {
        token.onCancellationRequested(() => resolve({ cancelled: true }));
        if (signal.aborted) resolve({ cancelled: false });
        signal.addEventListener('abort', () => resolve({ cancelled: false }));
      }),
    ));
  }

  /** Test hook (the extension-host tier): sends a request to this panel's handlers as its webview would, unchecked. */
  fromWebview(body: unknown): Promise<unknown> {
    return this.host.fromWebview(body);
  }

  private async save(r: CheckedSave): Promise<{ path: string }> {
    const uri = await saveOutput(r.fileName, r.bytes, this.imageUri);
    if (!uri) throw new CancelledError();
    const shown = display(uri);
    void vscode.window.showInformationMessage(`Look Closer: saved ${r.what} to ${shown}`, 'Open').then((a) => {
      if (a === 'Open') void vscode.commands.executeCommand('vscode.open', uri);
    });
    return { path: shown };
  }

  /** The whole payload of the panel's model, for a panel that was sent it without bytes but no longer holds them. */
  private async modelBytes(r: unknown): Promise<ModelPayload> {
    const key = (r as { key?: unknown } | undefined)?.key;
    if (!this.model || typeof key !== 'string' || this.model.uri.toString() !== key) {
      throw new LookCloserError('bad-argument', `${FROM} asked for the bytes of a model it was not sent (${typeof key === 'string' ? key : 'no key'}); explain the image again.`);
    }
    // The payload the open in flight left out, as the host read it (no second read): its bytes went to the host's
    // runtime thread for the first map (HostPreview.prepare), which sends a copy back.
    const pending = this.pending?.key === key ? await this.preview.bytes(this.pending) : undefined;
    return pending ?? this.readModel(this.model);
  }

  private async saveSidecar(r: CheckedSidecar): Promise<{ path: string }> {
    if (!this.model || this.model.uri.toString() !== r.modelKey) throw new LookCloserError('bad-argument', 'The panel changed models before the sidecar could be saved; try again.');
    if (this.model.bundled) {
      throw new LookCloserError('bad-argument', "The bundled SqueezeNet's settings cannot be changed on disk; copy the model into your workspace and use it there to save a sidecar.");
    }
    const side = await writeSidecar(this.model.uri, r.preset, r.labelsUri);
    if (!side) throw new CancelledError();
    void vscode.window.showInformationMessage(`Look Closer: saved preprocessing and labels to ${display(side)}`);
    return { path: display(side) };
  }
}
