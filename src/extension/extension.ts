/** Look Closer's extension host: commands, menus, the explanation panels, the Layers view, settings. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import type { ExplainOptions, ExplainSummary, LayerActivations } from '../protocol/protocol';
import { guarded, initLog, showError } from './error-handling';
import { ExplanationPanel, PANEL_VIEW_TYPE, PanelState, executionProvider, reusePanel } from './explanation-panel';
import { disposeSharedRuntimeThread, sharedRuntimeThread } from './host-runtime';
import { LAYERS_VIEW_ID, LayersViewProvider } from './layers-view';
import { FolderChoices, FolderPickUi, askFolderChoices } from './folder-choices';
import { FolderOptions, FolderResult, explainFolder, openReport } from './folder-run';
import { ModelResolver } from './model-resolver';
import { IMAGE_EXTENSIONS, ModelRef, display, scriptPrompts } from './workspace-files';

/** What activate() returns: the same operations the commands use, for tests and other extensions. */
export interface LookCloserApi {
  /** Explains an image in its panel (opening one) and resolves with what the panel shows. */
  explain(image: vscode.Uri, options?: ExplainOptions): Promise<ExplainSummary>;
  /** Changes what the active panel shows. */
  update(options: ExplainOptions): Promise<ExplainSummary>;
  /** What the active panel shows, if any. */
  summary(): Promise<ExplainSummary | undefined>;
  /** A layer's activations in the active panel. */
  activations(layer: string): Promise<LayerActivations>;
  /** Resolves when the Layers view's webview is up. */
  layersViewReady(): Promise<void>;
  /** Explains every image of a folder (as "Look Closer: Explain Folder", without asking) and resolves with the written report. */
  explainFolder(folder: vscode.Uri, options?: FolderOptions): Promise<FolderResult>;
  /** Shows a written batch report (its folder, summary.json or index.html), the CLI's included. */
  openReport(file: vscode.Uri): Promise<void>;
  /** Hooks for the extension-host tests, which play a hostile webview; not for other extensions. */
  readonly testing: TestHooks;
}

/** What the extension-host tests reach that a user cannot: a webview's side of the channel, and the answers to modal questions. */
export interface TestHooks {
  /** Sends a request to the active panel's handlers as its webview would: any value, checked as a real message is. */
  fromPanel(body: unknown): Promise<unknown>;
  /** Sends a request to the Layers view's handlers as its webview would. */
  fromLayers(body: unknown): Promise<unknown>;
  /** Answers modal questions ("Replace …?") with `answer`'s result (a button title, undefined: dismissed) instead of showing them; no argument shows them again. */
  scriptPrompts(answer?: (message: string) => string | undefined): void;
}

/** Opens, tracks and restores explanation panels; the Layers view follows the active one. */
class Panels {
  private readonly byImage = new Map<string, ExplanationPanel>();
  private active?: ExplanationPanel;

  constructor(private readonly context: vscode.ExtensionContext, private readonly models: ModelResolver, private readonly layers: LayersViewProvider) {}

  private readonly events = {
    onActive: (p: ExplanationPanel) => this.setActive(p),
    onLayers: (p: ExplanationPanel) => this.layers.layersChanged(p),
    onDispose: (p: ExplanationPanel) => {
      if (this.byImage.get(p.imageUri.toString()) === p) this.byImage.delete(p.imageUri.toString());
      if (this.active === p) this.setActive([...this.byImage.values()].pop());
    },
  };

  private setActive(p: ExplanationPanel | undefined): void {
    this.active = p;
    this.layers.follow(p);
  }

  /** The active panel, or throws naming what to do. */
  current(): ExplanationPanel {
    if (!this.active || this.active.isDisposed) throw new LookCloserError('bad-argument', 'No explanation panel is open: explain an image first.');
    return this.active;
  }

  /** Explains an image: resolves the model, opens or reveals the image's panel, and runs it. */
  async explain(image: vscode.Uri, options: ExplainOptions = {}, signal?: AbortSignal): Promise<ExplainSummary | undefined> {
    const requestedAt = Date.now();
    const model = await this.models.resolve(image);
    if (!model) return undefined;
    let panel = this.byImage.get(image.toString());
    const reused = !panel || panel.isDisposed ? this.reusable(model) : undefined;
    if (panel && !panel.isDisposed) panel.reveal();
    else if (reused) {
      // The next image goes to the panel that has this model loaded: no second runtime, session or layer listing.
      this.byImage.delete(reused.imageUri.toString());
      reused.showImage(image);
      this.byImage.set(image.toString(), reused);
      reused.reveal();
      panel = reused;
    } else {
      panel = ExplanationPanel.create(image, this.context.extensionUri, this.events);
      this.byImage.set(image.toString(), panel);
    }
    this.setActive(panel);
    return panel.open(model, options, signal, requestedAt);
  }

