/**
 * Checks of everything a webview sends the extension host. A webview runs a model and pictures the user did
 * not write, so the host treats its messages as untrusted input: every field is checked for type, size and
 * shape here before it names a file, reaches the file system or is shown, and a message that fails is refused
 * with an error naming the field (the messenger answers the webview with it). Pure apart from node:path's
 * POSIX helpers, so it is unit-tested in Node without VS Code (test/unit/host-validate.test.ts).
 */
import * as path from 'node:path';
import { LookCloserError } from '../core/errors';
import type { BatchImageResult, BatchOutputPayload, LayersState, NoticeNote, SaveRequest } from '../protocol/protocol';

/** Size limits of what a webview may send. */
export const LIMITS = {
  /** Characters of a file name to save (most file systems allow 255 bytes). */
  fileName: 120,
  /** Bytes of one saved PNG or .npy. */
  saveBytes: 256 * 1024 * 1024,
  /** Bytes of one folder-run picture or map. */
  batchBytes: 256 * 1024 * 1024,
  /** Characters of a progress title. */
  title: 200,
  /** Characters of a notice or error message. */
  message: 2000,
  /** Characters of a layer, tensor, label or method name. */
  name: 1000,
  /** Characters of a URI. */
  uri: 8192,
  /** Entries of a list (layers, predictions, outputs, a shape). */
  list: 100_000,
} as const;

/** File names Windows reserves whatever their extension ('CON.png' is the console there). */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\.|$)/i;
/** Characters no file name holds: path separators and controls. */
const FORBIDDEN = /[/\\\u0000-\u001f\u007f-\u009f]/;
/** Punctuation Windows reserves in names (':' opens an NTFS stream); an image may have it in its name, so it becomes '_'. */
const WINDOWS_PUNCTUATION = /[:*?"<>|]/g;
/** Invisible characters that change how a name reads (bidirectional overrides and isolates, zero-width). */
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

/** The extension each `save` kind must have. */
export const SAVE_EXTENSIONS: Readonly<Record<SaveRequest['what'], string>> = { PNG: '.png', '.npy': '.npy' };

/** A value as it may be quoted in a message: JSON, cut short. */
export function quote(v: unknown, max = 60): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v.length > max ? v.slice(0, max) : v) : String(JSON.stringify(v) ?? typeof v);
  } catch {
    s = typeof v;
  }
  if (typeof v === 'string' && v.length > max) return `${s.slice(0, -1)}…" (${v.length} characters)`;
  return s.length > max + 2 ? `${s.slice(0, max)}…` : s;
}

/** The refusal of a field a webview sent: what it is, its value (quoted, shortened) and why. */
export function refuse(from: string, what: string, v: unknown, why: string): LookCloserError {
  return new LookCloserError('bad-argument', `${from} sent ${what} ${quote(v)}, which is refused: ${why}.`);
}

