/** The batch summary (`summary.json`, format 'look-closer-batch' v1), built the same way by the CLI's batch mode and Explain Folder. */
import { BatchSummary, MetricSummaryRow, metricSummary } from '../batch-report';
import type { ScoreTarget } from '../methods/method';
import type { BatchImageRow, PreprocessingInfo } from './types';

/** What a batch run was and how long it took. */
export interface BatchRun {
  readonly model: string;
  readonly backend: string;
  readonly folder: string;
  readonly methods: readonly string[];
  readonly layer: string | null;
  readonly target: ScoreTarget;
  /** Explicit classes, or null when each image's top K were explained. */
  readonly classes: readonly number[] | null;
  readonly top: number;
  readonly preprocessing: PreprocessingInfo;
  readonly batchSize: number;
  readonly loadMs: number;
  readonly totalMs: number;
  /** Set when the run stopped part way: `images` then lists only the images that ran. */
  readonly cancelled?: boolean;
}

/** A method that did not apply to the model, and why; the other methods ran. */
export interface SkippedMethod {
  readonly method: string;
  readonly reason: string;
}

/** `metricSummary` when any output was measured with --metrics. */
function metricSummaryField(images: readonly BatchImageRow[], methods: readonly string[]): { metricSummary?: MetricSummaryRow[] } {
  const r = metricSummary(images, methods);
  return r.length ? { metricSummary: r } : {};
}

/** The summary of a batch run: counts, timings and the images in order. */
export function batchSummary(run: BatchRun, images: readonly BatchImageRow[], skipped: readonly SkippedMethod[] = []): BatchSummary {
  const n = images.length;
  const explained = images.filter((i) => !i.error).length;
  return {
    format: 'look-closer-batch', version: 1,
    model: run.model, backend: run.backend, folder: run.folder,
    methods: [...run.methods], layer: run.layer, target: run.target,
    classes: run.classes ? [...run.classes] : null, top: run.classes ? null : run.top,
    preprocessing: run.preprocessing, batchSize: run.batchSize,
    images, explained, failed: n - explained,
    timings: { load: run.loadMs, total: run.totalMs, perImage: run.totalMs / Math.max(1, n), imagesPerSecond: n / Math.max(run.totalMs / 1000, 1e-3) },
    report: 'index.html',
    ...(skipped.length ? { skipped } : {}),
    ...(run.cancelled ? { cancelled: true } : {}),
    ...metricSummaryField(images, run.methods),
  };
}
