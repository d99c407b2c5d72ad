/** The "Look Closer: Layers" side view: the active panel's layers and channel activations; replays its state when shown again. */
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import { Messenger } from '../protocol/messenger';
import type { HostToLayers, LayerActivations, LayersToHost, ShowLayersNote } from '../protocol/protocol';
import { showError } from './error-handling';
import type { ExplanationPanel } from './explanation-panel';
import { webviewEndpoint } from './webview-endpoint';
import { webviewHtml, webviewOptions } from './webview-html';

/** The view's id in package.json. */
export const LAYERS_VIEW_ID = 'lookCloser.layers';

/** Provides the Layers webview view and keeps what it shows. */
export class LayersViewProvider implements vscode.WebviewViewProvider {
  private view?: vscode.WebviewView;
  private messenger?: Messenger<HostToLayers, LayersToHost>;
  private panel?: ExplanationPanel;
  private selected?: LayerActivations;
  private channel?: number;
  private readyResolve?: () => void;
  /** Resolves once the view's webview has posted `ready` (tests wait on it). */
  ready: Promise<void> = new Promise((r) => (this.readyResolve = r));

  constructor(private readonly extensionUri: vscode.Uri) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    this.messenger?.dispose();
    this.messenger = new Messenger<HostToLayers, LayersToHost>(webviewEndpoint(view.webview), {
      requests: { selectLayer: (r, signal) => this.selectLayer(r.layer, signal) },
      notes: {
        ready: () => {
          this.readyResolve?.();
          this.replay();
        },
        error: (n) => showError(new LookCloserError('runtime', n.message), 'Layers'),
        useAsTarget: (n) => {
          const panel = this.panel;
          if (!panel) return;
          panel.reveal();
          panel.explain({ layer: n.layer }).catch((e) => showError(e, 'Use as target layer'));
        },
        showChannel: (n) => {
          this.channel = n.channel;
          this.panel?.showChannel(n.layer, n.channel).catch((e) => showError(e, 'Show channel'));
        },
        showGate: (n) => void this.panel?.showGate(n.tensor).catch((e) => showError(e, 'Show attention gate')),
        projectChannel: (n) => void this.panel?.projectChannel(n.layer, n.channel).catch((e) => showError(e, 'Project to pixels')),
      },
    });
    view.webview.html = webviewHtml(view.webview, this.extensionUri, { title: 'Layers', script: 'layers.js', style: 'layers.css', runsOnnx: false });
    // Without retainContextWhenHidden the webview reloads when shown again and posts `ready`; the state is replayed then.
    view.onDidChangeVisibility(() => view.visible && this.replay());
    view.onDidDispose(() => {
      this.messenger?.dispose();
      this.messenger = undefined;
      this.view = undefined;
      this.ready = new Promise((r) => (this.readyResolve = r));
    });
  }

  /** Follows a panel (the active one), or shows the empty state when there is none. */
  follow(panel: ExplanationPanel | undefined): void {
    if (panel !== this.panel) {
      this.selected = undefined;
      this.channel = undefined;
    }
    this.panel = panel;
    this.replay();
  }

  /** The followed panel's layers changed (new image or model, or a new target layer). */
  layersChanged(panel: ExplanationPanel): void {
    if (panel !== this.panel) return;
    const s = panel.layers;
    if (this.selected && (!s || !s.layers.some((l) => l.name === this.selected!.layer))) this.selected = undefined;
    if (this.selected && s && this.selected.layer) {
      // Same layer, new image: refresh its tiles.
      const layer = this.selected.layer;
      panel.activations(layer).then((a) => {
        if (this.panel !== panel) return;
        this.selected = a;
        this.replay();
      }, (e) => showError(e, 'Layers'));
    }
    this.replay();
  }

  private state(): ShowLayersNote {
    const s = this.panel?.layers;
    if (!this.panel || !s) return { type: 'show', empty: 'Explain an image (right-click it in the Explorer → "Look Closer: Explain Image") to see its layers here.' };
    return { type: 'show', state: s, selected: this.selected, channel: this.channel };
  }

  private replay(): void {
    if (this.view?.visible) this.messenger?.notify(this.state());
  }

  private async selectLayer(layer: string, signal: AbortSignal): Promise<LayerActivations> {
    const panel = this.requirePanel();
    const a = await panel.activations(layer, signal);
    if (panel === this.panel) {
      this.selected = a;
      this.channel = undefined;
    }
    return a;
  }

  private requirePanel(): ExplanationPanel {
    if (!this.panel || this.panel.isDisposed) throw new LookCloserError('bad-argument', 'No explanation panel is open: explain an image first.');
    return this.panel;
  }
}
