/** The explanation panel: loads the model with onnxruntime-web, explains the image and draws it; talks to the host through the messenger. */
import { GateValues, gateValues } from '../../src/core/attention/gates';
import { projectChannel, projectionImages } from '../../src/core/attention/projection';
import { attentionStrip, barChart } from '../../src/core/attention/render';
import { gainCheck, gainJson } from '../../src/core/metrics/gain';
import { explanationHeatmap } from '../../src/core/methods/explanation-heatmap';
import { LookCloserError } from '../../src/core/errors';
import { METHODS } from '../../src/core/methods/registry';
import type { Explanation } from '../../src/core/methods/method';
import { encodeNpy } from '../../src/core/npy';
import { PRESETS } from '../../src/core/preprocess/presets';
import { resizeBilinear, resizeRgbaPil } from '../../src/core/preprocess/resize';
import { COLORMAPS } from '../../src/core/render/colormap';
import { gradientToImage, normalizeMinMax, overlayHeatmap } from '../../src/core/render/overlay';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { Messenger, asBytes, assertNever, isCancellation, throwIfAborted } from '../../src/protocol/messenger';
import type {
  ExecutionProviderSetting, ExplainOptions, ExplainSummary, GainSummary, HostToPanel, HostToPanelNote, LayerActivations, PanelRequest,
  PanelToHost, Timings,
} from '../../src/protocol/protocol';
import { colorize, encodePng, paint } from '../image';
import { configureOrt, startWorker } from '../ort-runtime';
import { endpoint, fmt, h, ms, vscodeApi } from '../vscode-api';
import * as wb from './workbench';

configureOrt(document.body.dataset.bundles ?? './');
// Start onnxruntime while the host reads the model: fetching and compiling its wasm is the slowest step of a first load.
void startWorker(document.body.dataset.bundles ?? './').catch(() => undefined);

// ------------------------------------------------------------------ state

/** What the user chose in the panel (persisted with the webview state). */
interface Choices {
  method?: string;
  layer?: string;
  classIndex?: number;
  colormap: string;
  opacity: number;
  preset?: string;
}

interface Persisted {
  readonly imageUri?: string;
  readonly modelUri?: string;
  readonly options?: ExplainOptions;
}

const persisted = (vscodeApi.getState() as Persisted | undefined) ?? {};
const choices: Choices = {
  method: persisted.options?.method,
  layer: persisted.options?.layer,
  classIndex: persisted.options?.classIndex,
  colormap: persisted.options?.colormap ?? 'jet',
  opacity: persisted.options?.opacity ?? 0.5,
};
let ep: ExecutionProviderSetting = 'auto';
let model: wb.LoadedModel | undefined;
let image: wb.LoadedImage | undefined;
let outcome: wb.Outcome | undefined;
let summary: ExplainSummary | undefined;
let channelView: { layer: string; channel: number; acts: LayerActivations } | undefined;
/** An attention gate shown instead of the explanation. */
let gateView: GateValues | undefined;
/** GAIN checks of the current outcome's explanations, by class. */
let gains = new Map<number, GainSummary>();
let lastTimings: Timings = {};

// ------------------------------------------------------------------ DOM

const app = document.getElementById('app')!;
app.textContent = '';

const title = h('h1', { class: 'title', text: 'Look Closer' });
const subtitle = h('p', { class: 'subtitle' });
const backendBadge = h('span', { class: 'badge backend', role: 'status', title: 'Which onnxruntime-web backend ran' });
const presetBadge = h('span', { class: 'badge preset' });
const timingsEl = h('span', { class: 'timings', 'aria-label': 'Step timings' });
const header = h('header', { class: 'header' }, h('div', { class: 'heading' }, title, subtitle), h('div', { class: 'badges' }, backendBadge, presetBadge, timingsEl));

function select(id: string, label: string, hint?: string): { wrap: HTMLElement; el: HTMLSelectElement } {
  const el = h('select', { id });
  const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }), el);
  if (hint) el.title = hint;
  return { wrap, el };
}

const methodSel = select('method', 'Method');
for (const m of METHODS) methodSel.el.append(h('option', { value: m.id, text: m.title, title: m.citation }));
const layerSel = select('layer', 'Target layer', 'The feature map a CAM-family method explains');
const colormapSel = select('colormap', 'Colormap');
for (const name of Object.keys(COLORMAPS)) colormapSel.el.append(h('option', { value: name, text: name }));
const opacity = h('input', { id: 'opacity', type: 'range', min: 0, max: 100, step: 5, value: Math.round(choices.opacity * 100), 'aria-valuetext': '' });
const opacityOut = h('output', { for: 'opacity', class: 'opacity-value' });
const opacityWrap = h('div', { class: 'field' }, h('label', { for: 'opacity', text: 'Opacity' }), h('div', { class: 'inline' }, opacity, opacityOut));
const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Explanation options' }, methodSel.wrap, layerSel.wrap, colormapSel.wrap, opacityWrap);

