/**
 * The next image in a reused panel: the host leaves out the bytes of a model the panel loaded (its fingerprint:
 * URI, size, mtime), the panel keeps its model and sessions for them and reloads when the file changed (same path,
 * new bytes of the same size); another class on the same input reuses the shown forward pass and draws the same map.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { explainImage } from '../../src/core/app/explain-image';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { fileFingerprint, withHeldBytes } from '../../src/protocol/model-payload';
import type { ImagePayload, ModelHeld, ModelPayload } from '../../src/protocol/protocol';
import { initialState, update } from '../../webview/panel/controller';
import type { Effect, PanelMsg } from '../../webview/panel/messages';
import { modelFingerprint } from '../../webview/panel/selectors';
import type { ModelInfo, OutcomeView, PanelState, Work } from '../../webview/panel/state';
import { SAMPLES, SQUEEZENET } from '../support/paths';

/** A model payload as the host builds it: the file's bytes and its stat's fingerprint (vscode's FileStat: mtime in whole ms). */
function hostPayload(file: string): ModelPayload {
  const st = fs.statSync(file);
  const key = `file://${file}`;
  return {
    key, name: path.basename(file), origin: path.basename(file), bytes: new Uint8Array(fs.readFileSync(file)),
    fingerprint: fileFingerprint(key, st.size, Math.trunc(st.mtimeMs)),
    fallbackLabels: { imagenet: '[]', digits: '' }, writable: true,
  };
}

/** What the host sends for a panel that loaded these bytes already (explanation-panel.ts). */
function held(p: ModelPayload): ModelHeld {
  return { ...p, bytes: undefined, fingerprint: p.fingerprint! };
}

function image(name: string): ImagePayload {
  return { key: `file:///ws/${name}`, name, bytes: new Uint8Array(fs.readFileSync(path.join(SAMPLES, name))) };
}

/** The model as the panel's work reports it loaded (work.ts modelInfo: the fingerprint of the payload it loaded). */
function info(p: ModelPayload): ModelInfo {
  return {
    key: p.key, fingerprint: modelFingerprint(p), ep: 'wasm', name: p.name, origin: p.origin, writable: true, classes: 1000,
    layers: [], targetLayers: [], gates: [], preprocessing: { name: 'imagenet', source: 'guess', reason: 'test', channels: 'rgb' },
    labelsSource: 'bundled', backend: 'WASM', fallbacks: [],
  };
}

/** The controller with a driver that answers its work as the panel's does, recording every piece of work. */
class Panel {
  state: PanelState = initialState();
  readonly done: Work[] = [];
  private ticket = 1;

  send(m: PanelMsg): Effect[] {
    const t = update(this.state, m);
    this.state = t.state;
    return [...t.effects];
  }

  /** An open request, answered step by step until the job ends; returns the work it asked for. */
  open(model: ModelPayload, img: ImagePayload): Work['kind'][] {
    const kinds: Work['kind'][] = [];
    let fx = this.send({ type: 'open', ticket: this.ticket++, model, image: img, ep: 'wasm', options: {} });
    for (;;) {
      const w = fx.find((e): e is Extract<Effect, { kind: 'work' }> => e.kind === 'work')?.work;
      if (!w) return kinds;
      kinds.push(w.kind);
      this.done.push(w);
      fx = this.send(this.answer(w));
    }
  }

  private answer(w: Work): PanelMsg {
    const job = this.state.job!.id;
    switch (w.kind) {
      case 'loadImage': return { type: 'imageLoaded', job, image: { key: w.image.key, fingerprint: JSON.stringify([w.image.key, w.image.bytes.byteLength]), name: w.image.name }, decodeMs: 1 };
      case 'loadModel': return { type: 'modelLoaded', job, model: info(w.model as ModelPayload), loadMs: 1 };
      case 'explain': {
        const o: OutcomeView = {
          id: job, method: { id: 'cam', title: 'CAM', family: 'cam' }, layer: 'x', probs: new Float32Array(1000), predictions: [{ index: 0, score: 1 }],
          outputs: [{ classIndex: 0, display: 'heatmap', rawRange: [0, 1], shape: [13, 13], rendered: { width: 224, height: 224 } }],
        };
        return { type: 'explained', job, outcome: o, timings: { forward: 1, explain: 1 }, runtime: { backend: 'WASM', fallbacks: [] } };
      }
      case 'measure': return { type: 'measured', job, outcome: w.outcome, classIndex: w.classIndex, gain: undefined, metrics: {}, runtime: { backend: 'WASM', fallbacks: [] } };
      default: throw new Error(`unexpected work ${w.kind}`);
    }
  }
}