/** A plain object (not null, not an array). */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Own property of a message (a `__proto__` or `toString` key of the prototype never counts). */
export function own(o: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/** A string field no longer than `max`, without control characters. */
export function checkText(from: string, what: string, v: unknown, max: number, opts: { empty?: boolean } = {}): string {
  if (typeof v !== 'string') throw refuse(from, what, v, 'it is not a string');
  if (!v && !opts.empty) throw refuse(from, what, v, 'it is empty');
  if (v.length > max) throw refuse(from, what, v, `it is longer than ${max} characters`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(v)) throw refuse(from, what, v, 'it holds control characters');
  return v;
}

/** A whole number ≥ 0. */
export function checkIndex(from: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw refuse(from, what, v, 'it is not a whole number ≥ 0');
  return v;
}

/** A finite number. */
export function checkNumber(from: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(from, what, v, 'it is not a finite number');
  return v;
}

/**
 * A file name the host may write into its output folder: one plain name with the extension of its kind, Windows'
 * reserved punctuation (: * ? " < > |) replaced by '_'. Anything that could name another folder is refused.
 */
export function checkFileName(from: string, v: unknown, ext: string): string {
  const what = 'the file name';
  if (typeof v !== 'string') throw refuse(from, what, v, 'it is not a string');
  if (!v) throw refuse(from, what, v, 'it is empty');
  if (v.length > LIMITS.fileName) throw refuse(from, what, v, `it is longer than ${LIMITS.fileName} characters`);
  if (FORBIDDEN.test(v)) throw refuse(from, what, v, 'a file name may not hold / or \\ or control characters');
  if (INVISIBLE.test(v)) throw refuse(from, what, v, 'it holds invisible direction or zero-width characters');
  if (v.includes('..')) throw refuse(from, what, v, "it holds '..'");
  if (v.startsWith('.') || v.startsWith(' ') || /[. ]$/.test(v)) throw refuse(from, what, v, 'a file name may not start with a dot or a space, or end with one');
  if (RESERVED.test(v)) throw refuse(from, what, v, 'it is a device name Windows reserves');
  if (path.posix.extname(v).toLowerCase() !== ext) throw refuse(from, what, v, `it must end in ${ext}`);
  return v.replace(WINDOWS_PUNCTUATION, '_');
}

/**
 * Bytes as a webview sends them (a typed array, an ArrayBuffer, or the array or {type: 'Buffer'} forms a
 * JSON-like transport leaves), at most `max` of them; anything else is refused, never coerced.
 */
export function checkBytes(from: string, what: string, v: unknown, max: number): Uint8Array {
  let out: Uint8Array | undefined;
  if (v instanceof Uint8Array) out = v;
  else if (v instanceof ArrayBuffer) out = new Uint8Array(v);
  else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) out = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  else {
    const arr = Array.isArray(v) ? v : isRecord(v) && v.type === 'Buffer' && Array.isArray(v.data) ? (v.data as unknown[]) : undefined;
    if (!arr) throw new LookCloserError('bad-argument', `${from} sent ${what} that are not bytes (${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}); refused.`);
    if (arr.length > max) throw new LookCloserError('bad-argument', `${from} sent ${arr.length} bytes of ${what}, more than the ${max} allowed; refused.`);
    for (const b of arr) {
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) throw new LookCloserError('bad-argument', `${from} sent ${what} with ${quote(b)} among the bytes; refused.`);
    }
    return Uint8Array.from(arr as number[]);
  }
  if (out.byteLength > max) throw new LookCloserError('bad-argument', `${from} sent ${out.byteLength} bytes of ${what}, more than the ${max} allowed; refused.`);
  return out;
}

/** A checked `save` request. */
export interface CheckedSave {
  readonly fileName: string;
  readonly what: SaveRequest['what'];
  readonly bytes: Uint8Array;
}

/** Checks a `save` request: a known kind, a plain file name with its extension, and bytes within the cap. */
export function checkSave(from: string, r: unknown): CheckedSave {
  if (!isRecord(r)) throw refuse(from, 'a save request', r, 'it is not an object');
  const what = own(r, 'what');
  if (what !== 'PNG' && what !== '.npy') throw refuse(from, 'a file kind', what, "it is neither 'PNG' nor '.npy'");
  const fileName = checkFileName(from, own(r, 'fileName'), SAVE_EXTENSIONS[what]);
  return { fileName, what, bytes: checkBytes(from, `the ${what}`, own(r, 'bytes'), LIMITS.saveBytes) };
}

/** A checked `saveSidecar` request; `labelsUri` is still a string the host parses and places (see `placeUri`). */
export interface CheckedSidecar {
  readonly modelKey: string;
  readonly preset: string;
  readonly labelsUri?: string;
}

