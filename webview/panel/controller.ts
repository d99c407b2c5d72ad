/**
 * The explanation panel's controller: `update(state, message) → { state, effects }`, pure (no DOM, no onnxruntime).
 * Host requests, user events and job results come in; jobs, persistence, notes to the host and file requests go out.
 * The driver (main.ts) runs the effects with the core's application layer and draws the state.
 */
import { LookCloserError } from '../../src/core/errors';
import { METHODS } from '../../src/core/methods/registry';
import { assertNever } from '../../src/protocol/messenger';
import type { ExplainOptions } from '../../src/protocol/protocol';
import { Effects, JobSpec, advance, begin, candidateClass, fail, newFallbacks, report } from './job-flow';
import type { HostMsg, PanelMsg, ResultMsg, RuntimeNote, Transition, UserMsg } from './messages';
import { RANK_KEYS } from '../../src/core/compare/compare-methods';
import { DEFAULT_RANK_BY } from '../../src/core/compare/compare-methods';
import type { ScoreTarget } from '../../src/core/methods/method';
import { choicesFrom, comparedMethods, comparedMetrics, imageFingerprint, measureStep, modelFingerprint, needsMeasure, outputOf, persistedOf, shownClass } from './selectors';
import type { BoxFraction, Choices, CompareView, PanelState, Step } from './state';

export { initialState } from './state';

/** The next state and effects for a message. */
export function update(s: PanelState, m: PanelMsg): Transition {
  const fx: Effects = [];
  const state = reduce(s, m, fx);
  return { state, effects: fx };
}

function reduce(s: PanelState, m: PanelMsg, fx: Effects): PanelState {
  switch (m.type) {
    case 'open': case 'explain': case 'activations': case 'showChannel': case 'showGate': case 'projectChannel': case 'settings':
      return onHost(s, m, fx);
    case 'pickMethod': case 'pickLayer': case 'pickClass': case 'pickColormap': case 'pickOpacity': case 'pickPreset':
    case 'cancel': case 'back': case 'save': case 'pickLabels': case 'saveSidecar': case 'checkSanity':
    case 'pickTarget': case 'setBox': case 'compareMethods': case 'pickCompareMethods': case 'rankBy': case 'closeCompare':
      return onUser(s, m, fx);
    default:
      return onResult(s, m, fx);
  }
}

/** Begins a job and runs its first steps. */
function run(s: PanelState, spec: JobSpec, fx: Effects): PanelState {
  return advance(begin(s, spec, fx), fx);
}

/** Begins a job that fails at once (its request is answered with the error). */
function refuse(s: PanelState, spec: Omit<JobSpec, 'steps'>, error: Error, fx: Effects): PanelState {
  return fail(begin(s, { ...spec, steps: [] }, fx), error, false, fx);
}

/** The change of choices for explain options: a layer asked for while a pixel-gradient method is shown switches to the first layer method that applies. */
function explainChange(s: PanelState, o: ExplainOptions): Partial<Choices> {
  const change = choicesFrom(o);
  if (o.layer && !o.method && s.outcome && s.outcome.method.family !== 'cam') return { ...change, method: undefined };
  return change;
}

/** Back to the explanation on the stage. */
function showExplanation(s: PanelState, status = 'Showing the explanation.'): PanelState {
  return { ...s, view: { kind: 'explanation' }, projection: undefined, status };
}

