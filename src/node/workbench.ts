/** Node-side loading shared by the CLI and the benchmark: model files, sidecars, labels, inputs, and written outputs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LookCloserError } from '../core/errors';
import { Explainer } from '../core/explainer';
import { ChosenPreprocessing, Sidecar, choosePreprocessing, parseLabels, parseSidecar } from '../core/model-config';
import type { Explanation } from '../core/methods/method';
import { decodeNpy, encodeNpy } from '../core/npy';
import type { RgbaImage } from '../core/preprocess/image';
import { CropBox, ModelInputSpec, cropAndFit, preprocessImage, tensorToView } from '../core/preprocess/preprocess';
import { gradientToImage, overlayHeatmap } from '../core/render/overlay';
import type { Runtime } from '../core/runtime';
import { Float32Tensor, float32 } from '../core/tensor';
import { decodeImageFile, encodePng } from './image-io';

/** Folder of the bundled assets (models, labels, sample photos): the package root's assets/, found from dist/ or src/node/. */
export const ASSETS_DIR = ((): string => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'assets');
    if (fs.existsSync(path.join(candidate, 'labels'))) return candidate;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..', 'assets');
  }
})();

/** The bundled sample model. */
export const SAMPLE_MODEL = path.join(ASSETS_DIR, 'models', 'squeezenet1.0-fp16-winml.onnx');

/** A model loaded with everything needed to explain images. */
export interface LoadedModel {
  readonly path: string;
  readonly explainer: Explainer;
  readonly preprocessing: ChosenPreprocessing;
  readonly labels?: readonly string[];
  readonly labelsSource: string;
  readonly spec: ModelInputSpec;
  /** The sidecar `<model>.onnx.json`, when there is one. */
  readonly sidecar?: Sidecar;
}

function readFileOr(p: string, what: string): Buffer {
  try {
    return fs.readFileSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': ${why}.`);
  }
}

/** Reads a labels file. */
export function readLabels(p: string): string[] {
  return parseLabels(readFileOr(p, 'labels file').toString('utf8'), p);
}

/** Default labels for common class counts (ImageNet-1k, ten digits). */
function guessLabels(classes: number, channels: number): { labels?: string[]; source: string } {
  if (classes === 1000) return { labels: readLabels(path.join(ASSETS_DIR, 'labels', 'imagenet-simple-labels.json')), source: 'guessed: ImageNet-1k (1000 classes)' };
  if (classes === 10 && channels === 1) return { labels: readLabels(path.join(ASSETS_DIR, 'labels', 'mnist_labels.txt')), source: 'guessed: digits 0–9' };
  return { source: 'none (class indices)' };
}

/** Loads a model file with its sidecar, preprocessing and labels. */
export async function loadModel(
  runtime: Runtime,
  modelPath: string,
  flags: { preset?: string; labels?: string; inputSize?: number } = {},
): Promise<LoadedModel> {
  const bytes = readFileOr(modelPath, 'model');
  const explainer = await Explainer.load(runtime, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path.basename(modelPath));
  const sidecarPath = `${modelPath}.json`;
  const sidecar: Sidecar | undefined = fs.existsSync(sidecarPath) ? parseSidecar(fs.readFileSync(sidecarPath, 'utf8'), sidecarPath) : undefined;
  const metadata: Record<string, string> = {};
  for (const p of explainer.graph.model.metadataProps) if (p.key) metadata[p.key] = p.value ?? '';
  const preprocessing = choosePreprocessing(explainer.input, { flag: flags.preset, sidecar, metadata });
  const size = flags.inputSize ?? sidecar?.inputSize;
  if (size !== undefined) {
    const [h, w] = typeof size === 'number' ? [size, size] : size;
    if ((explainer.input.height && explainer.input.height !== h) || (explainer.input.width && explainer.input.width !== w)) {
      throw new LookCloserError('bad-argument', `The model's input is fixed at ${explainer.input.height}×${explainer.input.width}; it cannot take ${h}×${w}.`);
    }
    explainer.inputSize = { height: h, width: w };
  }
  const classes = await explainer.numClasses();
  let labels: readonly string[] | undefined;
  let labelsSource: string;
  if (flags.labels) [labels, labelsSource] = [readLabels(flags.labels), `flag: ${flags.labels}`];
  else if (sidecar?.labels) {
    const p = path.resolve(path.dirname(sidecarPath), sidecar.labels);
    [labels, labelsSource] = [readLabels(p), `sidecar: ${p}`];
  } else ({ labels, source: labelsSource } = guessLabels(classes, explainer.input.channels));
  if (labels && labels.length !== classes) {
    throw new LookCloserError('bad-argument', `Labels (${labelsSource}) list ${labels.length} classes but the model scores ${classes}.`);
  }
  const spec: ModelInputSpec = { ...explainer.inputSize, channels: explainer.input.channels, layout: explainer.input.layout };
  return { path: modelPath, explainer, preprocessing, labels, labelsSource, spec, sidecar };
}

