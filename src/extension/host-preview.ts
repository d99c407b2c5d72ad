/**
 * The first map of a new panel, computed on the extension host's runtime thread while the panel loads the model itself.
 *
 * A cold panel spends seconds before its own first map: its page and onnxruntime's wasm load through the webview's
 * resource loader, and the model's bytes cross the webview channel (about 10 MB/s through code-server: 10 s for a
 * 98 MB ResNet-50). The host has the bytes already. With `lookCloser.executionProvider` 'auto' or 'cpu', it sends
 * them to its runtime thread at the click (prepare), where the core's Classifier loads on the thread's own
 * onnxruntime (src/node/preview-thread.ts); the panel sends its decoded pixels, or the host has the thread decode a
 * PNG or JPEG file itself (begin), and the panel draws the map the thread answers, then loads the model as before and
 * replaces the preview with its own map. The same core application layer (prepareImage, explainImage) computes both.
 * The host's own thread only reads files, checks what the webview asks (checkPreview) and relays: parsing the
 * model, decoding and preprocessing no longer hold up the open request or the panel's other messages.
 * No `vscode`: unit-tested in Node with the real thread (test/unit/host-preview.test.ts).
 */
import { LookCloserError, messageOf } from '../core/errors';
import { METHODS } from '../core/methods/registry';
import { parseScoreTarget } from '../core/methods/score-target';
import { MAX_IMAGE_PIXELS } from '../core/preprocess/preprocess';
import type { RgbaImage } from '../core/preprocess/image';
import { hostDecodable } from '../node/host-decode';
import type { PreviewImage, PreviewThreadRequest, PreviewThreadResponses } from '../node/preview-thread';
import { AUTO_HOST_FROM_BYTES, type ExecutionProviderSetting, type ModelPayload, type PreviewAnswer, type PreviewRequest } from '../protocol/protocol';
import { LIMITS, checkText, isRecord, own, quote, refuse as refuseField } from './validate';

/** Classes a preview explains at most (the panel asks for its top class). */
export const PREVIEW_MAX_TOP = 20;

/**
 * Models above this size get no preview: the host would hold a second copy of the bytes beside the panel's while
 * both load (its runtime thread is sent a copy), and such a model's own load is long whatever the first map does.
 */
export const PREVIEW_MAX_MODEL_BYTES = 512 * 2 ** 20;

/** Whether a model of `bytes` gets a first map from the host. */
export function previewable(bytes: number): boolean {
  return bytes <= PREVIEW_MAX_MODEL_BYTES;
}

/** Models above this size are not kept on the thread for a panel's next images: that is a second copy beside the panel's for the panel's life. */
export const PREVIEW_KEEP_MAX_BYTES = 256 * 2 ** 20;

/**
 * Whether the runtime thread keeps a panel's model for its next images (HostPreview.keep), so that each new image's
 * first map comes from the thread's multi-threaded runtime while the panel explains it in its webview: on 'auto',
 * up to PREVIEW_KEEP_MAX_BYTES, and not where the panel's own sessions run on the host's CPU already ('cpu', or
 * 'auto' sending a big model there: `autoUsesHostCpu`, webview-host.ts's autoMayUseHostCpu).
 */
export function keptForNextImages(ep: ExecutionProviderSetting, bytes: number, autoUsesHostCpu: boolean): boolean {
  return ep === 'auto' && bytes <= PREVIEW_KEEP_MAX_BYTES && !(autoUsesHostCpu && bytes >= AUTO_HOST_FROM_BYTES);
}

/** The part of the runtime thread (src/node/thread-runtime.ts) a preview uses: its preview requests. */
export interface PreviewBackend {
  request<R extends PreviewThreadRequest>(body: R, signal?: AbortSignal): Promise<PreviewThreadResponses[R['type']]>;
}

/** A preview request as checked: what a webview sends is untrusted. */
export interface CheckedPreview {
  readonly key: string;
  /** The pixels the panel decoded; absent when the host decoded the image itself (`imageKey` names it). */
  readonly image?: RgbaImage;
  readonly imageKey?: string;
  readonly method?: string;
  readonly target?: PreviewRequest['target'];
  readonly top: number;
}

