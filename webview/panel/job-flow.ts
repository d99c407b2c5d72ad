/**
 * How the panel's jobs run, as pure transitions: a job begins (superseding the one in flight), its steps run
 * one after another (pure ones here, the others as work for the driver), and it ends with a reply or an error.
 * A failed or cancelled job puts back the choices it changed.
 */
import { LookCloserError } from '../../src/core/errors';
import { CancelledError } from '../../src/protocol/messenger';
import type { Effect } from './messages';
import { METHODS } from '../../src/core/methods/registry';
import { explainSettings, outputOf, persistedOf } from './selectors';
import type { Choices, Job, PanelState, Reply, Step, Work } from './state';

/** A job to begin. */
export interface JobSpec {
  readonly title: string;
  readonly steps: readonly Step[];
  readonly reply: Reply;
  readonly ticket?: number;
  readonly tellHost: boolean;
  /** The choices it changes; undefined: none (nothing to put back when it fails). */
  readonly change?: Partial<Choices>;
}

/** Effects are collected into this list while a transition is computed. */
export type Effects = Effect[];

function end(job: Job, result: { reply: Reply } | { error: unknown }): Effect {
  return { kind: 'end', job: job.id, ticket: job.ticket, result };
}

/** Sets the choices; the classifier follows a preset that changed back at once. */
export function setChoices(s: PanelState, choices: Choices, fx: Effects): PanelState {
  if (s.model && choices.preset !== s.model.preset) fx.push({ kind: 'usePreset', preset: choices.preset });
  return { ...s, choices };
}

/**
 * Begins a job. A job in flight is aborted and answered as cancelled; the choices it changed carry over when
 * the new job explains again (picking a method, then a layer, explains both), and go back otherwise.
 */
export function begin(s: PanelState, spec: JobSpec, fx: Effects): PanelState {
  const old = s.job;
  let before = s.choices;
  if (old) {
    fx.push({ kind: 'abort', job: old.id }, end(old, { error: new CancelledError('Superseded by newer work.') }));
    const carry = spec.steps.some((st) => st.kind === 'explain');
    if (old.restore && !carry) {
      s = setChoices(s, old.restore, fx);
      before = old.restore;
    } else if (old.restore) before = old.restore;
  }
  const job: Job = {
    id: s.nextJob, title: spec.title, ticket: spec.ticket, reply: spec.reply, tellHost: spec.tellHost,
    restore: spec.change ? before : undefined, steps: spec.steps, timings: {},
  };
  fx.push({ kind: 'begin', job: job.id, title: spec.title });
  return { ...s, choices: { ...s.choices, ...spec.change }, job, nextJob: s.nextJob + 1, status: `${spec.title}…`, error: undefined };
}

/** Ends the job in flight with its reply. */
function finish(s: PanelState, fx: Effects): PanelState {
  fx.push(end(s.job!, { reply: s.job!.reply }));
  return { ...s, job: undefined };
}

/** The error funnel of the controller: cancellation is quiet; other errors are shown, and told to the host when `tellHost`. */
export function report(s: PanelState, error: unknown, cancelled: boolean, tellHost: boolean, fx: Effects): PanelState {
  if (cancelled) return { ...s, status: 'Cancelled.' };
  const message = error instanceof Error ? error.message : String(error);
  if (tellHost) fx.push({ kind: 'notify', note: { type: 'error', message } });
  return { ...s, status: 'Failed.', error: message };
}

/** Fails the job in flight: its choices go back, the error is reported, and its request is answered with it. */
export function fail(s: PanelState, error: unknown, cancelled: boolean, fx: Effects): PanelState {
  const job = s.job;
  if (!job) return report(s, error, cancelled, true, fx);
  if (job.restore) s = setChoices(s, job.restore, fx);
  s = report({ ...s, job: undefined }, error, cancelled, job.tellHost, fx);
  fx.push(end(job, { error }));
  return s;
}

/**
 * Shows the outcome this job explained at once; its checks (GAIN, the metrics) run after it as the job's next
 * step. From here on the job changes no choice: cancelling the checks keeps the map and the choices that made it.
 */
function commit(s: PanelState, fx: Effects): PanelState {
  const job = s.job!;
  const o = job.candidate!;
  s = {
    ...s, outcome: o, preview: undefined, gains: {}, metrics: {}, view: { kind: 'explanation' }, projection: undefined,
    timings: job.timings, status: `Explained ${s.image?.name ?? 'the image'} with ${o.method.title}.`, error: undefined,
    job: { ...job, candidate: undefined, restore: undefined },
  };
  const m = s.model!;
  fx.push({ kind: 'persist', value: persistedOf(s) }, {
    kind: 'layersChanged',
    state: { model: m.name, image: s.image?.name ?? '', layers: m.layers, defaultLayer: m.defaultLayer, targetLayer: o.layer, gates: m.gates },
  });
  return s;
}

