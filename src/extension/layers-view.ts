/** The "Look Closer: Layers" side view: the active panel's layers and channel activations; replays its state when shown again. */
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import type { HostToLayers, LayerActivations, LayersToHost, ShowLayersNote } from '../protocol/protocol';
import { showError } from './error-handling';
import type { ExplanationPanel } from './explanation-panel';
import { checkChannel, checkLayer, checkText, LIMITS } from './validate';
import { PAGES } from './webview-html';
import { WebviewHost } from './webview-host';

/** Who sends what the view's handlers check, in their messages. */
const FROM = 'The Layers view';

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
      // Every layer, channel and gate the view names is checked against what the followed panel reported.
      requests: { selectLayer: (r, signal) => this.selectLayer(this.layer(r.layer), signal) },
      notes: {
        useAsTarget: (n) => {
          const layer = this.layer(n.layer);
          const panel = this.panel;
          if (!panel) return;
          panel.reveal();
          panel.explain({ layer }).catch((e) => showError(e, 'Use as target layer'));
        },
        showChannel: (n) => {
          const layer = this.layer(n.layer);
          this.channel = n.channel === undefined ? undefined : checkChannel(FROM, n.channel, this.channelCount(layer));
          this.panel?.showChannel(layer, this.channel).catch((e) => showError(e, 'Show channel'));
        },
        showGate: (n) => void this.panel?.showGate(this.gate(n.tensor)).catch((e) => showError(e, 'Show attention gate')),
        projectChannel: (n) => {
          const layer = this.layer(n.layer);
          const channel = checkChannel(FROM, n.channel, this.channelCount(layer));
          void this.panel?.projectChannel(layer, channel).catch((e) => showError(e, 'Project to pixels'));
        },
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

  /** A layer the view names: text, and one of the followed panel's layers when it has reported them. */
  private layer(v: unknown): string {
    return checkLayer(FROM, v, this.panel?.layers?.layers.map((l) => l.name));
  }

  /** Channels of a layer, when its activations are the ones shown. */
  private channelCount(layer: string): number | undefined {
    return this.selected?.layer === layer ? this.selected.channels.length : undefined;
  }

  /** An attention gate the view names (undefined: back to the explanation), one of the panel's gates. */
  private gate(v: unknown): string | undefined {
    if (v === undefined) return undefined;
    const tensor = checkText(FROM, 'the gate', v, LIMITS.name);
    const gates = this.panel?.layers?.gates;
    if (gates && !gates.some((g) => g.tensor === tensor)) throw new LookCloserError('bad-argument', `${FROM} sent the gate ${JSON.stringify(tensor.slice(0, 60))}, which is refused: the model has no such gate.`);
    return tensor;
  }

  /** Test hook (the extension-host tier): sends a request to the view's handlers as its webview would, unchecked. */
  fromWebview(body: unknown): Promise<unknown> {
    if (!this.host) return Promise.reject(new LookCloserError('bad-argument', 'The Layers view is not open.'));
    return this.host.fromWebview(body);
  }

  private requirePanel(): ExplanationPanel {
    if (!this.panel || this.panel.isDisposed) throw new LookCloserError('bad-argument', 'No explanation panel is open: explain an image first.');
    return this.panel;
  }
}
