/**
 * The panel's work, done with the core's application layer: load the model and the image, explain, measure
 * GAIN, read activations and gates, project a channel. Holds what the state only names (the classifier,
 * decoded pixels, explanations); every result goes back to the controller as a message.
 */
import { methodAvailability } from '../../src/core/app/availability';
import type { Classifier } from '../../src/core/app/classifier';
import { MAX_BASE_SIDE, PreparedInput, explainImage, inputSource, prepareImage } from '../../src/core/app/explain-image';
import type { ExplainOutcome, ExplainSettings } from '../../src/core/app/explain-image';
import type { Explanation } from '../../src/core/methods/method';
import { LayerActivations, layerActivations } from '../../src/core/app/layer-activations';
import { GateValues, gateValues } from '../../src/core/attention/gates';
import { ChannelProjection, projectChannel, projectionImages } from '../../src/core/attention/projection';
import { LookCloserError, messageOf } from '../../src/core/errors';
import { methodById } from '../../src/core/methods/registry';
import { sanityCheck } from '../../src/core/sanity/sanity-check';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { throwIfAborted } from '../../src/protocol/messenger';
import { cropAndFit } from '../../src/core/preprocess/preprocess';
import type { Float32Tensor } from '../../src/core/tensor';
import { asFloat32 } from '../../src/protocol/messenger';
import type { ExecutionProviderSetting, ImagePayload, LabelsFile, ModelHeld, ModelPayload, PreviewAnswer, PreviewRequest } from '../../src/protocol/protocol';
import { tensorFromWire } from '../../src/protocol/tensor-wire';
import { decodeImage } from '../image';
import { WebModel, backendLabel, loadWebModel } from '../model-loader';
import { currentWorker } from '../ort-runtime';
import type { ResultMsg, RuntimeNote } from './messages';
import { CompareMemo, compareMemo, compareOne, measureShown, rememberShown } from './measure';
import { outcomeView } from './outcome-view';
import { SCRIPT_STARTED, StartTimeline, now } from './timeline';
import { thumbnail } from './pictures';
import { imageFingerprint, modelFingerprint } from './selectors';
import type { ModelInfo, PresetInfo, Work } from './state';

/** A channel projected to pixels, as the inspect box shows it. */
export interface ProjectionPictures {
  readonly projection: ChannelProjection;
  readonly patch: RgbaImage;
  readonly reconstruction: RgbaImage;
}

/** What the panel's work asks of the extension host. */
export interface WorkHost {
  /** The model with its bytes: those sent, those held, or asked of the host (an open that offered a preview left them out). */
  modelBytes(m: ModelPayload | ModelHeld, signal: AbortSignal): Promise<ModelPayload>;
  /** The host's first map (src/extension/host-preview.ts). */
  preview(r: PreviewRequest, signal: AbortSignal): Promise<PreviewAnswer>;
}

function float32Of(t: unknown, what: string): Float32Tensor {
  const x = tensorFromWire(t, what);
  if (x.type !== 'float32') throw new LookCloserError('runtime', `${what} is ${x.type}, not float32.`);
  return x as Float32Tensor;
}

/**
 * The host's first map as the panel holds an outcome: the same ExplainOutcome the core gives, on the picture
 * the host's preprocessing crop cuts from the decoded image (no tensor: nothing runs on it in the panel).
 */
export function previewOutcome(a: PreviewAnswer, image: RgbaImage): { readonly outcome: ExplainOutcome; readonly input: PreparedInput } {
  const crop = a.crop ?? { x: 0, y: 0, width: image.width, height: image.height };
  const input: PreparedInput = { tensor: { type: 'float32', dims: [0], data: new Float32Array(0) }, base: cropAndFit(image, crop, MAX_BASE_SIDE), crop, image };
  const outputs = a.outputs.map((o, i) => {
    const what = `The extension host's map ${i}`;
    const d = o.display;
    const display: Explanation['display'] = d.kind === 'heatmap'
      ? { kind: 'heatmap', map: asFloat32(d.map), width: d.width, height: d.height }
      : { kind: 'gradient', grad: float32Of(d.grad, what) };
    const explanation: Explanation = { method: a.method, classIndex: o.classIndex, layer: o.layer, raw: float32Of(o.raw, what), display };
    return { explanation, label: o.label, min: o.min, max: o.max, metrics: {} };
  });
  const outcome: ExplainOutcome = {
    method: methodById(a.method), layer: a.layer, target: a.target, note: a.note,
    forward: { logits: asFloat32(a.logits), probs: asFloat32(a.probs), tensors: {} },
    predictions: a.predictions, outputs, timings: { forward: a.ms.forward, explain: a.ms.explain, metrics: 0 },
  };
  return { outcome, input };
}

