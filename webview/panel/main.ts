/**
 * The explanation panel's driver: wires the messenger to the controller, runs the controller's effects with
 * the core's application layer (work.ts) one job at a time (jobs.ts), and draws the state (views/). Every
 * decision is the controller's (controller.ts); this file only does I/O.
 */
import { Messenger, asBytes, assertNever, isCancellation } from '../../src/protocol/messenger';
import { withHeldBytes } from '../../src/protocol/model-payload';
import type { HostToPanel, ModelHeld, ModelPayload, PanelToHost } from '../../src/protocol/protocol';
import { connectHostRuntime } from '../host-runtime';
import { bundledWorker, useWorkerImputer } from '../impute-client';
import { configureOrt, startEarly } from '../ort-runtime';
import { endpoint, vscodeApi } from '../vscode-api';
import { initialState, update } from './controller';
import { JobRunner } from './jobs';
import type { Effect, HostMsg, PanelMsg, ResultMsg } from './messages';
import { thumbnail } from './pictures';
import { saveRequest } from './save';
import { summaryOf } from './selectors';
import type { PanelState, Persisted } from './state';
import { createLayout } from './views/layout';
import type { Scene } from './views/scene';
import { now } from './timeline';
import { PanelWork } from './work';

/** A host request waiting for its job. */
interface Ticket {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One panel: its state, the work and jobs behind it, its views and its messenger. */
class PanelDriver {
  private state: PanelState = initialState(vscodeApi.getState() as Persisted | undefined);
  private readonly tickets = new Map<number, Ticket>();
  private nextTicket = 1;
  private readonly work = new PanelWork({
    modelBytes: (m, signal) => this.modelOf(m, signal),
    preview: (r, signal) => this.messenger.request(r, signal),
  }, (job, done, total) => this.dispatch({ type: 'progress', job, done, total }));
  private readonly draw = createLayout(document.getElementById('app')!, (m) => this.dispatch(m), () => this.state);
  private readonly jobs = new JobRunner({
    perform: (job, w, signal) => this.work.run(job, w, signal),
    dispatch: (m) => this.dispatch(m),
    progress: (title, signal) => this.messenger.request({ type: 'progress', title }, signal),
  });
  private readonly messenger = new Messenger<PanelToHost, HostToPanel>(endpoint, {
    requests: {
      open: async (r, signal) => {
        this.work.opened(r.requestedAt, now());
        // The model's bytes, when the open left them out, are resolved by the load (work.ts): the host's first map comes before them.
        const model = r.model.bytes === undefined ? r.model : { ...r.model, bytes: asBytes(r.model.bytes) };
        return this.ask((ticket) => ({
          type: 'open', ticket, ep: r.executionProvider, options: r.options, model, image: { ...r.image, bytes: asBytes(r.image.bytes) }, preview: r.preview === true, previewDecoded: r.previewDecoded === true,
        }), signal);
      },
      explain: (r, signal) => this.ask((ticket) => ({ type: 'explain', ticket, options: r.options }), signal),
      summary: async () => summaryOf(this.state),
      activations: (r, signal) => this.ask((ticket) => ({ type: 'activations', ticket, layer: r.layer }), signal),
      showChannel: (r, signal) => this.ask((ticket) => ({ type: 'showChannel', ticket, layer: r.layer, channel: r.channel }), signal),
      showGate: (r, signal) => this.ask((ticket) => ({ type: 'showGate', ticket, tensor: r.tensor }), signal),
      projectChannel: (r, signal) => this.ask((ticket) => ({ type: 'projectChannel', ticket, layer: r.layer, channel: r.channel }), signal),
    },
    notes: { settings: (n) => this.dispatch({ type: 'settings', ep: n.executionProvider }) },
  });

  /** Draws the empty panel and tells the host it listens. */
  start(): void {
    connectHostRuntime((body) => this.messenger.request(body));
    this.draw(this.scene());
    this.messenger.notify({ type: 'ready' });
  }

  /** What the views draw: the state and the pixels held for it. */
  private scene(): Scene {
    const r = this.work.res;
    const shown = this.state.outcome && r.outcomes.get(this.state.outcome.id);
    const t = this.work.timeline;
    return {
      timeline: this.state.outcome && this.state.outcome.id === t.lastOutcome ? t.last : undefined,
      state: this.state, base: shown?.input.base, current: r.prepared?.input.base, acts: r.acts, gate: r.gate, projection: r.projection,
      compared: r.compare && this.state.compare?.job === r.compare.job ? { base: r.compare.base, maps: r.compare.maps } : undefined,
      explanation: (k) => shown?.outcome.outputs.find((o) => o.explanation.classIndex === k)?.explanation,
    };
  }

  /** The one way in: a transition, a redraw (timed once per new outcome), then the effects. */
  private dispatch(m: PanelMsg): void {
    if (m.type === 'failed' && !m.cancelled) console.error('[look-closer]', m.error);
    if (m.type === 'failed' && 'job' in m && m.job !== undefined) this.work.timeline.abandon();
    const t = update(this.state, m);
    this.state = t.state;
    this.work.keepOutcomes([this.state.outcome?.id, this.state.job?.candidate?.id]);
    const t0 = performance.now();
    this.draw(this.scene());
    const s = this.state;
    // The host's first map is drawn: the timeline's 'preview' step.
    if (m.type === 'previewed' && s.preview && s.outcome?.id === m.job) this.work.timeline.mark('preview');
    if (s.outcome && s.timings.explain !== undefined && s.timings.render === undefined) {
      this.state = update(s, { type: 'drawn', ms: performance.now() - t0 }).state;
      if (this.work.timeline.running) this.work.timeline.mark('shown', now(), s.outcome.id);
      this.draw(this.scene());
    }
    for (const e of t.effects) this.perform(e);
  }

