/**
 * Loading a classifier for explanation, the same in every front end: model bytes, sidecar and labels in;
 * a model with its preprocessing, labels, class count and (lazily) layers out. Front ends only read files:
 * the CLI with node:fs, the panel and the folder view from what the extension host sends. The same bad input
 * gives the same message everywhere because every check is made here.
 */
import { Gate, listGates } from '../attention/gates';
import { LookCloserError } from '../errors';
import { Explainer, ForwardResult, Prediction, topK } from '../explainer';
import { ChosenPreprocessing, Sidecar, choosePreprocessing, labelOf, parseLabels, parseSidecar } from '../model-config';
import { ConfigSettings, ModelConfigs, readModelConfigs } from '../model-configs';
import { type DefaultLayerChoice, type LayerInfo, chooseDefaultLayer } from '../model-info';
import { type Grid, type MapLayout, gridValue, mapLayout } from '../token-layout';
import { inferShapes } from '../onnx/shape-inference';
import type { ModelInputSpec } from '../preprocess/preprocess';
import type { Runtime } from '../runtime';
import type { PreprocessingInfo } from './types';

/** A text file a front end read for the model: its text and the name to show in messages. */
export interface TextFile {
  readonly text: string;
  readonly name: string;
}

/** Where a labels file was named: a flag, the sidecar, or picked in the panel. */
export type LabelsOrigin = 'flag' | 'sidecar' | 'picked';

/** Everything a front end read for one model. */
export interface ModelSource {
  /** The model's path or name as the user knows it (reported as `model` in --json and summaries). */
  readonly path: string;
  /** File name, used in messages. */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** The sidecar `<model>.onnx.json`, when there is one. */
  readonly sidecar?: TextFile;
  /** A labels file: from `--labels`, or the one the sidecar names (see `sidecarLabels`). */
  readonly labels?: TextFile & { readonly origin: LabelsOrigin };
  /** `--preset`. */
  readonly preset?: string;
  /** `--input-size` (a side, or [height, width]). */
  readonly inputSize?: number | readonly [number, number];
  /** `config.json` / `preprocessor_config.json` next to the model (Hugging Face, timm): preprocessing and labels when no flag or sidecar gives them. */
  readonly configs?: ModelConfigs;
  /** The bundled label sets, used by class count when nothing names labels. */
  readonly bundledLabels?: (kind: 'imagenet' | 'digits') => TextFile | undefined;
}

/** Largest input side accepted from a flag or a sidecar (a 4096² float32 RGB input is 200 MB). */
export const MAX_INPUT_SIDE = 4096;

/** Parses a sidecar and returns the labels path it names (relative to the sidecar), so a front end can read that file. */
export function sidecarLabels(sidecar: TextFile | undefined): string | undefined {
  if (!sidecar) return undefined;
  const labels = parseSidecar(sidecar.text, sidecar.name).labels;
  if (labels !== undefined && typeof labels !== 'string') throw new LookCloserError('bad-argument', `Sidecar '${sidecar.name}': "labels" must be a file name (a string).`);
  return labels;
}

/** What preprocessing an image for a classifier needs: its chosen preprocessing and its input's geometry. */
export interface InputGeometry {
  readonly preprocessing: ChosenPreprocessing;
  readonly spec: ModelInputSpec;
}

/** A classifier ready to explain images: the explainer plus preprocessing, labels and class count. */
export class Classifier {
  private layerList?: Promise<LayerInfo[]>;
  private defaultLayerName?: Promise<string | undefined>;
  private gateList?: Promise<Gate[]>;
  /** Labels picked in the panel (not yet in a sidecar). */
  pickedLabels?: TextFile;

  private constructor(
    readonly path: string,
    readonly name: string,
    readonly explainer: Explainer,
    readonly sidecar: Sidecar | undefined,
    readonly metadata: Readonly<Record<string, string>>,
    readonly classes: number,
    public preprocessing: ChosenPreprocessing,
    public labels: readonly string[] | undefined,
    public labelsSource: string,
    private readonly bundledLabels: ModelSource['bundledLabels'],
    private readonly config: ConfigSettings = {},
  ) {}