/** Checks a `saveSidecar` request: the preset must be one of `presets` (own property: '__proto__' is no preset). */
export function checkSaveSidecar(from: string, r: unknown, presets: Readonly<Record<string, unknown>>): CheckedSidecar {
  if (!isRecord(r)) throw refuse(from, 'a sidecar request', r, 'it is not an object');
  const modelKey = checkText(from, 'the model key', own(r, 'modelKey'), LIMITS.uri);
  const preset = own(r, 'preset');
  if (typeof preset !== 'string' || !Object.prototype.hasOwnProperty.call(presets, preset)) {
    throw refuse(from, 'the preset', preset, `a sidecar names a built-in preset (${Object.keys(presets).join(', ')}); a custom preprocessing is edited in the sidecar itself`);
  }
  const labels = own(r, 'labelsUri');
  if (labels === undefined) return { modelKey, preset };
  return { modelKey, preset, labelsUri: checkText(from, 'the labels URI', labels, LIMITS.uri) };
}

/** Checks a progress title: a short line of text. */
export function checkTitle(from: string, r: unknown): string {
  return checkText(from, 'a progress title', isRecord(r) ? own(r, 'title') : r, LIMITS.title);
}

/** Checks a notice: a level and a message within the cap. */
export function checkNotice(from: string, n: unknown): Pick<NoticeNote, 'level' | 'message'> {
  if (!isRecord(n)) throw refuse(from, 'a notice', n, 'it is not an object');
  const level = own(n, 'level');
  if (level !== 'info' && level !== 'warning') throw refuse(from, 'a notice level', level, "it is neither 'info' nor 'warning'");
  return { level, message: checkText(from, 'a notice', own(n, 'message'), LIMITS.message) };
}

/** Checks a layer name the Layers view names: a string, and one of `known` when the host knows the model's layers. */
export function checkLayer(from: string, v: unknown, known?: readonly string[]): string {
  const layer = checkText(from, 'the layer', v, LIMITS.name);
  if (known && !known.includes(layer)) throw refuse(from, 'the layer', layer, 'the model has no such layer');
  return layer;
}

/** A channel index: a whole number ≥ 0, below `count` when the host knows the layer's channels. */
export function checkChannel(from: string, v: unknown, count?: number): number {
  const c = checkIndex(from, 'the channel', v);
  if (count !== undefined && c >= count) throw refuse(from, 'the channel', c, `the layer has ${count} channels`);
  return c;
}

function checkList(from: string, what: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw refuse(from, what, v, 'it is not a list');
  if (v.length > LIMITS.list) throw refuse(from, what, `${v.length} entries`, `it is longer than ${LIMITS.list}`);
  return v;
}

function checkShape(from: string, what: string, v: unknown): number[] {
  return checkList(from, what, v).map((d) => checkIndex(from, `a dimension of ${what}`, d));
}

/** Checks the state the panel reports for the Layers view: names are text, the thumbnail is RGBA bytes of its size. */
export function checkLayersState(from: string, v: unknown): LayersState {
  if (!isRecord(v)) throw refuse(from, 'the layers state', v, 'it is not an object');
  const layers = checkList(from, 'the layers', own(v, 'layers')).map((l) => {
    if (!isRecord(l)) throw refuse(from, 'a layer', l, 'it is not an object');
    const shape = checkList(from, 'a layer shape', own(l, 'shape')).map((d) => checkNumber(from, 'a dimension of a layer shape', d));
    return { name: checkText(from, 'a layer name', own(l, 'name'), LIMITS.name), op: checkText(from, 'a layer op', own(l, 'op'), LIMITS.name, { empty: true }), shape };
  });
  const gates = checkList(from, 'the gates', own(v, 'gates') ?? []).map((g) => {
    if (!isRecord(g)) throw refuse(from, 'a gate', g, 'it is not an object');
    checkText(from, 'a gate tensor', own(g, 'tensor'), LIMITS.name);
    return g as unknown as LayersState['gates'][number];
  });
  const t = own(v, 'thumbnail');
  if (!isRecord(t)) throw refuse(from, 'the thumbnail', t, 'it is not an object');
  const width = checkIndex(from, 'the thumbnail width', own(t, 'width'));
  const height = checkIndex(from, 'the thumbnail height', own(t, 'height'));
  const data = checkBytes(from, 'the thumbnail', own(t, 'data'), 4 * 1024 * 1024);
  if (data.length !== width * height * 4) throw refuse(from, 'a thumbnail', `${width}×${height} with ${data.length} bytes`, 'RGBA needs 4 bytes a pixel');
  const optional = (k: string) => (own(v, k) === undefined ? undefined : checkText(from, k, own(v, k), LIMITS.name));
  return {
    model: checkText(from, 'the model name', own(v, 'model'), LIMITS.name, { empty: true }),
    image: checkText(from, 'the image name', own(v, 'image'), LIMITS.name, { empty: true }),
    layers, gates, defaultLayer: optional('defaultLayer'), targetLayer: optional('targetLayer'),
    thumbnail: { width, height, data },
  };
}

