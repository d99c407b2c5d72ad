/**
 * "Look Closer: Explain Folder": explains every image of a folder with one model and writes the same report
 * as `look-closer explain MODEL DIR` (summary.json, index.html, maps/, inputs/; src/core/batch-report.ts).
 * The extension host has no onnxruntime, so a folder view (webview/batch/) loads the model once and explains
 * the images the host feeds it one at a time; the host writes each image's files as they come back, then
 * shows the written report in the same view.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { batchSummary } from '../core/app/batch';
import { BatchImage, BatchSummary, INPUT_EXTENSIONS, renderReportHtml, uniqueStems } from '../core/batch-report';
import { LookCloserError } from '../core/errors';
import { METHODS } from '../core/methods/registry';
import { parseScoreTarget } from '../core/methods/score-target';
import { isCancellation } from '../protocol/messenger';
import type { BatchSettingsPayload, BatchStarted, BatchToHost, HostToBatch } from '../protocol/protocol';
import { executionProvider } from './explanation-panel';
import { HostRuntimeSessions, sharedRuntimeThread } from './host-runtime';
import { logger } from './error-handling';
import { PAGES } from './webview-html';
import { checkBatchReply } from './validate';
import { WebviewHost, showReportPage, webviewOptions } from './webview-host';
import { IMAGE_EXTENSIONS, ModelRef, display, exists, outputFolder, readBytes, readModelPayload, staysInside } from './workspace-files';

/** The folder view's webview type. */
export const FOLDER_VIEW_TYPE = 'lookCloser.folder';
/** A report view's webview type (a report opened from its files). */
export const REPORT_VIEW_TYPE = 'lookCloser.report';

/** What to run on the folder; absent fields take the defaults (Grad-CAM, top 1, GAIN on). */
export interface FolderOptions {
  readonly methods?: readonly string[];
  readonly top?: number;
  readonly gain?: boolean;
  /** What to explain: logit (default), softmax, sigmoid or contrast:B, as the CLI's --target. */
  readonly target?: string;
  readonly colormap?: string;
  readonly opacity?: number;
}

/** A finished (or cancelled) folder run. */
export interface FolderResult {
  /** The report folder (summary.json, index.html, maps/, inputs/). */
  readonly folder: vscode.Uri;
  readonly summary: BatchSummary;
}

/** The image and tensor files of a folder (not its subfolders), sorted by name. */
async function listInputs(folder: vscode.Uri): Promise<vscode.Uri[]> {
  let entries: [string, vscode.FileType][];
  try {
    entries = await vscode.workspace.fs.readDirectory(folder);
  } catch (e) {
    throw new LookCloserError('bad-argument', `Cannot read folder '${display(folder)}': ${e instanceof Error ? e.message : e}.`, e);
  }
  const names = entries
    .filter(([n, t]) => (t & vscode.FileType.File) !== 0 && INPUT_EXTENSIONS.includes(path.posix.extname(n).toLowerCase()))
    .map(([n]) => n)
    .sort((a, b) => a.localeCompare(b));
  if (!names.length) throw new LookCloserError('bad-argument', `Folder '${display(folder)}' has no images (${IMAGE_EXTENSIONS.join(', ')}).`);
  return names.map((n) => vscode.Uri.joinPath(folder, n));
}

/** A new report folder: look-closer-out/<folder>-report (then -2, -3, …): an earlier report is never overwritten. */
async function reportFolder(folder: vscode.Uri): Promise<vscode.Uri> {
  const name = path.posix.basename(folder.path) || 'folder';
  const base = outputFolder(folder) ?? vscode.Uri.joinPath(folder.with({ path: path.posix.dirname(folder.path) }), 'look-closer-out');
  const root = base.with({ path: path.posix.dirname(base.path) });
  for (let i = 1; ; i++) {
    const out = vscode.Uri.joinPath(base, `${name}-report${i === 1 ? '' : `-${i}`}`);
    if (await exists(out)) continue;
    if (!(await staysInside(out, [root]))) {
      throw new LookCloserError('bad-argument', `The report folder '${display(out)}' would be outside '${display(root)}' (is look-closer-out/ a link?); nothing was written.`);
    }
    return out;
  }
}

