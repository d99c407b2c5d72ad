/** The panel's model and image handling, mirroring the CLI's workbench on browser APIs. */
import { Gate, listGates } from '../../src/core/attention/gates';
import { LookCloserError } from '../../src/core/errors';
import { Explainer, ForwardResult, topK } from '../../src/core/explainer';
import { ChosenPreprocessing, Sidecar, choosePreprocessing, labelOf, parseLabels, parseSidecar } from '../../src/core/model-config';
import type { LayerInfo } from '../../src/core/model-info';
import { METHODS, methodById } from '../../src/core/methods/registry';
import type { Explanation, Method } from '../../src/core/methods/method';
import { float32Copy, usesFloat16 } from '../../src/core/onnx/float32';
import { decodeModel, encodeModel } from '../../src/core/onnx/model';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { CropBox, ModelInputSpec, preprocessImage } from '../../src/core/preprocess/preprocess';
import { Float32Tensor, float32 } from '../../src/core/tensor';
import { throwIfAborted } from '../../src/protocol/messenger';
import type { ChannelStats, ExecutionProviderSetting, ImagePayload, LabelsFile, LayerActivations, ModelPayload, PredictionRow } from '../../src/protocol/protocol';
import { cropAndFit } from '../../src/core/preprocess/preprocess';
import { decodeImage } from '../image';
import { WebRuntime, probeWebGpu, webRuntime } from '../ort-runtime';

/** Longest side of the picture overlays are drawn on. */
const MAX_BASE_SIDE = 640;

/** A model loaded in the panel with its preprocessing, labels and layers. */
export interface LoadedModel {
  readonly payload: ModelPayload;
  readonly explainer: Explainer;
  readonly runtime: WebRuntime;
  readonly ep: ExecutionProviderSetting;
  readonly sidecar?: Sidecar;
  readonly metadata: Readonly<Record<string, string>>;
  readonly classes: number;
  readonly layers: readonly LayerInfo[];
  readonly defaultLayer?: string;
  /** The model's attention gates (SE, CBAM, residual attention). */
  readonly gates: readonly Gate[];
  readonly loadMs: number;
  /** Set when the model runs as a float32 copy, and why. */
  readonly conversion?: string;
  preprocessing: ChosenPreprocessing;
  labels?: readonly string[];
  labelsSource: string;
  /** Labels picked in the panel (not yet in the sidecar). */
  pickedLabels?: LabelsFile;
}

/** An image decoded and preprocessed for the loaded model. */
export interface LoadedImage {
  readonly payload: ImagePayload;
  readonly rgba: RgbaImage;
  readonly decodeMs: number;
  tensor?: Float32Tensor;
  crop?: CropBox;
  base?: RgbaImage;
  preprocessMs?: number;
  /** Preprocessing the tensor was made with. */
  preparedWith?: string;
}

/** One explanation run: the forward pass, top-5, and an explanation per explained class. */
export interface Outcome {
  readonly method: Method;
  readonly layer?: string;
  readonly forward: ForwardResult;
  readonly top: readonly PredictionRow[];
  readonly explanations: ReadonlyMap<number, Explanation>;
  readonly forwardMs: number;
  readonly explainMs: number;
  /** Set when the asked-for method did not apply and another one ran. */
  readonly note?: string;
}

function spec(m: LoadedModel): ModelInputSpec {
  const e = m.explainer;
  return { ...e.inputSize, channels: e.input.channels, layout: e.input.layout };
}

function applyLabels(m: LoadedModel, picked: LabelsFile | undefined, notices: string[]): void {
  const p = m.payload;
  let labels: string[] | undefined;
  let source: string;
  const file = picked ?? p.labels;
  if (file) {
    labels = parseLabels(file.text, file.name);
    source = picked ? `picked: ${file.name}` : `sidecar: ${file.name}`;
  } else if (m.classes === 1000) {
    [labels, source] = [parseLabels(p.fallbackLabels.imagenet, 'imagenet-simple-labels.json'), 'guessed: ImageNet-1k (1000 classes)'];
  } else if (m.classes === 10 && m.explainer.input.channels === 1) {
    [labels, source] = [parseLabels(p.fallbackLabels.digits, 'mnist_labels.txt'), 'guessed: digits 0–9'];
  } else source = 'none (class indices)';
  if (labels && labels.length !== m.classes) {
    notices.push(`Labels (${source}) list ${labels.length} classes but ${p.name} scores ${m.classes}; showing class indices instead.`);
    [labels, source] = [undefined, 'none (label count did not match)'];
  }
  m.labels = labels;
  m.labelsSource = source;
  m.pickedLabels = picked;
}

