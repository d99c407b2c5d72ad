/**
 * The folder view: runs "Look Closer: Explain Folder". The host loads the model here (onnxruntime-web,
 * WebGPU else WASM, as in the explanation panel) and then sends the folder's images one by one; each is
 * explained by the core's explain use case and comes back as predictions, overlays (PNG) and raw maps (.npy),
 * which the host writes into the report folder. The view shows progress and a line per image; the host
 * replaces it with the finished report.
 */
import type { Classifier } from '../../src/core/app/classifier';
import { explainImage, outputRow, prepareImage } from '../../src/core/app/explain-image';
import { LookCloserError } from '../../src/core/errors';
import type { Explanation, Method, ScoreTarget } from '../../src/core/methods/method';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { methodById } from '../../src/core/methods/registry';
import { encodeNpy } from '../../src/core/npy';
import { gradientToImage, overlayHeatmap } from '../../src/core/render/overlay';
import { Messenger, throwIfAborted } from '../../src/protocol/messenger';
import type {
  BatchImageRequest, BatchImageResult, BatchOutputPayload, BatchSettingsPayload, BatchStartRequest, BatchStarted, BatchToHost, HostToBatch,
  PredictionRow,
} from '../../src/protocol/protocol';
import { decodeImage, encodePng } from '../image';
import { connectHostRuntime } from '../host-runtime';
import { WebModel, backendLabel, loadWebModel } from '../model-loader';
import { configureOrt, startWorker } from '../ort-runtime';
import { endpoint, h } from '../vscode-api';

/** One folder run: the loaded model, the methods and settings, and the progress shown. */
interface Run {
  readonly model: WebModel;
  readonly methods: readonly Method[];
  readonly settings: BatchSettingsPayload;
  readonly layer?: string;
  readonly total: number;
  readonly started: number;
  done: number;
}

/** The view's elements. */
function layout() {
  const app = document.getElementById('app')!;
  app.textContent = '';
  const title = h('h1', { class: 'title', text: 'Explain Folder' });
  const subtitle = h('p', { class: 'subtitle', text: 'Loading the model…' });
  const bar = h('progress', { class: 'bar', max: 1, value: 0, 'aria-label': 'Images explained' });
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const list = h('ol', { class: 'rows', 'aria-label': 'Images' });
  app.append(h('header', {}, title, subtitle), bar, status, list);
  return { title, subtitle, bar, status, list };
}