const baseCanvas = h('canvas', { class: 'base', role: 'img', 'aria-label': 'The image' });
const heatCanvas = h('canvas', { class: 'heat', 'aria-hidden': 'true' });
const stage = h('div', { class: 'stage', 'data-testid': 'stage' }, baseCanvas, heatCanvas);
const caption = h('p', { class: 'caption', 'aria-live': 'polite' });
const gainLine = h('p', { class: 'gain', 'data-testid': 'gain', title: 'GAIN (Li et al. 2018): erase what the map attends to (soft mask sigmoid(10·(A − 0.5)), erased pixels set to the preset mean) and classify again' });
const cropsStrip = h('canvas', { class: 'crops-strip', role: 'img', 'aria-label': 'Attention crops: the three scales, each box drawn on its parent' });
const cropsText = h('ol', { class: 'crops-scales', 'aria-label': 'Per-scale predictions' });
const cropsFused = h('p', { class: 'crops-fused' });
const inspectTitle = h('h3', { class: 'inspect-title' });
const inspectImages = h('div', { class: 'inspect-images' });
const inspectCaption = h('p', { class: 'hint inspect-caption' });
const inspectBox = h('div', { class: 'inspect', hidden: true, 'data-testid': 'inspect' }, inspectTitle, inspectImages, inspectCaption);
const cropsBox = h('div', { class: 'crops', hidden: true, 'data-testid': 'crops' }, cropsStrip, cropsText, cropsFused);
const colorbar = h('canvas', { class: 'colorbar', width: 256, height: 1, 'aria-hidden': 'true' });
const rangeEl = h('span', { class: 'range' });
const legend = h('div', { class: 'legend' }, h('span', { class: 'legend-label', text: 'low' }), colorbar, h('span', { class: 'legend-label', text: 'high' }), rangeEl);
const backToExplanation = h('button', { class: 'secondary', type: 'button', hidden: true, text: 'Back to the explanation' });
const savePng = h('button', { type: 'button', text: 'Save PNG', title: 'Save what is shown into look-closer-out/ in the workspace' });
const saveNpy = h('button', { type: 'button', class: 'secondary', text: 'Save .npy', title: 'Save the raw map (float32) into look-closer-out/ in the workspace' });
const actions = h('div', { class: 'actions' }, savePng, saveNpy, backToExplanation);
const viewer = h('section', { class: 'viewer', 'aria-label': 'Explanation' }, stage, caption, gainLine, legend, actions, inspectBox, cropsBox);

const predictionsList = h('ol', { class: 'predictions', 'aria-label': 'Top 5 classes' });
const classSearch = h('input', { id: 'class-search', type: 'search', placeholder: 'Search by label or index', autocomplete: 'off', 'aria-controls': 'class-results' });
const classResults = h('div', { id: 'class-results', class: 'class-results', role: 'listbox', 'aria-label': 'Matching classes' });
const classes = h('aside', { class: 'classes', 'aria-label': 'Classes' },
  h('h2', { text: 'Top 5' }), predictionsList,
  h('label', { for: 'class-search', class: 'search-label', text: 'Explain another class' }), classSearch, classResults);

const presetSel = select('preset', 'Preprocessing preset');
for (const name of Object.keys(PRESETS)) presetSel.el.append(h('option', { value: name, text: name }));
const presetWhy = h('p', { class: 'hint' });
const labelsInfo = h('p', { class: 'hint' });
const pickLabelsBtn = h('button', { type: 'button', class: 'secondary', text: 'Choose labels file…' });
const saveSidecarBtn = h('button', { type: 'button', class: 'secondary', text: 'Save to sidecar' });
const modelSettings = h('details', { class: 'model-settings' },
  h('summary', { text: 'Model settings: preprocessing and labels' }),
  presetSel.wrap, presetWhy, labelsInfo, h('div', { class: 'actions' }, pickLabelsBtn, saveSidecarBtn));

const progressBar = h('div', { class: 'progress', hidden: true, role: 'progressbar', 'aria-label': 'Working' });
const statusText = h('span', { class: 'status-text' });
const cancelBtn = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'Cancel' });
const status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' }, statusText, cancelBtn);
const errorBox = h('div', { class: 'error', role: 'alert', hidden: true });
const noteBox = h('div', { class: 'note', hidden: true });

app.append(progressBar, header, toolbar, errorBox, noteBox, h('main', { class: 'content' }, viewer, classes), modelSettings, status);

// ------------------------------------------------------------------ messenger and jobs

const messenger = new Messenger<PanelToHost, HostToPanel>(endpoint, {
  requests: {
    open: (r, s) => onRequest(r, s) as Promise<ExplainSummary>,
    explain: (r, s) => onRequest(r, s) as Promise<ExplainSummary>,
    summary: async () => summary,
    activations: (r, s) => onRequest(r, s) as Promise<LayerActivations>,
    showChannel: async (r, s) => void (await onRequest(r, s)),
    showGate: async (r, s) => void (await onRequest(r, s)),
    projectChannel: async (r, s) => void (await onRequest(r, s)),
  },
  notes: { settings: (n) => onNote(n) },
});

let queue: Promise<unknown> = Promise.resolve();
let running: AbortController | undefined;

/**
 * Runs long work one job at a time: a new job cancels the one before and waits for it to stop. After half
 * a second the host shows a cancellable VS Code progress notification; the panel shows its own bar and Cancel.
 */
function job<T>(titleText: string, external: AbortSignal | undefined, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  running?.abort();
  const controller = new AbortController();
  running = controller;
  external?.addEventListener('abort', () => controller.abort());
  const run = async () => {
    throwIfAborted(controller.signal);
    const progressDone = new AbortController();
    setBusy(titleText);
    const timer = setTimeout(() => {
      messenger.request({ type: 'progress', title: titleText }, progressDone.signal).then((r) => r.cancelled && controller.abort(), () => undefined);
    }, 500);
    try {
      return await body(controller.signal);
    } finally {
      clearTimeout(timer);
      progressDone.abort();
      if (running === controller) {
        running = undefined;
        setBusy(undefined);
      }
    }
  };
  const p = queue.then(run, run);
  queue = p.catch(() => undefined);
  return p;
}