const GAIN_NUMBERS = ['before', 'after', 'drop', 'probBefore', 'probAfter', 'logitBefore', 'logitAfter', 'erased'] as const;

function checkGain(from: string, v: unknown): BatchOutputPayload['gain'] {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw refuse(from, "GAIN's result", v, 'it is not an object');
  const score = own(v, 'score');
  if (score !== 'logit' && score !== 'softmax') throw refuse(from, "GAIN's score", score, "it is neither 'logit' nor 'softmax'");
  const out: Record<string, unknown> = { score };
  for (const k of GAIN_NUMBERS) out[k] = checkNumber(from, `GAIN's ${k}`, own(v, k));
  const control = own(v, 'control');
  if (control !== undefined) {
    if (!isRecord(control)) throw refuse(from, "GAIN's control", control, 'it is not an object');
    const c: Record<string, number> = {};
    for (const k of ['after', 'drop', 'probAfter', 'logitAfter']) c[k] = checkNumber(from, `GAIN's control ${k}`, own(control, k));
    out.control = c;
    out.controlAfter = c.after;
  }
  return out as unknown as BatchOutputPayload['gain'];
}

/**
 * Checks the folder view's reply for one image. Its outputs name files (`<stem>_<method>_c<class>.png`), so
 * only a method id of `methods` and a class index may go into a name; every number the summary and report
 * keep must be finite, every picture bytes within the cap.
 */
export function checkBatchReply(from: string, r: unknown, methods: readonly string[]): BatchImageResult {
  if (!isRecord(r)) throw refuse(from, 'a reply', r, 'it is not an object');
  const view = checkBytes(from, 'the model\'s view of the image', own(r, 'view'), LIMITS.batchBytes);
  const predictions = checkList(from, 'the predictions', own(r, 'predictions')).map((p) => {
    if (!isRecord(p)) throw refuse(from, 'a prediction', p, 'it is not an object');
    return { index: checkIndex(from, 'a class index', own(p, 'index')), label: checkText(from, 'a label', own(p, 'label'), LIMITS.name, { empty: true }), score: checkNumber(from, 'a score', own(p, 'score')) };
  });
  const outputs = checkList(from, 'the outputs', own(r, 'outputs')).map((o): BatchOutputPayload => {
    if (!isRecord(o)) throw refuse(from, 'an output', o, 'it is not an object');
    const method = own(o, 'method');
    const cls = own(o, 'class');
    if (typeof method !== 'string' || !methods.includes(method) || typeof cls !== 'number' || !Number.isSafeInteger(cls) || cls < 0) {
      throw new LookCloserError('runtime', `${from} sent an output for method ${quote(method)} and class ${quote(cls)}; nothing was written for it.`);
    }
    const layer = own(o, 'layer');
    const gain = checkGain(from, own(o, 'gain'));
    return {
      method, class: cls, label: checkText(from, 'a label', own(o, 'label'), LIMITS.name, { empty: true }),
      layer: layer === null || layer === undefined ? null : checkText(from, 'a layer', layer, LIMITS.name),
      shape: checkShape(from, 'a map shape', own(o, 'shape')),
      min: checkNumber(from, "a map's minimum", own(o, 'min')), max: checkNumber(from, "a map's maximum", own(o, 'max')),
      png: checkBytes(from, 'a PNG', own(o, 'png'), LIMITS.batchBytes), npy: checkBytes(from, 'a .npy', own(o, 'npy'), LIMITS.batchBytes),
      ...(gain ? { gain } : {}),
    };
  });
  const ms = checkNumber(from, 'the time taken', own(r, 'ms'));
  return { view, predictions, outputs, ms };
}

