/**
 * The one base of every scripted webview host (the explanation panel, the Layers view, the folder view): it owns
 * the messenger, the `ready` handshake, the `error` note, disposal and the page's HTML; each host keeps only its
 * own handlers. Also binds the pure page builder (webview-html.ts) to VS Code's URIs and webview options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BatchSummary } from '../core/batch-report';
import { LookCloserError } from '../core/errors';
import { CancelledError, Direction, Endpoint, Messenger, NoteHandlers, RequestHandlers, ResponseOf } from '../protocol/messenger';
import type { ErrorNote } from '../protocol/protocol';
import { showError } from './error-handling';
import { nativeRuntimeFound } from './host-runtime';
import { LIMITS } from './validate';
import { webviewEndpoint } from './webview-endpoint';
import { ScriptPage, reportPageHtml, scriptPageHtml, startFiles } from './webview-html';

/** Folders a script page may load from: the bundles (and the onnxruntime wasm pair beside them) and media. */
export function localResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

/** Options of every script page. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: localResourceRoots(extensionUri) };
}

/**
 * Where the host's onnxruntime-node is from the page: 'local' in a desktop window on the same machine, 'remote' behind
 * a network link (code-server's browser window, a remote host: about 10 MB/s through code-server, and a model on
 * the host's CPU crosses it twice more than in the webview's WASM), undefined when the host has no onnxruntime-node.
 */
function hostCpuLink(): 'local' | 'remote' | undefined {
  if (!nativeRuntimeFound()) return undefined;
  return vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined ? 'local' : 'remote';
}

/** Whether `auto` may run big models on the host's CPU (webview/host-runtime.ts): onnxruntime-node in a local desktop window. */
export function autoMayUseHostCpu(): boolean {
  return hostCpuLink() === 'local';
}

