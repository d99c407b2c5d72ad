/** Reading models, sidecars, labels and images, and writing outputs, through vscode.workspace.fs (remote and virtual workspaces work). */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { sidecarLabels } from '../core/app/classifier';
import { LookCloserError } from '../core/errors';
import { parseSidecar } from '../core/model-config';
import type { ImagePayload, LabelsFile, ModelPayload } from '../protocol/protocol';
import { logger } from './error-handling';
import { isInside, placeSidecarLabels } from './validate';

/** A model the resolver chose. */
export interface ModelRef {
  readonly uri: vscode.Uri;
  readonly name: string;
  /** Shown in the panel: the workspace-relative path, or "bundled with Look Closer". */
  readonly origin: string;
  readonly bundled: boolean;
}

/** Image file extensions the commands accept (lower case, with the dot). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.gif'];

function fsWhy(e: unknown): string {
  if (e instanceof vscode.FileSystemError) {
    if (e.code === 'FileNotFound' || e.code === 'EntryNotFound') return 'no such file';
    if (e.code === 'FileIsADirectory' || e.code === 'EntryIsADirectory') return 'it is a folder';
    if (e.code === 'NoPermissions') return 'permission denied';
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * A plain Uint8Array view of file bytes. workspace.fs returns Node Buffers, whose toJSON turns them into
 * {type, data} objects when a webview message is serialized; a plain view travels as a binary buffer.
 */
export function plainBytes(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads a file, naming it and the reason on failure. */
export async function readBytes(uri: vscode.Uri, what: string): Promise<Uint8Array> {
  try {
    return plainBytes(await vscode.workspace.fs.readFile(uri));
  } catch (e) {
    throw new LookCloserError('bad-argument', `Cannot read ${what} '${display(uri)}': ${fsWhy(e)}.`, e);
  }
}

/** Reads a file if it exists. */
export async function readIfExists(uri: vscode.Uri): Promise<Uint8Array | undefined> {
  try {
    return await vscode.workspace.fs.readFile(uri);
  } catch (e) {
    if (e instanceof vscode.FileSystemError && (e.code === 'FileNotFound' || e.code === 'EntryNotFound')) return undefined;
    throw e;
  }
}

/** True when the URI names an existing file. */
export async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** A workspace-relative path when the file is in the workspace, else its full path. */
export function display(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}

/** The sidecar `<model>.onnx.json` beside a model. */
export function sidecarUri(model: vscode.Uri): vscode.Uri {
  return model.with({ path: `${model.path}.json` });
}

function parent(uri: vscode.Uri): vscode.Uri {
  return uri.with({ path: path.posix.dirname(uri.path) });
}

/** True where the file system compares names without case (local files on Windows and macOS). */
export function ignoresCase(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && (process.platform === 'win32' || process.platform === 'darwin');
}

/** The open workspace folders' URIs. */
export function workspaceRoots(): vscode.Uri[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri);
}

/** A local path with its symbolic links resolved, as far as it exists (a file still to be written keeps its name). */
async function realPath(p: string): Promise<string> {
  try {
    return await fsp.realpath(p);
  } catch {
    const up = path.dirname(p);
    return up === p ? p : path.join(await realPath(up), path.basename(p));
  }
}

/**
 * True when `uri` lies inside one of `roots`, by its path and, for local files, after following symbolic
 * links (a link in the workspace to /etc/passwd is outside). workspace.fs has no realpath, so on other file
 * systems a symbolic link is not followed but refused.
 */
export async function staysInside(uri: vscode.Uri, roots: readonly vscode.Uri[]): Promise<boolean> {
  const root = roots.find((r) => isInside(r, uri, ignoresCase(uri)));
  if (!root) return false;
  if (uri.scheme === 'file') {
    const [realRoot, real] = await Promise.all([realPath(root.fsPath), realPath(uri.fsPath)]);
    return isInside(vscode.Uri.file(realRoot), vscode.Uri.file(real), ignoresCase(uri));
  }
  const type = await vscode.workspace.fs.stat(uri).then((s) => s.type, () => vscode.FileType.Unknown);
  return (type & vscode.FileType.SymbolicLink) === 0;
}

/** What answers a modal question: VS Code's dialog, or a test's scripted answer. */
export type Prompt = (message: string, detail: string, action: string) => Thenable<string | undefined>;

const dialog: Prompt = (message, detail, action) => vscode.window.showWarningMessage(message, { modal: true, detail }, action);
let prompt: Prompt = dialog;

