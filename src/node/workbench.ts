/** Node-side loading shared by the CLI and the benchmark: model files, sidecars, labels, inputs, and written outputs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Classifier, ModelSource, TextFile, sidecarLabels } from '../core/app/classifier';
import { PreparedInput, prepareImage, prepareTensor } from '../core/app/explain-image';
import type { Explanation } from '../core/methods/method';
import { LookCloserError } from '../core/errors';
import { decodeNpy, encodeNpy } from '../core/npy';
import type { RgbaImage } from '../core/preprocess/image';
import { gradientToImage, overlayHeatmap } from '../core/render/overlay';
import type { Runtime } from '../core/runtime';
import { float32 } from '../core/tensor';
import { FileKind, makeOutputDir, readUserFile, writeOutput } from './files';
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

/** A model loaded with everything needed to explain images (the core's Classifier; `path` is the file as given). */
export type LoadedModel = Classifier;

function textFile(p: string, what: FileKind): TextFile {
  return { text: readUserFile(p, what).toString('utf8'), name: path.basename(p) };
}

/** The bundled label sets (ImageNet-1k, digits), read when a model's class count calls for them. */
function bundledLabels(kind: 'imagenet' | 'digits'): TextFile {
  return textFile(path.join(ASSETS_DIR, 'labels', kind === 'imagenet' ? 'imagenet-simple-labels.json' : 'mnist_labels.txt'), 'labels file');
}

/** Loads a model file with its sidecar, preprocessing and labels (src/core/app/classifier.ts does the checks). */
export async function loadModel(
  runtime: Runtime,
  modelPath: string,
  flags: { preset?: string; labels?: string; inputSize?: number } = {},
): Promise<LoadedModel> {
  const bytes = readUserFile(modelPath, 'model');
  const sidecarPath = `${modelPath}.json`;
  const sidecar = fs.existsSync(sidecarPath) ? textFile(sidecarPath, 'sidecar') : undefined;
  let labels: ModelSource['labels'];
  if (flags.labels) labels = { ...textFile(flags.labels, 'labels file'), origin: 'flag' };
  else {
    const named = sidecarLabels(sidecar);
    if (named) labels = { ...textFile(path.resolve(path.dirname(sidecarPath), named), 'labels file'), origin: 'sidecar' };
  }
  // Hugging Face and timm exports ship config.json / preprocessor_config.json beside the model.
  const beside = (name: string) => {
    const p = path.join(path.dirname(modelPath), name);
    return fs.existsSync(p) ? textFile(p, 'model config') : undefined;
  };
  const configs = { config: beside('config.json'), preprocessor: beside('preprocessor_config.json') };
  return Classifier.load(runtime, {
    path: modelPath, name: path.basename(modelPath), bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    sidecar, labels, preset: flags.preset, inputSize: flags.inputSize, bundledLabels, configs,
  });
}

/** An input ready to run, and the file it came from. */
export type LoadedInput = PreparedInput & { readonly path: string };

/** Reads an image (decoded and preprocessed) or a .npy tensor (fed as is). */
export async function loadInput(model: LoadedModel, inputPath: string): Promise<LoadedInput> {
  if (inputPath.toLowerCase().endsWith('.npy')) {
    let npy: ReturnType<typeof decodeNpy>;
    try {
      npy = decodeNpy(new Uint8Array(readUserFile(inputPath, 'input tensor')));
    } catch (e) {
      // decodeNpy does not know the file; say which one.
      if (e instanceof LookCloserError) throw new LookCloserError(e.kind, e.message.replace(/^Cannot read \.npy data: /, `Cannot read '${inputPath}' as .npy data: `), e);
      throw e;
    }
    const { data, shape } = npy;
    return { ...prepareTensor(model, float32(data, shape), inputPath), path: inputPath };
  }
  return { ...prepareImage(model, await decodeImageFile(inputPath)), path: inputPath };
}

/** Writes an explanation's .npy and overlay PNG; returns their paths. */
export async function writeExplanation(
  e: Explanation,
  input: LoadedInput,
  outDir: string,
  stem: string,
  opts: { colormap: string; alpha: number; channelOrder: 'rgb' | 'bgr' | 'gray' },
): Promise<{ npy: string; png: string }> {
  makeOutputDir(outDir);
  const base = `${stem}_${e.method}_c${e.classIndex}`;
  const npy = path.join(outDir, `${base}.npy`);
  const png = path.join(outDir, `${base}.png`);
  await writeOutput(npy, encodeNpy(e.raw.data, e.raw.dims));
  let img: RgbaImage;
  if (e.display.kind === 'heatmap') {
    img = overlayHeatmap(input.base, e.display.map, e.display.width, e.display.height, { colormap: opts.colormap, alpha: opts.alpha });
  } else {
    const [c, h, w] = e.display.grad.dims;
    img = gradientToImage(e.display.grad.data, c, h, w, opts.channelOrder === 'bgr' ? 'bgr' : 'rgb');
  }
  await writeOutput(png, await encodePng(img));
  return { npy, png };
}
