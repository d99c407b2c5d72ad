/**
 * Builds every Look Closer webview page and its Content-Security-Policy in one place: the script pages (the
 * panel, the Layers view, the folder view) and the static report page. Pure strings in, strings out: the
 * webview host (webview-host.ts) turns VS Code URIs into the strings this module takes.
 */
import { randomBytes } from 'node:crypto';
import { BatchSummary, renderReportHtml } from '../core/batch-report';

/** A page that runs one of the webview bundles. */
export interface ScriptPage {
  /** Bundle under dist/webview/, e.g. 'panel.js'. */
  readonly script: string;
  /** Stylesheet under media/, e.g. 'panel.css'. */
  readonly style: string;
  /** True only for a page that runs onnxruntime-web (it compiles WebAssembly and starts a worker). */
  readonly runsOnnx: boolean;
}

/** Every script page by name: the one list the hosts and the CSP tests share. */
export const PAGES = {
  panel: { script: 'panel.js', style: 'panel.css', runsOnnx: true },
  layers: { script: 'layers.js', style: 'layers.css', runsOnnx: false },
  folder: { script: 'batch.js', style: 'batch.css', runsOnnx: true },
} as const satisfies Record<string, ScriptPage>;

/** What a page's CSP allows: a static page (no scripts), a script page, or a script page that runs onnxruntime-web. */
export type PageKind = 'static' | 'script' | 'onnx';

/** The kind of a script page. */
export function kindOf(page: ScriptPage): PageKind {
  return page.runsOnnx ? 'onnx' : 'script';
}

/** A fresh nonce for one page: 24 bytes from Node's cryptographic generator, base64 (32 characters). */
export function nonce(): string {
  return randomBytes(24).toString('base64');
}

/**
 * The Content-Security-Policy of a page. `cspSource` is the webview's source for local resources (which the
 * webview's localResourceRoots narrow to the extension's bundles and media, or to one report folder).
 */
export function contentSecurityPolicy(kind: PageKind, cspSource: string, pageNonce: string, inlineStyle = false): string {
  const scripted = kind !== 'static';
  const onnx = kind === 'onnx';
  return [
    // Nothing is allowed unless a directive below says so.
    "default-src 'none'",
    // Script pages: our stylesheet from the extension, or inlined in the page by nonce; no other inline style. The
    // report: its one <style>, by nonce.
    scripted ? (inlineStyle ? `style-src ${cspSource} 'nonce-${pageNonce}'` : `style-src ${cspSource}`) : `style-src 'nonce-${pageNonce}'`,
    // Script pages: icons from the extension, canvases exported as blobs and data URLs. The report: its
    // overlays and inputs, from the report folder (its only local resource root).
    scripted ? `img-src ${cspSource} blob: data:` : `img-src ${cspSource}`,
    // Our bundle by nonce; the report runs no script. The onnxruntime page also compiles WebAssembly
    // ('wasm-unsafe-eval', never 'unsafe-eval'), and its worker imports onnxruntime's .mjs glue from a blob URL
    // the page made.
    !scripted ? "script-src 'none'" : onnx ? `script-src 'nonce-${pageNonce}' 'wasm-unsafe-eval' blob:` : `script-src 'nonce-${pageNonce}'`,
    // Webviews start workers only from blob URLs: the onnxruntime worker is one. No other page starts a worker.
    onnx ? 'worker-src blob:' : "worker-src 'none'",
    // The onnxruntime page fetches the worker bundle and onnxruntime's .mjs and .wasm from the extension; nothing
    // remote, and no other page fetches anything.
    onnx ? `connect-src ${cspSource}` : "connect-src 'none'",
  ].join('; ');
}

/**
 * What an onnxruntime page fetches first for a setting, under dist/webview/ (webview/ort-runtime.ts WORKER and
 * PAIRS): the worker and the glue and wasm of the pair the setting calls for (the plain build for `wasm`, the
 * asyncify build for `webgpu`); for `auto` the worker and both small glues (the pair waits for the WebGPU probe);
 * nothing for `cpu`, which runs on the host.
 */
