/** The explanation panel's controller, in Node: host requests, user events and job results in; state and effects out. */
import { strict as assert } from 'node:assert';
import type { ExplainOutcome, ExplainSettings, PreparedInput } from '../../src/core/app/explain-image';
import { float32 } from '../../src/core/tensor';
import { LookCloserError } from '../../src/core/errors';
import { CancelledError } from '../../src/protocol/messenger';
import type { MetricValues } from '../../src/core/metrics/registry';
import type { GainSummary, ImagePayload, ModelPayload } from '../../src/protocol/protocol';
import { initialState, update } from '../../webview/panel/controller';
import { outcomeView } from '../../webview/panel/outcome-view';
import type { Effect, PanelMsg } from '../../webview/panel/messages';
import { DEFAULT_COMPARED, classMatches, comparableMethods, comparedMethods, comparedMetrics, compareStatus, explainSettings, shownClass, summaryOf } from '../../webview/panel/selectors';
import { METHODS } from '../../src/core/methods/registry';
import type { ModelInfo, OutcomeView, PanelState, Work } from '../../webview/panel/state';

// ------------------------------------------------------------------ fixtures

const MODEL: ModelPayload = {
  key: 'file:///ws/net.onnx', name: 'net.onnx', origin: 'net.onnx', bytes: new Uint8Array(64), sidecarText: '{"preset": "imagenet"}',
  fallbackLabels: { imagenet: '[]', digits: '' }, writable: true,
};
const CAT: ImagePayload = { key: 'file:///ws/cat.jpg', name: 'cat.jpg', bytes: new Uint8Array(10) };
const DOG: ImagePayload = { key: 'file:///ws/dog.jpg', name: 'dog.jpg', bytes: new Uint8Array(12) };
const LABELS = ['tabby', 'tiger cat', 'bull mastiff', 'pelican', 'eagle', 'zebra', 'bridge'];

function modelInfo(over: Partial<ModelInfo> = {}): ModelInfo {
  const conv = { name: '/conv/Relu', op: 'Relu', shape: [1, 8, 7, 7] };
  const fire = { name: '/fire/Relu', op: 'Relu', shape: [1, 16, 14, 14] };
  return {
    key: MODEL.key, fingerprint: JSON.stringify([MODEL.key, 64, MODEL.sidecarText, null]), ep: 'auto', name: 'net.onnx', origin: 'net.onnx',
    writable: true, classes: LABELS.length, layers: [fire, conv, { name: '/fc/Gemm', op: 'Gemm', shape: [1, 7] }], targetLayers: [fire, conv],
    defaultLayer: conv.name, gates: [], preprocessing: { name: 'imagenet', source: 'sidecar', reason: 'the sidecar names it', channels: 'rgb' },
    labels: LABELS, labelsSource: 'sidecar: labels.txt', backend: 'WASM', fallbacks: [], ...over,
  };
}

/** An outcome of job `id` that explained `classes` (the first is the top-1). */
function outcome(id: number, method: OutcomeView['method'], classes: number[], extra: Partial<OutcomeView> = {}): OutcomeView {
  const probs = new Float32Array(LABELS.length);
  classes.forEach((k, i) => (probs[k] = 0.5 / (i + 1)));
  return {
    id, method, layer: method.family === 'cam' ? '/conv/Relu' : undefined, probs,
    predictions: classes.map((index) => ({ index, score: probs[index] })),
    outputs: classes.map((classIndex) => ({
      classIndex, display: method.family === 'cam' ? 'heatmap' : 'gradient', rawRange: [-1, 3], shape: [7, 7],
      peak: { x: 0.25, y: 0.5 }, rendered: { width: 224, height: 224 },
    })),
    ...extra,
  };
}

const CAM = { id: 'cam', title: 'CAM', family: 'cam' } as const;
const GRADCAM = { id: 'gradcam', title: 'Grad-CAM', family: 'cam' } as const;
const GUIDED = { id: 'guided-backprop', title: 'Guided backpropagation', family: 'input' } as const;
const RUNTIME = { backend: 'WASM', fallbacks: [] } as const;

function gain(classIndex: number, before = 0.5, after = 0.1): GainSummary {
  return { classIndex, score: 'softmax', before, after, drop: before - after, probBefore: before, probAfter: after, logitBefore: 2, logitAfter: 0, erased: 0.3 };
}

/** Metric values as the measure work returns them (the numbers themselves are checked in panel-measure.test.ts). */
function metrics(del = 0.2, ins = 0.6): MetricValues {
  const curve = (auc: number) => ({ auc, substrate: 'constant' as const, fractions: [0, 0.5, 1], probs: [0.5, 0.2, 0.1] });
  return {
    deletion: curve(del), insertion: curve(ins),
    road: { percentiles: [10, 20], before: 0.5, morf: [0.3, 0.2], lerf: [0.5, 0.45], morfChange: -0.25, lerfChange: -0.025, combined: 0.11 },
    confidence: { before: 0.5, after: 0.4, drop: 0.2, increase: false },
  };
}

// ------------------------------------------------------------------ driving the controller

/** A panel under test: the state, and the effects of the last message. */
class Panel {
  effects: readonly Effect[] = [];
  constructor(public state: PanelState = initialState()) {}

  send(m: PanelMsg): this {
    const t = update(this.state, m);
    this.state = t.state;
    this.effects = t.effects;
    return this;
  }

  kinds(): string[] {
    return this.effects.map((e) => e.kind);
  }

  /** The work handed to the driver by the last message. */
  work(): Work {
    const w = this.effects.find((e): e is Extract<Effect, { kind: 'work' }> => e.kind === 'work');
    assert.ok(w, `work among the effects: ${this.kinds().join(', ')}`);
    return w.work;
  }

  settings(): ExplainSettings {
    const w = this.work();
    assert.equal(w.kind, 'explain');
    return (w as Extract<Work, { kind: 'explain' }>).settings;
  }

  ended(): Extract<Effect, { kind: 'end' }> {
    const e = this.effects.find((x): x is Extract<Effect, { kind: 'end' }> => x.kind === 'end');
    assert.ok(e, `an end among the effects: ${this.kinds().join(', ')}`);
    return e;
  }