/** Sets the preprocessing: a preset picked in the panel, else sidecar, metadata or a guess. */
export function applyPreset(m: LoadedModel, preset: string | undefined): void {
  const chosen = choosePreprocessing(m.explainer.input, { flag: preset, sidecar: m.sidecar, metadata: m.metadata });
  m.preprocessing = preset ? { ...chosen, source: 'flag', reason: 'picked in the panel (not saved)' } : chosen;
}

/** Loads a model: backend choice, session, sidecar, labels, layers. Notices collects what the user should be told. */
export async function loadModel(p: ModelPayload, ep: ExecutionProviderSetting, notices: string[], signal: AbortSignal): Promise<LoadedModel> {
  const t0 = performance.now();
  let bytes = p.bytes;
  let conversion: string | undefined;
  const gpu = ep === 'wasm' ? undefined : await probeWebGpu();
  if (gpu?.available && !gpu.shaderF16) {
    // Every float16 kernel fails on WebGPU adapters without shader-f16 (SwiftShader): run a float32 copy there.
    const decoded = decodeModel(p.bytes, p.name);
    if (usesFloat16(decoded)) {
      bytes = encodeModel(float32Copy(decoded));
      conversion = `The WebGPU adapter (${gpu.adapter}) lacks shader-f16, so a float32 copy of this float16 model runs on WebGPU (results differ by float16 rounding only).`;
    }
  }
  const runtime = await webRuntime(ep);
  const t1 = performance.now();
  const explainer = await Explainer.load(runtime, bytes, p.name);
  const t2 = performance.now();
  throwIfAborted(signal);
  const sidecar = p.sidecarText !== undefined ? parseSidecar(p.sidecarText, `${p.name}.json`) : undefined;
  const metadata: Record<string, string> = {};
  for (const prop of explainer.graph.model.metadataProps) if (prop.key) metadata[prop.key] = prop.value ?? '';
  const size = sidecar?.inputSize;
  if (size !== undefined) {
    const [h, w] = typeof size === 'number' ? [size, size] : size;
    if ((explainer.input.height && explainer.input.height !== h) || (explainer.input.width && explainer.input.width !== w)) {
      throw new LookCloserError('bad-argument', `The sidecar asks for input size ${h}×${w} but ${p.name}'s input is fixed at ${explainer.input.height}×${explainer.input.width}.`);
    }
    explainer.inputSize = { height: h, width: w };
  }
  const zero = float32(new Float32Array(explainer.inputDims.reduce((a, b) => a * b, 1)), explainer.inputDims);
  const classes = (await explainer.forward(zero)).logits.length;
  throwIfAborted(signal);
  const t3 = performance.now();
  const layers = await explainer.layers();
  let defaultLayer: string | undefined;
  try {
    defaultLayer = await explainer.defaultLayer();
  } catch {
    defaultLayer = undefined;
  }
  let gates: Gate[] = [];
  try {
    gates = await listGates(explainer);
  } catch (e) {
    console.warn('[look-closer] finding attention gates failed', e);
  }
  const t4 = performance.now();
  console.info(`[look-closer] loaded ${p.name} on ${runtime.preferred}: backend ${(t1 - t0).toFixed(0)} ms, session ${(t2 - t1).toFixed(0)} ms, classes ${(t3 - t2).toFixed(0)} ms, layers ${(t4 - t3).toFixed(0)} ms`);
  const m: LoadedModel = {
    payload: p, explainer, runtime, ep, sidecar, metadata, classes, layers, defaultLayer, gates, conversion,
    loadMs: performance.now() - t0,
    preprocessing: choosePreprocessing(explainer.input, { sidecar, metadata }),
    labelsSource: '',
  };
  applyLabels(m, undefined, notices);
  return m;
}

/** Replaces the labels with a picked file (validated against the class count). */
export function pickLabels(m: LoadedModel, file: LabelsFile): string[] {
  const notices: string[] = [];
  applyLabels(m, file, notices);
  return notices;
}

/** Decodes an image. */
export async function loadImage(p: ImagePayload): Promise<LoadedImage> {
  const t0 = performance.now();
  const rgba = await decodeImage(p.bytes, p.name);
  return { payload: p, rgba, decodeMs: performance.now() - t0 };
}