export function startFiles(executionProvider: string | undefined): string[] {
  // The wasm as the page fetches it: its gzip copy (webview/ort-runtime.ts compileWasm).
  const plain = ['ort/ort-wasm-simd-threaded.mjs', 'ort/ort-wasm-simd-threaded.wasm.gz'];
  const asyncify = ['ort/ort-wasm-simd-threaded.asyncify.mjs', 'ort/ort-wasm-simd-threaded.asyncify.wasm.gz'];
  switch (executionProvider) {
    case 'cpu': return [];
    case 'wasm': return ['ort-worker.js', ...plain];
    case 'webgpu': return ['ort-worker.js', ...asyncify];
    default: return ['ort-worker.js', plain[0], asyncify[0]];
  }
}

/** Where a script page's files are, as the webview addresses them (webview URIs as strings). */
export interface PageResources {
  /** The webview's CSP source (`webview.cspSource`). */
  readonly cspSource: string;
  /** The page's bundle. */
  readonly script: string;
  /** The page's stylesheet. */
  readonly style: string;
  /** The bundles folder, ending in '/': the onnxruntime page loads its worker and wasm pair from it. */
  readonly bundles: string;
  /** The lookCloser.executionProvider setting when the page is built, so an onnxruntime page starts the right runtime before the host's first message. */
  readonly executionProvider?: string;
  /** Whether the extension host's CPU runtime would be onnxruntime-node, in a local desktop window (true) or behind a network link ('remote'); the page's `auto` choice depends on it. */
  readonly nativeCpu?: boolean | 'remote';
  /** Files the page will fetch first (onnxruntime's wasm, when the setting tells which): fetched from the page's start, before its script runs. */
  readonly preload?: readonly string[];
  /**
   * The bundle's and the stylesheet's text, to put in the page itself (by nonce): a webview fetches its files
   * through a service worker that code-server starts with the page, about a second before the first file comes.
   * Left as files when the text could end the element early (`</script`, `<!--`, `</style`).
   */
  readonly inline?: { readonly script: string; readonly style: string };
}

/** Whether text can stand inside a <script> or <style> element as it is (nothing in it ends the element or opens an HTML comment). */
export function inlinable(text: string, element: 'script' | 'style'): boolean {
  const t = text.toLowerCase();
  return !t.includes(`</${element}`) && !t.includes('<!--');
}

/** The HTML of a script page, with its CSP and a fresh nonce (or the one given, for tests). */
export function scriptPageHtml(page: ScriptPage, title: string, r: PageResources, pageNonce = nonce()): string {
  const script = r.inline && inlinable(r.inline.script, 'script') ? r.inline.script : undefined;
  const style = r.inline && inlinable(r.inline.style, 'style') ? r.inline.style : undefined;
  const csp = contentSecurityPolicy(kindOf(page), r.cspSource, pageNonce, style !== undefined);
  const n = escapeHtml(pageNonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${style !== undefined ? `<style nonce="${n}">${style}</style>` : `<link rel="stylesheet" href="${escapeHtml(r.style)}">`}
${(r.preload ?? []).map((u) => `<link rel="preload" as="fetch" crossorigin href="${escapeHtml(u)}">\n`).join('')}
<title>${escapeHtml(title)}</title>
</head>
<body data-bundles="${escapeHtml(r.bundles)}"${r.executionProvider ? ` data-ep="${escapeHtml(r.executionProvider)}"` : ''}${r.nativeCpu === true ? ' data-native-cpu="1"' : r.nativeCpu === 'remote' ? ' data-native-cpu="remote"' : ''}>
<div id="app" class="app"><p class="boot">Starting Look Closer…</p></div>
${script !== undefined ? `<script type="module" nonce="${n}">${script}</script>` : `<script type="module" nonce="${n}" src="${escapeHtml(r.script)}"></script>`}
</body>
</html>`;
}

/**
 * The static report page of a folder run as a webview shows it: no scripts, its images through `resolve`
 * (a report-relative path to a webview URI), its one stylesheet by nonce.
 */
export function reportPageHtml(summary: BatchSummary, cspSource: string, resolve: (rel: string) => string, pageNonce = nonce()): string {
  return renderReportHtml(summary, { csp: contentSecurityPolicy('static', cspSource, pageNonce), styleNonce: pageNonce, resolve });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
