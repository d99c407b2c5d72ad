/** Named input normalisations of common training pipelines, and how a sidecar overrides them. */

import { LookCloserError, didYouMean } from '../errors';

/** How an image becomes a model input: geometry, channel order and per-channel normalisation. */
export interface Preprocessing {
  readonly name: string;
  /** 'squash' resizes straight to the input size; 'center-crop' scales the shorter side, then crops the middle. */
  readonly resize: 'squash' | 'center-crop';
  /** Shorter side before a center crop (256 for a 224 input); absent means round(size * 256 / 224). */
  readonly resizeShorter?: number;
  readonly channels: 'rgb' | 'bgr' | 'gray';
  /**
   * Resampling filter: 'pil' is Pillow's antialiased BILINEAR (torchvision's PIL path, the default);
   * 'bilinear' is plain half-pixel bilinear without antialiasing (OpenCV INTER_LINEAR, Caffe-era pipelines).
   */
  readonly interpolation?: 'pil' | 'bilinear';
  /** Multiplies the 0–255 pixel values before mean and std apply. */
  readonly scale: number;
  /** Per-channel mean in the tensor's channel order (B, G, R for 'bgr'); one value applies to every channel. */
  readonly mean: readonly number[];
  /** Per-channel standard deviation in the tensor's channel order; one value applies to every channel. */
  readonly std: readonly number[];
}