/** Checks and completes the options. */
export function folderSettings(o: FolderOptions): BatchSettingsPayload {
  const methods = o.methods?.length ? [...o.methods] : ['gradcam'];
  for (const id of methods) {
    if (!METHODS.some((m) => m.id === id)) throw new LookCloserError('bad-argument', `Unknown method '${id}'. Known: ${METHODS.map((m) => m.id).join(', ')}.`);
  }
  const top = o.top ?? 1;
  if (!Number.isInteger(top) || top < 1) throw new LookCloserError('bad-argument', `top must be a whole number ≥ 1, not ${top}.`);
  const target = parseScoreTarget(o.target ?? 'logit');
  return { methods, top, gain: o.gain ?? true, ...(target !== 'logit' ? { target } : {}), colormap: o.colormap ?? 'jet', opacity: o.opacity ?? 0.5 };
}

/** Shows a written report (the extension's or the CLI's) in a webview: reads `summary.json` of its folder. */
export async function openReport(file: vscode.Uri): Promise<vscode.WebviewPanel> {
  const out = /\/(index\.html|summary\.json)$/.test(file.path) ? file.with({ path: path.posix.dirname(file.path) }) : file;
  const summaryUri = vscode.Uri.joinPath(out, 'summary.json');
  let summary: BatchSummary;
  try {
    summary = JSON.parse(new TextDecoder().decode(await readBytes(summaryUri, 'report summary'))) as BatchSummary;
  } catch (e) {
    if (e instanceof LookCloserError) throw e;
    throw new LookCloserError('bad-argument', `'${display(summaryUri)}' is not valid JSON: ${e instanceof Error ? e.message : e}.`, e);
  }
  if (summary?.format !== 'look-closer-batch' || !Array.isArray(summary.images) || !Array.isArray(summary.methods)) {
    throw new LookCloserError('bad-argument', `'${display(summaryUri)}' is not a Look Closer batch summary (format 'look-closer-batch'); make one with "Look Closer: Explain Folder" or \`look-closer explain MODEL DIR\`.`);
  }
  const panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, `Report: ${path.posix.basename(String(summary.folder).replace(/\\/g, '/')) || 'folder'}`, vscode.ViewColumn.Active, {
    enableScripts: false, localResourceRoots: [out],
  });
  showReportPage(panel.webview, out, summary);
  return panel;
}

/**
 * Explains every image of `folder` with `model`, writing the report as it goes; resolves with the report
 * folder and summary. Cancelling (the notification's button, `token`, or closing the view) stops after the
 * current image and still writes the report of the images that ran.
 */