/** An input ready to run: the tensor plus the picture and region to draw overlays on. */
export interface LoadedInput {
  readonly path: string;
  readonly tensor: Float32Tensor;
  /** The image overlays are drawn on: the region the model saw, at up to 640 px on its longer side. */
  readonly base: RgbaImage;
  readonly crop?: CropBox;
  /** The decoded original image (absent for .npy tensors); attention crops are cut from it. */
  readonly image?: RgbaImage;
}

const MAX_BASE_SIDE = 640;


/** Reads an image (decoded and preprocessed) or a .npy tensor (fed as is). */
export async function loadInput(model: LoadedModel, inputPath: string): Promise<LoadedInput> {
  if (inputPath.toLowerCase().endsWith('.npy')) {
    const { data, shape } = decodeNpy(new Uint8Array(readFileOr(inputPath, 'input tensor')));
    const dims = shape.length === 3 ? [1, ...shape] : shape;
    const want = model.explainer.inputDims;
    if (dims.length !== 4 || dims.some((d, i) => d !== want[i])) {
      throw new LookCloserError('bad-input', `'${inputPath}' holds a tensor of shape [${shape.join(', ')}]; the model input is [${want.join(', ')}]. Save it with that shape (float32).`);
    }
    const tensor = float32(data, dims);
    return { path: inputPath, tensor, base: tensorToView(tensor, model.preprocessing.preprocessing, model.spec) };
  }
  const img = await decodeImageFile(inputPath);
  const pre = preprocessImage(img, model.preprocessing.preprocessing, model.spec);
  return { path: inputPath, tensor: pre.tensor, base: cropAndFit(img, pre.crop, MAX_BASE_SIDE), crop: pre.crop, image: img };
}

/** Writes an explanation's .npy and overlay PNG; returns their paths. */
export async function writeExplanation(
  e: Explanation,
  input: LoadedInput,
  outDir: string,
  stem: string,
  opts: { colormap: string; alpha: number; channelOrder: 'rgb' | 'bgr' | 'gray' },
): Promise<{ npy: string; png: string }> {
  fs.mkdirSync(outDir, { recursive: true });
  const base = `${stem}_${e.method}_c${e.classIndex}`;
  const npy = path.join(outDir, `${base}.npy`);
  const png = path.join(outDir, `${base}.png`);
  fs.writeFileSync(npy, encodeNpy(e.raw.data, e.raw.dims));
  let img: RgbaImage;
  if (e.display.kind === 'heatmap') {
    img = overlayHeatmap(input.base, e.display.map, e.display.width, e.display.height, { colormap: opts.colormap, alpha: opts.alpha });
  } else {
    const [c, h, w] = e.display.grad.dims;
    img = gradientToImage(e.display.grad.data, c, h, w, opts.channelOrder === 'bgr' ? 'bgr' : 'rgb');
  }
  fs.writeFileSync(png, await encodePng(img));
  return { npy, png };
}