function setBusy(text: string | undefined): void {
  progressBar.hidden = !text;
  cancelBtn.hidden = !text;
  document.body.classList.toggle('busy', !!text);
  if (text) statusText.textContent = `${text}…`;
}

cancelBtn.addEventListener('click', () => running?.abort());

/** The panel's error funnel: cancellation is quiet; other errors show in the panel and, unless the host asked, as a VS Code error. */
function report(e: unknown, tellHost: boolean): void {
  if (isCancellation(e)) {
    statusText.textContent = 'Cancelled.';
    return;
  }
  const message = e instanceof Error ? e.message : String(e);
  errorBox.textContent = message;
  errorBox.hidden = false;
  statusText.textContent = 'Failed.';
  console.error(e);
  if (tellHost) messenger.notify({ type: 'error', message });
}

function notice(message: string, level: 'info' | 'warning' = 'info'): void {
  messenger.notify({ type: 'notice', level, message });
}

// ------------------------------------------------------------------ requests from the host

async function onRequest(r: PanelRequest, signal: AbortSignal): Promise<unknown> {
  switch (r.type) {
    case 'open': {
      const modelPayload = { ...r.model, bytes: asBytes(r.model.bytes) };
      const imagePayload = { ...r.image, bytes: asBytes(r.image.bytes) };
      return job(`Explaining ${imagePayload.name}`, signal, async (s) => {
        errorBox.hidden = true;
        const notices: string[] = [];
        const t: { loadModel?: number; decode?: number } = {};
        // The image first: a broken one fails at once instead of after the model loaded.
        if (!image || image.payload.key !== imagePayload.key || image.payload.bytes.byteLength !== imagePayload.bytes.byteLength) {
          image = await wb.loadImage(imagePayload);
          t.decode = image.decodeMs;
          choices.classIndex = undefined;
        }
        if (!model || model.payload.key !== modelPayload.key || model.ep !== r.executionProvider || model.payload.bytes.byteLength !== modelPayload.bytes.byteLength
          || model.payload.sidecarText !== modelPayload.sidecarText || model.payload.labels?.text !== modelPayload.labels?.text) {
          const old = model;
          model = undefined;
          outcome = undefined;
          void old?.explainer.dispose();
          statusText.textContent = `Loading ${modelPayload.name}…`;
          ep = r.executionProvider;
          model = await wb.loadModel(modelPayload, ep, notices, s);
          t.loadModel = model.loadMs;
          choices.preset = undefined;
          for (const f of model.runtime.fallbacks) notices.push(f);
          if (model.conversion) notice(model.conversion, 'info');
        }
        Object.assign(choices, definedOnly(r.options));
        for (const n of notices) notice(n, 'warning');
        vscodeApi.setState({ imageUri: imagePayload.key, modelUri: modelPayload.key, options: { ...choices } } satisfies Persisted);
        return explainNow(s, t);
      });
    }
    case 'explain':
      return job('Explaining', signal, async (s) => {
        // A target layer asked for while a pixel-gradient method is shown: switch to the first layer method that applies.
        if (r.options.layer && !r.options.method && outcome && outcome.method.family !== 'cam') choices.method = undefined;
        Object.assign(choices, definedOnly(r.options));
        return explainNow(s, {});
      });
    case 'summary':
      return summary;
    case 'activations':
      return job(`Reading layer ${r.layer}`, signal, async () => {
        const { m, img } = need();
        const a = await wb.activations(m, img, r.layer);
        statusText.textContent = `Read ${a.channels.length} channels of ${r.layer}.`;
        return a;
      });
    case 'showChannel':
      return job('Showing channel', signal, async () => {
        gateView = undefined;
        inspectBox.hidden = true;
        if (r.channel === undefined) {
          channelView = undefined;
          render();
          statusText.textContent = 'Showing the explanation.';
          return;
        }
        const { m, img } = need();
        const acts = channelView?.layer === r.layer ? channelView.acts : await wb.activations(m, img, r.layer);
        if (r.channel < 0 || r.channel >= acts.channels.length) throw new LookCloserError('bad-argument', `Layer '${r.layer}' has no channel ${r.channel}.`);
        channelView = { layer: r.layer, channel: r.channel, acts };
        render();
        statusText.textContent = `Showing channel ${r.channel} of ${r.layer}.`;
      });
    case 'showGate':
      return job('Reading attention gate', signal, async () => {
        const { m, img } = need();
        channelView = undefined;
        if (r.tensor === undefined) {
          gateView = undefined;
          inspectBox.hidden = true;
          render();
          statusText.textContent = 'Showing the explanation.';
          return;
        }
        const gate = m.gates.find((g) => g.tensor === r.tensor);
        if (!gate) throw new LookCloserError('bad-argument', `${m.payload.name} has no attention gate '${r.tensor}'.`);
        wb.prepare(m, img);
        [gateView] = await gateValues(m.explainer, img.tensor!, [gate]);
        render();
        statusText.textContent = `Showing the ${gate.kind} gate ${gate.tensor}.`;
      });
    case 'projectChannel':
      return job(`Projecting channel ${r.channel} of ${r.layer} to pixels`, signal, async () => {
        const { m, img } = need();
        wb.prepare(m, img);
        const p = await projectChannel(m.explainer, img.tensor!, { layer: r.layer, channel: r.channel });
        const view = thumbnail(img.base!, Math.max(m.explainer.inputSize.width, m.explainer.inputSize.height));
        const pics = projectionImages(p, view, m.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb', 160);
        const patch = h('canvas', { class: 'inspect-canvas', role: 'img', 'aria-label': 'Image patch (receptive field)' });
        const recon = h('canvas', { class: 'inspect-canvas', role: 'img', 'aria-label': 'Deconvnet reconstruction' });
        paint(patch, pics.patch);
        paint(recon, pics.reconstruction);
        inspectTitle.textContent = `Channel ${r.channel} of ${r.layer}, projected to pixels`;
        inspectImages.textContent = '';
        inspectImages.append(h('figure', {}, patch, h('figcaption', { text: 'Image patch' })), h('figure', {}, recon, h('figcaption', { text: 'Reconstruction (deconvnet)' })));
        const rf = p.receptiveField;
        inspectCaption.textContent = `Strongest activation ${fmt(p.activation)} at (${p.position.y}, ${p.position.x}); receptive field ${rf.width}×${rf.height} px at (${rf.x}, ${rf.y}) of the input. Zeiler & Fergus 2014.`;
        inspectBox.hidden = false;
        backToExplanation.hidden = false;
        statusText.textContent = `Projected channel ${r.channel} of ${r.layer} to pixels.`;
      });
    default:
      return assertNever(r);
  }
}

function onNote(n: HostToPanelNote): void {
  switch (n.type) {
    case 'settings':
      if (n.executionProvider !== ep && model && image) {
        const m = model;
        ep = n.executionProvider;
        job('Switching backend', undefined, async (s) => {
          const notices: string[] = [];
          model = undefined;
          void m.explainer.dispose();
          model = await wb.loadModel(m.payload, ep, notices, s);
          for (const f of [...notices, ...model.runtime.fallbacks]) notice(f, 'warning');
          if (model.conversion) notice(model.conversion, 'info');
          return explainNow(s, { loadModel: model.loadMs });
        }).catch((e) => report(e, true));
      } else ep = n.executionProvider;
      return;
    default:
      assertNever(n.type);
  }
}

function definedOnly(o: ExplainOptions): Partial<Choices> {
  const out: Partial<Choices> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function need(): { m: wb.LoadedModel; img: wb.LoadedImage } {
  if (!model || !image) throw new LookCloserError('bad-argument', 'No image is loaded in this panel yet.');
  return { m: model, img: image };
}

// ------------------------------------------------------------------ explaining and drawing

/** Explains with the current choices, draws, and returns the summary. */
async function explainNow(signal: AbortSignal, timings: Timings): Promise<ExplainSummary> {
  const { m, img } = need();
  errorBox.hidden = true;
  const fallbackCount = m.runtime.fallbacks.length;
  m.runtime.used.clear();
  const before = img.preparedWith;
  wb.prepare(m, img);
  const preprocess = before === img.preparedWith ? undefined : img.preprocessMs;
  statusText.textContent = 'Explaining…';
  const progress = (done: number, total: number) => {
    statusText.textContent = `Explaining: ${done} of ${total} passes…`;
  };
  const o = await wb.explain(m, img, { method: choices.method, layer: choices.layer, classIndex: choices.classIndex }, signal, progress);
  throwIfAborted(signal);
  for (const f of m.runtime.fallbacks.slice(fallbackCount)) notice(f, 'warning');
  const classIndex = choices.classIndex !== undefined && o.explanations.has(choices.classIndex) ? choices.classIndex : o.top[0].index;
  statusText.textContent = 'Checking the map (GAIN)…';
  const gain = await checkGain(m, img, o, classIndex);
  throwIfAborted(signal);
  outcome = o;
  gains = new Map([[classIndex, gain]]);
  channelView = undefined;
  gateView = undefined;
  inspectBox.hidden = true;
  document.body.dataset.state = 'ready';
  if (o.note) {
    noteBox.textContent = o.note;
    noteBox.hidden = false;
  } else noteBox.hidden = true;
  const t0 = performance.now();
  refreshControls();
  render(classIndex);
  renderPredictions();
  lastTimings = { ...timings, preprocess, forward: o.forwardMs, explain: o.explainMs, render: performance.now() - t0 };
  summary = makeSummary(classIndex);
  showTimings();
  statusText.textContent = `Explained ${img.payload.name} with ${o.method.title}.`;
  vscodeApi.setState({ imageUri: img.payload.key, modelUri: m.payload.key, options: { ...choices } } satisfies Persisted);
  messenger.notify({ type: 'layersChanged', state: { model: m.payload.name, image: img.payload.name, layers: m.layers, defaultLayer: m.defaultLayer, targetLayer: o.layer, thumbnail: thumbnail(img.base!, 256),
    gates: m.gates.map((g) => ({ tensor: g.tensor, node: g.node, activation: g.activation, kind: g.kind, shape: g.shape, featureShape: g.featureShape, residual: g.residual })) } });
  return summary;
}

/** GAIN's check of an explanation: the class probability before and after erasing what its heat map attends to. */
async function checkGain(m: wb.LoadedModel, img: wb.LoadedImage, o: wb.Outcome, classIndex: number): Promise<GainSummary> {
  const e = o.explanations.get(classIndex)!;
  const r = await gainCheck(m.explainer, img.tensor!, explanationHeatmap(e), classIndex, { before: o.forward, control: false });
  return { classIndex, ...gainJson(r) };
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function showGain(classIndex: number): void {
  const g = gains.get(classIndex);
  gainLine.hidden = !!channelView || !!gateView;
  gainLine.textContent = g
    ? `GAIN check: ${pct(g.before)} → ${pct(g.after)} after erasing the attended region (${pct(g.erased)} of the image) · drop ${(g.drop * 100).toFixed(1)} points`
    : 'GAIN check: …';
}

function showCrops(e: Explanation | undefined): void {
  const c = e?.payload?.kind === 'attention-crops' ? e.payload.crops : undefined;
  cropsBox.hidden = !c || !!channelView || !!gateView;
  if (!c || channelView || gateView) return;
  try {
    paint(cropsStrip, attentionStrip(c));
  } catch (err) {
    console.warn(err);
  }
  cropsText.textContent = '';
  for (const s of c.scales) {
    const t = s.top[0];
    cropsText.append(h('li', { text: `Scale ${s.scale}: ${labelOfClass(t.index)} ${pct(t.score)}` }));
  }
  const f = c.fusedTop[0];
  cropsFused.textContent = `Fused (mean of ${c.scales.length} scales): ${labelOfClass(f.index)} ${pct(f.score)}`;
}

function shownClass(): number {
  if (!outcome) return -1;
  return choices.classIndex !== undefined && outcome.explanations.has(choices.classIndex) ? choices.classIndex : outcome.top[0].index;
}

function makeSummary(classIndex: number): ExplainSummary {
  const { m, img } = need();
  const o = outcome!;
  const e = o.explanations.get(classIndex)!;
  let lo = Infinity, hi = -Infinity;
  for (const v of e.raw.data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  let peak: ExplainSummary['peak'];
  if (e.display.kind === 'heatmap') {
    const { map, width, height } = e.display;
    let best = 0;
    for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
    const crop = img.crop!;
    const x = crop.x + (((best % width) + 0.5) / width) * crop.width;
    const y = crop.y + ((Math.floor(best / width) + 0.5) / height) * crop.height;
    peak = { x: x / img.rgba.width, y: y / img.rgba.height };
  }
  const used = m.runtime.used;
  const fallback = m.runtime.fallbacks.length ? m.runtime.fallbacks.join(' ') : undefined;
  return {
    model: m.payload.name, image: img.payload.name,
    backend: used.has('webgpu') ? 'WebGPU' : 'WASM', fallback,
    preset: { name: m.preprocessing.preprocessing.name, source: m.preprocessing.source, reason: m.preprocessing.reason },
    labelsSource: m.labelsSource,
    predictions: o.top, method: o.method.id, layer: o.layer, defaultLayer: m.defaultLayer, gain: gains.get(classIndex),
    crops: e.payload?.kind === 'attention-crops' ? {
      scales: e.payload.crops.scales.map((s) => ({ index: s.top[0].index, label: labelOfClass(s.top[0].index), score: s.top[0].score })),
      fused: { index: e.payload.crops.fusedTop[0].index, label: labelOfClass(e.payload.crops.fusedTop[0].index), score: e.payload.crops.fusedTop[0].score },
    } : undefined,
    classIndex, label: labelOfClass(classIndex), rawRange: [lo, hi], display: e.display.kind, peak,
    rendered: { width: baseCanvas.width, height: baseCanvas.height }, timings: lastTimings,
  };
}

function labelOfClass(i: number): string {
  return model?.labels?.[i] ?? `class ${i}`;
}

function thumbnail(img: RgbaImage, side: number): RgbaImage {
  const s = Math.min(1, side / Math.max(img.width, img.height));
  return s < 1 ? resizeRgbaPil(img, Math.max(2, Math.round(img.width * s)), Math.max(2, Math.round(img.height * s))) : img;
}

/** The heat colours of a 0..1 map, upsampled to the base picture. */
function heatImage(map01: Float32Array, w: number, h: number, base: RgbaImage): RgbaImage {
  const up = resizeBilinear(map01, w, h, base.width, base.height, 1);
  return colorize(up, base.width, base.height, COLORMAPS[choices.colormap].lut);
}

function drawColorbar(): void {
  const ctx = colorbar.getContext('2d');
  if (!ctx) return;
  const lut = COLORMAPS[choices.colormap].lut;
  const px = new ImageData(256, 1);
  for (let i = 0; i < 256; i++) px.data.set([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2], 255], i * 4);
  ctx.putImageData(px, 0, 0);
}

/** Draws the current explanation (or the channel being inspected) for a class. */
function render(classIndex = shownClass()): void {
  if (!outcome || !image?.base || !model) return;
  const base = image.base;
  // Small pictures (MNIST is 28×28) are scaled up, with crisp pixels; large ones fit the panel.
  stage.style.width = `${Math.max(base.width, 384)}px`;
  stage.classList.toggle('pixelated', base.width < 128);
  drawColorbar();
  heatCanvas.style.opacity = String(choices.opacity);
  backToExplanation.hidden = !channelView && !gateView && inspectBox.hidden;
  if (gateView && !channelView) {
    const g = gateView.gate;
    const [c, gh, gw] = g.shape;
    paint(baseCanvas, base);
    if (gateView.map) {
      paint(heatCanvas, heatImage(normalizeMinMax(gateView.map), gw, gh, base));
      heatCanvas.hidden = false;
    } else heatCanvas.hidden = true;
    if (gateView.weights) {
      const chart = h('canvas', { class: 'inspect-canvas bar-chart', role: 'img', 'aria-label': `Bar chart of the ${c} channel weights` });
      paint(chart, barChart(gateView.weights));
      inspectTitle.textContent = `Channel gate ${g.tensor}: ${c} weights for this image`;
      inspectImages.textContent = '';
      inspectImages.append(chart);
      inspectCaption.textContent = `${g.activation}${g.residual ? ' (residual: (1 + M)·F)' : ''} over ${g.feature} [${g.featureShape.join('×')}]; bars 0 … ${fmt(gateView.max)}.`;
      inspectBox.hidden = false;
    }
    caption.textContent = `Attention gate ${g.tensor} — ${g.kind} [${g.shape.join('×')}], ${g.activation}: min ${fmt(gateView.min)}, mean ${fmt(gateView.mean)}, max ${fmt(gateView.max)}`;
    rangeEl.textContent = `gate ${fmt(gateView.min)} … ${fmt(gateView.max)}`;
    stage.dataset.display = 'gate';
    showGain(-1);
    showCrops(undefined);
    return;
  }
  if (channelView) {
    const { acts, channel } = channelView;
    const hw = acts.height * acts.width;
    const map = normalizeMinMax(acts.data.subarray(channel * hw, (channel + 1) * hw));
    paint(baseCanvas, base);
    paint(heatCanvas, heatImage(map, acts.width, acts.height, base));
    heatCanvas.hidden = false;
    const st = acts.channels[channel];
    caption.textContent = `Channel ${channel} of ${acts.layer} (${acts.width}×${acts.height}): min ${fmt(st.min)}, max ${fmt(st.max)}, mean ${fmt(st.mean)}, ${(st.zeros * 100).toFixed(0)}% zeros${st.dead ? ' — dead' : ''}`;
    rangeEl.textContent = `values ${fmt(st.min)} … ${fmt(st.max)}`;
    stage.dataset.display = 'channel';
    showGain(-1);
    showCrops(undefined);
    return;
  }
  const e = outcome.explanations.get(classIndex);
  if (!e) return;
  const label = labelOfClass(classIndex);
  const score = outcome.forward.probs[classIndex];
  if (e.display.kind === 'heatmap') {
    paint(baseCanvas, base);
    paint(heatCanvas, heatImage(e.display.map, e.display.width, e.display.height, base));
    heatCanvas.hidden = false;
    legend.hidden = false;
  } else {
    const [c, gh, gw] = e.display.grad.dims;
    paint(baseCanvas, gradientToImage(e.display.grad.data, c, gh, gw, model.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb'));
    heatCanvas.hidden = true;
    legend.hidden = true;
  }
  stage.dataset.display = e.display.kind;
  stage.dataset.method = outcome.method.id;
  stage.dataset.classIndex = String(classIndex);
  let lo = Infinity, hi = -Infinity;
  for (const v of e.raw.data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  rangeEl.textContent = `raw ${fmt(lo)} … ${fmt(hi)}`;
  const where = outcome.layer ? ` at ${outcome.layer}` : '';
  caption.textContent = `${outcome.method.title} for “${label}” (${(score * 100).toFixed(1)}%)${where} · raw range ${fmt(lo)} … ${fmt(hi)} · shape [${e.raw.dims.join('×')}]`;
  baseCanvas.setAttribute('aria-label', `${outcome.method.title} of ${label} over ${image.payload.name}`);
  showGain(classIndex);
  showCrops(e);
}

function renderPredictions(): void {
  if (!outcome || !image?.base) return;
  predictionsList.textContent = '';
  const small = thumbnail(image.base, 72);
  const current = shownClass();
  for (const p of outcome.top) {
    const e = outcome.explanations.get(p.index);
    const thumb = h('canvas', { class: 'thumb', 'aria-hidden': 'true' });
    if (e?.display.kind === 'heatmap') paint(thumb, overlayHeatmap(small, e.display.map, e.display.width, e.display.height, { colormap: choices.colormap, alpha: choices.opacity }));
    else if (e) {
      const [c, gh, gw] = e.display.grad.dims;
      paint(thumb, gradientToImage(e.display.grad.data, c, gh, gw));
    }
    const btn = h('button', { type: 'button', class: 'prediction', 'aria-pressed': p.index === current ? 'true' : 'false', 'data-class': p.index },
      thumb,
      h('span', { class: 'pred-text' },
        h('span', { class: 'pred-label', text: p.label }),
        h('span', { class: 'pred-score', text: `${(p.score * 100).toFixed(1)}% · #${p.index}` }),
        h('span', { class: 'bar' }, h('span', { class: 'bar-fill' }))),
    );
    (btn.querySelector('.bar-fill') as HTMLElement).style.width = `${Math.max(1, p.score * 100)}%`;
    btn.addEventListener('click', () => chooseClass(p.index));
    predictionsList.append(h('li', {}, btn));
  }
}

function refreshControls(): void {
  if (!model || !outcome) return;
  methodSel.el.value = outcome.method.id;
  layerSel.el.textContent = '';
  for (const l of wb.targetLayers(model)) {
    const isDefault = l.name === model.defaultLayer;
    layerSel.el.append(h('option', { value: l.name, text: `${l.name}${isDefault ? ' ★ default' : ''} — ${l.op} [${l.shape.join('×')}]` }));
  }
  layerSel.el.value = outcome.layer ?? (choices.layer && wb.targetLayers(model).some((l) => l.name === choices.layer) ? choices.layer : model.defaultLayer ?? '');
  layerSel.el.disabled = outcome.method.family !== 'cam';
  layerSel.wrap.title = layerSel.el.disabled ? `${outcome.method.title} backpropagates to the pixels; it has no target layer.` : '';
  colormapSel.el.value = choices.colormap;
  const shownIsGradient = outcome.explanations.get(shownClass())?.display.kind === 'gradient';
  opacity.disabled = shownIsGradient;
  colormapSel.el.disabled = shownIsGradient;
  opacityOut.textContent = `${Math.round(choices.opacity * 100)}%`;
  opacity.setAttribute('aria-valuetext', `${Math.round(choices.opacity * 100)}%`);
  title.textContent = image!.payload.name;
  subtitle.textContent = `${model.payload.name} · ${model.payload.origin} · ${model.classes} classes`;
  presetSel.el.value = model.preprocessing.preprocessing.name in PRESETS ? model.preprocessing.preprocessing.name : '';
  presetBadge.textContent = `preset: ${model.preprocessing.preprocessing.name} (${model.preprocessing.source})`;
  presetBadge.title = model.preprocessing.reason;
  presetWhy.textContent = `In use: ${model.preprocessing.preprocessing.name} — ${model.preprocessing.reason}.`;
  labelsInfo.textContent = `Labels: ${model.labelsSource}.`;
  saveSidecarBtn.disabled = !model.payload.writable;
  saveSidecarBtn.title = model.payload.writable ? `Write ${model.payload.name}.json next to the model` : 'The bundled model cannot be changed on disk';
  const used = model.runtime.used;
  const name = used.has('webgpu') ? (used.has('wasm') ? 'WebGPU + WASM' : 'WebGPU') : 'WASM';
  backendBadge.textContent = name;
  backendBadge.dataset.backend = name;
  backendBadge.classList.toggle('warn', model.runtime.fallbacks.length > 0);
  backendBadge.title = [`onnxruntime-web on ${name}`, model.conversion, ...model.runtime.fallbacks].filter(Boolean).join('\n');
}

function showTimings(): void {
  const t = lastTimings;
  const parts: string[] = [];
  if (t.loadModel !== undefined) parts.push(`load ${ms(t.loadModel)}`);
  if (t.decode !== undefined) parts.push(`decode ${ms(t.decode)}`);
  if (t.preprocess !== undefined) parts.push(`preprocess ${ms(t.preprocess)}`);
  parts.push(`forward ${ms(t.forward)}`, `explain ${ms(t.explain)}`, `draw ${ms(t.render)}`);
  timingsEl.textContent = parts.join(' · ');
}

// ------------------------------------------------------------------ user input

function rerun(what: string, change: Partial<Choices>): void {
  const previous = { ...choices };
  Object.assign(choices, change);
  job(what, undefined, (s) => explainNow(s, {})).catch((e) => {
    // A cancelled or failed change does not stick: the controls go back to what is shown.
    Object.assign(choices, previous);
    refreshControls();
    report(e, true);
  });
}

function chooseClass(index: number): void {
  if (outcome?.explanations.has(index)) {
    choices.classIndex = index;
    gateView = undefined;
    inspectBox.hidden = true;
    render(index);
    renderPredictions();
    refreshControls();
    summary = makeSummary(index);
    vscodeApi.setState({ imageUri: image?.payload.key, modelUri: model?.payload.key, options: { ...choices } } satisfies Persisted);
    if (!gains.has(index)) {
      const o = outcome;
      job('Checking the map (GAIN)', undefined, async (s) => {
        const { m, img } = need();
        const g = await checkGain(m, img, o, index);
        throwIfAborted(s);
        if (outcome !== o) return;
        gains.set(index, g);
        if (shownClass() === index) {
          showGain(index);
          summary = makeSummary(index);
        }
        statusText.textContent = 'Checked the map (GAIN).';
      }).catch((e) => {
        if (!isCancellation(e)) report(e, false);
      });
    }
    return;
  }
  rerun(`Explaining class ${index}`, { classIndex: index });
}

methodSel.el.addEventListener('change', () => rerun(`Running ${methodSel.el.selectedOptions[0]?.text ?? 'method'}`, { method: methodSel.el.value }));
layerSel.el.addEventListener('change', () => rerun(`Explaining at ${layerSel.el.value}`, { layer: layerSel.el.value }));
colormapSel.el.addEventListener('change', () => {
  choices.colormap = colormapSel.el.value;
  render();
  renderPredictions();
});
opacity.addEventListener('input', () => {
  choices.opacity = Number(opacity.value) / 100;
  heatCanvas.style.opacity = String(choices.opacity);
  opacityOut.textContent = `${opacity.value}%`;
  opacity.setAttribute('aria-valuetext', `${opacity.value}%`);
});
opacity.addEventListener('change', () => renderPredictions());
backToExplanation.addEventListener('click', () => {
  channelView = undefined;
  gateView = undefined;
  inspectBox.hidden = true;
  render();
});

function matches(query: string): { index: number; label: string }[] {
  const q = query.trim().toLowerCase();
  if (!model || !q) return [];
  const out: { index: number; label: string }[] = [];
  for (let i = 0; i < model.classes && out.length < 30; i++) {
    const label = labelOfClass(i);
    if (label.toLowerCase().includes(q) || String(i) === q) out.push({ index: i, label });
  }
  return out;
}

classSearch.addEventListener('input', () => {
  classResults.textContent = '';
  const found = matches(classSearch.value);
  for (const f of found) {
    const score = outcome ? outcome.forward.probs[f.index] : 0;
    const opt = h('button', { type: 'button', role: 'option', class: 'class-option', 'data-class': f.index, text: `${f.label} · #${f.index} · ${(score * 100).toFixed(2)}%` });
    opt.addEventListener('click', () => {
      classSearch.value = '';
      classResults.textContent = '';
      chooseClass(f.index);
    });
    classResults.append(opt);
  }
  if (classSearch.value.trim() && !found.length) classResults.append(h('p', { class: 'hint', text: 'No class matches.' }));
});
classSearch.addEventListener('keydown', (ev) => {
  if (ev.key === 'ArrowDown') (classResults.querySelector('button') as HTMLElement | null)?.focus();
  if (ev.key === 'Enter') (classResults.querySelector('button') as HTMLElement | null)?.click();
});
classResults.addEventListener('keydown', (ev) => {
  const items = [...classResults.querySelectorAll('button')];
  const i = items.indexOf(document.activeElement as HTMLButtonElement);
  if (ev.key === 'ArrowDown') items[Math.min(items.length - 1, i + 1)]?.focus();
  if (ev.key === 'ArrowUp') (i <= 0 ? classSearch : items[i - 1]).focus();
});

function stem(): string {
  return (image?.payload.name ?? 'image').replace(/\.[^.]+$/, '');
}

function currentExplanation(): Explanation {
  const e = outcome?.explanations.get(shownClass());
  if (!e) throw new LookCloserError('bad-argument', 'Nothing is explained yet.');
  return e;
}

savePng.addEventListener('click', () => {
  (async () => {
    const { m, img } = need();
    let pic: RgbaImage;
    let name: string;
    if (channelView) {
      const { acts, channel } = channelView;
      const hw = acts.height * acts.width;
      pic = overlayHeatmap(img.base!, normalizeMinMax(acts.data.subarray(channel * hw, (channel + 1) * hw)), acts.width, acts.height, { colormap: choices.colormap, alpha: choices.opacity });
      name = `${stem()}_${acts.layer.replace(/[^\w.-]+/g, '_')}_ch${channel}.png`;
    } else {
      const e = currentExplanation();
      if (e.display.kind === 'heatmap') pic = overlayHeatmap(img.base!, e.display.map, e.display.width, e.display.height, { colormap: choices.colormap, alpha: choices.opacity });
      else {
        const [c, gh, gw] = e.display.grad.dims;
        pic = gradientToImage(e.display.grad.data, c, gh, gw, m.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb');
      }
      name = `${stem()}_${e.method}_c${e.classIndex}.png`;
    }
    const r = await messenger.request({ type: 'save', what: 'PNG', fileName: name, bytes: await encodePng(pic) });
    statusText.textContent = `Saved ${r.path}.`;
  })().catch((e) => report(e, true));
});

saveNpy.addEventListener('click', () => {
  (async () => {
    let bytes: Uint8Array;
    let name: string;
    if (channelView) {
      const { acts, channel } = channelView;
      const hw = acts.height * acts.width;
      bytes = encodeNpy(acts.data.slice(channel * hw, (channel + 1) * hw), [acts.height, acts.width]);
      name = `${stem()}_${acts.layer.replace(/[^\w.-]+/g, '_')}_ch${channel}.npy`;
    } else {
      const e = currentExplanation();
      bytes = encodeNpy(e.raw.data, e.raw.dims);
      name = `${stem()}_${e.method}_c${e.classIndex}.npy`;
    }
    const r = await messenger.request({ type: 'save', what: '.npy', fileName: name, bytes });
    statusText.textContent = `Saved ${r.path}.`;
  })().catch((e) => report(e, true));
});

presetSel.el.addEventListener('change', () => {
  if (!model) return;
  const m = model;
  job(`Preprocessing with ${presetSel.el.value}`, undefined, async (s) => {
    choices.preset = presetSel.el.value;
    wb.applyPreset(m, choices.preset);
    return explainNow(s, {});
  }).catch((e) => report(e, true));
});

pickLabelsBtn.addEventListener('click', () => {
  (async () => {
    const file = await messenger.request({ type: 'pickLabels' });
    if (!file || !model) return;
    for (const n of wb.pickLabels(model, file)) notice(n, 'warning');
    refreshControls();
    renderPredictions();
    render();
    if (summary) summary = makeSummary(shownClass());
  })().catch((e) => report(e, true));
});

saveSidecarBtn.addEventListener('click', () => {
  (async () => {
    if (!model) return;
    const r = await messenger.request({
      type: 'saveSidecar', modelKey: model.payload.key, preset: model.preprocessing.preprocessing.name, labelsUri: model.pickedLabels?.uri,
    });
    statusText.textContent = `Saved ${r.path}.`;
  })().catch((e) => report(e, true));
});

window.addEventListener('unhandledrejection', (ev) => {
  if (isCancellation(ev.reason)) ev.preventDefault();
});

messenger.notify({ type: 'ready' });