/** What the panel holds besides its state. */
export interface Resources {
  model?: WebModel;
  image?: { readonly payload: ImagePayload; readonly rgba: RgbaImage };
  prepared?: { readonly key: string; readonly input: PreparedInput };
  /** Explain outcomes by job id, with the input they were explained on. */
  readonly outcomes: Map<number, { readonly outcome: ExplainOutcome; readonly input: PreparedInput }>;
  acts?: LayerActivations;
  gate?: GateValues;
  projection?: ProjectionPictures;
  /** The comparison's maps by method, the picture they are drawn on, and when its first method started. */
  compare?: { readonly job: number; readonly base: RgbaImage; readonly maps: Map<string, Explanation>; readonly started: number; readonly memo: CompareMemo };
}

function runtimeNote(m: WebModel): RuntimeNote {
  return { backend: backendLabel(m.runtime), fallbacks: [...m.runtime.fallbacks] };
}

/** The preprocessing in effect, as the state keeps it. */
export function presetInfo(c: Classifier): PresetInfo {
  const p = c.preprocessing;
  return { name: p.preprocessing.name, source: p.source, reason: p.reason, channels: p.preprocessing.channels };
}

async function modelInfo(m: WebModel): Promise<ModelInfo> {
  const c = m.classifier;
  const p = m.payload;
  const layers = await c.layers();
  const targets = await c.targetLayers();
  const defaultLayer = await c.defaultLayer().catch(() => undefined);
  const gates = await c.gates();
  const unavailable = (await methodAvailability(c)).filter((a) => !a.available).map((a) => ({ method: a.method, reason: a.reason ?? '' }));
  const row = (l: { name: string; op: string; shape: readonly number[] }) => ({ name: l.name, op: l.op, shape: l.shape });
  return {
    key: p.key, fingerprint: modelFingerprint(p), ep: m.ep, name: p.name, origin: p.origin, writable: p.writable, classes: c.classes,
    layers: layers.map(row), targetLayers: targets.map(row), defaultLayer,
    gates: gates.map((g) => ({ tensor: g.tensor, node: g.node, activation: g.activation, kind: g.kind, shape: g.shape, featureShape: g.featureShape, residual: g.residual })),
    preprocessing: presetInfo(c), labels: c.labels, labelsSource: c.labelsSource, unavailable,
    backend: backendLabel(m.runtime), backendReason: m.runtime.reason, fallbacks: [...m.runtime.fallbacks], conversion: m.conversion,
  };
}

/** Runs work for the controller; `onProgress` reports the passes of long methods. */
export class PanelWork {
  readonly res: Resources = { outcomes: new Map() };
  /** The start-up timeline of the model loading now or last. */
  readonly timeline = new StartTimeline();
  private click?: { readonly at: number; readonly received: number };
  /** When the last open request arrived (epoch ms). */
  private openedAt?: number;

  constructor(private readonly host: WorkHost, private readonly onProgress: (job: number, done: number, total: number) => void) {}