/** Renders an output's picture: the heat map over what the model saw, or the gradient image. */
function picture(c: Classifier, base: RgbaImage, e: Explanation, settings: BatchSettingsPayload): RgbaImage {
  return e.display.kind === 'heatmap'
    ? overlayHeatmap(base, e.display.map, e.display.width, e.display.height, { colormap: settings.colormap, alpha: settings.opacity })
    : gradientToImage(e.display.grad.data, e.display.grad.dims[0], e.display.grad.dims[1], e.display.grad.dims[2], c.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb');
}

/** The folder view: its DOM and the run it holds; the host drives it through `start` and `explainOne`. */
class FolderView {
  private readonly ui = layout();
  private run: Run | undefined;

  /** Loads the model for a folder run and reports the backend, layer and preprocessing. */
  async start(r: BatchStartRequest, signal: AbortSignal): Promise<BatchStarted> {
    void this.run?.model.classifier.dispose();
    this.run = undefined;
    const ui = this.ui;
    ui.list.textContent = '';
    ui.title.textContent = `Explain Folder: ${r.folder}`;
    ui.subtitle.textContent = `Loading ${r.model.name}…`;
    const methods = r.settings.methods.map((id) => methodById(id));
    if (!methods.length) throw new LookCloserError('bad-argument', 'Choose at least one method to run on the folder.');
    const model = await loadWebModel(r.model, r.executionProvider, signal);
    const layer = await camLayer(model.classifier, methods, r.model.name);
    throwIfAborted(signal);
    this.run = { model, methods, settings: r.settings, layer, total: r.total, started: performance.now(), done: 0 };
    const label = backendLabel(model.runtime);
    const backend = label === 'CPU' ? `${model.runtime.backend}` : `onnxruntime-web ${label}`;
    ui.bar.max = Math.max(1, r.total);
    ui.bar.value = 0;
    ui.subtitle.textContent = `${r.model.name} · ${r.settings.methods.join(', ')} · top ${r.settings.top}${r.settings.target ? ` · ${r.settings.target}` : ''}${layer ? ` · layer ${layer}` : ''} · ${backend}`;
    ui.status.textContent = `0 of ${r.total} images`;
    return {
      backend, layer: layer ?? null, loadMs: model.loadMs, preprocessing: model.classifier.preprocessingInfo(),
      notices: [...(model.runtime.reason ? [model.runtime.reason] : []), ...(model.conversion ? [model.conversion] : []), ...model.runtime.fallbacks],
    };
  }

  /** Explains one image with every method of the run (the core's explain use case) and returns its files as bytes. */
  async explainOne(r: BatchImageRequest, signal: AbortSignal): Promise<BatchImageResult> {
    if (!this.run) throw new LookCloserError('runtime', 'The folder view has no model loaded (it was reloaded); run Explain Folder again.');
    const { model, methods, settings, layer } = this.run;
    const c = model.classifier;
    const t0 = performance.now();
    const input = prepareImage(c, await decodeImage(r.image.bytes, r.image.name));
    const outputs: BatchOutputPayload[] = [];
    let predictions: PredictionRow[] = [];
    for (const method of methods) {
      throwIfAborted(signal);
      const o = await explainImage(c, input, {
        method: method.id, top: Math.max(1, settings.top), layer: method.family === 'cam' ? layer : undefined, target: (settings.target ?? 'logit') as ScoreTarget,
        gain: settings.gain ? { control: true } : undefined, signal,
      });
      if (!predictions.length) predictions = [...o.predictions];
      for (const out of o.outputs) {
        const e = out.explanation;
        outputs.push(outputRow(out, { png: await encodePng(picture(c, input.base, e, settings)), npy: encodeNpy(e.raw.data, e.raw.dims) }));
      }
    }
    return { view: await encodePng(input.base), predictions, outputs, ms: performance.now() - t0 };
  }

  /** Lists an image the host recorded (explained or failed) and updates the progress. */
  recorded(index: number, name: string, top: PredictionRow | undefined, error: string | undefined): void {
    const { ui, run } = this;
    const done = run ? ++run.done : 0;
    ui.bar.value = done;
    const total = run?.total ?? done;
    const s = run ? (performance.now() - run.started) / 1000 : 0;
    ui.status.textContent = `${done} of ${total} images · ${(done / Math.max(s, 1e-3)).toFixed(2)} images/s${done === total ? ' · writing the report…' : ''}`;
    const text = error ? `${name}: ${error}` : `${name}: ${top ? `${top.label} (${(top.score * 100).toFixed(1)}%)` : ''}`;
    ui.list.append(h('li', { class: error ? 'row failed' : 'row', 'data-index': index, text }));
    if (ui.list.children.length > 200) ui.list.firstElementChild?.remove();
  }
}

/** The layer the CAM-family methods of a run explain, or an error when the model has none. */
async function camLayer(c: Classifier, methods: readonly Method[], name: string): Promise<string | undefined> {
  const cams = methods.filter((m) => m.family === 'cam');
  if (!cams.length) return undefined;
  const layer = await c.defaultLayer();
  if (!layer) throw new LookCloserError('method-not-applicable', `${name} has no 4-D feature map feeding its classifier, so ${cams.map((m) => m.title).join(' and ')} cannot run; choose gradient methods (guided backprop, saliency) instead.`);
  return layer;
}

/** Wires the view to the host: the messenger's handler tables, the error note, and `ready`. */
function startView(): void {
  const view = new FolderView();
  const messenger = new Messenger<BatchToHost, HostToBatch>(endpoint, {
    requests: { batchStart: (r, s) => view.start(r, s), batchImage: (r, s) => view.explainOne(r, s) },
    notes: { recorded: (n) => view.recorded(n.index, n.name, n.top, n.error) },
  });
  connectHostRuntime((body) => messenger.request(body));
  window.addEventListener('error', (e) => messenger.notify({ type: 'error', message: `Folder view: ${e.message}` }));
  messenger.notify({ type: 'ready' });
}

configureOrt(document.body.dataset.bundles ?? './');
void startWorker(document.body.dataset.bundles ?? './').catch(() => undefined);
startView();
