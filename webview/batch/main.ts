/**
 * The folder view: runs "Look Closer: Explain Folder". The host loads the model here (onnxruntime-web,
 * WebGPU else WASM, as in the explanation panel) and then sends the folder's images one by one; each comes
 * back as predictions, overlays (PNG) and raw maps (.npy), which the host writes into the report folder.
 * The view shows progress and a line per image; the host replaces it with the finished report.
 */
import { gainCheck } from '../../src/core/metrics/gain';
import { explanationHeatmap } from '../../src/core/methods/explanation-heatmap';
import { valueRange } from '../../src/core/batch-report';
import { LookCloserError } from '../../src/core/errors';
import { topK } from '../../src/core/explainer';
import { labelOf } from '../../src/core/model-config';
import type { Method } from '../../src/core/methods/method';
import { methodById } from '../../src/core/methods/registry';
import { encodeNpy } from '../../src/core/npy';
import { gradientToImage, overlayHeatmap } from '../../src/core/render/overlay';
import { Messenger, throwIfAborted } from '../../src/protocol/messenger';
import type {
  BatchImageRequest, BatchImageResult, BatchOutputPayload, BatchSettingsPayload, BatchStartRequest, BatchStarted, BatchToHost, HostToBatch,
  PredictionRow,
} from '../../src/protocol/protocol';
import { encodePng } from '../image';
import { configureOrt, startWorker } from '../ort-runtime';
import { endpoint, h } from '../vscode-api';
import * as wb from '../panel/workbench';

configureOrt(document.body.dataset.bundles ?? './');
void startWorker(document.body.dataset.bundles ?? './').catch(() => undefined);

// ------------------------------------------------------------------ DOM

const app = document.getElementById('app')!;
app.textContent = '';
const title = h('h1', { class: 'title', text: 'Explain Folder' });
const subtitle = h('p', { class: 'subtitle', text: 'Loading the model…' });
const bar = h('progress', { class: 'bar', max: 1, value: 0, 'aria-label': 'Images explained' });
const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
const list = h('ol', { class: 'rows', 'aria-label': 'Images' });
app.append(h('header', {}, title, subtitle), bar, status, list);

// ------------------------------------------------------------------ state

let run: { model: wb.LoadedModel; methods: Method[]; settings: BatchSettingsPayload; layer?: string; total: number; started: number } | undefined;
let done = 0;

function backendName(m: wb.LoadedModel): string {
  return `onnxruntime-web ${m.runtime.used.has('webgpu') ? (m.runtime.used.has('wasm') ? 'WebGPU + WASM' : 'WebGPU') : 'WASM'}`;
}

async function start(r: BatchStartRequest, signal: AbortSignal): Promise<BatchStarted> {
  run = undefined;
  done = 0;
  list.textContent = '';
  title.textContent = `Explain Folder: ${r.folder}`;
  subtitle.textContent = `Loading ${r.model.name}…`;
  const methods = r.settings.methods.map((id) => methodById(id));
  if (!methods.length) throw new LookCloserError('bad-argument', 'Choose at least one method to run on the folder.');
  const notices: string[] = [];
  const model = await wb.loadModel(r.model, r.executionProvider, notices, signal);
  if (model.conversion) notices.push(model.conversion);
  let layer: string | undefined;
  if (methods.some((m) => m.family === 'cam')) {
    layer = model.defaultLayer;
    if (!layer) throw new LookCloserError('method-not-applicable', `${r.model.name} has no 4-D feature map feeding its classifier, so ${methods.filter((m) => m.family === 'cam').map((m) => m.title).join(' and ')} cannot run; choose gradient methods (guided backprop, saliency) instead.`);
  }
  throwIfAborted(signal);
  run = { model, methods, settings: r.settings, layer, total: r.total, started: performance.now() };
  bar.max = Math.max(1, r.total);
  bar.value = 0;
  subtitle.textContent = `${r.model.name} · ${r.settings.methods.join(', ')} · top ${r.settings.top}${layer ? ` · layer ${layer}` : ''} · ${backendName(model)}`;
  status.textContent = `0 of ${r.total} images`;
  const ex = model.explainer;
  return {
    backend: backendName(model), layer: layer ?? null, loadMs: model.loadMs,
    preprocessing: { ...model.preprocessing.preprocessing, source: model.preprocessing.source, reason: model.preprocessing.reason, inputSize: ex.inputSize, layout: ex.input.layout },
    notices: [...notices, ...model.runtime.fallbacks],
  };
}