/** Test hook (the extension-host tier): answers modal questions with `answer` instead of showing them; undefined restores the dialogs. */
export function scriptPrompts(answer?: Prompt): void {
  prompt = answer ?? dialog;
}

/** Asks before replacing an existing file; true when the user chose "Replace". */
export async function confirmReplace(uri: vscode.Uri, what: string): Promise<boolean> {
  const answer = await prompt(`Replace ${display(uri)}?`, `${what} already exists there; replacing it loses what it holds now.`, 'Replace');
  return answer === 'Replace';
}

const decoder = new TextDecoder();

/** Reads a labels file. */
async function readLabels(uri: vscode.Uri): Promise<LabelsFile> {
  return { text: decoder.decode(await readBytes(uri, 'labels file')), name: display(uri), uri: uri.toString() };
}

/** Reads everything the panel needs to load a model: bytes, sidecar text, sidecar labels, bundled label sets. */
export async function readModelPayload(ref: ModelRef, extensionUri: vscode.Uri): Promise<ModelPayload> {
  const [bytes, parts] = await Promise.all([readBytes(ref.uri, 'model'), readModelParts(ref, extensionUri)]);
  return { ...parts, bytes };
}

/** The payload without the model's bytes (the panel holds them: the next image in a reused panel); read as readModelPayload reads it. */
export async function readModelParts(ref: ModelRef, extensionUri: vscode.Uri): Promise<Omit<ModelPayload, 'bytes'>> {
  const side = sidecarUri(ref.uri);
  const sideBytes = await readIfExists(side);
  const sidecarText = sideBytes ? decoder.decode(sideBytes) : undefined;
  // Parsed with the CLI's schema; the labels it names must stay inside the workspace (or, for the bundled model, the extension).
  const named = sidecarLabels(sidecarText === undefined ? undefined : { text: sidecarText, name: display(side) });
  const labels = named === undefined ? undefined : await readLabels(await sidecarLabelsUri(ref, side, named, extensionUri));
  // Hugging Face and timm exports ship their configs beside the model (not for the bundled model).
  const besides = ref.bundled ? [] : await Promise.all(['config.json', 'preprocessor_config.json'].map(async (name) => {
    const b = await readIfExists(vscode.Uri.joinPath(parent(ref.uri), name));
    return b && { text: decoder.decode(b), name };
  }));
  const configs = { ...(besides[0] ? { config: besides[0] } : {}), ...(besides[1] ? { preprocessor: besides[1] } : {}) };
  const labelsDir = vscode.Uri.joinPath(extensionUri, 'assets', 'labels');
  const [imagenet, digits] = await Promise.all([
    readBytes(vscode.Uri.joinPath(labelsDir, 'imagenet-simple-labels.json'), 'bundled labels'),
    readBytes(vscode.Uri.joinPath(labelsDir, 'mnist_labels.txt'), 'bundled labels'),
  ]);
  return {
    key: ref.uri.toString(), name: ref.name, origin: ref.origin, sidecarText, labels, configs,
    fallbackLabels: { imagenet: decoder.decode(imagenet), digits: decoder.decode(digits) },
    writable: !ref.bundled,
  };
}

/** Where a sidecar's `labels` may be read from: inside a workspace folder (the extension for the bundled model; the model's folder for a model outside every workspace folder). */
async function sidecarLabelsUri(ref: ModelRef, side: vscode.Uri, labels: string, extensionUri: vscode.Uri): Promise<vscode.Uri> {
  const folders = workspaceRoots().filter((r) => isInside(r, ref.uri, ignoresCase(ref.uri)));
  const roots = ref.bundled ? [extensionUri] : folders.length ? workspaceRoots() : [parent(ref.uri)];
  const placed = placeSidecarLabels(labels, ref.uri, roots, ignoresCase(ref.uri));
  const target = placed.ok ? ref.uri.with({ path: placed.candidates[0].path }) : undefined;
  if (!target || !(await staysInside(target, roots))) {
    const where = target ? `'${display(target)}'` : 'a path';
    throw new LookCloserError('bad-argument', `Sidecar '${display(side)}' names the labels file '${labels}', which resolves to ${where} outside the workspace${placed.ok ? '' : ` (${placed.why})`}; Look Closer reads only labels inside the workspace. Put the labels file next to the model and name it there.`);
  }
  return target;
}

