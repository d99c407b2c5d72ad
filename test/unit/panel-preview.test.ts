/**
 * The panel's side of the host's first map (webview/panel/controller.ts, job-flow.ts): an open that offers a
 * preview and leaves the model's bytes out asks the host for the map right after decoding the image, shows it
 * while the model loads (the labels the host named, nothing that needs the model), keeps it through the load,
 * and replaces it with its own map; choices made meanwhile wait; an open with the bytes asks for no preview.
 */
import { strict as assert } from 'node:assert';
import type { ImagePayload, ModelHeld, ModelPayload } from '../../src/protocol/protocol';
import { initialState, update } from '../../webview/panel/controller';
import type { Effect, PanelMsg } from '../../webview/panel/messages';
import { labelOf, modelFingerprint, summaryOf } from '../../webview/panel/selectors';
import type { ModelInfo, OutcomeView, PanelState, Work } from '../../webview/panel/state';

const MODEL: ModelHeld = {
  key: 'file:///ws/resnet50.onnx', name: 'resnet50.onnx', origin: 'resnet50.onnx', fingerprint: '["file:///ws/resnet50.onnx",97000000,1]',
  fallbackLabels: { imagenet: '[]', digits: '' }, writable: true,
};
const IMAGE: ImagePayload = { key: 'file:///ws/cat.jpg', name: 'cat.jpg', bytes: new Uint8Array(10) };

function outcome(id: number, method: string): OutcomeView {
  return {
    id, method: { id: method, title: method.toUpperCase(), family: 'cam' }, layer: 'x', probs: new Float32Array(1000), predictions: [{ index: 281, score: 0.6 }, { index: 282, score: 0.2 }],
    outputs: [{ classIndex: 281, display: 'heatmap', rawRange: [0, 1], shape: [7, 7], rendered: { width: 224, height: 224 } }],
  };
}

function info(): ModelInfo {
  return {
    key: MODEL.key, fingerprint: modelFingerprint(MODEL), ep: 'auto', name: MODEL.name, origin: MODEL.origin, writable: true, classes: 1000,
    layers: [], targetLayers: [], gates: [], preprocessing: { name: 'imagenet', source: 'guess', reason: 'test', channels: 'rgb' },
    labels: Array.from({ length: 1000 }, (_, i) => `panel label ${i}`), labelsSource: 'bundled', backend: 'WASM', fallbacks: [],
  };
}

class Panel {
  state: PanelState = initialState();
  send(m: PanelMsg): Effect[] {
    const t = update(this.state, m);
    this.state = t.state;
    return [...t.effects];
  }
  static work(fx: readonly Effect[]): Work | undefined {
    return fx.find((e): e is Extract<Effect, { kind: 'work' }> => e.kind === 'work')?.work;
  }
}