/** A partial preprocessing as a JSON sidecar or a CLI flag gives it: a base preset plus overrides. */
export interface PreprocessingOverride {
  readonly preset?: string;
  readonly name?: string;
  readonly resize?: Preprocessing['resize'];
  readonly resizeShorter?: number;
  readonly channels?: Preprocessing['channels'];
  readonly interpolation?: Preprocessing['interpolation'];
  readonly scale?: number;
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

/** The preset used when a sidecar gives overrides without naming a base preset. */
export const DEFAULT_PRESET = 'unit';

/** The built-in presets by name. */
export const PRESETS: Readonly<Record<string, Preprocessing>> = {
  torchvision: {
    name: 'torchvision',
    resize: 'center-crop',
    channels: 'rgb',
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  },
  'caffe-bgr': { name: 'caffe-bgr', resize: 'squash', channels: 'bgr', interpolation: 'bilinear', scale: 1, mean: [104, 117, 123], std: [1, 1, 1] },
  mnist: { name: 'mnist', resize: 'squash', channels: 'gray', scale: 1 / 255, mean: [0], std: [1] },
  'mnist-normalized': {
    name: 'mnist-normalized',
    resize: 'squash',
    channels: 'gray',
    scale: 1 / 255,
    mean: [0.1307],
    std: [0.3081],
  },
  unit: { name: 'unit', resize: 'squash', channels: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  symmetric: { name: 'symmetric', resize: 'squash', channels: 'rgb', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  inception: {
    name: 'inception',
    resize: 'center-crop',
    channels: 'rgb',
    scale: 1 / 255,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
  },
};

const RESIZES: readonly string[] = ['squash', 'center-crop'];
const CHANNELS: readonly string[] = ['rgb', 'bgr', 'gray'];

function presetByName(name: string): Preprocessing {
  const p = Object.prototype.hasOwnProperty.call(PRESETS, name) ? PRESETS[name] : undefined;
  if (!p) {
    throw new LookCloserError(
      'bad-argument',
      `Unknown preprocessing preset '${name}'. Valid presets: ${Object.keys(PRESETS).join(', ')}.`,
    );
  }
  return p;
}

/** Largest magnitude accepted for scale, mean and std: beyond it a 0–255 pixel overflows float32 arithmetic or rounds away. */
const MAX_MAGNITUDE = 1e6;

function checkNumbers(field: string, v: unknown, positive: boolean): readonly number[] {
  const ok =
    Array.isArray(v) &&
    (v.length === 1 || v.length === 3) &&
    v.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_MAGNITUDE && (!positive || x > 0));
  if (!ok) {
    const what = positive ? `positive numbers up to ${MAX_MAGNITUDE}` : `finite numbers between −${MAX_MAGNITUDE} and ${MAX_MAGNITUDE}`;
    throw new LookCloserError('bad-argument', `Preprocessing '${field}' must be a list of 1 or 3 ${what}, got ${JSON.stringify(v)}.`);
  }
  return v as number[];
}

/** The fields a preprocessing override may set. */
/** The largest shorter side an image is resized to before the center crop (the input-size cap's order). */
const MAX_RESIZE_SHORTER = 4096;

const OVERRIDE_KEYS: readonly string[] = ['preset', 'name', 'resize', 'resizeShorter', 'channels', 'interpolation', 'scale', 'mean', 'std'];

function checkOverride(o: PreprocessingOverride): void {
  for (const k of Object.keys(o)) {
    if (!OVERRIDE_KEYS.includes(k)) throw new LookCloserError('bad-argument', `Preprocessing has an unknown field '${k}'${didYouMean(k, OVERRIDE_KEYS)}. Fields: ${OVERRIDE_KEYS.join(', ')}.`);
  }
  if (o.name !== undefined && typeof o.name !== 'string') throw new LookCloserError('bad-argument', `Preprocessing 'name' must be a string, got ${JSON.stringify(o.name)}.`);
  if (o.resize !== undefined && !RESIZES.includes(o.resize)) {
    throw new LookCloserError('bad-argument', `Preprocessing 'resize' must be one of ${RESIZES.join(', ')}, got ${JSON.stringify(o.resize)}.`);
  }
  if (o.interpolation !== undefined && o.interpolation !== 'pil' && o.interpolation !== 'bilinear') {
    throw new LookCloserError('bad-argument', `Preprocessing 'interpolation' must be 'pil' or 'bilinear', got ${JSON.stringify(o.interpolation)}.`);
  }
  if (o.channels !== undefined && !CHANNELS.includes(o.channels)) {
    throw new LookCloserError('bad-argument', `Preprocessing 'channels' must be one of ${CHANNELS.join(', ')}, got ${JSON.stringify(o.channels)}.`);
  }
  if (o.scale !== undefined && !(typeof o.scale === 'number' && o.scale > 0 && o.scale <= MAX_MAGNITUDE)) {
    throw new LookCloserError('bad-argument', `Preprocessing 'scale' must be a positive number up to ${MAX_MAGNITUDE}, got ${JSON.stringify(o.scale)}.`);
  }
  // The image is resized to this shorter side before the crop: past 4,096 pixels that alone takes gigabytes.
  if (o.resizeShorter !== undefined && !(Number.isInteger(o.resizeShorter) && o.resizeShorter >= 1 && o.resizeShorter <= MAX_RESIZE_SHORTER)) {
    throw new LookCloserError('bad-argument', `Preprocessing 'resizeShorter' must be a whole number from 1 to ${MAX_RESIZE_SHORTER}, got ${JSON.stringify(o.resizeShorter)}.`);
  }
  if (o.mean !== undefined) checkNumbers('mean', o.mean, false);
  if (o.std !== undefined) checkNumbers('std', o.std, true);
}

/** Returns the full preprocessing for a preset name or a sidecar's partial override of one. */
export function resolvePreset(nameOrPartial: string | PreprocessingOverride): Preprocessing {
  if (typeof nameOrPartial === 'string') return presetByName(nameOrPartial);
  if (typeof nameOrPartial !== 'object' || nameOrPartial === null || Array.isArray(nameOrPartial)) {
    throw new LookCloserError('bad-argument', `Preprocessing must be a preset name or an object, got ${JSON.stringify(nameOrPartial)}.`);
  }
  const o = nameOrPartial;
  if (o.preset !== undefined && typeof o.preset !== 'string') {
    throw new LookCloserError('bad-argument', `Preprocessing 'preset' must be a name, got ${JSON.stringify(o.preset)}.`);
  }
  checkOverride(o);
  const base = presetByName(o.preset ?? DEFAULT_PRESET);
  const overridden =
    o.resize !== undefined ||
    o.resizeShorter !== undefined ||
    o.channels !== undefined ||
    o.interpolation !== undefined ||
    o.scale !== undefined ||
    o.mean !== undefined ||
    o.std !== undefined;
  const name = typeof o.name === 'string' ? o.name : overridden ? `custom (based on '${base.name}')` : base.name;
  const out: Preprocessing = {
    name,
    resize: o.resize ?? base.resize,
    channels: o.channels ?? base.channels,
    ...((o.interpolation ?? base.interpolation) ? { interpolation: o.interpolation ?? base.interpolation } : {}),
    scale: o.scale ?? base.scale,
    mean: [...(o.mean ?? base.mean)],
    std: [...(o.std ?? base.std)],
  };
  const shorter = o.resizeShorter ?? base.resizeShorter;
  return shorter === undefined ? out : { ...out, resizeShorter: shorter };
}

/** Mean and std for tensor channel c, broadcasting one-value lists. */
export function channelNorm(p: Preprocessing, c: number): { mean: number; std: number } {
  const mean = p.mean.length === 1 ? p.mean[0] : p.mean[c];
  const std = p.std.length === 1 ? p.std[0] : p.std[c];
  if (mean === undefined || std === undefined) {
    throw new LookCloserError('bad-argument', `Preprocessing '${p.name}' has no mean/std for channel ${c}.`);
  }
  return { mean, std };
}