async function explainOne(r: BatchImageRequest, signal: AbortSignal): Promise<BatchImageResult> {
  if (!run) throw new LookCloserError('runtime', 'The folder view has no model loaded (it was reloaded); run Explain Folder again.');
  const { model, methods, settings, layer } = run;
  const t0 = performance.now();
  const ex = model.explainer;
  const img = await wb.loadImage(r.image);
  wb.prepare(model, img);
  const tensor = img.tensor!;
  const forward = await ex.forward(tensor, layer ? [layer] : []);
  const row = (i: number): PredictionRow => ({ index: i, label: labelOf(model.labels, i), score: forward.probs[i] });
  const predictions = topK(forward.probs, 5).map(row);
  const classes = topK(forward.probs, Math.max(1, settings.top));
  const source = { image: img.rgba, region: img.crop, preprocessing: model.preprocessing.preprocessing };
  const outputs: BatchOutputPayload[] = [];
  for (const method of methods) {
    throwIfAborted(signal);
    const res = await method.run(ex, {
      input: tensor, classes, layer: method.family === 'cam' ? layer : undefined, target: 'logit',
      forward: method.reusesForward ? forward : undefined, source, signal,
    });
    for (const e of res.explanations) {
      let gain: BatchOutputPayload['gain'];
      if (settings.gain) {
        const g = await gainCheck(ex, tensor, explanationHeatmap(e), e.classIndex, { before: forward });
        gain = { score: g.score, before: g.before, after: g.after, drop: g.drop, ...(g.control ? { controlAfter: g.control.after } : {}) };
      }
      const pic = e.display.kind === 'heatmap'
        ? overlayHeatmap(img.base!, e.display.map, e.display.width, e.display.height, { colormap: settings.colormap, alpha: settings.opacity })
        : gradientToImage(e.display.grad.data, e.display.grad.dims[0], e.display.grad.dims[1], e.display.grad.dims[2], model.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb');
      outputs.push({
        method: e.method, class: e.classIndex, label: labelOf(model.labels, e.classIndex), layer: e.layer ?? null,
        shape: e.raw.dims, ...valueRange(e.raw.data), png: await encodePng(pic), npy: encodeNpy(e.raw.data, e.raw.dims), ...(gain ? { gain } : {}),
      });
    }
  }
  const view = await encodePng(img.base!);
  return { view, predictions, outputs, ms: performance.now() - t0 };
}

function recorded(index: number, name: string, top: PredictionRow | undefined, error: string | undefined): void {
  done++;
  bar.value = done;
  const total = run?.total ?? done;
  const s = run ? (performance.now() - run.started) / 1000 : 0;
  status.textContent = `${done} of ${total} images · ${(done / Math.max(s, 1e-3)).toFixed(2)} images/s${done === total ? ' · writing the report…' : ''}`;
  const text = error ? `${name}: ${error}` : `${name}: ${top ? `${top.label} (${(top.score * 100).toFixed(1)}%)` : ''}`;
  list.append(h('li', { class: error ? 'row failed' : 'row', 'data-index': index, text }));
  if (list.children.length > 200) list.firstElementChild?.remove();
}

const messenger = new Messenger<BatchToHost, HostToBatch>(endpoint, {
  requests: { batchStart: start, batchImage: explainOne },
  notes: { recorded: (n) => recorded(n.index, n.name, n.top, n.error) },
});

window.addEventListener('error', (e) => messenger.notify({ type: 'error', message: `Folder view: ${e.message}` }));
messenger.notify({ type: 'ready' });