/** Checks a webview's PreviewRequest: the model key, an RGBA image of at most MAX_IMAGE_PIXELS (or the key of one the host decoded), a known method, a valid target and top. */
export function checkPreview(from: string, r: unknown): CheckedPreview {
  const refuse = (what: string, v: unknown, why: string) => refuseField(from, what, v, why);
  if (!isRecord(r)) throw refuse('a preview request', r, 'it is not an object');
  const key = checkText(from, 'a model key', own(r, 'key'), LIMITS.uri);
  const rawKey = own(r, 'imageKey');
  const imageKey = rawKey === undefined ? undefined : checkText(from, 'an image key', rawKey, LIMITS.uri);
  const image = own(r, 'image');
  let checked: RgbaImage | undefined;
  if (image !== undefined || imageKey === undefined) {
    if (!isRecord(image)) throw refuse('an image', image, 'it is not an object with width, height and RGBA data');
    const width = own(image, 'width');
    const height = own(image, 'height');
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw refuse(`an image ${name}`, v, 'it is not a positive integer');
    }
    const w = width as number;
    const h = height as number;
    if (w * h > MAX_IMAGE_PIXELS) throw refuse('an image of', `${w}×${h} pixels`, `at most ${MAX_IMAGE_PIXELS} pixels are read`);
    const data = own(image, 'data');
    if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) throw refuse('image data', data, 'it is not a byte array');
    if (data.length !== w * h * 4) throw refuse('image data of', `${data.length} bytes`, `a ${w}×${h} RGBA image has ${w * h * 4}`);
    checked = { width: w, height: h, data };
  }
  const method = own(r, 'method');
  if (method !== undefined && (typeof method !== 'string' || !METHODS.some((m) => m.id === method))) throw refuse('a method', method, 'it is not a registered method id');
  const rawTarget = own(r, 'target');
  let target: PreviewRequest['target'];
  if (rawTarget !== undefined) {
    if (typeof rawTarget !== 'string') throw refuse('a target', rawTarget, 'it is not logit, softmax, sigmoid or contrast:B');
    try {
      target = parseScoreTarget(rawTarget);
    } catch (e) {
      throw refuse('a target', rawTarget, messageOf(e));
    }
  }
  const top = own(r, 'top') ?? 1;
  if (typeof top !== 'number' || !Number.isSafeInteger(top) || top < 1 || top > PREVIEW_MAX_TOP) throw refuse('top', top, `it is not an integer from 1 to ${PREVIEW_MAX_TOP}`);
  return { key, image: checked, imageKey, method: method as string | undefined, target, top };
}

/** The model a panel's preview runs on: loading (or loaded) on the runtime thread under `id`, and the opens that use it. */
interface Loading {
  readonly key: string;
  readonly fingerprint: string;
  readonly id: number;
  users: number;
  /** Kept for the panel's next images (keep): released only with the panel or when another model replaces it. */
  kept?: boolean;
}

/** An image the thread decodes itself from the click, and its first map under way with the open's settings. */
interface Early {
  readonly key: string;
  /** The settings it is explained with (method, target, top), as settingsKey gives them. */
  readonly settings: string;
  readonly answer: Promise<PreviewAnswer>;
}

function settingsKey(method: string | undefined, target: PreviewRequest['target'], top: number): string {
  return JSON.stringify([method ?? null, target ?? 'logit', top]);
}

let nextId = 1;

/** One panel's previews: the model the runtime thread loads for it at the click, and the first map explained with it. */
export class HostPreview {
  private current?: Loading;
  private early?: Early;

  /** `from` names the webview in refusals ("The explanation panel"). */
  constructor(private readonly thread: PreviewBackend, private readonly from: string) {}

  /**
   * Starts loading the model on the runtime thread for an open (once per key and fingerprint: an open that
   * supersedes another of the same model shares its load; another model replaces it). The payload's bytes go to
   * the thread by transfer, not copied on the host's thread (98 MB: 0.3 s here): the payload is left without them
   * and `bytes` gets them back. Returns the open's lease: call it when the open ended; the model's sessions are
   * released when no open uses them.
   */
  prepare(p: ModelPayload): () => Promise<void> {
    const fingerprint = p.fingerprint ?? String(p.bytes.byteLength);
    let l = this.current;
    if (!l || l.key !== p.key || l.fingerprint !== fingerprint) {
      void this.release();
      const id = nextId++;
      const loaded = this.thread.request({ type: 'previewLoad', id, model: p, since: Date.now() });
      // Reported when a preview asks for it (previewExplain waits for the load); a failed load is not unhandled.
      loaded.catch(() => undefined);
      l = { key: p.key, fingerprint, id, users: 0 };
      this.current = l;
    }
    return this.lease(l);
  }