  /**
   * Decodes and checks a model, chooses preprocessing, creates its forward session, and chooses labels.
   * `opened` is called with the preprocessing and input geometry before onnxruntime creates the session: an image
   * prepared there (prepareImage) is prepared as it would be on the loaded classifier, before onnxruntime's start
   * takes the machine's cores (src/node/preview-thread.ts).
   */
  static async load(runtime: Runtime, src: ModelSource, opened?: (input: InputGeometry) => void): Promise<Classifier> {
    const sidecar = src.sidecar ? parseSidecar(src.sidecar.text, src.sidecar.name) : undefined;
    const config = src.configs ? readModelConfigs(src.configs) : {};
    const explainer = Explainer.open(runtime, src.bytes, src.name);
    try {
      const metadata: Record<string, string> = {};
      for (const p of explainer.graph.model.metadataProps) if (p.key) metadata[p.key] = p.value ?? '';
      const preprocessing = choosePreprocessing(explainer.input, { flag: src.preset, sidecar, metadata, config: config.preprocessing });
      setInputSize(explainer, src, sidecar);
      // A shipped config's size applies where the model's spatial dims are free (inputs named pixel_values with dynamic size).
      const cfgSize = config.preprocessing?.inputSize;
      if (cfgSize && src.inputSize === undefined && sidecar?.inputSize === undefined && !explainer.input.height && !explainer.input.width) {
        explainer.inputSize = { height: cfgSize[0], width: cfgSize[1] };
      }
      opened?.({ preprocessing, spec: { ...explainer.inputSize, channels: explainer.input.channels, layout: explainer.input.layout } });
      // The first session also exposes the default layer, which the first CAM map reads (no second session for it).
      await explainer.start((ex) => {
        const c = chooseDefaultLayer(ex.graph, ex.scores.logits, inferShapes(ex.graph, ex.input.name, ex.inputDims));
        return c ? [c.layer] : [];
      });
      const dtype = explainer.graph.dtype(explainer.scores.output);
      if (dtype && dtype !== 'float32' && dtype !== 'float16' && dtype !== 'float64') {
        throw new LookCloserError('unsupported-model', `${src.name}'s output '${explainer.scores.output}' is ${dtype}; Look Closer explains classifiers that output one floating-point score per class.`);
      }
      const classes = await explainer.numClasses();
      if (!(classes >= 1)) throw new LookCloserError('unsupported-model', `${src.name} scores no classes; Look Closer explains classifiers whose output has one score per class.`);
      const c = new Classifier(src.path, src.name, explainer, sidecar, metadata, classes, preprocessing, undefined, '', src.bundledLabels, config);
      if (src.labels) c.useLabels(src.labels, src.labels.origin);
      else if (config.labels) c.useConfigLabels(config.labels);
      else c.guessLabels();
      return c;
    } catch (e) {
      await explainer.dispose();
      throw e;
    }
  }

  /** The model input's geometry as preprocessing describes it. */
  get spec(): ModelInputSpec {
    const e = this.explainer;
    return { ...e.inputSize, channels: e.input.channels, layout: e.input.layout };
  }

  /** The preprocessing in effect, as --json, summaries and the panel report it. */
  preprocessingInfo(): PreprocessingInfo {
    const p = this.preprocessing;
    return { ...p.preprocessing, source: p.source, reason: p.reason, inputSize: this.explainer.inputSize, layout: this.explainer.input.layout };
  }

  /** A class's label, or "class N". */
  label(index: number): string {
    return labelOf(this.labels, index);
  }

  /** The k most probable classes, with labels. */
  predictions(probs: Float32Array, k = 5): Prediction[] {
    return topK(probs, k).map((index) => ({ index, label: this.label(index), score: probs[index] }));
  }

