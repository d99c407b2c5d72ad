/** Which model explains an image: the `lookCloser.model` setting, else the workspace's remembered pick, else a quick pick, else the bundled SqueezeNet. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import { logger } from './error-handling';
import { placeSettingPath } from './validate';
import { ModelRef, display, exists, ignoresCase, staysInside } from './workspace-files';

const MEMENTO_KEY = 'lookCloser.model';
const BUNDLED_FILE = ['assets', 'models', 'squeezenet1.0-fp16-winml.onnx'];

/** Chooses and remembers models per workspace. */
export class ModelResolver {
  private announced = false;
  private announcedRestricted = false;
  /** The workspace's .onnx files, searched once and searched again when a model file is created or deleted or the folders change. */
  private found?: Thenable<vscode.Uri[]>;

  constructor(private readonly context: vscode.ExtensionContext) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.onnx', false, true, false);
    const forget = () => (this.found = undefined);
    context.subscriptions.push(watcher, watcher.onDidCreate(forget), watcher.onDidDelete(forget), vscode.workspace.onDidChangeWorkspaceFolders(forget));
  }

  /** The workspace's .onnx files (a search runs ripgrep: the next image must not wait for it again). */
  private onnxFiles(): Thenable<vscode.Uri[]> {
    if (!vscode.workspace.workspaceFolders?.length) return Promise.resolve([]);
    const found = (this.found ??= vscode.workspace.findFiles('**/*.onnx', '**/{node_modules,.git,.vscode-test}/**', 200));
    found.then(undefined, () => this.found === found && (this.found = undefined));
    return found;
  }

  /** The bundled SqueezeNet 1.0 (ImageNet-1k). */
  bundled(): ModelRef {
    const uri = vscode.Uri.joinPath(this.context.extensionUri, ...BUNDLED_FILE);
    return { uri, name: path.posix.basename(uri.path), origin: 'bundled with Look Closer (SqueezeNet 1.0, ImageNet)', bundled: true };
  }

  private ref(uri: vscode.Uri): ModelRef {
    return { uri, name: path.posix.basename(uri.path), origin: display(uri), bundled: false };
  }

  /**
   * The model from the setting, or undefined when the setting is empty or the workspace is not trusted (then the
   * resolver goes on as if it were empty, and says so once); throws naming a missing file or a path outside the
   * workspace folders.
   */
  private async fromSetting(near?: vscode.Uri): Promise<ModelRef | undefined> {
    const config = vscode.workspace.getConfiguration('lookCloser', near);
    const trusted = vscode.workspace.isTrusted;
    // In Restricted Mode VS Code hides the workspace's value (restrictedConfigurations); inspect still shows it.
    const inspect = config.inspect<string>('model');
    const value = (trusted ? config.get<string>('model') : [inspect?.workspaceFolderValue, inspect?.workspaceValue, inspect?.globalValue].find((v) => typeof v === 'string' && v.trim()))?.trim();
    if (!value) return undefined;
    const folders = vscode.workspace.workspaceFolders ?? [];
    const nearFolder = near && vscode.workspace.getWorkspaceFolder(near);
    const absolute = path.isAbsolute(value) || path.posix.isAbsolute(value);
    const placed = placeSettingPath(absolute ? vscode.Uri.file(value).path : value, {
      trusted, absolute, folders: folders.map((f) => f.uri), near: nearFolder?.uri, ignoreCase: folders.some((f) => ignoresCase(f.uri)),
    });
    if (!placed.ok && !trusted) {
      if (!this.announcedRestricted) {
        this.announcedRestricted = true;
        const text = `This workspace is in Restricted Mode, so the setting lookCloser.model ('${value}') is ignored: the model is the one picked for this workspace, else one you pick, else the bundled SqueezeNet. Trust the workspace to use the setting.`;
        logger()?.warn(text);
        void vscode.window.showWarningMessage(`Look Closer: ${text}`);
      }
      return undefined;
    }
    if (!placed.ok) {
      throw new LookCloserError('bad-argument', `The setting lookCloser.model is '${value}', which is refused: ${placed.why}. Look Closer loads only a model inside the workspace; fix the setting or clear it to pick a model.`);
    }
    for (const c of placed.candidates) {
      const uri = vscode.Uri.from({ scheme: c.scheme, authority: c.authority, path: c.path });
      if (!(await exists(uri))) continue;
      if (!(await staysInside(uri, folders.map((f) => f.uri)))) {
        throw new LookCloserError('bad-argument', `The setting lookCloser.model is '${value}', which is refused: '${display(uri)}' links to a file outside the workspace. Look Closer loads only a model inside the workspace.`);
      }
      return this.ref(uri);
    }
    throw new LookCloserError('bad-argument', `The setting lookCloser.model is '${value}', but no such file exists in the workspace. Fix the setting or clear it to pick a model.`);
  }

  /** The model to use; asks with a quick pick when nothing decides it. Undefined when the user dismisses the pick. */
  async resolve(near?: vscode.Uri): Promise<ModelRef | undefined> {
    const set = await this.fromSetting(near);
    if (set) return set;
    const remembered = this.context.workspaceState.get<string>(MEMENTO_KEY);
    if (remembered) {
      if (remembered === 'bundled') return this.bundled();
      const uri = vscode.Uri.parse(remembered);
      if (await exists(uri)) return this.ref(uri);
      await this.context.workspaceState.update(MEMENTO_KEY, undefined);
    }
    return this.pick({ announceBundled: true });
  }

  /** Quick pick of the workspace's .onnx files plus the bundled model; remembers the choice for this workspace. */
  async pick(opts: { announceBundled?: boolean } = {}): Promise<ModelRef | undefined> {
    const files = await this.onnxFiles();
    if (!files.length) {
      if (opts.announceBundled && !this.announced) {
        this.announced = true;
        void vscode.window.showInformationMessage('Look Closer: no .onnx model in this workspace, so the bundled SqueezeNet 1.0 (ImageNet) explains the image. Right-click an .onnx file and choose "Look Closer: Use This Model" to use your own.');
      }
      return this.bundled();
    }
    type Item = vscode.QuickPickItem & { ref: ModelRef };
    const items: Item[] = files
      .sort((a, b) => display(a).localeCompare(display(b)))
      .map((uri) => ({ label: path.posix.basename(uri.path), description: display(uri), ref: this.ref(uri) }));
    const b = this.bundled();
    items.push({ label: 'SqueezeNet 1.0 (bundled)', description: 'ImageNet-1k classifier that ships with Look Closer', ref: b });
    const choice = await vscode.window.showQuickPick(items, { title: 'Look Closer: which model explains the image?', placeHolder: 'Remembered for this workspace; change it with "Look Closer: Choose Model"', matchOnDescription: true });
    if (!choice) return undefined;
    await this.remember(choice.ref);
    return choice.ref;
  }

  /** Remembers a model for this workspace (and updates the setting when the workspace sets one). */
  async remember(ref: ModelRef): Promise<void> {
    await this.context.workspaceState.update(MEMENTO_KEY, ref.bundled ? 'bundled' : ref.uri.toString());
    const config = vscode.workspace.getConfiguration('lookCloser', ref.bundled ? undefined : ref.uri);
    const inspect = config.inspect<string>('model');
    if (!config.get<string>('model')) return;
    // The setting decides first, so a choice made here has to go into it.
    const target = inspect?.workspaceFolderValue ? vscode.ConfigurationTarget.WorkspaceFolder : vscode.ConfigurationTarget.Workspace;
    if (ref.bundled) {
      await config.update('model', undefined, target);
      return;
    }
    const folder = vscode.workspace.getWorkspaceFolder(ref.uri);
    await config.update('model', folder ? path.posix.relative(folder.uri.path, ref.uri.path) : ref.uri.fsPath, target);
  }

  /** Uses a given .onnx file from now on in this workspace. */
  async use(uri: vscode.Uri): Promise<ModelRef> {
    if (!uri.path.toLowerCase().endsWith('.onnx')) {
      throw new LookCloserError('bad-argument', `'${display(uri)}' is not an .onnx model.`);
    }
    const ref = this.ref(uri);
    await this.remember(ref);
    return ref;
  }
}