  /** Runs one piece of work of job `job`. */
  async run(job: number, w: Work, signal: AbortSignal): Promise<ResultMsg> {
    if (w.kind !== 'loadImage' && w.kind !== 'loadModel' && this.res.model?.runtime.lost) await this.reload(signal);
    switch (w.kind) {
      case 'loadImage': {
        const t0 = performance.now();
        const rgba = await decodeImage(w.image.bytes, w.image.name);
        this.res.image = { payload: w.image, rgba };
        this.forgetInput();
        return { type: 'imageLoaded', job, image: { key: w.image.key, fingerprint: imageFingerprint(w.image), name: w.image.name }, decodeMs: performance.now() - t0 };
      }
      case 'loadModel':
        return this.loadModel(job, w.model, w.ep, signal);
      case 'usePreset':
        return this.usePreset(w.preset, job);
      case 'explain':
        return this.explain(job, w.settings, signal);
      case 'preview':
        return this.preview(job, w, signal);
      case 'measure': {
        const { c, model } = this.loaded();
        const r = this.res.outcomes.get(w.outcome);
        const e = r?.outcome.outputs.find((o) => o.explanation.classIndex === w.classIndex)?.explanation;
        if (!r || !e) throw new LookCloserError('runtime', `Class ${w.classIndex} is not explained in this panel any more; explain it again.`);
        const m = await measureShown(c, r.input, e, r.outcome.forward, { ids: w.ids, gain: w.gain, box: w.box });
        return { type: 'measured', job, outcome: w.outcome, classIndex: w.classIndex, ...m, runtime: runtimeNote(model) };
      }
      case 'compare':
        return this.compare(job, w, signal);
      case 'readActivations': {
        const { c, input } = this.prepared();
        this.res.acts = await layerActivations(c, input, w.layer);
        return { type: 'activationsRead', job, layer: w.layer, channels: this.res.acts.channels.length };
      }
      case 'readGate': {
        const { c, input } = this.prepared();
        const gate = (await c.gates()).find((g) => g.tensor === w.tensor);
        if (!gate) throw new LookCloserError('bad-argument', `${c.name} has no attention gate '${w.tensor}'.`);
        [this.res.gate] = await gateValues(c.explainer, input.tensor, [gate]);
        return { type: 'gateRead', job, tensor: w.tensor, kind: gate.kind };
      }
      case 'project':
        return this.project(job, w.layer, w.channel);
      case 'sanity':
        return this.sanity(job, w, signal);
    }
  }

  /** The host asked to open an image (`at`: the click, epoch ms; undefined: a restore) and the request arrived at `received`. */
  opened(at: number | undefined, received: number): void {
    this.click = { at: at ?? received, received };
    this.openedAt = received;
  }

  /** Sets the classifier's preset (undefined: its own choice). */
  usePreset(preset: string | undefined, job?: number): ResultMsg {
    const { c } = this.loaded();
    c.usePreset(preset);
    return { type: 'presetUsed', job, preset, preprocessing: presetInfo(c) };
  }

  /** Uses a labels file the user picked; throws, keeping the labels, when its class count differs. */
  useLabels(file: LabelsFile): ResultMsg {
    const { c } = this.loaded();
    c.useLabels({ text: file.text, name: file.name }, 'picked');
    return { type: 'labelsUsed', labels: c.labels, labelsSource: c.labelsSource, pickedUri: file.uri };
  }

  /** Drops the pixels of outcomes the state no longer names. */
  keepOutcomes(ids: readonly (number | undefined)[]): void {
    for (const id of [...this.res.outcomes.keys()]) if (!ids.includes(id)) this.res.outcomes.delete(id);
  }

  private forgetInput(): void {
    this.res.prepared = undefined;
    this.res.acts = undefined;
    this.res.gate = undefined;
    this.res.projection = undefined;
  }

  private loaded(): { model: WebModel; c: Classifier } {
    const model = this.res.model;
    if (!model) throw new LookCloserError('bad-argument', 'No model is loaded in this panel yet.');
    return { model, c: model.classifier };
  }

  /** The image preprocessed for the classifier's current preprocessing (cached), and how long that took when it ran. */
  private prepared(): { model: WebModel; c: Classifier; input: PreparedInput; ms?: number } {
    const { model, c } = this.loaded();
    const image = this.res.image;
    if (!image) throw new LookCloserError('bad-argument', 'No image is loaded in this panel yet.');
    const key = JSON.stringify([model.payload.key, image.payload.key, c.preprocessing.preprocessing, c.explainer.inputSize]);
    if (this.res.prepared?.key === key) return { model, c, input: this.res.prepared.input };
    const t0 = performance.now();
    const input = prepareImage(c, image.rgba);
    this.forgetInput();
    this.res.prepared = { key, input };
    return { model, c, input, ms: performance.now() - t0 };
  }

  /** Starts the start-up timeline at the click of the open request (once: the preview and the model load share it). */
  private startTimeline(withModel: boolean): void {
    const click = this.click;
    this.click = undefined;
    const t = this.timeline;
    // 'received' is the model's arrival: with the open's bytes, when the open arrived; else when the bytes come.
    if (click) t.begin(click.at, { panel: performance.timeOrigin, received: withModel ? click.received : undefined });
    else if (!t.running) t.begin(now(), { panel: performance.timeOrigin });
  }

