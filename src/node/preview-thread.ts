/**
 * The host's first map of a new panel, computed on the runtime thread (ort-thread.ts): the thread loads the model
 * with the core's Classifier on its own onnxruntime (no adapter: no copy of a tensor per run, nothing on the
 * extension host's event loop), decodes the image (host-decode.ts), preprocesses and explains it, and answers the
 * PreviewAnswer the panel draws. The host (src/extension/host-preview.ts) checks what the webview asked and relays.
 * No `vscode`, no worker API: unit-tested through the real thread (test/unit/host-preview.test.ts).
 */
import { Classifier, type InputGeometry } from '../core/app/classifier';
import { explainImage, prepareImage, type PreparedInput } from '../core/app/explain-image';
import { LookCloserError } from '../core/errors';
import type { ScoreTarget } from '../core/methods/method';
import type { RgbaImage } from '../core/preprocess/image';
import type { ModelInputSpec } from '../core/preprocess/preprocess';
import type { Runtime } from '../core/runtime';
import { modelSourceOf } from '../protocol/model-payload';
import type { ModelPayload, PreviewAnswer, PreviewOutput } from '../protocol/protocol';
import { decodeOnHost } from './host-decode';

/**
 * Starts loading a model for a panel's first map (`id` names it in later requests; `since`: the click, epoch ms).
 * The model's bytes come by transfer and stay on the thread until previewRelease (previewBytes copies them back).
 */
export interface PreviewLoadRequest {
  readonly type: 'previewLoad';
  readonly id: number;
  readonly model: ModelPayload;
  readonly since: number;
}

/** The image of a preview: pixels the panel decoded, a PNG or JPEG file to decode on the thread, or the one decoded last for this model. */
export type PreviewImage =
  | { readonly kind: 'rgba'; readonly width: number; readonly height: number; readonly data: Uint8Array | Uint8ClampedArray }
  | { readonly kind: 'encoded'; readonly key: string; readonly bytes: Uint8Array }
  | { readonly kind: 'decoded'; readonly key: string };

/** Explains an image with a model loaded by previewLoad (what the host checked of a PreviewRequest). */
export interface PreviewExplainRequest {
  readonly type: 'previewExplain';
  readonly id: number;
  readonly image: PreviewImage;
  readonly method?: string;
  readonly target?: ScoreTarget;
  readonly top: number;
  /** When the request reached the host (epoch ms): the answer's `waited` and `at.arrived` count from it. */
  readonly arrived: number;
}

/** Releases a preview's model and its sessions (waits for a load under way). */
export interface PreviewReleaseRequest {
  readonly type: 'previewRelease';
  readonly id: number;
}

/** A copy of a preview model's bytes, made on the thread (the host gave its own to previewLoad). */
export interface PreviewBytesRequest {
  readonly type: 'previewBytes';
  readonly id: number;
}

/** What the runtime thread holds: sessions created on its runtime since it started, those alive now, and preview models. */
export interface ThreadStatsRequest {
  readonly type: 'threadStats';
}

/** The thread's own requests beside the webviews' runtime requests. */
export type PreviewThreadRequest = PreviewLoadRequest | PreviewExplainRequest | PreviewBytesRequest | PreviewReleaseRequest | ThreadStatsRequest;

/** The answer to each of the thread's own requests. */
export interface PreviewThreadResponses {
  /** Milliseconds from `since` to the model loaded. */
  readonly previewLoad: { readonly ms: number };
  readonly previewExplain: PreviewAnswer;
  readonly previewBytes: { readonly bytes: Uint8Array };
  readonly previewRelease: void;
  readonly threadStats: { readonly sessionsCreated: number; readonly sessionsLive: number; readonly previews: number };
}

interface Loaded {
  readonly classifier: Classifier;
  readonly ms: number;
}

/** An image preprocessed while its model loaded (PreviewModels.prepareEarly), for the geometry it was prepared for. */
interface Prepared {
  readonly geometry: InputGeometry;
  readonly input: PreparedInput;
  readonly ms: number;
}

interface Model {
  readonly bytes: Uint8Array;
  readonly loaded: Promise<Loaded>;
  /** The image decoded last for this model (kind 'encoded'), for a later request with other settings. */
  image?: { readonly key: string; readonly rgba: Promise<RgbaImage>; readonly decoded?: RgbaImage; prepared?: Prepared };
}

/** The preview models of the runtime thread, and the handlers of the thread's preview requests. */
export class PreviewModels {
  private readonly models = new Map<number, Model>();

  /** `runtime`: the thread's onnxruntime, its backend named as the answer reports it. */
  constructor(private readonly runtime: () => Runtime) {}

  /** How many models are loaded or loading. */
  get size(): number {
    return this.models.size;
  }