/** Preprocesses the image for the model (cached per preprocessing). */
export function prepare(m: LoadedModel, img: LoadedImage): void {
  const key = JSON.stringify([m.payload.key, m.preprocessing.preprocessing, m.explainer.inputSize]);
  if (img.preparedWith === key && img.tensor) return;
  const t0 = performance.now();
  const pre = preprocessImage(img.rgba, m.preprocessing.preprocessing, spec(m));
  img.tensor = pre.tensor;
  img.crop = pre.crop;
  img.base = cropAndFit(img.rgba, pre.crop, MAX_BASE_SIDE);
  img.preprocessMs = performance.now() - t0;
  img.preparedWith = key;
}

/** Layers an explanation can target: 4-D maps with a spatial extent. */
export function targetLayers(m: LoadedModel): LayerInfo[] {
  return m.layers.filter((l) => l.shape.length === 4 && l.shape[2] * l.shape[3] > 1);
}

/** What to explain. */
export interface Choice {
  /** Undefined: the first registry method that applies to this model. */
  readonly method?: string;
  readonly layer?: string;
  readonly classIndex?: number;
}

/** Runs the forward pass and the method for the chosen class plus the top 5; long methods (occlusion, attention crops) report progress and stop on `signal`. */
export async function explain(m: LoadedModel, img: LoadedImage, choice: Choice, signal: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<Outcome> {
  prepare(m, img);
  const candidates = choice.method ? [methodById(choice.method)] : [...METHODS];
  const targets = targetLayers(m);
  let note: string | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const method = candidates[i];
    const layer = method.family === 'cam'
      ? (choice.layer && targets.some((t) => t.name === choice.layer) ? choice.layer : m.defaultLayer)
      : undefined;
    throwIfAborted(signal);
    const t0 = performance.now();
    const forward = await m.explainer.forward(img.tensor!, layer ? [layer] : []);
    const t1 = performance.now();
    const top = topK(forward.probs, 5).map((index) => ({ index, label: labelOf(m.labels, index), score: forward.probs[index] }));
    const classIndex = choice.classIndex !== undefined && choice.classIndex >= 0 && choice.classIndex < m.classes ? choice.classIndex : top[0].index;
    const classes = [...new Set([classIndex, ...top.map((t) => t.index)])];
    throwIfAborted(signal);
    try {
      const source = { image: img.rgba, region: img.crop, preprocessing: m.preprocessing.preprocessing };
      const r = await method.run(m.explainer, { input: img.tensor!, classes, layer, target: 'logit', forward, source, signal, onProgress });
      throwIfAborted(signal);
      const explanations = new Map(r.explanations.map((e) => [e.classIndex, e] as const));
      return { method, layer, forward, top, explanations, forwardMs: t1 - t0, explainMs: performance.now() - t1, note };
    } catch (e) {
      // The core's 'cancelled' error becomes the panel's quiet cancellation.
      throwIfAborted(signal);
      const last = i === candidates.length - 1;
      if (!(e instanceof LookCloserError && e.kind === 'method-not-applicable') || last) throw e;
      note = `${method.title} does not apply to this model (${e.message.split(';')[0]}); showing ${candidates[i + 1].title}.`;
    }
  }
  throw new LookCloserError('method-not-applicable', 'No explanation method applies to this model.');
}

/** Channel tiles of a layer for the current image: values plus per-channel min/max/mean/% zeros. */
export async function activations(m: LoadedModel, img: LoadedImage, layer: string): Promise<LayerActivations> {
  const info = m.layers.find((l) => l.name === layer);
  if (!info) throw new LookCloserError('bad-argument', `${m.payload.name} has no layer '${layer}'.`);
  prepare(m, img);
  const t = (await m.explainer.forward(img.tensor!, [layer])).tensors[layer];
  const d = t.dims;
  const c = d.length >= 2 ? d[1] : 1;
  const height = d.length === 4 ? d[2] : 1;
  const width = d.length === 4 ? d[3] : d.length === 3 ? d[2] : 1;
  const hw = height * width;
  const data = t.data.subarray(0, c * hw);
  const channels: ChannelStats[] = [];
  for (let k = 0; k < c; k++) {
    let lo = Infinity, hi = -Infinity, sum = 0, zeros = 0;
    for (let i = k * hw; i < (k + 1) * hw; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
      if (v === 0) zeros++;
    }
    channels.push({ index: k, min: lo, max: hi, mean: sum / hw, zeros: zeros / hw, dead: hw > 1 ? !(hi > lo) : hi === 0 });
  }
  return {
    layer, op: info.op, shape: info.shape, height, width, channels, data: Float32Array.from(data),
    targetable: d.length === 4 && hw > 1,
  };
}