/** Reads an image file, checking its extension first. */
export async function readImagePayload(uri: vscode.Uri): Promise<ImagePayload> {
  const ext = path.posix.extname(uri.path).toLowerCase();
  if (!IMAGE_EXTENSIONS.includes(ext)) {
    throw new LookCloserError('bad-image', `'${display(uri)}' is not an image Look Closer can explain (it reads ${IMAGE_EXTENSIONS.join(', ')}).`);
  }
  return { key: uri.toString(), name: path.posix.basename(uri.path), bytes: await readBytes(uri, 'image') };
}

/** Lets the user pick a labels file and reads it. */
export async function pickLabels(): Promise<LabelsFile | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Labels for this model (one per line, or a JSON array)',
    canSelectMany: false,
    filters: { Labels: ['txt', 'json'], 'All files': ['*'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0] ? readLabels(picked[0]) : undefined;
}

/**
 * Writes preset and labels into the model's sidecar, keeping its other fields; asks before changing an existing
 * sidecar. Both the sidecar and the labels file must lie inside the workspace. Undefined when the user declined.
 */
export async function writeSidecar(model: vscode.Uri, preset: string, labelsUri?: string): Promise<vscode.Uri | undefined> {
  const side = sidecarUri(model);
  const roots = workspaceRoots();
  if (!(await staysInside(side, roots))) {
    throw new LookCloserError('bad-argument', `The sidecar '${display(side)}' would be outside the workspace; Look Closer writes sidecars only next to models inside the workspace.`);
  }
  const old = await readIfExists(side);
  const before = old ? parseSidecar(decoder.decode(old), display(side)) : undefined;
  const json: Record<string, unknown> = { ...before };
  json.preset = preset;
  delete json.preprocessing;
  if (labelsUri !== undefined) {
    let labels: vscode.Uri;
    try {
      labels = vscode.Uri.parse(labelsUri, true);
    } catch (e) {
      throw new LookCloserError('bad-argument', `The labels file ${JSON.stringify(labelsUri.slice(0, 80))} is not a URI; pick the labels file again.`, e);
    }
    if (labels.scheme !== model.scheme || labels.authority !== model.authority) {
      throw new LookCloserError('bad-argument', `The labels file '${display(labels)}' is on another file system than the model; copy it next to the model.`);
    }
    if (!(await staysInside(labels, roots))) {
      throw new LookCloserError('bad-argument', `The labels file '${labels.scheme === 'file' ? labels.fsPath : labels.toString()}' is outside the workspace, and a sidecar may name only labels inside it; copy the file next to the model and pick it there.`);
    }
    json.labels = path.posix.relative(path.posix.dirname(model.path), labels.path);
  }
  if (before && JSON.stringify(before) === JSON.stringify(json)) return side;
  if (before && !(await confirmReplace(side, 'The sidecar with other settings'))) return undefined;
  await vscode.workspace.fs.writeFile(side, new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'));
  logger()?.info(`Wrote ${display(side)}`);
  return side;
}

/** The folder outputs go to: look-closer-out/ in the workspace folder of `near` (or the first folder). */
export function outputFolder(near?: vscode.Uri): vscode.Uri | undefined {
  const folder = (near && vscode.workspace.getWorkspaceFolder(near)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder ? vscode.Uri.joinPath(folder.uri, 'look-closer-out') : undefined;
}

/**
 * Saves bytes as `fileName` (a plain file name, checked by validate.ts) into the workspace's output folder, or
 * where the user says when no folder is open. Asks before replacing a file; undefined when the user declined.
 */
export async function saveOutput(fileName: string, bytes: Uint8Array, near?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const folder = outputFolder(near);
  let target: vscode.Uri | undefined;
  if (folder) {
    target = vscode.Uri.joinPath(folder, fileName);
    const root = parent(folder);
    // The name is plain, but look-closer-out/ (or the file) may be a symbolic link out of the workspace.
    if (!isInside(folder, target, ignoresCase(target)) || !(await staysInside(folder, [root])) || !(await staysInside(target, [root]))) {
      throw new LookCloserError('bad-argument', `Saving '${fileName}' would write outside the workspace folder '${display(root)}' (is look-closer-out/ a link?); nothing was written.`);
    }
    await vscode.workspace.fs.createDirectory(folder);
    if (await exists(target) && !(await confirmReplace(target, `A file named '${fileName}'`))) return undefined;
  } else {
    // The save dialog asks before replacing a file itself.
    target = await vscode.window.showSaveDialog({ defaultUri: near ? vscode.Uri.joinPath(parent(near), fileName) : undefined, title: `Save ${fileName}` });
    if (!target) return undefined;
  }
  await vscode.workspace.fs.writeFile(target, bytes);
  logger()?.info(`Saved ${display(target)}`);
  return target;
}
