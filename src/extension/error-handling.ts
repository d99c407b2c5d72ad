/** The host's one error funnel: cancellation is quiet, everything else is logged and shown naming the problem. */
import * as vscode from 'vscode';
import { isCancellation } from '../protocol/messenger';

/** The output channel every message is logged to. */
let log: vscode.LogOutputChannel | undefined;

/** Creates the log channel once. */
export function initLog(context: vscode.ExtensionContext): vscode.LogOutputChannel {
  log = vscode.window.createOutputChannel('Look Closer', { log: true });
  context.subscriptions.push(log);
  return log;
}

/** The log channel (after activation). */
export function logger(): vscode.LogOutputChannel | undefined {
  return log;
}

/** The readable message of anything thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shows an error (unless it is a cancellation) and logs it; never throws. */
export function showError(e: unknown, what?: string): void {
  if (isCancellation(e)) {
    log?.info(`${what ?? 'Work'} cancelled.`);
    return;
  }
  const message = messageOf(e);
  log?.error(what ? `${what}: ${message}` : message, e instanceof Error && e.stack ? e.stack : '');
  void vscode.window.showErrorMessage(`Look Closer: ${message}`);
}

/** Runs a command body through the funnel; the host never sees it throw. */
export async function guarded<T>(what: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (e) {
    showError(e, what);
    return undefined;
  }
}

/** An AbortSignal that follows a VS Code cancellation token. */
export function signalOf(token: vscode.CancellationToken | undefined): AbortSignal | undefined {
  if (!token) return undefined;
  const c = new AbortController();
  if (token.isCancellationRequested) c.abort();
  else token.onCancellationRequested(() => c.abort());
  return c.signal;
}