  get job(): number {
    assert.ok(this.state.job, 'a job is in flight');
    return this.state.job.id;
  }

  /** Answers the explain step with an outcome and its GAIN, up to the commit. */
  explained(o: (id: number) => OutcomeView, timings = { forward: 12, explain: 30 }): this {
    const id = this.job;
    this.send({ type: 'explained', job: id, outcome: o(id), timings, runtime: RUNTIME });
    const w = this.work();
    assert.equal(w.kind, 'measure');
    const k = (w as Extract<Work, { kind: 'measure' }>).classIndex;
    return this.send({ type: 'measured', job: id, outcome: id, classIndex: k, gain: gain(k), metrics: metrics(), runtime: RUNTIME });
  }

  /** Opens cat.jpg with the model and explains it with `o`. */
  static opened(o: (id: number) => OutcomeView = (id) => outcome(id, CAM, [1, 0, 2, 3, 4]), options = {}): Panel {
    const p = new Panel().send({ type: 'open', ticket: 1, model: MODEL, image: CAT, ep: 'auto', options });
    p.send({ type: 'imageLoaded', job: p.job, image: { key: CAT.key, fingerprint: JSON.stringify([CAT.key, 10]), name: 'cat.jpg' }, decodeMs: 4 });
    p.send({ type: 'modelLoaded', job: p.job, model: modelInfo(), loadMs: 800 });
    return p.explained(o);
  }
}

// ------------------------------------------------------------------ tests

