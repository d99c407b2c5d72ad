/** Which preprocessing and labels a model gets: from flags, a sidecar `<model>.onnx.json`, or a guess from the model itself. */
import { LookCloserError, didYouMean } from './errors';
import type { ConfigSettings } from './model-configs';
import type { ImageInput } from './model-info';
import type { OptionValues } from './methods/options';
import { Preprocessing, PreprocessingOverride, resolvePreset } from './preprocess/presets';
import { gridValue } from './token-layout';

/** The sidecar file's schema (`<model>.onnx.json`). */
export interface Sidecar {
  /** A preset name or a preset plus overrides. */
  readonly preset?: string | PreprocessingOverride;
  readonly preprocessing?: PreprocessingOverride;
  /** Labels file path, relative to the sidecar. */
  readonly labels?: string;
  /** Input size for models with dynamic spatial dims. */
  readonly inputSize?: number | readonly [number, number];
  /** The patch grid of token-tensor layers ([1, N, C]) where the graph does not tell it: [height, width] or "HxW". */
  readonly tokenGrid?: readonly [number, number] | string;
  /**
   * Per-method settings for this model, by method id and option name (see `Method.options`), e.g.
   * {"attention-crop": {"proposal": "apn_box", "proposal-units": "fraction"}}; command-line flags override them.
   */
  readonly methodOptions?: Readonly<Record<string, OptionValues>>;
}

/** Where a setting came from, reported in --json output and shown in the panel. */
export type SettingSource = 'flag' | 'sidecar' | 'hf-config' | 'timm-config' | 'model-metadata' | 'guessed';

/** The preprocessing chosen for a model, and why. */
export interface ChosenPreprocessing {
  readonly preprocessing: Preprocessing;
  readonly source: SettingSource;
  readonly reason: string;
}

/** The deepest nesting a sidecar may have (its schema needs 4: methodOptions → method → option). */
const MAX_SIDECAR_DEPTH = 16;

/** How deeply a JSON value nests objects and lists, counted with an explicit stack up to `limit` + 1. */
function nestingDepth(v: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    max = Math.max(max, d);
    if (max > limit) return max;
    for (const child of Object.values(x)) stack.push([child, d + 1]);
  }
  return max;
}

/** Parses a sidecar's JSON text, naming the file on errors. */
export function parseSidecar(text: string, fileName: string): Sidecar {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new LookCloserError('bad-argument', `Sidecar '${fileName}' is not valid JSON (${e instanceof Error ? e.message : e}).`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new LookCloserError('bad-argument', `Sidecar '${fileName}' must hold a JSON object like {"preset": "torchvision", "labels": "labels.txt"}.`);
  }
  // Messages quote values with JSON.stringify, which recurses: refuse absurd nesting before anything reads it.
  const depth = nestingDepth(v, MAX_SIDECAR_DEPTH);
  if (depth > MAX_SIDECAR_DEPTH) {
    throw new LookCloserError('bad-argument', `Sidecar '${fileName}' nests objects or lists more than ${MAX_SIDECAR_DEPTH} levels deep; its fields need at most 4.`);
  }
  checkSidecar(v as Record<string, unknown>, fileName);
  return v as Sidecar;
}

/** The fields a sidecar may hold. */
export const SIDECAR_KEYS: readonly string[] = ['preset', 'preprocessing', 'labels', 'inputSize', 'tokenGrid', 'methodOptions'];