  /** Runs something that answers with a message; its failure goes to the controller's error funnel. */
  private attempt(body: () => ResultMsg | Promise<ResultMsg>): void {
    Promise.resolve().then(body).then((m) => this.dispatch(m), (error) => this.dispatch({ type: 'failed', error, cancelled: isCancellation(error) }));
  }

  /** Answers the host request a finished job was for. */
  private answer(e: Extract<Effect, { kind: 'end' }>): void {
    const t = e.ticket !== undefined ? this.tickets.get(e.ticket) : undefined;
    if (!t) return;
    this.tickets.delete(e.ticket!);
    if ('error' in e.result) return t.reject(e.result.error);
    const reply = e.result.reply;
    t.resolve(reply === 'summary' ? summaryOf(this.state) : reply === 'activations' ? this.work.res.acts : undefined);
  }

  private perform(e: Effect): void {
    switch (e.kind) {
      case 'begin': return this.jobs.begin(e.job, e.title);
      case 'work': return this.jobs.work(e.job, e.work);
      case 'abort': return this.jobs.abort(e.job);
      case 'end':
        this.jobs.end(e.job);
        return this.answer(e);
      case 'persist': return vscodeApi.setState(e.value);
      case 'notify': return this.messenger.notify(e.note);
      case 'layersChanged': {
        const t = thumbnail(this.scene().base!, 256);
        return this.messenger.notify({ type: 'layersChanged', state: { ...e.state, thumbnail: { width: t.width, height: t.height, data: t.data } } });
      }
      case 'usePreset': return this.attempt(() => this.work.usePreset(e.preset));
      case 'useLabels': return this.attempt(() => this.work.useLabels(e.file));
      case 'save': return this.attempt(async () => ({ type: 'saved', path: (await this.messenger.request(await saveRequest(this.scene(), e.what))).path }));
      case 'pickLabels': return this.attempt(async () => ({ type: 'labelsPicked', file: await this.messenger.request({ type: 'pickLabels' }) }));
      case 'saveSidecar': {
        const { modelKey, preset, labelsUri } = e;
        return this.attempt(async () => ({ type: 'saved', path: (await this.messenger.request({ type: 'saveSidecar', modelKey, preset, labelsUri })).path }));
      }
      default: return assertNever(e);
    }
  }

  /**
   * The model an open request names, with its bytes: those sent, else the loaded model's when the host's fingerprint
   * (URI, size, mtime) is the one loaded (the next image in a reused panel: nothing is copied or loaded again),
   * else asked of the host (the panel no longer holds them, e.g. after a failed load).
   */
  private async modelOf(m: ModelPayload | ModelHeld, signal: AbortSignal): Promise<ModelPayload> {
    const held = withHeldBytes(m, this.work.res.model?.payload);
    const p = held ?? await this.messenger.request({ type: 'modelBytes', key: m.key }, signal);
    return { ...p, bytes: asBytes(p.bytes) };
  }

  /** Hands a host request to the controller and resolves when its job ends; the host's cancel cancels the job. */
  private ask<T>(make: (ticket: number) => HostMsg, signal: AbortSignal): Promise<T> {
    const ticket = this.nextTicket++;
    const answered = new Promise<T>((resolve, reject) => this.tickets.set(ticket, { resolve: resolve as (v: unknown) => void, reject }));
    signal.addEventListener('abort', () => this.dispatch({ type: 'cancel', ticket }), { once: true });
    this.dispatch(make(ticket));
    return answered;
  }
}

// Start onnxruntime while the host reads the model: fetching and compiling its wasm is the slowest step of a first
// load. Not on 'auto': there the extension host draws a new panel's first map (src/extension/host-preview.ts), and
// the wasm's megabytes, fetched through the same webview channel, would hold up its request and answer; the panel
// starts onnxruntime when it loads the model, right after.
const bundles = document.body.dataset.bundles ?? './';
if (document.body.dataset.ep === 'auto') configureOrt(bundles);
else startEarly(bundles, document.body.dataset.ep);
// ROAD's imputations on their own worker (started at the first measured map) where a core is left for it: they then
// overlap the other metrics' passes and leave the page's thread free. With 2 cores (onnxruntime's worker and the
// page already use them) the e2e measured no gain and the next click slower (another class 0.30–0.33 s against 0.22 s
// inline, metrics row 4.05 against 3.92 s, Compare 11.3 against 11.0 s): there ROAD stays inline at its turn.
if ((navigator.hardwareConcurrency ?? 1) > 2) {
  const imputer = useWorkerImputer(bundledWorker(bundles));
  window.addEventListener('pagehide', () => void imputer.dispose());
}
window.addEventListener('unhandledrejection', (ev) => {
  if (isCancellation(ev.reason)) ev.preventDefault();
});
new PanelDriver().start();