  /** Asks the host for the first map while the panel has no model (the open offered it). */
  private async preview(job: number, w: Extract<Work, { kind: 'preview' }>, signal: AbortSignal): Promise<ResultMsg> {
    const image = this.res.image;
    if (!image) throw new LookCloserError('bad-argument', 'No image is loaded in this panel yet.');
    this.startTimeline(false);
    const { rgba } = image;
    const s = w.settings;
    let a: PreviewAnswer;
    const asked = performance.now();
    try {
      // The top class only: every map crosses the webview channel (about 0.2 MB each at 224², 0.3 s/MB through
      // code-server under load); the others come with the panel's own outcome.
      // The host decoded the image itself (PNG, JPEG) and is explaining it since the click: no pixels to send.
      const pixels = w.image !== undefined ? { imageKey: w.image } : { image: { width: rgba.width, height: rgba.height, data: rgba.data } };
      a = await this.host.preview({ type: 'preview', key: w.model, ...pixels, method: s.method, target: s.target, top: 1 }, signal);
    } catch (e) {
      throwIfAborted(signal);
      // The host's runtime could not give the map (it cannot start, or cannot run this model): the panel's own load decides.
      const why = messageOf(e);
      console.warn(`[look-closer] no first map from the extension host: ${why}`);
      return { type: 'previewSkipped', job, why };
    }
    throwIfAborted(signal);
    const sent = performance.timeOrigin + asked;
    const openAt = this.openedAt === undefined ? '?' : Math.round(this.openedAt - performance.timeOrigin);
    console.info(`[look-closer] the extension host's first map: the panel's script ran ${Math.round(SCRIPT_STARTED)} ms after the page's start, the open request arrived at ${openAt} ms, the image was decoded and the map asked for at ${Math.round(asked)} ms, answered ${Math.round(performance.now() - asked)} ms later (the request reached the host after ${Math.round(a.at.arrived - sent)} ms, the host answered ${Math.round(a.at.answered - a.at.arrived)} ms after that, the answer took ${Math.round(now() - a.at.answered)} ms; ${w.image !== undefined ? 'the host decoded the image itself and began at the click' : `${rgba.width}×${rgba.height} pixels sent`}; on the host: model loaded ${Math.round(a.ms.load)} ms after the click, the map waited ${Math.round(a.ms.waited)} ms for it; preprocessing ${Math.round(a.ms.prepare)} ms${a.preparedWhileLoading ? ' (while the model loaded)' : ''}, forward ${Math.round(a.ms.forward)} ms, ${a.method} ${Math.round(a.ms.explain)} ms; ${a.backend})`);
    const r = previewOutcome(a, rgba);
    this.res.outcomes.set(job, r);
    return { type: 'previewed', job, outcome: outcomeView(job, r.outcome, r.input), preview: { labels: a.labels, backend: a.backend, ms: a.ms } };
  }

  private async loadModel(job: number, payload: ModelPayload | ModelHeld | undefined, ep: ExecutionProviderSetting, signal: AbortSignal): Promise<ResultMsg> {
    const m0 = payload ?? this.res.model?.payload;
    if (!m0) throw new LookCloserError('bad-argument', 'No model is loaded in this panel yet.');
    this.startTimeline(m0.bytes !== undefined);
    const t = this.timeline;
    // The bytes before the old model goes: the next image of a reused panel takes the loaded model's.
    const p = await this.host.modelBytes(m0, signal);
    t.mark('received');
    const old = this.res.model;
    this.res.model = undefined;
    // The host's first map of this job stays until the panel's own replaces it.
    this.keepOutcomes([job]);
    this.forgetInput();
    void old?.classifier.dispose();
    const runtimeMark = () => void currentWorker().then((w) => t.mark('runtime', performance.timeOrigin + w.readyAt), () => undefined);
    runtimeMark();
    let info: ModelInfo;
    try {
      const m = await loadWebModel(p, ep, signal);
      // A worker started by the load itself ('auto' starts none before): its ready time is known now.
      runtimeMark();
      t.mark('session');
      this.res.model = m;
      info = await modelInfo(m);
      t.mark('layers');
      throwIfAborted(signal);
    } catch (e) {
      t.abandon();
      throw e;
    }
    const m = this.res.model!;
    return { type: 'modelLoaded', job, model: info, loadMs: m.loadMs };
  }