export async function explainFolder(
  folder: vscode.Uri, model: ModelRef, options: FolderOptions, extensionUri: vscode.Uri,
  run: { readonly token?: vscode.CancellationToken; readonly onProgress?: (done: number, total: number, name: string) => void } = {},
): Promise<FolderResult> {
  const { token } = run;
  const settings = folderSettings(options);
  const files = await listInputs(folder);
  const names = uniqueStems(files.map((f) => f.path));
  const out = await reportFolder(folder);
  const modelPayload = await readModelPayload(model, extensionUri);
  const folderName = path.posix.basename(folder.path) || display(folder);
  const panel = vscode.window.createWebviewPanel(FOLDER_VIEW_TYPE, `Explain Folder: ${folderName}`, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
    // The bundles and media while it runs; the finished report gets the report folder only (showReport).
    ...webviewOptions(extensionUri),
    retainContextWhenHidden: true,
  });
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'look-closer.svg');
  const stop = new AbortController();
  let closed = false;
  panel.onDidDispose(() => {
    closed = true;
    stop.abort();
  });
  const sub = token?.onCancellationRequested(() => stop.abort());
  // The view may run the model on the extension host's CPU; its sessions are released when the run ends or the view closes.
  const runtime = new HostRuntimeSessions(sharedRuntimeThread(extensionUri.fsPath), 'The folder view');
  panel.onDidDispose(() => void runtime.dispose());
  const host = new WebviewHost<HostToBatch, BatchToHost>(panel, { what: 'Explain Folder', requests: runtime.handlers, notes: {} });
  host.showPage(PAGES.folder, panel.title, extensionUri);
  try {
    const t0 = Date.now();
    const started: BatchStarted = await host.request({ type: 'batchStart', model: modelPayload, executionProvider: executionProvider(), folder: display(folder), total: files.length, settings }, stop.signal);
    for (const n of started.notices) logger()?.info(n);
    const maps = vscode.Uri.joinPath(out, 'maps');
    const inputs = vscode.Uri.joinPath(out, 'inputs');
    await vscode.workspace.fs.createDirectory(maps);
    await vscode.workspace.fs.createDirectory(inputs);
    const images: BatchImage[] = [];
    for (let i = 0; i < files.length && !stop.signal.aborted; i++) {
      const file = files[i];
      const shown = display(file);
      const ext = path.posix.extname(file.path).toLowerCase();
      const failed = (error: string, ms = 0): BatchImage => ({ input: shown, view: null, predictions: [], outputs: [], ms, error });
      let img: BatchImage;
      const t = Date.now();
      if (!IMAGE_EXTENSIONS.includes(ext)) {
        img = failed(`${ext} inputs are read by the CLI only (look-closer explain MODEL DIR); VS Code's webview decodes ${IMAGE_EXTENSIONS.join(', ')}.`);
      } else {
        try {
          const bytes = await readBytes(file, 'image');
          const reply: unknown = await host.request({ type: 'batchImage', image: { key: file.toString(), name: path.posix.basename(file.path), bytes }, index: i }, stop.signal);
          // The reply names files and fills the summary: only a method id this run asked for and a class index go into a name (validate.ts).
          const r = checkBatchReply('The folder view', reply, settings.methods);
          const stem = names[i];
          const view = vscode.Uri.joinPath(inputs, `${stem}.png`);
          const writes = [vscode.workspace.fs.writeFile(view, r.view)];
          const outputs = r.outputs.map((o) => {
            const base = `${stem}_${o.method}_c${o.class}`;
            writes.push(vscode.workspace.fs.writeFile(vscode.Uri.joinPath(maps, `${base}.png`), o.png));
            writes.push(vscode.workspace.fs.writeFile(vscode.Uri.joinPath(maps, `${base}.npy`), o.npy));
            return { ...o, png: `maps/${base}.png`, npy: `maps/${base}.npy` };
          });
          await Promise.all(writes);
          img = { input: shown, view: `inputs/${stem}.png`, predictions: r.predictions, outputs, ms: Date.now() - t };
        } catch (e) {
          if (isCancellation(e) && stop.signal.aborted) break;
          img = failed(e instanceof Error ? e.message : String(e), Date.now() - t);
        }
      }
      images.push(img);
      run.onProgress?.(images.length, files.length, path.posix.basename(file.path));
      host.notify({ type: 'recorded', index: i, name: path.posix.basename(file.path), top: img.predictions[0], error: img.error });
    }
    const summary = batchSummary({
      model: model.bundled ? model.name : display(model.uri), backend: started.backend, folder: display(folder),
      methods: settings.methods, layer: started.layer, target: parseScoreTarget(settings.target ?? 'logit'), classes: null, top: settings.top,
      preprocessing: started.preprocessing, batchSize: 1, loadMs: started.loadMs, totalMs: Date.now() - t0,
      cancelled: images.length < files.length,
    }, images);
    const explained = summary.explained;
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(out, 'summary.json'), new TextEncoder().encode(`${JSON.stringify(summary, null, 2)}\n`));
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(out, 'index.html'), new TextEncoder().encode(renderReportHtml(summary)));
    logger()?.info(`Explain Folder: ${explained} of ${files.length} images of ${display(folder)} → ${display(out)}`);
    if (!closed) {
      // The run is over: the view drops onnxruntime and shows the report just written, without scripts.
      panel.title = `Report: ${folderName}`;
      host.showReport(out, summary);
    }
    return { folder: out, summary };
  } catch (e) {
    if (!closed) panel.dispose();
    if (isCancellation(e)) throw new LookCloserError('cancelled', 'Explain Folder was cancelled before the model loaded.');
    throw e;
  } finally {
    sub?.dispose();
    host.dispose();
    void runtime.dispose();
  }
}
