/**
 * The benchmark's measuring loop, shared by Node and the browser page: forward passes and every registered
 * method, end to end through the public API, timed as medians of repeated runs after warm-up.
 *
 * Each method run is paired with a forward pass run right before it, and its ratio to one forward pass is
 * the median of those pairs' ratios, so that load from other processes on a small machine shifts both
 * sides of a ratio alike. Nothing here imports Node or DOM APIs.
 */
import type { Classifier } from '../src/core/app/classifier';
import { ExplainSettings, PreparedInput, explainImage, measureFaithfulness } from '../src/core/app/explain-image';
import { METRICS, MetricId } from '../src/core/metrics/registry';
import type { Method } from '../src/core/methods/method';

/** One measured line of the table. */
export interface BenchRow {
  /** 'forward', or a method id with its class count, e.g. 'gradcam' or 'gradcam ×5'. */
  readonly id: string;
  readonly method?: string;
  readonly classes?: number;
  readonly status: 'ok' | 'n/a' | 'error';
  /** First call: builds and loads whatever the method caches (backward graph, probe), in ms. */
  readonly firstMs?: number;
  readonly medianMs?: number;
  readonly minMs?: number;
  /** Median over runs of (this run's time / the paired forward pass's time). */
  readonly ratio?: number;
  /** Fastest run / fastest paired forward pass: the least disturbed runs, when other processes load the machine. */
  readonly minRatio?: number;
  /** Median process CPU time of a run (Node only), and the median ratio to the paired forward pass's CPU time. */
  readonly cpuMs?: number;
  readonly cpuRatio?: number;
  readonly reps?: number;
  /** Why a row is n/a or failed. */
  readonly note?: string;
}

/** How to measure. */
export interface MeasureOptions {
  readonly reps: number;
  readonly warmup: number;
  /** Stop repeating a row once it has run this long (s) and at least 3 times. */
  readonly maxSecondsPerRow: number;
  /** Method ids measured for the top 5 classes as well as for one. */
  readonly top5: readonly string[];
  /** Process CPU time in ms (Node's process.cpuUsage); CPU ratios are less sensitive to other processes than wall time. */
  readonly cpuMs?: () => number;
  /** Called before each timed pair, e.g. to collect garbage so that no collection lands inside a timing. */
  readonly beforeRun?: () => void;
  /** Called after each step, e.g. to sample memory. */
  readonly onStep?: (label: string) => void;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /**
   * Also time every faithfulness metric at its defaults on one map (Grad-CAM's, top class): row 'metrics (all)',
   * whose ratio is the metrics' batched forward work in forward passes (issue 12: at most 40 on ResNet-18).
   */
  readonly metrics?: boolean;
}

const now = () => performance.now();
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = now();
  await f();
  return now() - t;
}

/** Wall and CPU time of one run. */
async function timedBoth(f: () => Promise<unknown>, cpu: () => number): Promise<{ wall: number; cpu: number }> {
  const c = cpu();
  const wall = await timed(f);
  return { wall, cpu: cpu() - c };
}

