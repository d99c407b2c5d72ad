/** The webview side of the channel: acquireVsCodeApi, as a messenger Endpoint. */
import type { Endpoint } from '../src/protocol/messenger';

/** What VS Code injects into webviews. */
interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** The VS Code API; acquireVsCodeApi may be called only once per webview. */
export const vscodeApi: VsCodeApi = acquireVsCodeApi();

/** An Endpoint over postMessage and the window's message event. */
export const endpoint: Endpoint = {
  post: (m) => vscodeApi.postMessage(m),
  listen: (cb) => {
    const h = (e: MessageEvent) => cb(e.data);
    window.addEventListener('message', h);
    return { dispose: () => window.removeEventListener('message', h) };
  },
};

/** Builds an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: (Node | string | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== false) el.append(c);
  return el;
}

/** Formats a number for the UI: 4 significant digits, exponent for extremes. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

/** Formats milliseconds. */
export function ms(v: number | undefined): string {
  if (v === undefined) return '–';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}
