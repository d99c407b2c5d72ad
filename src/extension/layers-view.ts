/** The "Look Closer: Layers" side view: the active panel's layers and channel activations; replays its state when shown again. */
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import type { HostToLayers, LayerActivations, LayersToHost, ShowLayersNote } from '../protocol/protocol';
import { showError } from './error-handling';
import type { ExplanationPanel } from './explanation-panel';
import { PAGES } from './webview-html';
import { WebviewHost } from './webview-host';

/** The view's id in package.json. */
export const LAYERS_VIEW_ID = 'lookCloser.layers';

/** Provides the Layers webview view and keeps what it shows. */
export class LayersViewProvider implements vscode.WebviewViewProvider {
  private view?: vscode.WebviewView;
  private host?: WebviewHost<HostToLayers, LayersToHost>;
  private panel?: ExplanationPanel;
  private selected?: LayerActivations;
  private channel?: number;
  private readyResolve?: () => void;
  /** Resolves once the view's webview has posted `ready` (tests wait on it). */
  ready: Promise<void> = new Promise((r) => (this.readyResolve = r));

  constructor(private readonly extensionUri: vscode.Uri) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.host?.dispose();
    // Without retainContextWhenHidden the page reloads when the view is shown again and posts `ready`; the state is replayed then.
    const host = new WebviewHost<HostToLayers, LayersToHost>(view, {
      what: 'Layers',
      onReady: () => {
        this.readyResolve?.();
        this.replay();
      },
      requests: { selectLayer: (r, signal) => this.selectLayer(r.layer, signal) },
      notes: {
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
    this.host = host;
    host.showPage(PAGES.layers, 'Layers', this.extensionUri);
    view.onDidChangeVisibility(() => view.visible && this.replay());
    view.onDidDispose(() => {
      if (this.host !== host) return;
      this.host = undefined;
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
    if (this.view?.visible) this.host?.notify(this.state());
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