  /** Throws naming the first class whose score is NaN or infinite (NaN weights, or an input the model overflows on). */
  checkScores(f: ForwardResult): void {
    const bad = f.logits.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new LookCloserError('bad-model', `${this.name} scored class ${bad} as ${f.logits[bad]} on this input: its weights or the input hold NaN or infinite values, so nothing can be explained.`);
    }
  }

  /** Sets the preprocessing: a preset picked in the panel, or (undefined) the sidecar's, the metadata's or a guess. */
  usePreset(preset: string | undefined): void {
    const chosen = choosePreprocessing(this.explainer.input, { flag: preset, sidecar: this.sidecar, metadata: this.metadata, config: this.config.preprocessing });
    this.preprocessing = preset ? { ...chosen, source: 'flag', reason: 'picked in the panel (not saved)' } : chosen;
  }

  /** Uses a labels file; throws, keeping the current labels, when it lists another number of classes than the model scores. */
  useLabels(file: TextFile, origin: LabelsOrigin): void {
    const labels = parseLabels(file.text, file.name);
    const source = `${origin}: ${file.name}`;
    if (labels.length !== this.classes) {
      throw new LookCloserError('bad-argument', `Labels (${source}) list ${labels.length} classes but ${this.name} scores ${this.classes}.`);
    }
    this.labels = labels;
    this.labelsSource = source;
    this.pickedLabels = origin === 'picked' ? file : undefined;
  }

  private useConfigLabels(l: NonNullable<ConfigSettings['labels']>): void {
    if (l.labels.length !== this.classes) {
      throw new LookCloserError('bad-argument', `Labels (${l.source}) list ${l.labels.length} classes but ${this.name} scores ${this.classes}.`);
    }
    this.labels = l.labels;
    this.labelsSource = l.source;
  }

  private guessLabels(): void {
    const kind = this.classes === 1000 ? 'imagenet' : this.classes === 10 && this.explainer.input.channels === 1 ? 'digits' : undefined;
    const file = kind && this.bundledLabels?.(kind);
    if (file) {
      this.labels = parseLabels(file.text, file.name);
      this.labelsSource = kind === 'imagenet' ? 'guessed: ImageNet-1k (1000 classes)' : 'guessed: digits 0–9';
    } else {
      this.labels = undefined;
      this.labelsSource = 'none (class indices)';
    }
  }

  /** Every tensor that can be explained or inspected (one probe pass, cached). */
  layers(): Promise<LayerInfo[]> {
    return (this.layerList ??= this.explainer.layers());
  }

  /** The suggested target layer (the map feeding the global pooling, or a ViT's last attention input), or undefined when the model has none. */
  defaultLayer(): Promise<string | undefined> {
    return (this.defaultLayerName ??= this.defaultLayerChoice().then((c) => c?.layer));
  }

  /** The suggested target layer with why it was chosen, or undefined when the model has none. */
  async defaultLayerChoice(): Promise<DefaultLayerChoice | undefined> {
    try {
      return chooseDefaultLayer(this.explainer.graph, this.explainer.scores.logits, await this.explainer.shapes());
    } catch (e) {
      if (e instanceof LookCloserError && e.kind === 'unsupported-model') return undefined;
      throw e;
    }
  }

  /** The patch grid the sidecar gives token layers (`tokenGrid`), if any. */
  get grid(): Grid | undefined {
    return this.sidecar?.tokenGrid !== undefined ? gridValue(this.sidecar.tokenGrid, `The sidecar's "tokenGrid"`) : undefined;
  }

  /** How each layer that can be explained as a map is laid out: channels-first maps, channels-last maps, token tensors with their grid. */
  async layerLayouts(grid: Grid | undefined = this.grid): Promise<Map<string, MapLayout>> {
    const shapes = await this.explainer.shapes();
    const out = new Map<string, MapLayout>();
    for (const l of await this.layers()) {
      const layout = mapLayout(this.explainer.graph, shapes, this.explainer.inputSize, l.name, grid);
      if (layout) out.set(l.name, layout);
    }
    return out;
  }

  /** Layers a CAM-family method can target: maps with a spatial extent (4-D, channels first or last) and token tensors with a known grid. */
  async targetLayers(): Promise<LayerInfo[]> {
    const layouts = await this.layerLayouts();
    return (await this.layers()).filter((l) => {
      const layout = layouts.get(l.name);
      if (!layout) return false;
      if (layout.kind === 'tokens') return true;
      return layout.kind === 'nhwc' ? l.shape[1] * l.shape[2] > 1 : l.shape[2] * l.shape[3] > 1;
    });
  }

  /** The model's attention gates (SE, CBAM, residual attention); none when the search fails. */
  gates(): Promise<Gate[]> {
    return (this.gateList ??= listGates(this.explainer).catch(() => []));
  }

  /** Releases every session. */
  dispose(): Promise<void> {
    return this.explainer.dispose();
  }
}

/** Applies `--input-size` or the sidecar's `inputSize`: positive whole sides up to MAX_INPUT_SIDE, and only where the model's dims are free. */
function setInputSize(explainer: Explainer, src: ModelSource, sidecar: Sidecar | undefined): void {
  const size = src.inputSize ?? sidecar?.inputSize;
  if (size === undefined) return;
  const from = src.inputSize !== undefined ? '--input-size' : `the sidecar's inputSize (${src.sidecar?.name})`;
  const pair = typeof size === 'number' ? [size, size] : Array.isArray(size) && size.length === 2 ? size : undefined;
  if (!pair || !pair.every((v) => Number.isInteger(v) && v >= 2 && v <= MAX_INPUT_SIDE)) {
    throw new LookCloserError('bad-argument', `${from} must be a whole number of pixels (or [height, width]) between 2 and ${MAX_INPUT_SIDE}, got ${JSON.stringify(size)}.`);
  }
  const [h, w] = pair;
  if ((explainer.input.height && explainer.input.height !== h) || (explainer.input.width && explainer.input.width !== w)) {
    throw new LookCloserError('bad-argument', `${from} asks for ${h}×${w}, but ${src.name}'s input is fixed at ${explainer.input.height ?? '?'}×${explainer.input.width ?? '?'}; remove it.`);
  }
  explainer.inputSize = { height: h, width: w };
}