/** Shows a channel of the activations read. */
function showChannel(s: PanelState, layer: string, channel: number): PanelState | Error {
  if (s.acts?.layer !== layer || !(Number.isInteger(channel) && channel >= 0 && channel < s.acts.channels)) {
    return new LookCloserError('bad-argument', `Layer '${layer}' has no channel ${channel}.`);
  }
  return { ...s, view: { kind: 'channel', layer, channel }, projection: undefined, status: `Showing channel ${channel} of ${layer}.` };
}

/** The class the candidate of an explain job shows: the chosen one when explained, else its top-1. */
export function candidateClass(s: PanelState): number {
  const o = s.job!.candidate!;
  const k = s.choices.classIndex;
  return k !== undefined && outputOf(o, k) ? k : o.predictions[0].index;
}

/** Turns a step into the work the driver runs, or an error when the panel has nothing to run it on. */
function workOf(s: PanelState, step: Exclude<Step, { kind: 'commit' | 'showChannel' }>): Work | Error {
  if (step.kind === 'preview') return s.image ? { ...step, settings: explainSettings(s) } : new LookCloserError('bad-argument', 'No image is loaded in this panel yet.');
  if (step.kind !== 'loadImage' && step.kind !== 'loadModel' && (!s.model || !s.image)) {
    return new LookCloserError('bad-argument', 'No image is loaded in this panel yet.');
  }
  return step.kind === 'explain' ? { kind: 'explain', settings: explainSettings(s) } : step;
}

/** What the status line says while a step runs. */
function statusOf(s: PanelState, step: Step): string {
  switch (step.kind) {
    case 'loadModel': return `Loading ${step.model?.name ?? s.model?.name ?? 'the model'}…`;
    case 'explain': return `${s.job?.title ?? 'Explaining'}…`;
    case 'preview': return `${s.job?.title ?? 'Explaining'} on the extension host${s.model ? '' : ' while the panel loads the model'}…`;
    case 'measure': return step.gain ? 'Measuring the map (GAIN, deletion, insertion, ROAD, confidence)…' : 'Playing the pointing game…';
    case 'compare': return `Comparing: ${METHODS.find((m) => m.id === step.method)?.title ?? step.method}…`;
    default: return s.status;
  }
}

/** Runs the job's next steps: pure ones at once, then hands the first piece of work to the driver, or finishes. */
export function advance(s: PanelState, fx: Effects): PanelState {
  for (;;) {
    const job = s.job;
    if (!job) return s;
    if (!job.steps.length) return finish(s, fx);
    // Explaining needs the classifier on the chosen preset (it can lag after a superseded preset change or a backend switch).
    const lagging = job.steps[0].kind === 'explain' && s.model && s.choices.preset !== s.model.preset;
    const step: Step = lagging ? { kind: 'usePreset', preset: s.choices.preset } : job.steps[0];
    const rest = lagging ? job.steps : job.steps.slice(1);
    s = { ...s, job: { ...job, steps: rest, running: step.kind } };
    if (step.kind === 'commit') {
      s = commit(s, fx);
      continue;
    }
    if (step.kind === 'showChannel') {
      const r = showChannel(s, step.layer, step.channel);
      if (r instanceof Error) return fail(s, r, false, fx);
      s = r;
      continue;
    }
    const work = workOf(s, step);
    if (work instanceof Error) return fail(s, work, false, fx);
    fx.push({ kind: 'work', job: job.id, work });
    s = { ...s, status: statusOf(s, step) };
    // A model about to load replaces the one shown: nothing of the old one stays (its sessions are released),
    // except the host's first map of this job, shown until the panel's own replaces it.
    if (step.kind === 'loadModel') s = { ...s, model: undefined, outcome: s.preview && s.outcome?.id === job.id ? s.outcome : undefined, preview: s.outcome?.id === job.id ? s.preview : undefined, gains: {}, metrics: {}, compare: undefined, compareOpen: false, acts: undefined, view: { kind: 'explanation' }, projection: undefined };
    return s;
  }
}

/** Notices for the backend fallbacks not reported yet. */
export function newFallbacks(known: readonly string[], now: readonly string[], fx: Effects): void {
  for (const f of now) if (!known.includes(f)) fx.push({ kind: 'notify', note: { type: 'notice', level: 'warning', message: f } });
}
