/**
 * The configs that models ship with: Hugging Face's `config.json` (`id2label`) and `preprocessor_config.json`
 * (image processors: `size`, `crop_size`/`crop_pct`, `do_center_crop`, `resample`, `rescale_factor`,
 * `image_mean`, `image_std`), and timm's `config.json` (`pretrained_cfg`: `input_size`, `crop_pct`,
 * `interpolation`, `mean`, `std`, and `label_names`). They give a model its preprocessing and labels when no
 * flag or sidecar does. Pure: front ends read the files.
 */
import { LookCloserError } from './errors';
import type { Preprocessing } from './preprocess/presets';

/** A config file's text and name. */
export interface ConfigFile {
  readonly text: string;
  readonly name: string;
}

/** The config files found next to a model. */
export interface ModelConfigs {
  /** `config.json` (Hugging Face or timm). */
  readonly config?: ConfigFile;
  /** `preprocessor_config.json` (Hugging Face image processors). */
  readonly preprocessor?: ConfigFile;
}

/** What the configs say. */
export interface ConfigSettings {
  readonly preprocessing?: { readonly preprocessing: Preprocessing; readonly inputSize: readonly [number, number]; readonly reason: string; readonly source: 'hf-config' | 'timm-config' };
  readonly labels?: { readonly labels: string[]; readonly source: string };
}

type Json = Record<string, unknown>;

