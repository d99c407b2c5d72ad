/** Builds every webview's HTML and Content-Security-Policy in one place. */
import * as vscode from 'vscode';

/** Which webview is being built and what it loads. */
export interface WebviewPage {
  readonly title: string;
  /** Bundle under dist/webview/, e.g. 'panel.js'. */
  readonly script: string;
  /** Stylesheet under media/, e.g. 'panel.css'. */
  readonly style: string;
  /** True only for the webview that runs onnxruntime-web (it compiles WebAssembly and fetches the .wasm). */
  readonly runsOnnx: boolean;
}

/** Folders a webview may load from: the bundles (and the onnxruntime wasm pair beside them) and media. */
export function localResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

/** Options shared by every Look Closer webview. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: localResourceRoots(extensionUri) };
}

/** A fresh random nonce for a CSP. */
export function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

/** The HTML of a Look Closer webview, with a strict CSP and a fresh nonce. */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const n = nonce();
  const src = webview.cspSource;
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', page.script));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', page.style));
  const bundles = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview')).toString() + '/';
  const csp = [
    // Nothing is allowed unless a directive below says so.
    "default-src 'none'",
    // Our stylesheet from the extension; no inline styles.
    `style-src ${src}`,
    // Canvases export PNGs as blobs; icons come from the extension.
    `img-src ${src} blob: data:`,
    // Our bundle by nonce. The onnxruntime webview also compiles WebAssembly ('wasm-unsafe-eval', not
    // 'unsafe-eval'), and its worker imports onnxruntime's .mjs glue from a blob URL the panel made.
    page.runsOnnx ? `script-src 'nonce-${n}' 'wasm-unsafe-eval' blob:` : `script-src 'nonce-${n}'`,
    // Webviews only start workers from blob URLs: the onnxruntime worker is one.
    page.runsOnnx ? 'worker-src blob:' : "worker-src 'none'",
    // The panel fetches the worker bundle and onnxruntime's .mjs and .wasm from the extension; nothing remote.
    page.runsOnnx ? `connect-src ${src}` : "connect-src 'none'",
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escapeHtml(page.title)}</title>
</head>
<body data-bundles="${escapeHtml(bundles)}">
<div id="app" class="app"><p class="boot">Starting Look Closer…</p></div>
<script type="module" nonce="${n}" src="${script}"></script>
</body>
</html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