describe("the panel's side of the host's first map", () => {
  it('asks for it after the image, shows it while the model loads, and replaces it with its own map', () => {
    const p = new Panel();
    let fx = p.send({ type: 'open', ticket: 1, model: MODEL, image: IMAGE, ep: 'auto', options: {}, preview: true });
    assert.equal(Panel.work(fx)?.kind, 'loadImage');
    const job = p.state.job!.id;
    fx = p.send({ type: 'imageLoaded', job, image: { key: IMAGE.key, fingerprint: 'img', name: IMAGE.name }, decodeMs: 1 });
    const w = Panel.work(fx);
    assert.equal(w?.kind, 'preview');
    assert.equal((w as Extract<Work, { kind: 'preview' }>).model, MODEL.key);

    const labels = Array.from({ length: 1000 }, (_, i) => `host label ${i}`);
    fx = p.send({ type: 'previewed', job, outcome: outcome(job, 'cam'), preview: { labels, backend: 'onnxruntime-web 1.30 (wasm, 2 threads), extension host', ms: { load: 900, waited: 0, prepare: 10, forward: 80, explain: 5 } } });
    const load = Panel.work(fx);
    assert.equal(load?.kind, 'loadModel', 'the model loads next');
    assert.equal((load as Extract<Work, { kind: 'loadModel' }>).model?.bytes, undefined, 'without bytes: the load asks the host for them');
    assert.equal(p.state.outcome?.method.id, 'cam', "the host's map stays shown through the load");
    assert.ok(p.state.preview);
    assert.equal(labelOf(p.state, 281), 'host label 281', "named with the host's labels");
    assert.match(p.state.status, /^Loading resnet50\.onnx/);
    assert.equal(summaryOf(p.state), undefined, 'no summary for the host until the panel has the model');

    // A class picked meanwhile would supersede the load: it waits, and says so.
    fx = p.send({ type: 'pickClass', classIndex: 282 });
    assert.deepEqual(fx, []);
    assert.equal(p.state.job?.id, job, 'the load goes on');
    assert.match(p.state.status, /still loading into the panel/);
    fx = p.send({ type: 'pickMethod', method: 'gradcam' });
    assert.deepEqual(fx, []);
    assert.equal(p.state.choices.method, undefined);

    fx = p.send({ type: 'modelLoaded', job, model: info(), loadMs: 1 });
    assert.equal(Panel.work(fx)?.kind, 'explain');
    fx = p.send({ type: 'explained', job, outcome: outcome(job, 'cam'), timings: { forward: 1, explain: 1 }, runtime: { backend: 'WASM', fallbacks: [] } });
    assert.equal(p.state.preview, undefined, "the panel's own map replaced the host's");
    assert.equal(labelOf(p.state, 281), 'panel label 281');
    assert.equal(Panel.work(fx)?.kind, 'measure', 'its checks follow');
    assert.ok(summaryOf(p.state));
  });

  it('names the image instead of sending pixels when the host decoded it itself (previewDecoded)', () => {
    const p = new Panel();
    let fx = p.send({ type: 'open', ticket: 1, model: MODEL, image: IMAGE, ep: 'auto', options: {}, preview: true, previewDecoded: true });
    fx = p.send({ type: 'imageLoaded', job: p.state.job!.id, image: { key: IMAGE.key, fingerprint: 'img', name: IMAGE.name }, decodeMs: 1 });
    const w = Panel.work(fx) as Extract<Work, { kind: 'preview' }>;
    assert.equal(w.kind, 'preview');
    assert.equal(w.image, IMAGE.key);
    const plain = new Panel();
    plain.send({ type: 'open', ticket: 1, model: MODEL, image: IMAGE, ep: 'auto', options: {}, preview: true });
    const w2 = Panel.work(plain.send({ type: 'imageLoaded', job: plain.state.job!.id, image: { key: IMAGE.key, fingerprint: 'img', name: IMAGE.name }, decodeMs: 1 })) as Extract<Work, { kind: 'preview' }>;
    assert.equal(w2.image, undefined, 'the panel sends its pixels');
  });

  it('asks for no preview when the open carries the bytes; a panel that keeps its model previews the next image only when the host offers it', () => {
    const p = new Panel();
    const withBytes: ModelPayload = { ...MODEL, bytes: new Uint8Array(4) };
    let fx = p.send({ type: 'open', ticket: 1, model: withBytes, image: IMAGE, ep: 'auto', options: {}, preview: false });
    const job = p.state.job!.id;
    fx = p.send({ type: 'imageLoaded', job, image: { key: IMAGE.key, fingerprint: 'img', name: IMAGE.name }, decodeMs: 1 });
    assert.equal(Panel.work(fx)?.kind, 'loadModel');
    p.send({ type: 'modelLoaded', job, model: info(), loadMs: 1 });
    p.send({ type: 'explained', job, outcome: outcome(job, 'cam'), timings: { forward: 1, explain: 1 }, runtime: { backend: 'WASM', fallbacks: [] } });
    // The next image, the model held, no offer: the map runs at once.
    fx = p.send({ type: 'open', ticket: 2, model: MODEL, image: { ...IMAGE, key: 'file:///ws/dog.jpg' }, ep: 'auto', options: {}, preview: false });
    const job2 = p.state.job!.id;
    fx = p.send({ type: 'imageLoaded', job: job2, image: { key: 'file:///ws/dog.jpg', fingerprint: 'dog', name: 'dog.jpg' }, decodeMs: 1 });
    assert.equal(Panel.work(fx)?.kind, 'explain', 'no preview, no load: the loaded model explains');
    // Another image with the host's offer (it keeps the model loaded for this panel): its map first, then the panel's own, no load.
    fx = p.send({ type: 'open', ticket: 3, model: MODEL, image: { ...IMAGE, key: 'file:///ws/cat.jpg' }, ep: 'auto', options: {}, preview: true, previewDecoded: true });
    const job3 = p.state.job!.id;
    fx = p.send({ type: 'imageLoaded', job: job3, image: { key: 'file:///ws/cat.jpg', fingerprint: 'cat', name: 'cat.jpg' }, decodeMs: 1 });
    const w = Panel.work(fx) as Extract<Work, { kind: 'preview' }>;
    assert.equal(w?.kind, 'preview');
    assert.equal(w.image, 'file:///ws/cat.jpg', 'the host decoded it: no pixels sent');
    fx = p.send({ type: 'previewed', job: job3, outcome: outcome(job3, 'cam'), preview: { labels: ['host labels'], backend: 'onnxruntime-node 1.30.0 (cpu, 2 threads), extension host', ms: { load: 0, waited: 0, prepare: 10, forward: 5, explain: 5 } } });
    assert.equal(Panel.work(fx)?.kind, 'explain', 'then the panel explains with the model it keeps (no load)');
    assert.ok(p.state.model, 'the model stays loaded');
    assert.ok(p.state.preview && p.state.outcome?.id === job3, "the host's map is shown meanwhile");
    p.send({ type: 'explained', job: job3, outcome: outcome(job3, 'cam'), timings: { forward: 1, explain: 1 }, runtime: { backend: 'WASM', fallbacks: [] } });
    assert.equal(p.state.preview, undefined, "the panel's own map replaced the host's");
  });

  it('a preview the host could not give is skipped: the panel loads the model and explains as without', () => {
    const p = new Panel();
    let fx = p.send({ type: 'open', ticket: 1, model: MODEL, image: IMAGE, ep: 'auto', options: {}, preview: true });
    const job = p.state.job!.id;
    fx = p.send({ type: 'imageLoaded', job, image: { key: IMAGE.key, fingerprint: 'img', name: IMAGE.name }, decodeMs: 1 });
    fx = p.send({ type: 'previewSkipped', job, why: "The extension host's onnxruntime thread stopped" });
    assert.equal(Panel.work(fx)?.kind, 'loadModel');
    assert.equal(p.state.outcome, undefined);
    assert.equal(p.state.error, undefined, 'nothing to report: the panel goes on');
  });
});