/** Shows a script page in a webview: its options, then its HTML with URIs the webview can load. */
export function showScriptPage(webview: vscode.Webview, extensionUri: vscode.Uri, page: ScriptPage, title: string, executionProvider?: string): void {
  const uri = (...parts: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const link = page.runsOnnx ? hostCpuLink() : undefined;
  webview.options = webviewOptions(extensionUri);
  webview.html = scriptPageHtml(page, title, {
    cspSource: webview.cspSource,
    script: uri('dist', 'webview', page.script),
    style: uri('media', page.style),
    bundles: `${uri('dist', 'webview')}/`,
    executionProvider,
    nativeCpu: link === 'local' ? true : link,
    // The 14–26 MB wasm is the start's longest step: the browser fetches it (and the worker) while the page's script still loads.
    preload: page.runsOnnx ? startFiles(executionProvider).map((f) => uri('dist', 'webview', ...f.split('/'))) : [],
    inline: inlineFiles(extensionUri, page),
  });
}

/** The page's bundle and stylesheet as text (put in the page: scriptPageHtml), or undefined when they cannot be read here. */
function inlineFiles(extensionUri: vscode.Uri, page: ScriptPage): { script: string; style: string } | undefined {
  if (extensionUri.scheme !== 'file') return undefined;
  try {
    return {
      script: fs.readFileSync(path.join(extensionUri.fsPath, 'dist', 'webview', page.script), 'utf8'),
      style: fs.readFileSync(path.join(extensionUri.fsPath, 'media', page.style), 'utf8'),
    };
  } catch {
    return undefined;
  }
}

/** Shows a written report in a webview: no scripts, and the report folder as its only local resource root. */
export function showReportPage(webview: vscode.Webview, folder: vscode.Uri, summary: BatchSummary): void {
  webview.options = { enableScripts: false, localResourceRoots: [folder] };
  const resolve = (rel: string) => webview.asWebviewUri(vscode.Uri.joinPath(folder, ...rel.split('/'))).toString();
  webview.html = reportPageHtml(summary, webview.cspSource, resolve);
}

/** A host's own handlers: every request of the webview, and every note but `ready` and `error`, which the base handles. */
export interface HostHandlers<Peer extends Direction> {
  readonly requests: RequestHandlers<Peer>;
  readonly notes: Omit<NoteHandlers<Peer>, 'ready' | 'error'>;
}

/** How a host sets up its webview. */
export interface HostOptions<Peer extends Direction> extends HostHandlers<Peer> {
  /** What the webview is, for errors it reports ('Panel', 'Layers', 'Explain Folder'). */
  readonly what: string;
  /** Called on every `ready`: a side view whose page reloaded when shown again replays its state here. */
  readonly onReady?: () => void;
}

/** A panel or a side view: what the host needs of either. */
export interface WebviewContainer {
  readonly webview: vscode.Webview;
  readonly onDidDispose: vscode.Event<void>;
}

/**
 * One webview's end of the channel. `Me` is what the host sends, `Peer` what the webview sends (its notes must
 * include `ready` and `error`). Requests wait for the webview's `ready`; notes before it are dropped (the page
 * is not listening yet; `onReady` is the place to send state). When the webview is disposed (or `dispose` is
 * called) requests pending, and those still waiting for `ready`, reject with a CancelledError.
 */
export class WebviewHost<Me extends Direction, Peer extends Direction> {
  private readonly messenger: Messenger<Me, Peer>;
  private readonly options: HostOptions<Peer>;
  private readonly notes: NoteHandlers<Peer>;
  private readonly readyGate: Promise<void>;
  private markReady!: () => void;
  private cancelReady!: (e: unknown) => void;
  private isReady = false;
  private disposed = false;

  constructor(
    private readonly container: WebviewContainer,
    options: 'ready' | 'error' extends Peer['notes']['type'] ? HostOptions<Peer> : never,
  ) {
    this.options = options as HostOptions<Peer>;
    this.readyGate = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.cancelReady = reject;
    });
    // Nobody may be waiting when the view closes before its page loaded.
    this.readyGate.catch(() => undefined);
    // A note has no answer to carry an error: one the host refuses (validate.ts) is shown and logged instead.
    const notes: Record<string, (n: never) => void> = {};
    for (const [type, handler] of Object.entries(this.options.notes as Record<string, (n: never) => void>)) {
      notes[type] = (n) => {
        try {
          handler(n);
        } catch (e) {
          showError(e, this.options.what);
        }
      };
    }
    notes.ready = () => this.onReadyNote();
    notes.error = (n: ErrorNote) => {
      const message = typeof n?.message === 'string' ? n.message.slice(0, LIMITS.message) : 'an error it did not describe';
      showError(new LookCloserError('runtime', message), this.options.what);
    };
    this.notes = notes as unknown as NoteHandlers<Peer>;
    this.messenger = new Messenger<Me, Peer>(webviewEndpoint(container.webview), { requests: this.options.requests, notes: this.notes });
    container.onDidDispose(() => this.dispose());
  }

  /** Resolves once the webview has posted `ready`; rejects with a CancelledError if it closes first. */
  get ready(): Promise<void> {
    return this.readyGate;
  }

  /** True once the webview is gone (or the host stopped talking to it). */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Shows a script page (the panel's, the Layers view's or the folder view's). */
  showPage(page: ScriptPage, title: string, extensionUri: vscode.Uri, executionProvider?: string): void {
    showScriptPage(this.container.webview, extensionUri, page, title, executionProvider);
  }

  /** Replaces the page with a written report (no scripts) and stops talking to the webview. */
  showReport(folder: vscode.Uri, summary: BatchSummary): void {
    this.dispose();
    showReportPage(this.container.webview, folder, summary);
  }

  /** Sends a request once the webview is ready; aborting `signal` cancels it, waiting or running. */
  async request<R extends Me['requests']>(body: R, signal?: AbortSignal): Promise<ResponseOf<Me, R['type']>> {
    await this.whenReady(signal);
    if (this.disposed) throw this.closed();
    return this.messenger.request(body, signal);
  }

  /** Sends a notification if the webview is ready; drops it otherwise (`onReady` sends state when it is). */
  notify(body: Me['notes']): void {
    if (this.isReady && !this.disposed) this.messenger.notify(body);
  }

  /**
   * Test hook (the extension-host tier): sends `body` to this host's request handlers as the webview would, through
   * a second pair of messengers over a structured-clone channel, so an unknown type, a throw or a refusal
   * answers exactly as it would answer the webview.
   */
  fromWebview(body: unknown): Promise<unknown> {
    const listeners: ((m: unknown) => void)[][] = [[], []];
    const end = (me: 0 | 1): Endpoint => ({
      post: (m) => {
        const copy: unknown = structuredClone(m);
        queueMicrotask(() => listeners[1 - me].forEach((l) => l(copy)));
      },
      listen: (cb) => {
        listeners[me].push(cb);
        return { dispose: () => (listeners[me] = listeners[me].filter((l) => l !== cb)) };
      },
    });
    const host = new Messenger<Me, Peer>(end(0), { requests: this.options.requests, notes: this.notes });
    const webview = new Messenger<Peer, Me>(end(1), { requests: {} as RequestHandlers<Me>, notes: {} as NoteHandlers<Me> });
    return webview.request(body as Peer['requests']).finally(() => {
      host.dispose();
      webview.dispose();
    });
  }

  /** Stops talking to the webview: pending requests reject with a CancelledError. The webview itself stays. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelReady(this.closed());
    this.messenger.dispose();
  }

  private onReadyNote(): void {
    if (this.disposed) return;
    this.isReady = true;
    this.markReady();
    this.options.onReady?.();
  }

  private closed(): CancelledError {
    return new CancelledError(`${this.options.what}: the view was closed.`);
  }

  private whenReady(signal: AbortSignal | undefined): Promise<void> {
    if (this.disposed) return Promise.reject(this.closed());
    if (!signal) return this.readyGate;
    if (signal.aborted) return Promise.reject(new CancelledError());
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new CancelledError());
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (done: () => void) => {
        signal.removeEventListener('abort', onAbort);
        done();
      };
      this.readyGate.then(() => settle(resolve), (e) => settle(() => reject(e)));
    });
  }
}