function onHost(s: PanelState, m: HostMsg, fx: Effects): PanelState {
  switch (m.type) {
    case 'open': {
      // The image first: a broken one fails at once instead of after the model loaded.
      const newImage = s.image?.fingerprint !== imageFingerprint(m.image);
      const newModel = s.model?.fingerprint !== modelFingerprint(m.model) || s.model?.ep !== m.ep;
      const steps: Step[] = [];
      if (newImage) steps.push({ kind: 'loadImage', image: m.image });
      // The host's map while the panel loads the model, or (a panel that keeps its model) while it explains the next
      // image itself: offered only with the bytes left out.
      if (m.preview && m.model.bytes === undefined && (newModel || newImage)) steps.push({ kind: 'preview', model: m.model.key, ...(m.previewDecoded ? { image: m.image.key } : {}) });
      if (newModel) steps.push({ kind: 'loadModel', model: m.model, ep: m.ep });
      steps.push({ kind: 'explain' });
      const change = { ...(newImage ? { classIndex: undefined } : {}), ...(newModel ? { preset: undefined } : {}), ...choicesFrom(m.options) };
      return run({ ...s, ep: m.ep }, { title: `Explaining ${m.image.name}`, ticket: m.ticket, reply: 'summary', tellHost: false, steps, change }, fx);
    }
    case 'explain':
      return run(s, { title: 'Explaining', ticket: m.ticket, reply: 'summary', tellHost: false, steps: [{ kind: 'explain' }], change: explainChange(s, m.options) }, fx);
    case 'activations': {
      const steps: Step[] = s.acts?.layer === m.layer ? [] : [{ kind: 'readActivations', layer: m.layer }];
      return run(s, { title: `Reading layer ${m.layer}`, ticket: m.ticket, reply: 'activations', tellHost: false, steps }, fx);
    }
    case 'showChannel': {
      const spec = { title: 'Showing channel', ticket: m.ticket, reply: 'none', tellHost: false } as const;
      if (m.channel === undefined) return showExplanation(run(s, { ...spec, steps: [] }, fx));
      const read: Step[] = s.acts?.layer === m.layer ? [] : [{ kind: 'readActivations', layer: m.layer }];
      return run(s, { ...spec, steps: [...read, { kind: 'showChannel', layer: m.layer, channel: m.channel }] }, fx);
    }
    case 'showGate': {
      const spec = { title: 'Reading attention gate', ticket: m.ticket, reply: 'none', tellHost: false } as const;
      if (m.tensor === undefined) return showExplanation(run(s, { ...spec, steps: [] }, fx));
      if (s.model && !s.model.gates.some((g) => g.tensor === m.tensor)) {
        return refuse(s, spec, new LookCloserError('bad-argument', `${s.model.name} has no attention gate '${m.tensor}'.`), fx);
      }
      return run(s, { ...spec, steps: [{ kind: 'readGate', tensor: m.tensor }] }, fx);
    }
    case 'projectChannel':
      return run(s, {
        title: `Projecting channel ${m.channel} of ${m.layer} to pixels`, ticket: m.ticket, reply: 'none', tellHost: false,
        steps: [{ kind: 'project', layer: m.layer, channel: m.channel }],
      }, fx);
    case 'settings':
      if (m.ep === s.ep || !s.model || !s.image) return { ...s, ep: m.ep };
      return run({ ...s, ep: m.ep }, {
        title: 'Switching backend', reply: 'none', tellHost: true, change: {},
        steps: [{ kind: 'loadModel', ep: m.ep }, { kind: 'explain' }],
      }, fx);
    default:
      return assertNever(m);
  }
}

/** What the status says when the user asks for more while the host's first map is shown and the panel loads the model. */
const STILL_LOADING = 'The model is still loading into the panel (the map shown was computed on the extension host); try again in a moment.';

/** Whether the panel shows only the host's first map and is loading the model: what needs the model waits. */
function loadingBehindPreview(s: PanelState): boolean {
  return !s.model && !!s.preview && !!s.job;
}

/** Re-explains after the user changed a choice; a failure or cancellation puts the choice back. */
function rerun(s: PanelState, title: string, change: Partial<Choices>, fx: Effects): PanelState {
  if (loadingBehindPreview(s)) return { ...s, status: STILL_LOADING };
  return run(s, { title, reply: 'none', tellHost: true, steps: [{ kind: 'explain' }], change }, fx);
}

/** A class already explained is shown at once (its checks measured after); another class is explained. */
function pickClass(s: PanelState, k: number, fx: Effects): PanelState {
  if (loadingBehindPreview(s)) return { ...s, status: STILL_LOADING };
  const o = s.outcome;
  if (!o || !outputOf(o, k)) return rerun(s, `Explaining class ${k}`, { classIndex: k }, fx);
  if (needsMeasure(s, k)) s = run(s, { title: 'Measuring the map', reply: 'none', tellHost: false, steps: [measureStep(s, o.id, k)] }, fx);
  s = { ...s, choices: { ...s.choices, classIndex: k }, view: { kind: 'explanation' }, projection: undefined };
  fx.push({ kind: 'persist', value: persistedOf(s) });
  return s;
}