  /** A lease on `l`: call it when the open ended; the model's sessions are released when no open uses them and it is not kept. */
  private lease(l: Loading): () => Promise<void> {
    l.users++;
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      l.users--;
      if (l.users === 0 && !l.kept && this.current === l) await this.release();
    };
  }

  /**
   * Keeps the model the thread loads now for the panel's next images: a later open of another image with the same
   * model file (`reuse`) gets its first map from the thread while the panel explains it itself. Released with the
   * panel (release) or when another model replaces it.
   */
  keep(): void {
    if (this.current) this.current.kept = true;
  }

  /** A lease on the model the thread holds for this panel when it is `key` as `fingerprint` says, else undefined (nothing to preview with). */
  reuse(key: string, fingerprint: string): (() => Promise<void>) | undefined {
    const l = this.current;
    return l && l.key === key && l.fingerprint === fingerprint ? this.lease(l) : undefined;
  }

  /**
   * Has the runtime thread decode the open's image when it can (src/node/host-decode.ts: PNG and JPEG as the
   * webview would decode them) and explain it with the open's method and target as soon as the model is loaded, so
   * the map is ready, or under way, when the panel asks. True when it did: the panel then sends no pixels.
   */
  begin(image: { readonly key: string; readonly bytes: Uint8Array }, method?: string, target?: PreviewRequest['target']): boolean {
    const cur = this.current;
    this.early = undefined;
    if (!cur || !hostDecodable(image.bytes)) return false;
    const answer = this.ask(cur, { kind: 'encoded', key: image.key, bytes: image.bytes.slice() }, method, target, 1, undefined, Date.now());
    answer.catch(() => undefined);
    this.early = { key: image.key, settings: settingsKey(method, target, 1), answer };
    return true;
  }

  /** Explains the panel's decoded image, or the one the thread decoded, with the model prepared for it (the handler of PreviewRequest). */
  async explain(r: unknown, signal?: AbortSignal): Promise<PreviewAnswer> {
    const arrived = Date.now();
    const q = checkPreview(this.from, r);
    const cur = this.current;
    if (!cur || cur.key !== q.key) {
      throw new LookCloserError('bad-argument', `${this.from} asked for a first map of a model the host is not loading (${quote(q.key)}); explain the image again.`);
    }
    if (q.image) return this.ask(cur, { kind: 'rgba', ...q.image }, q.method, q.target, q.top, signal, arrived);
    const early = this.early;
    if (!early || early.key !== q.imageKey) {
      throw new LookCloserError('bad-argument', `${this.from} asked for a first map of an image the host did not decode (${quote(q.imageKey)}); explain the image again.`);
    }
    // The map under way since the click, when the panel asks for what the open asked; else the same pixels again.
    if (early.settings === settingsKey(q.method, q.target, q.top)) {
      const a = await early.answer;
      return { ...a, at: { arrived, answered: Date.now() } };
    }
    return this.ask(cur, { kind: 'decoded', key: early.key }, q.method, q.target, q.top, signal, arrived);
  }

  /** The thread's first map of `image` once the model is loaded. */
  private ask(cur: Loading, image: PreviewImage, method: string | undefined, target: PreviewRequest['target'], top: number, signal: AbortSignal | undefined, arrived: number): Promise<PreviewAnswer> {
    return this.thread.request({ type: 'previewExplain', id: cur.id, image, method, target, top, arrived }, signal);
  }

  /**
   * The payload with its bytes: as it is when it still has them, else a copy the runtime thread makes of those
   * prepare gave it (same key and fingerprint); undefined when the thread no longer holds them (released, or it died).
   */
  async bytes(p: ModelPayload): Promise<ModelPayload | undefined> {
    if (p.bytes.byteLength > 0) return p;
    const cur = this.current;
    if (!cur || cur.key !== p.key || (p.fingerprint !== undefined && cur.fingerprint !== p.fingerprint)) return undefined;
    const { bytes } = await this.thread.request({ type: 'previewBytes', id: cur.id }).catch(() => ({ bytes: undefined }));
    return bytes && { ...p, bytes };
  }

  /** Releases the model's sessions now, whoever uses them (the panel closed, or another model replaces it). */
  async release(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    this.early = undefined;
    if (!cur) return;
    await this.thread.request({ type: 'previewRelease', id: cur.id }).catch(() => undefined);
  }
}