  /**
   * The active panel when it holds `model` and the setting lookCloser.reusePanel allows reusing it. A panel that
   * was switched to another model (reopenAll) is not reused: it keeps the choices made for the old model (a method
   * the new model may not have), which a new image should not inherit.
   */
  private reusable(model: ModelRef): ExplanationPanel | undefined {
    const p = this.active;
    if (!p || p.isDisposed || !reusePanel() || this.switched.has(p) || p.model?.uri.toString() !== model.uri.toString()) return undefined;
    return p;
  }

  /** Panels whose model was switched under them (reopenAll). */
  private readonly switched = new WeakSet<ExplanationPanel>();

  /** Re-runs every open panel with a newly chosen model. */
  async reopenAll(): Promise<void> {
    for (const p of this.byImage.values()) {
      this.switched.add(p);
      const model = await this.models.resolve(p.imageUri);
      if (model) await p.open(model).catch((e) => showError(e, `Explaining ${display(p.imageUri)}`));
    }
  }

  /** Restores a panel VS Code kept across a reload. */
  async restore(webviewPanel: vscode.WebviewPanel, state: PanelState | undefined): Promise<void> {
    if (!state?.imageUri) {
      webviewPanel.dispose();
      return;
    }
    const image = vscode.Uri.parse(state.imageUri);
    const panel = new ExplanationPanel(webviewPanel, image, this.context.extensionUri, this.events);
    this.byImage.set(image.toString(), panel);
    this.setActive(panel);
    const model = await this.models.resolve(image);
    if (model) await panel.open(model, state.options ?? {});
  }

  settingsChanged(): void {
    for (const p of this.byImage.values()) p.settingsChanged();
  }
}

function isImage(uri: vscode.Uri): boolean {
  return IMAGE_EXTENSIONS.includes(path.posix.extname(uri.path).toLowerCase());
}

/** Asks for an image: the active image preview, else a quick pick of the workspace's images, else a file dialog. */
async function askForImage(): Promise<vscode.Uri | undefined> {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  const fromTab = tab?.input instanceof vscode.TabInputCustom || tab?.input instanceof vscode.TabInputText ? tab.input.uri : undefined;
  const found = vscode.workspace.workspaceFolders?.length
    ? await vscode.workspace.findFiles(`**/*.{${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join(',')}}`, '**/{node_modules,.git,look-closer-out,.vscode-test}/**', 500)
    : [];
  type Item = vscode.QuickPickItem & { uri?: vscode.Uri };
  const browse: Item = { label: '$(folder-opened) Browse…', description: 'Choose an image file' };
  const items: Item[] = [];
  if (fromTab && isImage(fromTab)) items.push({ label: path.posix.basename(fromTab.path), description: 'active editor', uri: fromTab });
  for (const u of found.sort((a, b) => display(a).localeCompare(display(b)))) {
    if (u.toString() !== fromTab?.toString()) items.push({ label: path.posix.basename(u.path), description: display(u), uri: u });
  }
  items.push(browse);
  const choice = items.length === 1 ? browse : await vscode.window.showQuickPick(items, { title: 'Look Closer: which image should be explained?', matchOnDescription: true });
  if (!choice) return undefined;
  if (choice.uri) return choice.uri;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Image to explain', filters: { Images: IMAGE_EXTENSIONS.map((e) => e.slice(1)) } });
  return picked?.[0];
}

const FOLDER_CHOICES_KEY = 'lookCloser.folderChoices';

/** Asks what Explain Folder runs: methods, top-k, GAIN, then the target (the last choices are preselected). */
async function askFolderOptions(context: vscode.ExtensionContext): Promise<FolderOptions | undefined> {
  const ui: FolderPickUi = {
    separator: vscode.QuickPickItemKind.Separator,
    pickMany: (items, options) => vscode.window.showQuickPick(items, { ...options, canPickMany: true }),
    pickOne: (items, options) => vscode.window.showQuickPick(items, { ...options, canPickMany: false }),
    input: (options) => vscode.window.showInputBox(options),
    warn: (message) => void vscode.window.showWarningMessage(message),
  };
  const picked = await askFolderChoices(ui, context.workspaceState.get<Partial<FolderChoices>>(FOLDER_CHOICES_KEY));
  if (picked) await context.workspaceState.update(FOLDER_CHOICES_KEY, picked);
  return picked;
}