/** A clamped box, or undefined when it is too small to be one (a click, not a drag). */
function cleanBox(b: BoxFraction | undefined): BoxFraction | undefined {
  if (!b || ![b.x, b.y, b.width, b.height].every(Number.isFinite)) return undefined;
  const x0 = Math.min(1, Math.max(0, Math.min(b.x, b.x + b.width)));
  const y0 = Math.min(1, Math.max(0, Math.min(b.y, b.y + b.height)));
  const x1 = Math.min(1, Math.max(0, Math.max(b.x, b.x + b.width)));
  const y1 = Math.min(1, Math.max(0, Math.max(b.y, b.y + b.height)));
  return x1 - x0 < 0.01 || y1 - y0 < 0.01 ? undefined : { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Draws (or clears) the pointing game's box: the shown map plays at once (no forward pass); a cleared box drops the game's results. */
function setBox(s: PanelState, box: BoxFraction | undefined, fx: Effects): PanelState {
  if (loadingBehindPreview(s)) return { ...s, status: STILL_LOADING };
  box = cleanBox(box);
  const metrics = Object.fromEntries(Object.entries(s.metrics).map(([k, v]) => [k, { ...v, pointing: undefined }]));
  s = { ...s, box, metrics };
  const o = s.outcome;
  if (!box || !o || s.view.kind !== 'explanation') return s;
  const k = shownClass(s);
  const step: Step = needsMeasure({ ...s, box: undefined }, k)
    ? measureStep(s, o.id, k)
    : { kind: 'measure', outcome: o.id, classIndex: k, ids: ['pointing'], gain: false, box };
  return run(s, { title: 'Playing the pointing game', reply: 'none', tellHost: false, steps: [step] }, fx);
}

/** Opens the comparison: the picked methods (comparedMethods: the default eight, fast ones first) that the model can run, for the shown class and target. */
function compareMethods(s: PanelState, fx: Effects): PanelState {
  const o = s.outcome;
  if (!o || !s.model) return report(s, new LookCloserError('bad-argument', 'Nothing is explained yet.'), false, true, fx);
  const k = shownClass(s);
  const target: ScoreTarget = o.target ?? 'logit';
  const methods = comparedMethods(s).map((id) => METHODS.find((m) => m.id === id)!);
  const layer = o.method.family === 'cam' ? o.layer : undefined;
  const rankBy = s.compare?.rankBy ?? DEFAULT_RANK_BY;
  const metrics = comparedMetrics(RANK_KEYS.find((r) => r.key === rankBy)?.metric ?? 'deletion', !!s.box);
  const known = s.metrics[k];
  const shown = known && metrics.every((id) => known[id] !== undefined) ? Object.fromEntries(metrics.map((id) => [id, known[id]])) : undefined;
  const steps: Step[] = methods.map((m, i) => ({
    kind: 'compare', outcome: o.id, method: m.id, classIndex: k, target, layer: m.family === 'cam' ? layer : undefined, box: s.box, first: i === 0, metrics,
    ...(i === 0 && shown ? { shown } : {}),
  }));
  const id = s.nextJob;
  const compare: CompareView = {
    job: id, outcome: o.id, classIndex: k, target, rankBy,
    cells: methods.map((m) => ({ method: m.id, title: m.title, status: 'pending' })),
  };
  return run({ ...s, compare, compareOpen: true }, { title: `Comparing ${methods.length} methods`, reply: 'none', tellHost: true, steps }, fx);
}

/** Sets a choice that needs no new explanation (colormap, opacity) and persists it. */
function restyle(s: PanelState, change: Partial<Choices>, fx: Effects): PanelState {
  s = { ...s, choices: { ...s.choices, ...change } };
  fx.push({ kind: 'persist', value: persistedOf(s) });
  return s;
}

function onUser(s: PanelState, m: UserMsg, fx: Effects): PanelState {
  switch (m.type) {
    case 'pickMethod':
      return rerun(s, `Running ${METHODS.find((x) => x.id === m.method)?.title ?? m.method}`, { method: m.method }, fx);
    case 'pickLayer':
      return rerun(s, `Explaining at ${m.layer}`, explainChange(s, { layer: m.layer }), fx);
    case 'pickClass':
      return pickClass(s, m.classIndex, fx);
    case 'pickColormap':
      return restyle(s, { colormap: m.colormap }, fx);
    case 'pickOpacity':
      return restyle(s, { opacity: Math.min(1, Math.max(0, m.opacity)) }, fx);
    case 'pickPreset':
      return rerun(s, `Preprocessing with ${m.preset}`, { preset: m.preset }, fx);
    case 'cancel':
      if (s.job && (m.ticket === undefined || s.job.ticket === m.ticket)) fx.push({ kind: 'abort', job: s.job.id });
      return s;
    case 'back':
      return showExplanation(s);
    case 'save':
      if (!s.outcome) return report(s, new LookCloserError('bad-argument', 'Nothing is explained yet.'), false, true, fx);
      fx.push({ kind: 'save', what: m.what });
      return s;
    case 'pickLabels':
      if (s.model) fx.push({ kind: 'pickLabels' });
      return s;
    case 'saveSidecar':
      if (s.model) fx.push({ kind: 'saveSidecar', modelKey: s.model.key, preset: s.model.preprocessing.name, labelsUri: s.model.pickedLabelsUri });
      return s;
    case 'pickTarget':
      return rerun(s, `Explaining the ${m.target === 'logit' ? 'logit' : m.target}`, { target: m.target as ScoreTarget }, fx);
    case 'setBox':
      return setBox(s, m.box, fx);
    case 'compareMethods':
      return compareMethods(s, fx);
    case 'pickCompareMethods': {
      const ids = [...new Set(m.methods)].filter((id) => METHODS.some((x) => x.id === id));
      s = { ...s, compareChoice: ids.length ? ids : undefined };
      fx.push({ kind: 'persist', value: persistedOf(s) });
      return s;
    }
    case 'rankBy':
      if (!s.compare || !RANK_KEYS.some((k) => k.key === m.key)) return s;
      return { ...s, compare: { ...s.compare, rankBy: m.key } };
    case 'closeCompare':
      if (s.compare && s.job?.id === s.compare.job) fx.push({ kind: 'abort', job: s.job.id });
      return { ...s, compareOpen: false };
    case 'checkSanity': {
      if (loadingBehindPreview(s)) return { ...s, status: STILL_LOADING };
      const o = s.outcome;
      if (!o) return report(s, new LookCloserError('bad-argument', 'Nothing is explained yet.'), false, true, fx);
      const step: Step = { kind: 'sanity', outcome: o.id, method: o.method.id, classIndex: shownClass(s), layer: o.layer };
      return run(s, { title: `Sanity check of ${o.method.title}`, reply: 'none', tellHost: true, steps: [step] }, fx);
    }
    default:
      return assertNever(m);
  }
}

/** The backend after some work: the badge follows, and fallbacks not reported yet become notices. */
function withRuntime(s: PanelState, r: RuntimeNote, fx: Effects): PanelState {
  if (!s.model) return s;
  newFallbacks(s.model.fallbacks, r.fallbacks, fx);
  return { ...s, model: { ...s.model, backend: r.backend, fallbacks: r.fallbacks } };
}

/** A result of a job's work. */
type JobResult = Exclude<ResultMsg, { type: 'labelsPicked' | 'labelsUsed' | 'saved' | 'drawn' }> & { readonly job: number };

function isJobResult(m: ResultMsg): m is JobResult {
  return 'job' in m && m.job !== undefined;
}

/** Results of the job in flight (those of an earlier job are dropped), then its next steps. */
function onJobResult(s: PanelState, m: JobResult, fx: Effects): PanelState {
  const job = s.job!;
  switch (m.type) {
    case 'imageLoaded':
      s = { ...s, image: m.image, acts: undefined, box: s.image?.fingerprint === m.image.fingerprint ? s.box : undefined, job: { ...job, timings: { ...job.timings, decode: m.decodeMs } } };
      fx.push({ kind: 'persist', value: persistedOf(s) });
      break;
    case 'modelLoaded':
      newFallbacks([], m.model.fallbacks, fx);
      if (m.model.conversion) fx.push({ kind: 'notify', note: { type: 'notice', level: 'info', message: m.model.conversion } });
      s = { ...s, model: m.model, acts: undefined, job: { ...job, timings: { ...job.timings, loadModel: m.loadMs } } };
      // What is loaded is kept at once: a reload brings the panel back even when explaining then fails.
      fx.push({ kind: 'persist', value: persistedOf(s) });
      break;
    case 'presetUsed':
      s = { ...s, model: s.model && { ...s.model, preset: m.preset, preprocessing: m.preprocessing }, acts: undefined };
      break;
    case 'previewSkipped':
      break;
    case 'previewed':
      s = {
        ...s, outcome: m.outcome, preview: m.preview, gains: {}, metrics: {}, view: { kind: 'explanation' }, projection: undefined,
        status: `First map of ${s.image?.name ?? 'the image'} with ${m.outcome.method.title}, computed on the extension host (${m.preview.backend}); loading the model into the panel…`,
      };
      break;
    case 'explained': {
      s = withRuntime(s, m.runtime, fx);
      s = { ...s, job: { ...job, candidate: m.outcome, timings: { ...job.timings, ...m.timings } } };
      // The map is shown first; GAIN and the metrics are measured after it.
      s = { ...s, job: { ...s.job!, steps: [{ kind: 'commit' }, measureStep(s, m.outcome.id, candidateClass(s)), ...job.steps] } };
      break;
    }
    case 'measured':
      s = withRuntime(s, m.runtime, fx);
      if (m.outcome === s.outcome?.id) {
        const k = m.classIndex;
        s = {
          ...s, gains: m.gain ? { ...s.gains, [k]: m.gain } : s.gains, metrics: { ...s.metrics, [k]: { ...s.metrics[k], ...m.metrics } },
          status: !m.gain ? `Pointing game: ${m.metrics.pointing?.hit ? 'hit' : 'miss'}.`
            : m.outcome === job.id ? `Explained ${s.image?.name ?? 'the image'} with ${s.outcome.method.title}.` : 'Measured the map.',
        };
      }
      break;
    case 'compared': {
      const c = s.compare;
      if (c?.job !== job.id) break;
      const cells = c.cells.map((x) => (x.method === m.cell.method ? m.cell : x));
      const done = cells.every((x) => x.status !== 'pending');
      s = { ...s, compare: { ...c, cells, elapsedMs: m.elapsedMs, ...(done ? { totalMs: m.elapsedMs } : {}) } };
      if (done) s = { ...s, status: `Compared ${cells.filter((x) => x.status === 'done').length} methods in ${(m.elapsedMs / 1000).toFixed(1)} s.` };
      break;
    }
    case 'activationsRead':
      s = { ...s, acts: { layer: m.layer, channels: m.channels }, status: `Read ${m.channels} channels of ${m.layer}.` };
      break;
    case 'gateRead':
      s = { ...s, view: { kind: 'gate', tensor: m.tensor }, projection: undefined, status: `Showing the ${m.kind} gate ${m.tensor}.` };
      break;
    case 'projected':
      s = { ...s, projection: { layer: m.layer, channel: m.channel }, status: `Projected channel ${m.channel} of ${m.layer} to pixels.` };
      break;
    case 'sanityChecked':
      s = { ...s, sanity: m.sanity, status: m.sanity.flagged ? 'Sanity check: the map barely changes with a random model.' : 'Sanity check done.' };
      break;
    case 'progress':
      if (job.running === 'compare') return s;
      return { ...s, status: job.running === 'sanity' ? `Sanity check: ${m.done} of ${m.total} runs (the model randomised from the top layer down)…` : `Explaining: ${m.done} of ${m.total} passes…` };
    case 'failed':
      return fail(s, m.error, m.cancelled, fx);
    default:
      return assertNever(m);
  }
  return advance(s, fx);
}

function onResult(s: PanelState, m: ResultMsg, fx: Effects): PanelState {
  if (isJobResult(m)) return m.job === s.job?.id ? onJobResult(s, m, fx) : s;
  switch (m.type) {
    case 'presetUsed':
      return { ...s, model: s.model && { ...s.model, preset: m.preset, preprocessing: m.preprocessing }, acts: undefined };
    case 'labelsPicked':
      if (m.file && s.model) fx.push({ kind: 'useLabels', file: m.file });
      return s;
    case 'labelsUsed':
      return { ...s, model: s.model && { ...s.model, labels: m.labels, labelsSource: m.labelsSource, pickedLabelsUri: m.pickedUri } };
    case 'saved':
      return { ...s, status: `Saved ${m.path}.` };
    case 'drawn':
      return { ...s, timings: { ...s.timings, render: m.ms } };
    case 'failed':
      return report(s, m.error, m.cancelled, true, fx);
    default:
      return s;
  }
}
