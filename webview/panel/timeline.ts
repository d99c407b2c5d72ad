/**
 * The panel's start-up timeline: when each step of a model's first explanation ended, in ms after the click
 * that asked for it (the host's command), so the cold start can be read in the panel and by the e2e tier.
 * Clocks: the host sends the click as epoch ms; marks here are epoch ms too (same machine).
 */

/** The steps, in the order they happen. */
export const STEPS = ['panel', 'preview', 'runtime', 'received', 'session', 'layers', 'map', 'shown'] as const;

/** One step of the start-up. */
export type StartStep = (typeof STEPS)[number];

/** What each step means, for the tooltip. */
const MEANING: Record<StartStep, string> = {
  panel: 'panel page started',
  preview: "the extension host's first map shown (computed there while the panel loads the model)",
  runtime: 'onnxruntime ready in its worker',
  received: 'model and image reached the panel',
  session: 'forward session created',
  layers: 'layers probed',
  map: 'first map computed',
  shown: 'map shown (its GAIN and metrics follow)',
};

/** A finished or running timeline: ms after the click per step reached. */
export type Timeline = Partial<Record<StartStep, number>>;

/** When the panel's script began to run, ms after the page's start (the bundle evaluates this module first). */
export const SCRIPT_STARTED = typeof performance === 'undefined' ? 0 : performance.now();

/** Epoch ms now, on the page's clock. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Records one model load's timeline; marks before the click (a panel or runtime started earlier) count as 0. */
export class StartTimeline {
  private origin?: number;
  private marks: Timeline = {};
  private done = true;
  /** The last finished timeline, and the outcome (job id) whose drawing finished it. */
  last?: Timeline;
  lastOutcome?: number;

  /** Starts a timeline at the click (epoch ms), with steps that already happened. */
  begin(click: number, earlier: Partial<Record<StartStep, number | undefined>>): void {
    this.origin = click;
    this.marks = {};
    this.done = false;
    for (const s of STEPS) if (earlier[s] !== undefined) this.mark(s, earlier[s]);
  }

  /** Marks a step (at `at`, epoch ms, or now) unless the timeline is finished or has it already. */
  mark(step: StartStep, at = now(), outcome?: number): void {
    if (this.done || this.origin === undefined || this.marks[step] !== undefined) return;
    this.marks = { ...this.marks, [step]: Math.max(0, at - this.origin) };
    if (step === 'shown') {
      this.done = true;
      this.last = this.marks;
      this.lastOutcome = outcome;
    }
  }

  /** Whether a timeline is running (a model is loading and its first map is not shown yet). */
  get running(): boolean {
    return !this.done;
  }

  /** Drops a timeline whose load failed. */
  abandon(): void {
    this.done = true;
  }
}

/** "first map 3.6 s after the click". */
export function timelineSummary(t: Timeline): string | undefined {
  return t.shown === undefined ? undefined : `first map ${(t.shown / 1000).toFixed(1)} s after the click`;
}

/** The steps one per line, for the tooltip. */
export function timelineDetail(t: Timeline): string {
  return STEPS.filter((s) => t[s] !== undefined).map((s) => `${(t[s]! / 1000).toFixed(2)} s  ${MEANING[s]}`).join('\n');
}