/** Activates the extension: registers commands, the Layers view and the panel serializer. */
export function activate(context: vscode.ExtensionContext): LookCloserApi {
  const log = initLog(context);
  // On 'auto' and 'cpu' a new panel's first map comes from the host's runtime thread (host-preview.ts): start it
  // now, while the command resolves the model and the panel's page loads (a failure shows when a map asks for it).
  const ep = executionProvider();
  if (ep === 'auto' || ep === 'cpu') sharedRuntimeThread(context.extensionUri.fsPath).start().catch(() => undefined);
  const models = new ModelResolver(context);
  const layers = new LayersViewProvider(context.extensionUri);
  const panels = new Panels(context, models, layers);

  /** Runs Explain Folder with a cancellable progress notification; says where the report went. */
  const runFolder = async (folder: vscode.Uri, options: FolderOptions): Promise<FolderResult> => {
    const model = await models.resolve(folder);
    if (!model) throw new LookCloserError('cancelled', 'No model was chosen.');
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Look Closer: explaining ${display(folder)}`, cancellable: true },
      (progress, token) => {
        let last = 0;
        return explainFolder(folder, model, options, context.extensionUri, {
          token,
          onProgress: (done, total, name) => {
            progress.report({ increment: ((done - last) / total) * 100, message: `${done}/${total} ${name}` });
            last = done;
          },
        });
      },
    );
    const s = result.summary;
    const text = `Look Closer: explained ${s.explained} of ${s.images.length} image${s.images.length === 1 ? '' : 's'}${s.failed ? ` (${s.failed} failed)` : ''}${s.cancelled ? ', cancelled' : ''}; report in ${display(result.folder)}`;
    void vscode.window.showInformationMessage(text, 'Open summary.json', 'Reveal in Explorer').then((a) => {
      if (a === 'Open summary.json') void vscode.commands.executeCommand('vscode.open', vscode.Uri.joinPath(result.folder, 'summary.json'));
      if (a === 'Reveal in Explorer') void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.joinPath(result.folder, 'index.html'));
    });
    return result;
  };

  context.subscriptions.push(
    vscode.window.registerWebviewViewProvider(LAYERS_VIEW_ID, layers),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state: PanelState | undefined) => guarded('Restoring a Look Closer panel', () => panels.restore(panel, state)).then(() => undefined),
    }),
    vscode.commands.registerCommand('lookCloser.explainImage', (uri?: vscode.Uri) =>
      guarded('Explain Image', async () => {
        const image = uri instanceof vscode.Uri ? uri : await askForImage();
        if (!image) return undefined;
        return panels.explain(image);
      })),
    vscode.commands.registerCommand('lookCloser.explainFolder', (uri?: vscode.Uri) =>
      guarded('Explain Folder', async () => {
        const folder = uri instanceof vscode.Uri
          ? uri
          : (await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, title: 'Folder of images to explain', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri }))?.[0];
        if (!folder) return undefined;
        const options = await askFolderOptions(context);
        if (!options) return undefined;
        return runFolder(folder, options);
      })),
    vscode.commands.registerCommand('lookCloser.openReport', (uri?: vscode.Uri) =>
      guarded('Open Report', async () => {
        const file = uri instanceof vscode.Uri
          ? uri
          : (await vscode.window.showOpenDialog({ canSelectMany: false, title: 'A report\'s summary.json', filters: { 'Look Closer report': ['json', 'html'] }, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri }))?.[0];
        if (!file) return undefined;
        await openReport(file);
        return undefined;
      })),
    vscode.commands.registerCommand('lookCloser.useModel', (uri?: vscode.Uri) =>
      guarded('Use This Model', async () => {
        let ref;
        if (uri instanceof vscode.Uri) ref = await models.use(uri);
        else ref = await models.pick();
        if (!ref) return;
        void vscode.window.showInformationMessage(`Look Closer: ${ref.name} explains images in this workspace from now on.`);
        await panels.reopenAll();
      })),
    vscode.commands.registerCommand('lookCloser.chooseModel', () => vscode.commands.executeCommand('lookCloser.useModel')),
    // In Restricted Mode the model setting was ignored; once trusted, the open panels use it.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void guarded('Changing the model', () => panels.reopenAll())),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('lookCloser.executionProvider')) panels.settingsChanged();
      if (e.affectsConfiguration('lookCloser.model')) void guarded('Changing the model', () => panels.reopenAll());
    }),
  );
  log.info('Look Closer activated.');

  return {
    explain: async (image, options) => {
      const s = await panels.explain(image, options);
      if (!s) throw new LookCloserError('cancelled', 'No model was chosen.');
      return s;
    },
    update: (options) => panels.current().explain(options),
    summary: () => panels.current().summary(),
    activations: (layer) => panels.current().activations(layer),
    layersViewReady: () => layers.ready,
    explainFolder: (folder, options = {}) => runFolder(folder, options),
    openReport: async (file) => {
      await openReport(file);
    },
    testing: {
      fromPanel: (body) => panels.current().fromWebview(body),
      fromLayers: (body) => layers.fromWebview(body),
      scriptPrompts: (answer) => scriptPrompts(answer && ((message) => Promise.resolve(answer(message)))),
    },
  };
}

/** Stops the extension host's runtime thread; everything else goes with the subscriptions. */
export function deactivate(): Promise<void> {
  return disposeSharedRuntimeThread();
}