  /** Loads the model again on a fresh runtime (the old one ran out of memory and was ended), keeping the preprocessing and labels in use. */
  private async reload(signal: AbortSignal): Promise<void> {
    const old = this.res.model!;
    this.res.model = undefined;
    this.res.outcomes.clear();
    this.forgetInput();
    const m = await loadWebModel(old.payload, old.ep, signal);
    const [c, o] = [m.classifier, old.classifier];
    c.preprocessing = o.preprocessing;
    c.labels = o.labels;
    c.labelsSource = o.labelsSource;
    c.pickedLabels = o.pickedLabels;
    this.res.model = m;
  }

  private async explain(job: number, settings: ExplainSettings, signal: AbortSignal): Promise<ResultMsg> {
    // A host request that loaded no model (the next image in this panel) is timed from its click too.
    if (this.click) {
      this.timeline.begin(this.click.at, { panel: performance.timeOrigin, received: this.click.received });
      this.click = undefined;
    }
    const { model, c, input, ms } = this.prepared();
    model.runtime.used.clear();
    // Another class or method on the same input reuses the shown outcome's forward pass (explainImage runs its own where it lacks a layer).
    const forward = [...this.res.outcomes.values()].find((r) => r.input === input)?.outcome.forward;
    const o = await explainImage(c, input, { ...settings, ...(forward ? { forward } : {}), signal, onProgress: (done, total) => this.onProgress(job, done, total) });
    throwIfAborted(signal);
    this.timeline.mark('map');
    this.res.outcomes.set(job, { outcome: o, input });
    return {
      type: 'explained', job, outcome: outcomeView(job, o, input),
      timings: { preprocess: ms, forward: o.timings.forward, explain: o.timings.explain }, runtime: runtimeNote(model),
    };
  }

  /** One method of the comparison, on the compared outcome's input, reusing its forward pass. */
  private async compare(job: number, w: Extract<Work, { kind: 'compare' }>, signal: AbortSignal): Promise<ResultMsg> {
    const { c } = this.loaded();
    const r = this.res.outcomes.get(w.outcome);
    if (!r) throw new LookCloserError('runtime', 'The compared explanation is not in this panel any more; explain it again.');
    if (w.first || this.res.compare?.job !== job) this.res.compare = { job, base: r.input.base, maps: new Map(), started: performance.now(), memo: compareMemo() };
    const cmp = this.res.compare;
    const shown = w.shown && r.outcome.outputs.find((o) => o.explanation.classIndex === w.classIndex)?.explanation;
    if (w.first && shown) rememberShown(cmp.memo, c, shown, w.shown!, r.outcome.forward);
    const { cell, output } = await compareOne(c, r.input, {
      method: w.method, classIndex: w.classIndex, target: w.target, layer: w.layer, box: w.box, metrics: w.metrics, forward: r.outcome.forward, signal, memo: cmp.memo,
      onProgress: (done, total) => this.onProgress(job, done, total),
    });
    throwIfAborted(signal);
    if (output) cmp.maps.set(w.method, output.explanation);
    return { type: 'compared', job, cell, elapsedMs: performance.now() - cmp.started };
  }

  /** Adebayo et al.'s checks of one shown map: the weights randomised from the top in 8 steps, and another class. */
  private async sanity(job: number, w: Extract<Work, { kind: 'sanity' }>, signal: AbortSignal): Promise<ResultMsg> {
    const { model, c, input } = this.prepared();
    const r = await sanityCheck(model.runtime, c.explainer, input.tensor, {
      methods: [methodById(w.method)], classIndex: w.classIndex, layer: w.layer, source: inputSource(c, input), signal, onProgress: (done, total) => this.onProgress(job, done, total),
    });
    throwIfAborted(signal);
    const m = r.methods[0];
    const last = (v: readonly (number | null)[]) => v[v.length - 1] ?? null;
    return {
      type: 'sanityChecked', job,
      sanity: {
        outcome: w.outcome, classIndex: w.classIndex, spearmanAll: last(m.cascade.spearmanAbs), ssimAll: last(m.cascade.ssim),
        spearmanClass: m.labelControl?.spearmanAbs ?? null, steps: r.steps.length, flagged: m.flagged, verdict: m.verdict,
      },
    };
  }

  private async project(job: number, layer: string, channel: number): Promise<ResultMsg> {
    const { c, input } = this.prepared();
    const p = await projectChannel(c.explainer, input.tensor, { layer, channel });
    const { width, height } = c.explainer.inputSize;
    const pics = projectionImages(p, thumbnail(input.base, Math.max(width, height)), c.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb', 160);
    this.res.projection = { projection: p, ...pics };
    return { type: 'projected', job, layer, channel };
  }
}