/** The parts of a URI that decide where it points. */
export interface UriParts {
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
}

/** A URI path with '.' and '..' segments resolved and no trailing slash (the root stays '/'). */
export function normalPath(p: string): string {
  const n = path.posix.normalize(`/${p}`);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * True when `target` is `folder` or lies inside it: same scheme and authority, and its normalised path under
 * the folder's ('/ws-other' is not inside '/ws'). `ignoreCase` for case-insensitive file systems (Windows, macOS).
 */
export function isInside(folder: UriParts, target: UriParts, ignoreCase = false): boolean {
  if (folder.scheme !== target.scheme || folder.authority.toLowerCase() !== target.authority.toLowerCase()) return false;
  let f = normalPath(folder.path);
  let t = normalPath(target.path);
  if (ignoreCase) {
    f = f.toLowerCase();
    t = t.toLowerCase();
  }
  return t === f || t.startsWith(f === '/' ? '/' : `${f}/`);
}

/** Where a path from a setting or a sidecar may point, as `placeSettingPath` decides it. */
export type Placement =
  | { readonly ok: true; readonly candidates: readonly UriParts[] }
  | { readonly ok: false; readonly why: string };

/**
 * Where `lookCloser.model` may point: a relative value in each workspace folder (the one `near` is in first),
 * an absolute one as is; only candidates inside a workspace folder are kept. An untrusted workspace never
 * uses the setting (VS Code ignores its workspace value there, and a user value is refused the same way).
 */
export function placeSettingPath(value: string, o: { trusted: boolean; folders: readonly UriParts[]; near?: UriParts; absolute: boolean; ignoreCase?: boolean }): Placement {
  if (!o.trusted) return { ok: false, why: 'this workspace is not trusted (Restricted Mode), so Look Closer does not load a model a setting names' };
  if (!o.folders.length) return { ok: false, why: 'no workspace folder is open, and the setting may only name a model inside one' };
  if (/[\u0000-\u001f]/.test(value)) return { ok: false, why: 'it holds control characters' };
  const order = o.near ? [o.near, ...o.folders.filter((f) => f !== o.near)] : o.folders;
  const candidates = o.absolute
    ? order.map((f) => ({ ...f, path: normalPath(value.replace(/\\/g, '/')) }))
    : order.map((f) => ({ ...f, path: normalPath(`${f.path}/${value.replace(/\\/g, '/')}`) }));
  const inside = candidates.filter((c, i) => isInside(order[i], c, o.ignoreCase));
  if (!inside.length) return { ok: false, why: 'it points outside the workspace folder' + (o.folders.length > 1 ? 's' : '') };
  return { ok: true, candidates: inside };
}

/** Where a sidecar's `labels` points: relative to the sidecar's folder, refused when it leaves every root. */
export function placeSidecarLabels(labels: string, model: UriParts, roots: readonly UriParts[], ignoreCase = false): Placement {
  if (/[\u0000-\u001f]/.test(labels)) return { ok: false, why: 'it holds control characters' };
  const rel = labels.replace(/\\/g, '/');
  const target = { ...model, path: normalPath(rel.startsWith('/') ? rel : `${path.posix.dirname(model.path)}/${rel}`) };
  if (!roots.some((r) => isInside(r, target, ignoreCase))) return { ok: false, why: 'it points outside the workspace' };
  return { ok: true, candidates: [target] };
}
