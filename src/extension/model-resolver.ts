/** Which model explains an image: the `lookCloser.model` setting, else the workspace's remembered pick, else a quick pick, else the bundled SqueezeNet. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import { ModelRef, display, exists } from './workspace-files';

const MEMENTO_KEY = 'lookCloser.model';
const BUNDLED_FILE = ['assets', 'models', 'squeezenet1.0-fp16-winml.onnx'];

/** Chooses and remembers models per workspace. */
export class ModelResolver {
  private announced = false;

  constructor(private readonly context: vscode.ExtensionContext) {}

  /** The bundled SqueezeNet 1.0 (ImageNet-1k). */
  bundled(): ModelRef {
    const uri = vscode.Uri.joinPath(this.context.extensionUri, ...BUNDLED_FILE);
    return { uri, name: path.posix.basename(uri.path), origin: 'bundled with Look Closer (SqueezeNet 1.0, ImageNet)', bundled: true };
  }

  private ref(uri: vscode.Uri): ModelRef {
    return { uri, name: path.posix.basename(uri.path), origin: display(uri), bundled: false };
  }

  /** The model from the setting, or undefined when the setting is empty; throws naming a missing file. */
  private async fromSetting(near?: vscode.Uri): Promise<ModelRef | undefined> {
    const value = vscode.workspace.getConfiguration('lookCloser', near).get<string>('model')?.trim();
    if (!value) return undefined;
    const folders = vscode.workspace.workspaceFolders ?? [];
    const nearFolder = near && vscode.workspace.getWorkspaceFolder(near);
    const candidates = path.isAbsolute(value)
      ? [vscode.Uri.file(value)]
      : [...(nearFolder ? [nearFolder] : []), ...folders].map((f) => vscode.Uri.joinPath(f.uri, value));
    for (const c of candidates) if (await exists(c)) return this.ref(c);
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
    const files = vscode.workspace.workspaceFolders?.length
      ? await vscode.workspace.findFiles('**/*.onnx', '**/{node_modules,.git,.vscode-test}/**', 200)
      : [];
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
