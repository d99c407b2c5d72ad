/** The data the application layer hands every front end: one type per concept, shared by the core, the CLI and the protocol. */
import type { GainJson } from '../metrics/gain';
import type { MetricValues } from '../metrics/registry';
import type { Prediction } from '../explainer';
import type { Preprocessing } from '../preprocess/presets';
import type { SettingSource } from '../model-config';

/** The preprocessing in effect and where it came from (`preprocessing` in --json, summaries and the panel). */
export interface PreprocessingInfo extends Preprocessing {
  readonly source: SettingSource;
  readonly reason: string;
  readonly inputSize: { readonly height: number; readonly width: number };
  readonly layout: 'NCHW' | 'NHWC';
}

/** The metrics measured for one output: GAIN's score drop and the faithfulness metrics of src/core/metrics/registry.ts. */
export interface OutputMetrics extends MetricValues {
  readonly gain?: GainJson;
}

/**
 * One explanation of one class as a row: `outputs[]` of --json and of the batch summary. `F` is how its files
 * are given: paths (the CLI and summaries) or bytes (the folder view hands them to the host to write).
 */
export interface OutputRow<F = string> {
  readonly method: string;
  readonly class: number;
  readonly label: string;
  readonly layer: string | null;
  readonly shape: readonly number[];
  /** Range of the raw map (the .npy values). */
  readonly min: number;
  readonly max: number;
  /** The overlay (or gradient image), PNG. */
  readonly png: F;
  /** The raw map, .npy (float32). */
  readonly npy: F;
  readonly gain?: GainJson;
  /** The faithfulness metrics asked for (--metrics), curves included. */
  readonly metrics?: MetricValues;
}

/** One image of a batch run. */
export interface BatchImageRow<F = string> {
  /** The input file as given. */
  readonly input: string;
  /** The picture the model saw (the preprocessing crop; a rendering of the tensor for .npy inputs); null when the input could not be read. */
  readonly view: F | null;
  readonly predictions: readonly Prediction[];
  readonly outputs: readonly OutputRow<F>[];
  /** Milliseconds spent on this image. */
  readonly ms: number;
  /** Why the image could not be explained; it then has no outputs. */
  readonly error?: string;
}