function parse(f: ConfigFile): Json {
  let v: unknown;
  try {
    v = JSON.parse(f.text);
  } catch (e) {
    throw new LookCloserError('bad-argument', `'${f.name}' is not valid JSON (${e instanceof Error ? e.message : e}); fix or remove it.`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LookCloserError('bad-argument', `'${f.name}' must hold a JSON object.`);
  return v as Json;
}

const own = (o: Json, k: string): unknown => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
const isSide = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 2 && v <= 4096;

function numbers(v: unknown, f: ConfigFile, field: string, positive: boolean): number[] | undefined {
  if (v === undefined) return undefined;
  const ok = Array.isArray(v) && (v.length === 1 || v.length === 3) && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (!ok) throw new LookCloserError('bad-argument', `'${f.name}': "${field}" must be 1 or 3 ${positive ? 'positive ' : ''}numbers, got ${JSON.stringify(v)?.slice(0, 60)}.`);
  return v as number[];
}

/** A size field: an int, {height, width}, or {shortest_edge}; returns [h, w] or the shortest edge. */
function sizeOf(v: unknown, f: ConfigFile, field: string): { hw?: [number, number]; shortest?: number } | undefined {
  if (v === undefined) return undefined;
  if (isSide(v)) return { hw: [v, v], shortest: v };
  if (typeof v === 'object' && v !== null) {
    const o = v as Json;
    const [h, w, s] = [own(o, 'height'), own(o, 'width'), own(o, 'shortest_edge')];
    if (isSide(h) && isSide(w)) return { hw: [h, w] };
    if (isSide(s)) return { shortest: s };
  }
  throw new LookCloserError('bad-argument', `'${f.name}': "${field}" must be a side in pixels, {"height", "width"} or {"shortest_edge"}, got ${JSON.stringify(v)?.slice(0, 60)}.`);
}

/** Pillow's resample codes as image processors store them; only bilinear is exact here. */
const RESAMPLE: Readonly<Record<number, string>> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

function filterNote(name: string | undefined): string {
  return !name || name === 'bilinear' ? '' : `; its ${name} resampling is approximated by Pillow's bilinear`;
}

/** Preprocessing from a Hugging Face image processor config. */
function fromHfProcessor(f: ConfigFile): ConfigSettings['preprocessing'] {
  const o = parse(f);
  const kind = String(own(o, 'image_processor_type') ?? own(o, 'feature_extractor_type') ?? 'image processor');
  const size = sizeOf(own(o, 'size'), f, 'size');
  const crop = sizeOf(own(o, 'crop_size'), f, 'crop_size');
  const cropPct = own(o, 'crop_pct');
  const doCrop = own(o, 'do_center_crop') === true;
  const rescale = own(o, 'do_rescale') === false ? 1 : own(o, 'rescale_factor') ?? 1 / 255;
  if (!(typeof rescale === 'number' && rescale > 0 && Number.isFinite(rescale))) throw new LookCloserError('bad-argument', `'${f.name}': "rescale_factor" must be a positive number.`);
  const normalize = own(o, 'do_normalize') !== false;
  const mean = (normalize && numbers(own(o, 'image_mean'), f, 'image_mean', false)) || [0];
  const std = (normalize && numbers(own(o, 'image_std'), f, 'image_std', true)) || [1];
  const resample = RESAMPLE[Number(own(o, 'resample') ?? 2)];
  let p: Pick<Preprocessing, 'resize' | 'resizeShorter'>;
  let hw: [number, number];
  if (typeof cropPct === 'number' && cropPct > 0 && cropPct <= 1 && size?.shortest) {
    // ConvNeXt-style: shortest edge to shortest/crop_pct, then a centre crop of shortest_edge.
    hw = [size.shortest, size.shortest];
    p = { resize: 'center-crop', resizeShorter: Math.trunc(size.shortest / cropPct) };
  } else if (doCrop && crop?.hw) {
    hw = crop.hw;
    const shorter = size?.shortest ?? (size?.hw ? Math.min(...size.hw) : undefined);
    p = { resize: 'center-crop', ...(shorter ? { resizeShorter: shorter } : {}) };
  } else if (size?.hw) {
    hw = size.hw;
    p = { resize: 'squash' };
  } else if (size?.shortest) {
    hw = [size.shortest, size.shortest];
    p = { resize: 'squash' };
  } else {
    throw new LookCloserError('bad-argument', `'${f.name}' gives no image size ("size" or "crop_size"); Look Closer cannot tell what the model takes.`);
  }
  const preprocessing: Preprocessing = { name: `${kind} (preprocessor_config.json)`, ...p, channels: 'rgb', scale: rescale, mean, std };
  return { preprocessing, inputSize: hw, source: 'hf-config', reason: `${f.name}: ${kind}, ${hw[0]}×${hw[1]}${filterNote(resample)}` };
}

/** Preprocessing from a timm config (`pretrained_cfg`, or its fields at the top level). */
function fromTimm(o: Json, f: ConfigFile): ConfigSettings['preprocessing'] {
  const cfg = (own(o, 'pretrained_cfg') as Json | undefined) ?? o;
  const input = own(cfg, 'input_size');
  if (!(Array.isArray(input) && input.length === 3 && isSide(input[1]) && isSide(input[2]))) return undefined;
  const [, h, w] = input as number[];
  const mean = numbers(own(cfg, 'mean'), f, 'mean', false) ?? [0.485, 0.456, 0.406];
  const std = numbers(own(cfg, 'std'), f, 'std', true) ?? [0.229, 0.224, 0.225];
  const cropPct = own(cfg, 'crop_pct');
  const pct = typeof cropPct === 'number' && cropPct > 0 && cropPct <= 1 ? cropPct : 0.875;
  const interpolation = typeof own(cfg, 'interpolation') === 'string' ? String(own(cfg, 'interpolation')) : 'bilinear';
  const preprocessing: Preprocessing = {
    name: `timm ${String(own(o, 'architecture') ?? '')}`.trim(), resize: 'center-crop', resizeShorter: Math.floor(Math.min(h, w) / pct),
    channels: 'rgb', scale: 1 / 255, mean, std,
  };
  return { preprocessing, inputSize: [h, w], source: 'timm-config', reason: `${f.name}: timm pretrained_cfg, ${h}×${w}, crop_pct ${pct}${filterNote(interpolation)}` };
}

/** Labels from `id2label` (Hugging Face) or `label_names` (timm). */
function labelsFrom(o: Json, f: ConfigFile): ConfigSettings['labels'] {
  const names = own(o, 'label_names');
  if (Array.isArray(names) && names.length) return { labels: names.map(String), source: `${f.name} label_names` };
  const id2label = own(o, 'id2label');
  if (typeof id2label !== 'object' || id2label === null) return undefined;
  const entries = Object.entries(id2label as Json).map(([k, v]) => [Number(k), String(v)] as const);
  if (!entries.length || entries.some(([k]) => !Number.isInteger(k) || k < 0 || k > 1e6)) {
    throw new LookCloserError('bad-argument', `'${f.name}': "id2label" must map class indices ("0", "1", …) to names.`);
  }
  const n = Math.max(...entries.map(([k]) => k)) + 1;
  const labels = Array.from({ length: n }, (_, i) => `class ${i}`);
  for (const [k, v] of entries) labels[k] = v;
  // A config whose labels are the placeholders LABEL_0, LABEL_1, … names nothing.
  if (labels.every((l, i) => l === `LABEL_${i}`)) return undefined;
  return { labels, source: `${f.name} id2label` };
}

/** What a model's config files say about its preprocessing and labels. */
export function readModelConfigs(c: ModelConfigs): ConfigSettings {
  // A config.json that is not a model config (a project's own settings file) is no error: it just says nothing.
  let config: Json | undefined;
  try {
    config = c.config ? parse(c.config) : undefined;
  } catch {
    config = undefined;
  }
  const preprocessing = c.preprocessor ? fromHfProcessor(c.preprocessor) : config && c.config ? fromTimm(config, c.config) : undefined;
  const labels = config && c.config ? labelsFrom(config, c.config) : undefined;
  return { ...(preprocessing ? { preprocessing } : {}), ...(labels ? { labels } : {}) };
}