describe('the next image in a reused panel', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-reuse-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps the loaded model for an unchanged file (no bytes sent, no load) and loads it again when the file changed on disk (same path and size, new bytes)', async () => {
    const file = path.join(dir, 'squeezenet.onnx');
    fs.copyFileSync(SQUEEZENET, file);
    const first = hostPayload(file);
    const panel = new Panel();
    assert.deepEqual(panel.open(first, image('wm_cat.jpg')), ['loadImage', 'loadModel', 'explain', 'measure']);
    const loaded = (panel.done.find((w) => w.kind === 'loadModel') as Extract<Work, { kind: 'loadModel' }>).model as ModelPayload;

    // The next image: the host's stat is unchanged, so it sends no bytes; the panel uses the bytes it holds.
    const again = hostPayload(file);
    assert.equal(again.fingerprint, first.fingerprint);
    const next = withHeldBytes(held(again), loaded);
    assert.ok(next, 'the panel holds the model: it does not ask the host for its bytes');
    assert.equal(next.bytes, loaded.bytes, 'the loaded bytes themselves, not a copy');
    assert.deepEqual(panel.open(next, image('wm_bald_eagle.jpg')), ['loadImage', 'explain', 'measure'], 'no model load, no new sessions: the map runs first');

    // The file is rewritten with other weights of the same size (a re-export): a new mtime, so a new fingerprint.
    await new Promise((r) => setTimeout(r, 30));
    const bytes = new Uint8Array(fs.readFileSync(file));
    bytes[bytes.length - 100] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const changed = hostPayload(file);
    assert.equal(changed.bytes.byteLength, first.bytes.byteLength, 'the same size');
    assert.notEqual(changed.fingerprint, first.fingerprint);
    assert.equal(modelFingerprint({ ...changed, fingerprint: undefined }), modelFingerprint({ ...first, fingerprint: undefined }), 'the byte count alone would have kept the old model');
    assert.equal(withHeldBytes(held(changed), loaded), undefined, 'the panel does not hold these bytes: it asks the host for them');
    const kinds = panel.open(changed, image('wm_cat.jpg'));
    assert.deepEqual(kinds, ['loadImage', 'loadModel', 'explain', 'measure'], 'the changed model is loaded again');
    const reloaded = (panel.done.filter((w) => w.kind === 'loadModel').pop() as Extract<Work, { kind: 'loadModel' }>).model as ModelPayload;
    assert.equal(reloaded.bytes[reloaded.bytes.length - 100], bytes[bytes.length - 100], 'with the new bytes');
    assert.equal(panel.state.model?.fingerprint, modelFingerprint(changed));
  });

  it('loads again when the sidecar changed although the bytes did not (the small parts are always sent)', () => {
    const file = path.join(dir, 'side.onnx');
    fs.copyFileSync(SQUEEZENET, file);
    const first = hostPayload(file);
    const panel = new Panel();
    panel.open(first, image('wm_cat.jpg'));
    const withSidecar: ModelHeld = { ...held(hostPayload(file)), sidecarText: '{"preset": "imagenet"}' };
    const next = withHeldBytes(withSidecar, first)!;
    assert.equal(next.bytes, first.bytes, 'the held bytes serve');
    assert.deepEqual(panel.open(next, image('wm_cat.jpg')), ['loadModel', 'explain', 'measure']);
  });

  it('asks the host when it holds another model, or a payload without the host fingerprint', () => {
    const file = path.join(dir, 'other.onnx');
    fs.copyFileSync(SQUEEZENET, file);
    const p = hostPayload(file);
    assert.equal(withHeldBytes(held(p), undefined), undefined, 'nothing loaded');
    assert.equal(withHeldBytes(held(p), { ...p, key: 'file:///elsewhere.onnx' }), undefined, 'another file');
    assert.equal(withHeldBytes(held(p), { ...p, fingerprint: undefined }), undefined, 'a payload without a fingerprint (a folder run)');
    assert.equal(withHeldBytes(p, undefined), p, 'a payload with bytes is used as sent');
  });
});

describe('another class on the same input (SqueezeNet, a real photo)', function () {
  this.timeout(600000);
  let model: LoadedModel;
  let input: LoadedInput;
  before(async () => {
    model = await loadModel(webRuntime(), SQUEEZENET);
    input = await loadInput(model, path.join(SAMPLES, 'wm_cat.jpg'));
  });
  after(() => model.dispose());

  for (const method of ['cam', 'gradcam']) {
    it(`${method}: reusing the shown outcome's forward pass gives the same map as a fresh pass`, async () => {
      const shown = await explainImage(model, input, { method, top: 5 });
      const k = shown.predictions[1].index;
      const reused = await explainImage(model, input, { method, classes: [k], top: 5, forward: shown.forward });
      const fresh = await explainImage(model, input, { method, classes: [k], top: 5 });
      assert.equal(reused.forward, shown.forward, 'no forward pass of its own');
      assert.deepEqual(reused.outputs.map((o) => o.explanation.classIndex), fresh.outputs.map((o) => o.explanation.classIndex));
      const a = reused.outputs[0].explanation.raw.data;
      const b = fresh.outputs[0].explanation.raw.data;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      const scale = Math.max(...Array.from(b, Math.abs));
      assert.ok(worst <= 1e-5 * scale, `max |reused − fresh| ${worst} of ${scale}`);
    });
  }
});