  /** Starts loading (once per id) and resolves when loaded. */
  load(r: PreviewLoadRequest): Promise<{ ms: number }> {
    let m = this.models.get(r.id);
    if (!m) {
      // Started on the next turn: the host sends the open's image right after this request, and decoding it first
      // is faster (a JPEG decoded right after a model load took 3× as long here: 0.8 s against 0.23 s).
      const loaded = new Promise((resolve) => setImmediate(resolve))
        .then(() => Classifier.load(this.runtime(), modelSourceOf(r.model), (geometry) => this.prepareEarly(r.id, geometry)))
        .then((classifier) => ({ classifier, ms: Date.now() - r.since }));
      // Reported by previewExplain; until then a failed load must not be an unhandled rejection.
      loaded.catch(() => undefined);
      m = { bytes: r.model.bytes, loaded };
      this.models.set(r.id, m);
    }
    return m.loaded.then((l) => ({ ms: l.ms }));
  }

  /** The first map of an image once the model is loaded. */
  async explain(r: PreviewExplainRequest, signal?: AbortSignal): Promise<PreviewAnswer> {
    const m = this.model(r.id);
    const rgba = this.image(m, r.image);
    const { classifier: c, ms } = await m.loaded;
    const image = await rgba;
    const waited = Date.now() - r.arrived;
    // The image prepared while the model loaded (prepareEarly), if it is this one and prepared as the loaded classifier would.
    const p = r.image.kind !== 'rgba' && m.image?.key === r.image.key ? m.image.prepared : undefined;
    const early = p && p.geometry.preprocessing === c.preprocessing && sameSpec(p.geometry.spec, c.spec) ? p : undefined;
    let input: PreparedInput;
    let prepared: number;
    if (early) {
      input = early.input;
      prepared = early.ms;
    } else {
      const t = performance.now();
      input = prepareImage(c, image);
      prepared = performance.now() - t;
    }
    const o = await explainImage(c, input, { method: r.method, top: r.top, target: r.target, signal });
    const outputs = o.outputs.map(({ explanation: e, label, min, max }): PreviewOutput => ({
      classIndex: e.classIndex, label, layer: e.layer, raw: e.raw, display: e.display, min, max,
    }));
    return {
      method: o.method.id, layer: o.layer, note: o.note, target: o.target, logits: o.forward.logits, probs: o.forward.probs,
      predictions: o.predictions.map((p) => ({ index: p.index, label: p.label, score: p.score })),
      crop: input.crop, outputs, labels: c.labels ? [...c.labels] : undefined, backend: c.explainer.runtime.backend,
      ms: { load: ms, waited, prepare: prepared, forward: o.timings.forward, explain: o.timings.explain }, preparedWhileLoading: early !== undefined, at: { arrived: r.arrived, answered: Date.now() },
    };
  }

  /** A copy of the model's bytes (the host sends them to the panel after the first map). */
  bytes(id: number): { bytes: Uint8Array } {
    return { bytes: this.model(id).bytes.slice() };
  }

  /** Releases a model's sessions (after its load, if one is under way). */
  async release(id: number): Promise<void> {
    const m = this.models.get(id);
    this.models.delete(id);
    const loaded = await m?.loaded.catch(() => undefined);
    await loaded?.classifier.dispose().catch(() => undefined);
  }

  /**
   * Preprocesses the image decoded for a loading model as soon as its preprocessing is known, before onnxruntime
   * creates its session. On onnxruntime-web that session makes V8 compile the wasm's hot functions with TurboFan on
   * its background threads, which took the cores (and V8's queue for optimising JavaScript) while the preprocessing
   * ran after the load: 0.5–1.6 s against 0.1–0.15 s beside onnxruntime-node (bench/first-preview.ts).
   */
  private prepareEarly(id: number, geometry: InputGeometry): void {
    const image = this.models.get(id)?.image;
    if (!image?.decoded) return;
    const t = performance.now();
    try {
      image.prepared = { geometry, input: prepareImage(geometry, image.decoded), ms: performance.now() - t };
    } catch {
      // explain prepares it again on the loaded classifier and reports what is wrong.
    }
  }

  private model(id: number): Model {
    const m = this.models.get(id);
    if (!m) throw new LookCloserError('runtime', "The extension host's runtime thread has no model loaded for this first map (the thread restarted, or the model was released); the panel loads the model itself.");
    return m;
  }

  private image(m: Model, image: PreviewImage): Promise<RgbaImage> {
    switch (image.kind) {
      case 'rgba':
        return Promise.resolve({ width: image.width, height: image.height, data: image.data });
      case 'encoded': {
        // Decoded now, in the handler: before the model's load, which waits for the next turn (load).
        let rgba: Promise<RgbaImage>;
        const d = decodeOnHost(image.bytes);
        if (d) rgba = Promise.resolve(d);
        else {
          rgba = Promise.reject(new LookCloserError('bad-image', `The extension host could not decode '${image.key}' for its first map; the panel decodes it.`));
          rgba.catch(() => undefined);
        }
        m.image = { key: image.key, rgba, decoded: d };
        return rgba;
      }
      case 'decoded':
        if (m.image?.key !== image.key) {
          return Promise.reject(new LookCloserError('bad-argument', `The extension host's runtime thread has not decoded '${image.key}' for this first map; explain the image again.`));
        }
        return m.image.rgba;
    }
  }
}

function sameSpec(a: ModelInputSpec, b: ModelInputSpec): boolean {
  return a.width === b.width && a.height === b.height && a.channels === b.channels && a.layout === b.layout;
}