/** Checks a sidecar's fields: known keys only (with a did-you-mean), and the type of each; values are checked where they are used. */
function checkSidecar(o: Record<string, unknown>, fileName: string): void {
  const bad = (field: string, want: string) =>
    new LookCloserError('bad-argument', `Sidecar '${fileName}': "${field}" must be ${want}, got ${JSON.stringify(o[field])?.slice(0, 80)}.`);
  for (const k of Object.keys(o)) {
    if (!SIDECAR_KEYS.includes(k)) {
      throw new LookCloserError('bad-argument', `Sidecar '${fileName}' has an unknown field "${k}"${didYouMean(k, SIDECAR_KEYS)}. Fields: ${SIDECAR_KEYS.join(', ')}.`);
    }
  }
  const isObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (o.preset !== undefined && typeof o.preset !== 'string' && !isObject(o.preset)) throw bad('preset', 'a preset name or an object of preprocessing fields');
  if (o.preprocessing !== undefined && !isObject(o.preprocessing)) throw bad('preprocessing', 'an object of preprocessing fields');
  if (o.labels !== undefined && (typeof o.labels !== 'string' || !o.labels)) throw bad('labels', 'a labels file name');
  if (o.inputSize !== undefined && typeof o.inputSize !== 'number' && !(Array.isArray(o.inputSize) && o.inputSize.length === 2)) {
    throw bad('inputSize', 'a number of pixels or [height, width]');
  }
  if (o.tokenGrid !== undefined) gridValue(o.tokenGrid, `Sidecar '${fileName}': "tokenGrid"`);
  if (o.methodOptions !== undefined) {
    if (!isObject(o.methodOptions)) throw bad('methodOptions', 'an object keyed by method id');
    for (const [id, opts] of Object.entries(o.methodOptions as Record<string, unknown>)) {
      if (!isObject(opts)) throw new LookCloserError('bad-argument', `Sidecar '${fileName}': "methodOptions.${id}" must be an object of option values.`);
      for (const [name, value] of Object.entries(opts as Record<string, unknown>)) {
        if (!['string', 'number', 'boolean'].includes(typeof value)) {
          throw new LookCloserError('bad-argument', `Sidecar '${fileName}': "methodOptions.${id}.${name}" must be a string, number or boolean.`);
        }
      }
    }
  }
}

/** Chooses preprocessing: flag, then sidecar, then the model's shipped config (Hugging Face or timm), then model metadata (`look-closer.preset`), then a guess from the input. */
export function choosePreprocessing(
  input: ImageInput,
  opts: { flag?: string; sidecar?: Sidecar; metadata?: Readonly<Record<string, string>>; config?: ConfigSettings['preprocessing'] },
): ChosenPreprocessing {
  if (opts.flag) return { preprocessing: resolvePreset(opts.flag), source: 'flag', reason: `--preset ${opts.flag}` };
  const side = opts.sidecar?.preprocessing ?? opts.sidecar?.preset;
  if (side) return { preprocessing: resolvePreset(side), source: 'sidecar', reason: 'sidecar <model>.onnx.json' };
  if (opts.config) return { preprocessing: opts.config.preprocessing, source: opts.config.source, reason: opts.config.reason };
  const meta = opts.metadata?.['look-closer.preset'];
  if (meta) return { preprocessing: resolvePreset(meta), source: 'model-metadata', reason: "model metadata 'look-closer.preset'" };
  if (input.channels === 1) {
    return { preprocessing: resolvePreset('mnist'), source: 'guessed', reason: 'one-channel input: grayscale 0–1' };
  }
  if (input.name === 'data_0') {
    return { preprocessing: resolvePreset('caffe-bgr'), source: 'guessed', reason: "input named 'data_0' (Caffe2 model zoo convention: BGR, mean-subtracted 0–255)" };
  }
  return { preprocessing: resolvePreset('torchvision'), source: 'guessed', reason: 'three-channel input: ImageNet mean/std, 256→224 center crop (torchvision)' };
}

/** Parses a labels file: a JSON array of strings, or one label per line (synset lines "n01440764 tench, Tinca tinca" keep the name). */
export function parseLabels(text: string, fileName: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(trimmed);
    } catch (e) {
      throw new LookCloserError('bad-argument', `Labels file '${fileName}' looks like JSON but does not parse (${e instanceof Error ? e.message : e}).`);
    }
    if (!Array.isArray(v)) throw new LookCloserError('bad-argument', `Labels file '${fileName}' must be a JSON array of strings.`);
    const at = v.findIndex((x) => typeof x !== 'string' && typeof x !== 'number');
    if (at >= 0) {
      const what = v[at] === null ? 'null' : Array.isArray(v[at]) ? 'a list' : typeof v[at] === 'object' ? 'an object' : typeof v[at];
      throw new LookCloserError('bad-argument', `Labels file '${fileName}' must be a JSON array of strings; entry ${at} is ${what}.`);
    }
    return v.map(String);
  }
  return trimmed.split(/\r?\n/).map((l) => l.trim().replace(/^n\d{8}\s+/, ''));
}

/** Label of a class, or "class N" when no labels are known. */
export function labelOf(labels: readonly string[] | undefined, index: number): string {
  return labels?.[index] ?? `class ${index}`;
}