describe('panel controller', () => {
  describe('opening an image', () => {
    it('loads the image, then the model, explains, checks the top-1 with GAIN, and only then shows it', () => {
      const p = new Panel().send({ type: 'open', ticket: 7, model: MODEL, image: CAT, ep: 'auto', options: { colormap: 'turbo' } });
      assert.deepEqual(p.kinds(), ['begin', 'work']);
      assert.equal(p.work().kind, 'loadImage', 'the image first: a broken one fails before the model loads');
      assert.equal(p.state.status, 'Explaining cat.jpg…');
      assert.equal(p.state.choices.colormap, 'turbo');
      p.send({ type: 'imageLoaded', job: p.job, image: { key: CAT.key, fingerprint: JSON.stringify([CAT.key, 10]), name: 'cat.jpg' }, decodeMs: 4 });
      assert.deepEqual(p.work(), { kind: 'loadModel', model: MODEL, ep: 'auto' });
      assert.equal(p.state.status, 'Loading net.onnx…');
      p.send({ type: 'modelLoaded', job: p.job, model: modelInfo({ conversion: 'a float32 copy runs' }), loadMs: 800 });
      assert.deepEqual(p.effects.filter((e) => e.kind === 'notify').map((e) => e.kind === 'notify' && e.note), [{ type: 'notice', level: 'info', message: 'a float32 copy runs' }]);
      assert.deepEqual(p.settings(), { method: undefined, layer: undefined, classes: undefined, top: 5, target: 'logit' }, 'no method chosen: the first that applies');
      const id = p.job;
      p.send({ type: 'explained', job: id, outcome: outcome(id, CAM, [1, 0, 2, 3, 4]), timings: { forward: 12, explain: 30 }, runtime: RUNTIME });
      assert.deepEqual(p.kinds(), ['persist', 'layersChanged', 'work'], 'the map is shown at once; its checks come after');
      assert.equal(p.state.outcome?.id, id, 'shown before GAIN and the metrics are measured');
      assert.equal(summaryOf(p.state)!.gain, undefined);
      assert.equal(summaryOf(p.state)!.metrics, undefined);
      assert.deepEqual(p.work(), { kind: 'measure', outcome: id, classIndex: 1, ids: ['deletion', 'insertion', 'road', 'confidence'], gain: true, box: undefined });
      assert.equal(p.state.job?.restore, undefined, 'cancelling the checks keeps the map and its choices');
      const [persist, layers] = p.effects;
      p.send({ type: 'measured', job: id, outcome: id, classIndex: 1, gain: gain(1), metrics: metrics(), runtime: RUNTIME });
      assert.deepEqual(p.kinds(), ['end']);
      assert.deepEqual(p.ended(), { kind: 'end', job: id, ticket: 7, result: { reply: 'summary' } }, 'the host\'s request is answered with the checks');
      assert.equal(p.state.job, undefined);
      assert.equal(p.state.status, 'Explained cat.jpg with CAM.');
      assert.deepEqual(persist.kind === 'persist' && persist.value, {
        imageUri: CAT.key, modelUri: MODEL.key, options: { method: undefined, layer: undefined, classIndex: undefined, colormap: 'turbo', opacity: 0.5 },
      });
      assert.ok(layers.kind === 'layersChanged' && layers.state.targetLayer === '/conv/Relu' && layers.state.layers.length === 3);
      const s = summaryOf(p.send({ type: 'drawn', ms: 5 }).state)!;
      assert.deepEqual([s.model, s.image, s.method, s.layer, s.defaultLayer, s.classIndex, s.label, s.display, s.backend], ['net.onnx', 'cat.jpg', 'cam', '/conv/Relu', '/conv/Relu', 1, 'tiger cat', 'heatmap', 'WASM']);
      assert.deepEqual(s.predictions.map((r) => r.label), ['tiger cat', 'tabby', 'bull mastiff', 'pelican', 'eagle']);
      assert.deepEqual(s.gain, gain(1));
      assert.deepEqual(s.metrics, metrics());
      assert.equal(s.target, 'logit');
      assert.deepEqual(s.timings, { decode: 4, loadModel: 800, forward: 12, explain: 30, render: 5 });
      assert.deepEqual(s.preset, { name: 'imagenet', source: 'sidecar', reason: 'the sidecar names it' });
    });

    it('reuses what is loaded: the same image and model only explain; a new image resets the class; another backend reloads the model', () => {
      const p = Panel.opened();
      p.send({ type: 'pickClass', classIndex: 0 });
      p.send({ type: 'open', ticket: 2, model: MODEL, image: CAT, ep: 'auto', options: {} });
      assert.equal(p.work().kind, 'explain');
      assert.deepEqual(p.settings().classes, [0], 'the chosen class is kept for the same image');
      p.explained((id) => outcome(id, CAM, [1, 0, 2, 3, 4]));
      p.send({ type: 'open', ticket: 3, model: MODEL, image: DOG, ep: 'auto', options: {} });
      assert.equal(p.work().kind, 'loadImage');
      assert.equal(p.state.choices.classIndex, undefined, 'a new image starts at its top-1');
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      p.send({ type: 'open', ticket: 4, model: MODEL, image: CAT, ep: 'wasm', options: {} });
      assert.deepEqual(p.work(), { kind: 'loadModel', model: MODEL, ep: 'wasm' });
      assert.equal(p.state.outcome, undefined, 'nothing of the old model stays while the new one loads');
    });

    it('says so when there is nothing to explain yet', () => {
      const p = new Panel().send({ type: 'explain', ticket: 1, options: { method: 'cam' } });
      const end = p.ended();
      assert.ok('error' in end.result && end.result.error instanceof LookCloserError);
      assert.match((end.result.error as Error).message, /No image is loaded/);
      assert.equal(p.state.choices.method, undefined, 'the failed change does not stick');
      assert.equal(p.state.job, undefined);
    });
  });

  describe('changing a choice', () => {
    it('a cancelled change restores the previous choices quietly', () => {
      const p = Panel.opened();
      const before = p.state.choices;
      p.send({ type: 'pickMethod', method: 'guided-gradcam' });
      assert.equal(p.state.choices.method, 'guided-gradcam');
      assert.equal(p.state.status, 'Running Guided Grad-CAM…');
      assert.equal(p.settings().method, 'guided-gradcam');
      p.send({ type: 'cancel' });
      assert.deepEqual(p.effects, [{ kind: 'abort', job: p.job }]);
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      assert.deepEqual(p.state.choices, before);
      assert.equal(p.state.status, 'Cancelled.');
      assert.equal(p.state.error, undefined);
      assert.ok(!p.effects.some((e) => e.kind === 'notify'), 'cancellation is quiet');
      assert.equal(summaryOf(p.state)!.method, 'cam', 'the explanation shown stays');
    });

    it('a failed change restores the choices and is reported in the panel and to the host', () => {
      const p = Panel.opened();
      p.send({ type: 'pickLayer', layer: '/fire/Relu' });
      assert.equal(p.settings().layer, '/fire/Relu');
      p.send({ type: 'failed', job: p.job, error: new LookCloserError('runtime', 'out of memory'), cancelled: false });
      assert.equal(p.state.choices.layer, undefined);
      assert.equal(p.state.error, 'out of memory');
      assert.equal(p.state.status, 'Failed.');
      assert.ok(p.effects.some((e) => e.kind === 'notify' && e.note.type === 'error' && e.note.message === 'out of memory'));
    });

    it('a host request that fails is answered with the error, which the host reports', () => {
      const p = Panel.opened();
      p.send({ type: 'explain', ticket: 9, options: { method: 'occlusion' } });
      const error = new LookCloserError('method-not-applicable', 'no');
      p.send({ type: 'failed', job: p.job, error, cancelled: false });
      assert.deepEqual(p.ended().result, { error });
      assert.equal(p.ended().ticket, 9);
      assert.ok(!p.effects.some((e) => e.kind === 'notify'));
    });

    it('a change made while another runs supersedes it and keeps both; failing, it goes back to what was shown', () => {
      const p = Panel.opened();
      const shown = p.state.choices;
      p.send({ type: 'pickMethod', method: 'gradcam' });
      const first = p.job;
      p.send({ type: 'pickLayer', layer: '/fire/Relu' });
      assert.deepEqual(p.kinds().slice(0, 3), ['abort', 'end', 'begin']);
      assert.deepEqual(p.effects[0], { kind: 'abort', job: first });
      assert.deepEqual([p.settings().method, p.settings().layer], ['gradcam', '/fire/Relu']);
      // The first job's late result is dropped.
      const before = p.state;
      p.send({ type: 'explained', job: first, outcome: outcome(first, GRADCAM, [1]), timings: {}, runtime: RUNTIME });
      assert.equal(p.state, before);
      assert.deepEqual(p.effects, []);
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      assert.deepEqual(p.state.choices, shown);
    });

    it('a layer picked while a pixel-gradient method is shown switches to the first layer method', () => {
      const p = Panel.opened((id) => outcome(id, GUIDED, [1, 0, 2, 3, 4]), { method: 'guided-backprop' });
      assert.equal(p.state.choices.method, 'guided-backprop');
      assert.equal(explainSettings(p.state).layer, undefined, 'a pixel-gradient method gets no layer');
      p.send({ type: 'explain', ticket: 2, options: { layer: '/fire/Relu' } });
      assert.deepEqual([p.settings().method, p.settings().layer], [undefined, '/fire/Relu']);
      p.explained((id) => outcome(id, CAM, [1, 0, 2, 3, 4], { layer: '/fire/Relu' }));
      assert.equal(summaryOf(p.state)!.layer, '/fire/Relu');
      // With a layer method shown, the method stays.
      p.send({ type: 'pickMethod', method: 'gradcam' });
      p.explained((id) => outcome(id, GRADCAM, [1, 0, 2, 3, 4]));
      p.send({ type: 'pickLayer', layer: '/conv/Relu' });
      assert.deepEqual([p.settings().method, p.settings().layer], ['gradcam', '/conv/Relu']);
    });

    it('a layer the model does not have is not passed on (the default layer explains)', () => {
      const p = Panel.opened();
      p.send({ type: 'explain', ticket: 2, options: { layer: '/gone' } });
      assert.equal(p.settings().layer, undefined);
    });

    it('a preset runs on the classifier before the explanation, and goes back with a failure', () => {
      const p = Panel.opened();
      p.send({ type: 'pickPreset', preset: 'caffe-bgr' });
      assert.deepEqual(p.work(), { kind: 'usePreset', preset: 'caffe-bgr' });
      const caffe = { name: 'caffe-bgr', source: 'flag', reason: 'picked in the panel (not saved)', channels: 'bgr' } as const;
      p.send({ type: 'presetUsed', job: p.job, preset: 'caffe-bgr', preprocessing: caffe });
      assert.equal(p.work().kind, 'explain');
      assert.equal(p.state.model!.preprocessing.name, 'caffe-bgr');
      p.send({ type: 'failed', job: p.job, error: new LookCloserError('runtime', 'boom'), cancelled: false });
      assert.equal(p.state.choices.preset, undefined);
      assert.deepEqual(p.effects.find((e) => e.kind === 'usePreset'), { kind: 'usePreset', preset: undefined }, 'the classifier goes back too');
    });

    it('colormap and opacity apply at once and are persisted', () => {
      const p = Panel.opened();
      p.send({ type: 'pickOpacity', opacity: 1.5 });
      assert.equal(p.state.choices.opacity, 1);
      p.send({ type: 'pickColormap', colormap: 'viridis' });
      assert.deepEqual(p.kinds(), ['persist']);
      const e = p.effects[0];
      assert.ok(e.kind === 'persist' && e.value.options?.colormap === 'viridis' && e.value.options.opacity === 1);
      assert.equal(p.state.job, undefined, 'no re-explaining');
    });
  });

  describe('choosing a class', () => {
    it('one already explained shows at once, and its GAIN and metrics are measured after', () => {
      const p = Panel.opened();
      const o = p.state.outcome!;
      p.send({ type: 'pickClass', classIndex: 2 });
      assert.equal(shownClass(p.state), 2);
      assert.equal(summaryOf(p.state)!.gain, undefined, 'shown before its GAIN is known');
      assert.deepEqual(p.work(), { kind: 'measure', outcome: o.id, classIndex: 2, ids: ['deletion', 'insertion', 'road', 'confidence'], gain: true, box: undefined });
      assert.ok(p.effects.some((e) => e.kind === 'persist' && e.value.options?.classIndex === 2));
      p.send({ type: 'measured', job: p.job, outcome: o.id, classIndex: 2, gain: gain(2, 0.2, 0.05), metrics: metrics(0.1, 0.3), runtime: RUNTIME });
      assert.equal(p.state.outcome, o, 'the outcome is not re-explained');
      assert.deepEqual(summaryOf(p.state)!.gain, gain(2, 0.2, 0.05));
      assert.equal(summaryOf(p.state)!.metrics?.deletion?.auc, 0.1);
      assert.equal(p.state.status, 'Measured the map.');
      // Its GAIN is known now: back and forth without any work.
      p.send({ type: 'pickClass', classIndex: 1 }).send({ type: 'pickClass', classIndex: 2 });
      assert.deepEqual(p.kinds(), ['persist']);
    });

    it('one not explained is explained with the top 5', () => {
      const p = Panel.opened();
      p.send({ type: 'pickClass', classIndex: 6 });
      assert.equal(p.state.status, 'Explaining class 6…');
      assert.deepEqual([p.settings().classes, p.settings().top], [[6], 5]);
      p.explained((id) => outcome(id, CAM, [6, 1, 0, 2, 3, 4]));
      assert.equal(summaryOf(p.state)!.classIndex, 6);
      assert.equal(summaryOf(p.state)!.gain?.classIndex, 6);
    });

    it('showing one at once rolls back a method change in flight', () => {
      const p = Panel.opened();
      p.send({ type: 'pickMethod', method: 'occlusion' });
      p.send({ type: 'pickClass', classIndex: 3 });
      assert.equal(p.state.choices.method, undefined);
      assert.equal(p.state.choices.classIndex, 3);
      assert.equal(p.work().kind, 'measure');
    });
  });

  describe('persisted choices', () => {
    it('survive a reload: the first explanation uses them', () => {
      const persisted = { imageUri: CAT.key, modelUri: MODEL.key, options: { method: 'gradcam', layer: '/fire/Relu', classIndex: 2, colormap: 'inferno', opacity: 0.8, target: 'contrast:1' } };
      const p = new Panel(initialState(persisted));
      assert.deepEqual(p.state.choices, { method: 'gradcam', layer: '/fire/Relu', classIndex: 2, colormap: 'inferno', opacity: 0.8, target: 'contrast:1' });
      assert.equal(initialState({ options: { colormap: 'jet', target: 'contrast:x' } }).choices.target, undefined, 'a target that no longer parses is dropped');
      p.send({ type: 'open', ticket: 1, model: MODEL, image: CAT, ep: 'auto', options: persisted.options });
      p.send({ type: 'imageLoaded', job: p.job, image: { key: CAT.key, fingerprint: 'x', name: 'cat.jpg' }, decodeMs: 1 });
      p.send({ type: 'modelLoaded', job: p.job, model: modelInfo(), loadMs: 1 });
      assert.deepEqual(p.settings(), { method: 'gradcam', layer: '/fire/Relu', classes: [2], top: 5, target: 'contrast:1' });
      p.send({ type: 'explained', job: p.job, outcome: outcome(p.job, GRADCAM, [2, 1, 0, 3, 4], { layer: '/fire/Relu', target: 'contrast:1' }), timings: {}, runtime: RUNTIME });
      const persist = p.effects.find((e) => e.kind === 'persist');
      assert.ok(persist?.kind === 'persist');
      assert.deepEqual(persist.value.options, persisted.options);
    });
  });

  describe('the note when no method was chosen', () => {
    it('shows why the first method did not apply', () => {
      const note = 'CAM does not apply to this model (no linear head); showing Grad-CAM.';
      const p = Panel.opened((id) => outcome(id, GRADCAM, [1, 0, 2, 3, 4], { note }));
      assert.equal(p.state.outcome!.note, note);
      assert.equal(summaryOf(p.state)!.method, 'gradcam');
    });

    it('backend fallbacks become warnings once', () => {
      const p = Panel.opened();
      p.send({ type: 'pickMethod', method: 'gradcam' });
      const runtime = { backend: 'WASM', fallbacks: ['WebGPU failed on Conv; running on WASM.'] } as const;
      p.send({ type: 'explained', job: p.job, outcome: outcome(p.job, GRADCAM, [1]), timings: {}, runtime });
      assert.deepEqual(p.effects.filter((e) => e.kind === 'notify').length, 1);
      p.send({ type: 'measured', job: p.job, outcome: p.job, classIndex: 1, gain: gain(1), metrics: metrics(), runtime });
      assert.ok(!p.effects.some((e) => e.kind === 'notify'));
      assert.equal(summaryOf(p.state)!.fallback, 'WebGPU failed on Conv; running on WASM.');
    });
  });

  describe('layers, channels, gates and projections', () => {
    it('reads a layer\'s activations once, then shows its channels; a channel it lacks is refused', () => {
      const p = Panel.opened();
      p.send({ type: 'activations', ticket: 5, layer: '/fire/Relu' });
      assert.deepEqual(p.work(), { kind: 'readActivations', layer: '/fire/Relu' });
      p.send({ type: 'activationsRead', job: p.job, layer: '/fire/Relu', channels: 16 });
      assert.deepEqual(p.ended().result, { reply: 'activations' });
      assert.equal(p.state.status, 'Read 16 channels of /fire/Relu.');
      p.send({ type: 'showChannel', ticket: 6, layer: '/fire/Relu', channel: 3 });
      assert.ok(!p.effects.some((e) => e.kind === 'work'), 'the activations are at hand');
      assert.deepEqual(p.state.view, { kind: 'channel', layer: '/fire/Relu', channel: 3 });
      assert.equal(summaryOf(p.state)!.method, 'cam', 'the summary still describes the explanation');
      p.send({ type: 'showChannel', ticket: 7, layer: '/fire/Relu', channel: 16 });
      assert.match((p.ended().result as { error: Error }).error.message, /Layer '\/fire\/Relu' has no channel 16\./);
      p.send({ type: 'showChannel', ticket: 8, layer: '/conv/Relu', channel: 0 });
      assert.deepEqual(p.work(), { kind: 'readActivations', layer: '/conv/Relu' });
      p.send({ type: 'activationsRead', job: p.job, layer: '/conv/Relu', channels: 8 });
      assert.deepEqual(p.state.view, { kind: 'channel', layer: '/conv/Relu', channel: 0 });
      p.send({ type: 'projectChannel', ticket: 9, layer: '/conv/Relu', channel: 0 });
      p.send({ type: 'projected', job: p.job, layer: '/conv/Relu', channel: 0 });
      assert.deepEqual([p.state.view.kind, p.state.projection], ['channel', { layer: '/conv/Relu', channel: 0 }], 'the projection shows beside the channel');
      p.send({ type: 'showChannel', ticket: 10, layer: '/conv/Relu' });
      assert.deepEqual([p.state.view, p.state.projection], [{ kind: 'explanation' }, undefined]);
      assert.deepEqual(p.ended().result, { reply: 'none' });
    });

    it('a new explanation forgets the activations read for the old input', () => {
      const p = Panel.opened();
      p.send({ type: 'activations', ticket: 5, layer: '/fire/Relu' }).send({ type: 'activationsRead', job: p.job, layer: '/fire/Relu', channels: 16 });
      p.send({ type: 'open', ticket: 6, model: MODEL, image: DOG, ep: 'auto', options: {} });
      p.send({ type: 'imageLoaded', job: p.job, image: { key: DOG.key, fingerprint: 'dog', name: 'dog.jpg' }, decodeMs: 1 });
      assert.equal(p.state.acts, undefined);
    });

    it('a gate the model lacks is refused with its name; a known one is read and shown', () => {
      const gate = { tensor: '/se/Sigmoid', node: 'sig', activation: 'Sigmoid', kind: 'channel', shape: [8, 1, 1], featureShape: [8, 7, 7], residual: false } as const;
      const p = new Panel(Panel.opened().state);
      p.state = { ...p.state, model: { ...p.state.model!, gates: [gate] } };
      p.send({ type: 'showGate', ticket: 3, tensor: '/nope' });
      assert.match((p.ended().result as { error: Error }).error.message, /net\.onnx has no attention gate '\/nope'/);
      p.send({ type: 'showGate', ticket: 4, tensor: '/se/Sigmoid' });
      p.send({ type: 'gateRead', job: p.job, tensor: '/se/Sigmoid', kind: 'channel' });
      assert.deepEqual(p.state.view, { kind: 'gate', tensor: '/se/Sigmoid' });
      assert.equal(p.state.status, 'Showing the channel gate /se/Sigmoid.');
      p.send({ type: 'back' });
      assert.deepEqual(p.state.view, { kind: 'explanation' });
    });
  });

  describe('host settings, labels and files', () => {
    it('another execution provider reloads the model and explains again; before a model is loaded it is only noted', () => {
      assert.deepEqual(new Panel().send({ type: 'settings', ep: 'wasm' }).effects, []);
      const p = Panel.opened();
      p.send({ type: 'settings', ep: 'auto' });
      assert.deepEqual(p.effects, [], 'the same setting changes nothing');
      p.send({ type: 'settings', ep: 'wasm' });
      assert.deepEqual(p.work(), { kind: 'loadModel', ep: 'wasm' });
      assert.equal(p.state.status, 'Loading net.onnx…');
    });

    it('picked labels relabel what is shown; the sidecar gets them with the preset', () => {
      const p = Panel.opened();
      const file = { text: 'a\nb', name: 'mine.txt', uri: 'file:///ws/mine.txt' };
      p.send({ type: 'pickLabels' });
      assert.deepEqual(p.effects, [{ kind: 'pickLabels' }]);
      p.send({ type: 'labelsPicked', file });
      assert.deepEqual(p.effects, [{ kind: 'useLabels', file }]);
      p.send({ type: 'labelsUsed', labels: LABELS.map((l) => l.toUpperCase()), labelsSource: 'picked: mine.txt', pickedUri: file.uri });
      assert.equal(summaryOf(p.state)!.label, 'TIGER CAT');
      assert.equal(summaryOf(p.state)!.labelsSource, 'picked: mine.txt');
      p.send({ type: 'saveSidecar' });
      assert.deepEqual(p.effects, [{ kind: 'saveSidecar', modelKey: MODEL.key, preset: 'imagenet', labelsUri: file.uri }]);
      p.send({ type: 'saved', path: 'net.onnx.json' });
      assert.equal(p.state.status, 'Saved net.onnx.json.');
    });

    it('saving before anything is explained is an error; a failed save is reported, a cancelled one is quiet', () => {
      const empty = new Panel().send({ type: 'save', what: 'PNG' });
      assert.match(empty.state.error ?? '', /Nothing is explained yet/);
      const p = Panel.opened().send({ type: 'save', what: '.npy' });
      assert.deepEqual(p.effects, [{ kind: 'save', what: '.npy' }]);
      p.send({ type: 'failed', error: new CancelledError(), cancelled: true });
      assert.equal(p.state.status, 'Cancelled.');
      p.send({ type: 'failed', error: new Error('disk full'), cancelled: false });
      assert.deepEqual([p.state.status, p.state.error], ['Failed.', 'disk full']);
      assert.ok(p.effects.some((e) => e.kind === 'notify' && e.note.type === 'error'));
    });

    it('class search finds labels and indices', () => {
      const s = Panel.opened().state;
      assert.deepEqual(classMatches(s, 'CAT').map((m) => m.index), [1]);
      assert.deepEqual(classMatches(s, '5').map((m) => m.label), ['zebra']);
      assert.deepEqual(classMatches(s, '  '), []);
    });
  });

  describe('what the state keeps of an outcome', () => {
    it('the peak in original-image fractions through the preprocessing crop, the size drawn, and the raw range', () => {
      const map = new Float32Array(4 * 4);
      map[1 * 4 + 3] = 1;
      const heat = { method: 'cam', classIndex: 3, layer: '/conv/Relu', raw: float32(new Float32Array(16), [4, 4]), display: { kind: 'heatmap', map, width: 4, height: 4 } } as const;
      const grad = { method: 'cam', classIndex: 1, raw: float32(new Float32Array(12), [3, 2, 2]), display: { kind: 'gradient', grad: float32(new Float32Array(12), [3, 2, 2]) } } as const;
      const probs = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
      const o = {
        method: { id: 'cam', title: 'CAM', family: 'cam' }, layer: '/conv/Relu', target: 'logit', forward: { probs },
        predictions: [{ index: 3, label: 'x', score: 0.4 }], note: 'why',
        outputs: [{ explanation: heat, label: 'x', min: -2, max: 5, metrics: {} }, { explanation: grad, label: 'y', min: 0, max: 1, metrics: {} }],
        timings: { forward: 1, explain: 2, metrics: 0 },
      } as unknown as ExplainOutcome;
      const input = {
        base: { width: 100, height: 50, data: new Uint8Array(0) }, image: { width: 400, height: 200, data: new Uint8Array(0) },
        crop: { x: 200, y: 0, width: 200, height: 200 },
      } as unknown as PreparedInput;
      const v = outcomeView(7, o, input);
      assert.deepEqual([v.id, v.method.id, v.layer, v.note, v.predictions], [7, 'cam', '/conv/Relu', 'why', [{ index: 3, score: 0.4 }]]);
      // Cell (row 1, column 3) of 4×4 over the crop [200, 400) × [0, 200) of a 400×200 image.
      assert.deepEqual(v.outputs[0].peak, { x: (200 + 3.5 / 4 * 200) / 400, y: (1.5 / 4 * 200) / 200 });
      assert.deepEqual(v.outputs[0].rendered, { width: 100, height: 50 });
      assert.deepEqual(v.outputs[0].rawRange, [-2, 5]);
      assert.deepEqual([v.outputs[1].display, v.outputs[1].peak, v.outputs[1].rendered], ['gradient', undefined, { width: 2, height: 2 }]);
    });
  });

  describe('the sanity check', () => {
    it('checks the shown map and class as a job with progress and Cancel; its line follows the outcome and class it checked', () => {
      const p = Panel.opened((id) => outcome(id, GRADCAM, [1, 0, 2]));
      const shown = p.state.outcome!.id;
      p.send({ type: 'checkSanity' });
      assert.deepEqual(p.work(), { kind: 'sanity', outcome: shown, method: 'gradcam', classIndex: 1, layer: '/conv/Relu' });
      assert.equal(p.state.status, 'Sanity check of Grad-CAM…');
      p.send({ type: 'progress', job: p.job, done: 3, total: 10 });
      assert.match(p.state.status, /^Sanity check: 3 of 10 runs/);
      const sanity = { outcome: shown, classIndex: 1, spearmanAll: 0.1, ssimAll: 0.3, spearmanClass: 0.6, steps: 8, flagged: false, verdict: 'Changes.' };
      p.send({ type: 'sanityChecked', job: p.job, sanity });
      assert.deepEqual(p.state.sanity, sanity);
      assert.equal(p.state.job, undefined);
      assert.equal(p.state.status, 'Sanity check done.');
      assert.deepEqual(p.state.outcome!.id, shown, 'the explanation stays shown');
      // Cancel: the job ends quietly and the earlier result stays.
      p.send({ type: 'pickClass', classIndex: 0 }).send({ type: 'checkSanity' });
      assert.equal((p.work() as Extract<Work, { kind: 'sanity' }>).classIndex, 0);
      p.send({ type: 'cancel' });
      assert.ok(p.kinds().includes('abort'));
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      assert.equal(p.state.status, 'Cancelled.');
      assert.deepEqual(p.state.sanity, sanity);
    });

    it('refuses with nothing explained', () => {
      const p = new Panel().send({ type: 'checkSanity' });
      assert.equal(p.state.error, 'Nothing is explained yet.');
      assert.ok(!p.effects.some((e) => e.kind === 'work'));
    });
  });

  describe('what to explain (the target)', () => {
    it('re-explains with the picked target, persists it, and a failure puts the old one back', () => {
      const p = Panel.opened();
      p.send({ type: 'pickTarget', target: 'softmax' });
      assert.equal(p.settings().target, 'softmax');
      p.explained((id) => outcome(id, CAM, [1, 0, 2, 3, 4], { target: 'softmax' }));
      assert.equal(summaryOf(p.state)!.target, 'softmax');
      p.send({ type: 'pickTarget', target: 'contrast:0' });
      assert.equal(p.settings().target, 'contrast:0');
      const err = new LookCloserError('method-not-applicable', "CAM cannot explain target 'contrast:0'");
      p.send({ type: 'failed', job: p.job, error: err, cancelled: false });
      assert.equal(p.state.choices.target, 'softmax', 'the refused target does not stick');
      assert.equal(p.state.error, err.message);
      p.send({ type: 'pickColormap', colormap: 'jet' });
      const persist = p.effects.find((e) => e.kind === 'persist');
      assert.equal(persist?.kind === 'persist' && persist.value.options?.target, 'softmax');
    });
  });

  describe('the deferred checks and the pointing box', () => {
    it('a new explanation supersedes the checks in flight: the shown map and choices stay, the old checks are dropped', () => {
      const p = Panel.opened();
      p.send({ type: 'pickMethod', method: 'gradcam' });
      const id = p.job;
      p.send({ type: 'explained', job: id, outcome: outcome(id, GRADCAM, [1, 0]), timings: {}, runtime: RUNTIME });
      assert.equal(summaryOf(p.state)!.method, 'gradcam', 'shown before its checks');
      assert.equal(p.work().kind, 'measure');
      p.send({ type: 'pickMethod', method: 'guided-backprop' });
      assert.deepEqual(p.kinds().slice(0, 2), ['abort', 'end'], 'the checks are aborted');
      assert.equal(p.state.choices.method, 'guided-backprop');
      p.send({ type: 'measured', job: id, outcome: id, classIndex: 1, gain: gain(1), metrics: metrics(), runtime: RUNTIME });
      assert.equal(summaryOf(p.state)!.metrics, undefined, 'results of a superseded job are dropped');
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      assert.equal(p.state.choices.method, 'gradcam', 'the cancelled change goes back to the method shown, not the one before it');
      assert.equal(summaryOf(p.state)!.method, 'gradcam');
    });

    it('a drawn box plays the pointing game on the shown map at once; clearing it drops the result; a new image drops the box', () => {
      const p = Panel.opened();
      const o = p.state.outcome!;
      p.send({ type: 'setBox', box: { x: 0.5, y: 0.5, width: 0.005, height: 0.3 } });
      assert.equal(p.state.box, undefined, 'a click is no box');
      assert.ok(!p.kinds().includes('work'));
      p.send({ type: 'setBox', box: { x: 0.6, y: 0.7, width: -0.4, height: -0.2 } });
      const box = p.state.box!;
      assert.deepEqual([box.x, box.y].map((v) => +v.toFixed(6)), [0.2, 0.5]);
      assert.deepEqual([box.width, box.height].map((v) => +v.toFixed(6)), [0.4, 0.2]);
      assert.deepEqual(p.work(), { kind: 'measure', outcome: o.id, classIndex: 1, ids: ['pointing'], gain: false, box });
      const pointing = { hit: true, point: { x: 10, y: 20 }, box: { x: 1, y: 2, width: 3, height: 4 }, tolerance: 15 };
      p.send({ type: 'measured', job: p.job, outcome: o.id, classIndex: 1, metrics: { pointing }, runtime: RUNTIME });
      assert.deepEqual(summaryOf(p.state)!.metrics?.pointing, pointing);
      assert.equal(summaryOf(p.state)!.metrics?.deletion?.auc, 0.2, 'the other metrics stay');
      assert.equal(p.state.status, 'Pointing game: hit.');
      // Another class not measured yet: its checks include the game.
      p.send({ type: 'pickClass', classIndex: 2 });
      assert.deepEqual((p.work() as Extract<Work, { kind: 'measure' }>).ids, ['deletion', 'insertion', 'road', 'confidence', 'pointing']);
      p.send({ type: 'setBox', box: undefined });
      assert.equal(p.state.box, undefined);
      assert.equal(p.state.metrics[1].pointing, undefined);
      p.send({ type: 'setBox', box: { x: 0, y: 0, width: 0.5, height: 0.5 } });
      p.send({ type: 'open', ticket: 9, model: MODEL, image: DOG, ep: 'auto', options: {} });
      p.send({ type: 'imageLoaded', job: p.job, image: { key: DOG.key, fingerprint: JSON.stringify([DOG.key, 12]), name: 'dog.jpg' }, decodeMs: 4 });
      assert.equal(p.state.box, undefined, 'the box belonged to the other picture');
    });
  });

  describe('compare methods', () => {
    it('runs the default eight methods (registry order) for the shown class and target, fills cells as they finish, ranks them and records the total time', () => {
      const p = Panel.opened((id) => outcome(id, GRADCAM, [1, 0, 2], { target: 'softmax' }));
      p.state = { ...p.state, model: { ...p.state.model!, unavailable: [{ method: 'attention-rollout', reason: 'no attention' }, { method: 'grad-rollout', reason: 'no attention' }] } };
      p.send({ type: 'pickClass', classIndex: 0 });
      p.send({ type: 'measured', job: p.job, outcome: p.state.outcome!.id, classIndex: 0, gain: gain(0), metrics: metrics(), runtime: RUNTIME });
      p.send({ type: 'compareMethods' });
      const c = p.state.compare!;
      const ids = ['gradcam', 'guided-backprop', 'saliency', 'guided-gradcam', 'gradcam-plusplus', 'layercam', 'eigencam', 'input-x-gradient'];
      assert.deepEqual(c.cells.map((x) => x.method), ids);
      assert.ok(c.cells.every((x) => x.status === 'pending'));
      assert.equal(p.state.compareOpen, true);
      const first = p.work() as Extract<Work, { kind: 'compare' }>;
      // The shown map's metrics go with the first step: a compared map bit-identical to it reuses them.
      const { deletion, insertion, confidence } = metrics();
      assert.deepEqual(first, { kind: 'compare', outcome: p.state.outcome!.id, method: ids[0], classIndex: 0, target: 'softmax', layer: '/conv/Relu', box: undefined, first: true, metrics: ['deletion', 'insertion', 'confidence'], shown: { deletion, insertion, confidence } });
      assert.equal(compareStatus(p.state), `Comparing: 0 of ${ids.length} methods…`);
      const job = p.job;
      ids.forEach((method, i) => {
        const w = p.work() as Extract<Work, { kind: 'compare' }>;
        assert.equal(w.method, method);
        assert.equal(w.first, i === 0);
        if (i > 0) assert.equal(w.shown, undefined);
        const family = METHODS.find((m) => m.id === method)!.family;
        assert.equal(w.layer, family === 'cam' ? '/conv/Relu' : undefined, 'CAM methods at the shown layer');
        const cell = i === 2 ? { method, title: method, status: 'skipped' as const, reason: 'does not apply' }
          : { method, title: method, status: 'done' as const, metrics: metrics(0.5 - i / 100, 0.5), ms: 10 };
        p.send({ type: 'compared', job, cell, elapsedMs: 100 * (i + 1) });
        if (i === 0) assert.equal(summaryOf(p.state)!.compare?.filled, 1, 'filled in as each finishes');
        if (i === 0) assert.equal(compareStatus(p.state), `Comparing: 1 of ${ids.length} methods (1 maps in 0.1 s)…`);
      });
      assert.equal(p.state.job, undefined);
      const s = summaryOf(p.state)!.compare!;
      assert.deepEqual([s.methods, s.finished, s.filled, s.totalMs, s.rankBy], [ids.length, ids.length, ids.length - 1, 100 * ids.length, 'deletion']);
      assert.equal(s.ranking[0].method, ids[ids.length - 1], 'lowest deletion AUC first');
      assert.equal(p.state.status, `Compared ${ids.length - 1} methods in ${(ids.length / 10).toFixed(1)} s.`);
      assert.equal(compareStatus(p.state), `compare view: ${ids.length - 1} methods in ${(ids.length / 10).toFixed(1)} s (1 skipped or failed)`);
      p.send({ type: 'rankBy', key: 'insertion' });
      assert.equal(summaryOf(p.state)!.compare!.ranking[0].method, ids[0], 'ties keep the registry order');
      p.send({ type: 'rankBy', key: 'nonsense' });
      assert.equal(p.state.compare!.rankBy, 'insertion');
    });

    it('the method picker: the pick is remembered (persisted, restored), unknown ids dropped, none = the default eight; slow methods run last; the default is topped up where some do not apply', () => {
      const p = Panel.opened();
      const all = METHODS.map((m) => m.id);
      p.send({ type: 'pickCompareMethods', methods: ['rise', 'saliency', 'nonsense', 'gradcam', 'saliency', 'occlusion'] });
      assert.deepEqual(p.state.compareChoice, ['rise', 'saliency', 'gradcam', 'occlusion']);
      const persisted = p.effects.find((e) => e.kind === 'persist') as Extract<typeof p.effects[number], { kind: 'persist' }>;
      assert.deepEqual(persisted.value.compareMethods, ['rise', 'saliency', 'gradcam', 'occlusion']);
      assert.deepEqual(comparedMethods(p.state), ['gradcam', 'saliency', 'occlusion', 'rise'], 'registry order, occlusion and RISE (slow) last, RISE the slowest');
      p.send({ type: 'compareMethods' });
      assert.deepEqual(p.state.compare!.cells.map((x) => x.method), ['gradcam', 'saliency', 'occlusion', 'rise']);
      assert.deepEqual(initialState(persisted.value).compareChoice, ['rise', 'saliency', 'gradcam', 'occlusion'], 'a reloaded panel keeps the pick');
      assert.equal(initialState({}).compareChoice, undefined);
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      p.send({ type: 'pickCompareMethods', methods: [] });
      assert.equal(p.state.compareChoice, undefined);
      assert.deepEqual(comparedMethods(p.state), DEFAULT_COMPARED.slice().sort((a, b) => all.indexOf(a) - all.indexOf(b)));
      // A model where three of the eight do not apply: three more fast ones fill in (never the slow ones).
      const gone = ['gradcam-plusplus', 'layercam', 'eigencam'];
      const q = { ...p.state, model: { ...p.state.model!, unavailable: gone.map((method) => ({ method, reason: 'n/a' })) } };
      const picked = comparedMethods(q);
      assert.equal(picked.length, 8);
      assert.deepEqual(picked, ['cam', 'gradcam', 'guided-backprop', 'deconvnet', 'saliency', 'guided-gradcam', 'attention-crop', 'input-x-gradient']);
      assert.ok(comparableMethods(q).every((id) => !gone.includes(id)));
      assert.deepEqual(comparableMethods(q).slice(-2), ['scorecam', 'rise']);
    });

    it('measures ROAD only when ranked by it, and the pointing game only with a box (as the CLI compares)', () => {
      assert.deepEqual(comparedMetrics('deletion', false), ['deletion', 'insertion', 'confidence']);
      assert.deepEqual(comparedMetrics('road', false), ['deletion', 'insertion', 'confidence', 'road']);
      assert.deepEqual(comparedMetrics('pointing', false), ['deletion', 'insertion', 'confidence']);
      assert.deepEqual(comparedMetrics('deletion', true), ['deletion', 'insertion', 'confidence', 'pointing']);
      const p = Panel.opened();
      p.send({ type: 'compareMethods' });
      p.send({ type: 'rankBy', key: 'road' });
      p.send({ type: 'closeCompare' });
      p.send({ type: 'failed', job: p.job, error: new CancelledError(), cancelled: true });
      p.send({ type: 'compareMethods' });
      assert.equal(p.state.compare!.rankBy, 'road');
      assert.deepEqual((p.work() as Extract<Work, { kind: 'compare' }>).metrics, ['deletion', 'insertion', 'confidence', 'road']);
    });

    it('Stop or Close cancels it; the cells so far stay; a comparison needs an explanation', () => {
      assert.equal(new Panel().send({ type: 'compareMethods' }).state.error, 'Nothing is explained yet.');
      const p = Panel.opened();
      p.send({ type: 'compareMethods' });
      const job = p.job;
      p.send({ type: 'compared', job, cell: { method: 'gradcam', title: 'Grad-CAM', status: 'done', metrics: metrics() }, elapsedMs: 50 });
      p.send({ type: 'closeCompare' });
      assert.deepEqual(p.effects, [{ kind: 'abort', job }]);
      assert.equal(p.state.compareOpen, false);
      p.send({ type: 'failed', job, error: new CancelledError(), cancelled: true });
      assert.equal(p.state.status, 'Cancelled.');
      assert.match(compareStatus(p.state), /^Stopped after 1 of \d+ methods \(1 maps in 0\.1 s\)\.$/);
      assert.equal(summaryOf(p.state)!.compare!.filled, 1);
      assert.equal(summaryOf(p.state)!.method, 'cam', 'the shown map stays');
    });
  });
});