/** Measures the forward pass and each method (once for 1 class, and for 5 where asked). */
export async function measureMethods(classifier: Classifier, input: PreparedInput, methods: readonly Method[], opts: MeasureOptions): Promise<BenchRow[]> {
  const log = opts.log ?? (() => undefined);
  const explainer = classifier.explainer;
  const forward = () => explainer.forward(input.tensor);
  await forward();
  for (let i = 0; i < opts.warmup; i++) await forward();
  const cpu = opts.cpuMs ?? (() => NaN);
  const fwd: number[] = [];
  const fwdCpu: number[] = [];
  for (let i = 0; i < opts.reps; i++) {
    opts.beforeRun?.();
    const r = await timedBoth(forward, cpu);
    fwd.push(r.wall);
    fwdCpu.push(r.cpu);
  }
  opts.onStep?.('forward');
  const fwdMedian = median(fwd);
  const rows: BenchRow[] = [{ id: 'forward', status: 'ok', medianMs: fwdMedian, minMs: Math.min(...fwd), ratio: 1, cpuMs: median(fwdCpu), cpuRatio: opts.cpuMs ? 1 : undefined, reps: fwd.length }];
  log(`forward ${fwdMedian.toFixed(1)} ms`);
  const classCount = await explainer.numClasses();

  for (const m of methods) {
    for (const k of opts.top5.includes(m.id) ? [1, 5] : [1]) {
      const id = k === 1 ? m.id : `${m.id} ×${k}`;
      if (k > classCount) continue;
      // End to end through the application layer, as every front end runs a method.
      const settings: ExplainSettings = { method: m.id, top: k, target: 'logit' };
      const run = () => explainImage(classifier, input, settings);
      let firstMs: number;
      try {
        firstMs = await timed(run);
      } catch (e) {
        const kind = (e as { kind?: string }).kind;
        const note = e instanceof Error ? e.message : String(e);
        rows.push({ id, method: m.id, classes: k, status: kind === 'method-not-applicable' || kind === 'unsupported-operator' ? 'n/a' : 'error', note });
        log(`${id}: ${kind ?? 'error'}: ${note}`);
        continue;
      }
      const start = now();
      // The first call already warmed up slow methods (occlusion runs hundreds of forward passes).
      for (let i = 0; i < opts.warmup && firstMs < (opts.maxSecondsPerRow * 1000) / 10; i++) await run();
      const times: number[] = [];
      const fwds: number[] = [];
      const ratios: number[] = [];
      const cpus: number[] = [];
      const cpuRatios: number[] = [];
      for (let i = 0; i < opts.reps; i++) {
        opts.beforeRun?.();
        const f = await timedBoth(forward, cpu);
        const r = await timedBoth(run, cpu);
        const t = r.wall;
        times.push(t);
        fwds.push(f.wall);
        ratios.push(t / f.wall);
        cpus.push(r.cpu);
        cpuRatios.push(r.cpu / f.cpu);
        if (i >= 2 && (now() - start) / 1000 > opts.maxSecondsPerRow) break;
      }
      opts.onStep?.(id);
      const row: BenchRow = { id, method: m.id, classes: k, status: 'ok', firstMs, medianMs: median(times), minMs: Math.min(...times), ratio: median(ratios), minRatio: Math.min(...times) / Math.min(...fwds),
        cpuMs: median(cpus), cpuRatio: median(cpuRatios), reps: times.length };
      rows.push(row);
      log(`${id} ${row.medianMs!.toFixed(1)} ms (${row.ratio!.toFixed(2)}× forward, first call ${firstMs.toFixed(0)} ms)`);
    }
  }
  if (opts.metrics) {
    rows.push(await measureMetricsRow(classifier, input, opts, forward, cpu, log));
    // Each metric alone (rows 'metric: ID'), to see which one the time goes to.
    for (const m of METRICS) if (m.passes > 0) rows.push(await measureMetricsRow(classifier, input, opts, forward, cpu, log, [m.id]));
  }
  return rows;
}

/** Every metric of one map at its defaults (src/core/metrics/registry.ts), paired with forward passes like a method. */
async function measureMetricsRow(
  classifier: Classifier, input: PreparedInput, opts: MeasureOptions, forward: () => Promise<unknown>, cpu: () => number, log: (line: string) => void,
  only?: readonly MetricId[],
): Promise<BenchRow> {
  const id = only ? `metric: ${only.join(', ')}` : 'metrics (all)';
  const ids = only ?? METRICS.map((m) => m.id);
  const passes = METRICS.filter((m) => ids.includes(m.id)).reduce((a, m) => a + m.passes, 0);
  let run: () => Promise<unknown>;
  let firstMs: number;
  try {
    const r = await explainImage(classifier, input, { method: 'gradcam', top: 1, target: 'logit' });
    const e = r.outputs[0].explanation;
    run = () => measureFaithfulness(classifier, input, e, r.forward, { ids });
    firstMs = await timed(run);
  } catch (e) {
    const note = e instanceof Error ? e.message : String(e);
    log(`${id}: ${note}`);
    return { id, status: 'error', note };
  }
  const times: number[] = [];
  const fwds: number[] = [];
  const ratios: number[] = [];
  const cpus: number[] = [];
  const cpuRatios: number[] = [];
  const start = now();
  for (let i = 0; i < opts.reps; i++) {
    opts.beforeRun?.();
    const f = await timedBoth(forward, cpu);
    const r = await timedBoth(run, cpu);
    times.push(r.wall);
    fwds.push(f.wall);
    ratios.push(r.wall / f.wall);
    cpus.push(r.cpu);
    cpuRatios.push(r.cpu / f.cpu);
    if (i >= 2 && (now() - start) / 1000 > opts.maxSecondsPerRow) break;
  }
  opts.onStep?.(id);
  const row: BenchRow = {
    id, status: 'ok', firstMs, medianMs: median(times), minMs: Math.min(...times), ratio: median(ratios), minRatio: Math.min(...times) / Math.min(...fwds),
    cpuMs: median(cpus), cpuRatio: median(cpuRatios), reps: times.length, note: `${ids.join(', ')} of Grad-CAM's map; the registry counts ${passes} forward passes`,
  };
  log(`${id} ${row.medianMs!.toFixed(1)} ms (${row.ratio!.toFixed(2)}× forward; registry: ${passes} passes)`);
  return row;
}
