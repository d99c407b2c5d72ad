/** Reading models, sidecars, labels and images, and writing outputs, through vscode.workspace.fs (remote and virtual workspaces work). */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LookCloserError } from '../core/errors';
import { parseSidecar } from '../core/model-config';
import type { ImagePayload, LabelsFile, ModelPayload } from '../protocol/protocol';
import { logger } from './error-handling';

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

const decoder = new TextDecoder();

/** Reads a labels file. */
async function readLabels(uri: vscode.Uri): Promise<LabelsFile> {
  return { text: decoder.decode(await readBytes(uri, 'labels file')), name: display(uri), uri: uri.toString() };
}

/** Reads everything the panel needs to load a model: bytes, sidecar text, sidecar labels, bundled label sets. */
export async function readModelPayload(ref: ModelRef, extensionUri: vscode.Uri): Promise<ModelPayload> {
  const bytes = await readBytes(ref.uri, 'model');
  const side = sidecarUri(ref.uri);
  const sideBytes = await readIfExists(side);
  const sidecarText = sideBytes ? decoder.decode(sideBytes) : undefined;
  let labels: LabelsFile | undefined;
  if (sidecarText !== undefined) {
    const sidecar = parseSidecar(sidecarText, display(side));
    if (sidecar.labels) labels = await readLabels(vscode.Uri.joinPath(parent(ref.uri), sidecar.labels));
  }
  const labelsDir = vscode.Uri.joinPath(extensionUri, 'assets', 'labels');
  const [imagenet, digits] = await Promise.all([
    readBytes(vscode.Uri.joinPath(labelsDir, 'imagenet-simple-labels.json'), 'bundled labels'),
    readBytes(vscode.Uri.joinPath(labelsDir, 'mnist_labels.txt'), 'bundled labels'),
  ]);
  return {
    key: ref.uri.toString(), name: ref.name, origin: ref.origin, bytes, sidecarText, labels,
    fallbackLabels: { imagenet: decoder.decode(imagenet), digits: decoder.decode(digits) },
    writable: !ref.bundled,
  };
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

/** Writes preset and labels into the model's sidecar, keeping its other fields. */
export async function writeSidecar(model: vscode.Uri, preset: string, labelsUri?: string): Promise<vscode.Uri> {
  const side = sidecarUri(model);
  const old = await readIfExists(side);
  const json: Record<string, unknown> = old ? { ...parseSidecar(decoder.decode(old), display(side)) } : {};
  json.preset = preset;
  delete json.preprocessing;
  if (labelsUri) {
    const labels = vscode.Uri.parse(labelsUri);
    if (labels.scheme !== model.scheme || labels.authority !== model.authority) {
      throw new LookCloserError('bad-argument', `The labels file '${display(labels)}' is on another file system than the model; copy it next to the model.`);
    }
    json.labels = path.posix.relative(path.posix.dirname(model.path), labels.path);
  }
  await vscode.workspace.fs.writeFile(side, new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'));
  logger()?.info(`Wrote ${display(side)}`);
  return side;
}

/** The folder outputs go to: look-closer-out/ in the workspace folder of `near` (or the first folder). */
export function outputFolder(near?: vscode.Uri): vscode.Uri | undefined {
  const folder = (near && vscode.workspace.getWorkspaceFolder(near)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder ? vscode.Uri.joinPath(folder.uri, 'look-closer-out') : undefined;
}

/** Saves bytes into the workspace's output folder (or where the user says when no folder is open). */
export async function saveOutput(fileName: string, bytes: Uint8Array, near?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const safe = fileName.replace(/[\\/:*?"<>|]+/g, '_');
  const folder = outputFolder(near);
  let target: vscode.Uri | undefined;
  if (folder) {
    await vscode.workspace.fs.createDirectory(folder);
    target = vscode.Uri.joinPath(folder, safe);
  } else {
    target = await vscode.window.showSaveDialog({ defaultUri: near ? vscode.Uri.joinPath(parent(near), safe) : undefined, title: `Save ${safe}` });
    if (!target) return undefined;
  }
  await vscode.workspace.fs.writeFile(target, bytes);
  logger()?.info(`Saved ${display(target)}`);
  return target;
}
