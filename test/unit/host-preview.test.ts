/**
 * The extension host's first map (src/extension/host-preview.ts, computed by src/node/preview-thread.ts on the real
 * runtime thread, started from source): the thread loads the model at the click, the panel sends the decoded image
 * (or the thread decodes the file), and the map the host answers (through a structured-clone
 * channel, rebuilt by the panel's previewOutcome) is the map the panel computes itself with onnxruntime-web
 * in-process, class for class; its sessions are released; what a webview must not send is refused.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Classifier } from '../../src/core/app/classifier';
import { explainImage, prepareImage } from '../../src/core/app/explain-image';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { HostPreview, PREVIEW_KEEP_MAX_BYTES, keptForNextImages } from '../../src/extension/host-preview';
import { decodeOnHost } from '../../src/node/host-decode';
import { decodeImageFile } from '../../src/node/image-io';
import { webRuntime } from '../../src/node/ort-runtime';
import { RuntimeThread } from '../../src/node/thread-runtime';
import { modelSourceOf } from '../../src/protocol/model-payload';
import type { ModelPayload, PreviewAnswer } from '../../src/protocol/protocol';
import { outcomeView } from '../../webview/panel/outcome-view';
import { previewOutcome } from '../../webview/panel/work';
import { assertMatches } from '../support/compare';
import { ROOT, SAMPLES, SQUEEZENET, TWO_CLASS } from '../support/paths';

const FROM = 'The explanation panel';

function payload(file: string): ModelPayload {
  const labels = (n: string) => fs.readFileSync(path.join(ROOT, 'assets', 'labels', n), 'utf8');
  return {
    key: `file://${file}`, name: path.basename(file), origin: 'bundled', bytes: new Uint8Array(fs.readFileSync(file)), fingerprint: `["${file}"]`,
    fallbackLabels: { imagenet: labels('imagenet-simple-labels.json'), digits: labels('mnist_labels.txt') }, writable: false,
  };
}

describe('the extension host first map (host-preview.ts)', function () {
  const entry = path.join(ROOT, 'src', 'node', 'ort-thread.ts');
  const thread = new RuntimeThread({ file: `require('tsx/cjs'); require(${JSON.stringify(entry)});`, eval: true }, { threads: 2, backend: 'wasm' });
  // The sessions the thread's runtime holds: the preview's Classifier creates and releases them on the thread itself.
  const sessions = () => thread.request({ type: 'threadStats' });
  const preview = new HostPreview(thread, FROM);
  const model = payload(SQUEEZENET);
  let panel: Classifier;
  let cat: RgbaImage;
  let firstOpen: () => Promise<void>;
  /** The request over a structured-clone channel (as VS Code copies webview messages) both ways. */
  const ask = async (body: Record<string, unknown>): Promise<PreviewAnswer> => structuredClone(await preview.explain(structuredClone({ type: 'preview', key: model.key, ...body })));

  before(async () => {
    firstOpen = preview.prepare(model);
    panel = await Classifier.load(webRuntime(), modelSourceOf(payload(SQUEEZENET)));
    cat = await decodeImageFile(path.join(SAMPLES, 'wm_cat.jpg'));
  });
  after(async () => {
    await preview.release();
    await panel?.dispose();
    await thread.dispose();
  });

  for (const [method, image] of [[undefined, 'wm_cat.jpg'], ['gradcam', 'two_class_both_dog_cat.png'], ['guided-backprop', 'wm_cat.jpg']] as const) {
    it(`${method ?? 'the default method (CAM)'} on ${image}, top 5: the panel's own map, class for class, on the same picture`, async () => {
      const rgba = image === 'wm_cat.jpg' ? cat : await decodeImageFile(image === 'two_class_both_dog_cat.png' ? TWO_CLASS : path.join(SAMPLES, image));
      const a = await ask({ image: { width: rgba.width, height: rgba.height, data: rgba.data }, method, target: 'logit', top: 5 });
      const own = prepareImage(panel, rgba);
      const want = await explainImage(panel, own, { method, top: 5, target: 'logit' });
      assert.match(a.backend, /^onnxruntime-web \S+ \(wasm, 2 threads\), extension host$/);
      assert.equal(a.method, want.method.id);
      assert.equal(a.layer, want.layer);
      assert.deepEqual(a.predictions.map((p) => [p.index, p.label]), want.predictions.map((p) => [p.index, p.label]));
      assertMatches(a.probs, want.forward.probs, 'class probabilities', 0.99999, 1e-3);
      const { outcome, input } = previewOutcome(a, rgba);
      assert.deepEqual(input.crop, own.crop, 'the same preprocessing crop');
      assert.deepEqual([input.base.width, input.base.height], [own.base.width, own.base.height], 'the same picture under the map');
      assert.equal(outcome.outputs.length, 5);
      outcome.outputs.forEach((o, i) => {
        const w = want.outputs[i].explanation;
        assert.equal(o.explanation.classIndex, w.classIndex);
        assert.equal(o.label, want.outputs[i].label);
        assertMatches(o.explanation.raw.data, w.raw.data, `${a.method} raw map, class ${w.classIndex}`);
        if (w.display.kind === 'heatmap') {
          assert.equal(o.explanation.display.kind, 'heatmap');
          const d = o.explanation.display as typeof w.display;
          assert.deepEqual([d.width, d.height], [w.display.width, w.display.height]);
          assertMatches(d.map, w.display.map, `${a.method} display map, class ${w.classIndex}`);
        } else assert.equal(o.explanation.display.kind, 'gradient');
      });
      const view = outcomeView(7, outcome, input);
      const ownView = outcomeView(7, want, own);
      assert.deepEqual(view.outputs.map((o) => [o.classIndex, o.display, o.shape, o.rendered]), ownView.outputs.map((o) => [o.classIndex, o.display, o.shape, o.rendered]));
      view.outputs.forEach((o, i) => {
        const p = ownView.outputs[i].peak;
        if (!p) return assert.equal(o.peak, undefined);
        assert.ok(Math.abs(o.peak!.x - p.x) < 1e-9 && Math.abs(o.peak!.y - p.y) < 1e-9, `peak of class ${o.classIndex}`);
      });
    });
  }

  describe('an image the host decodes itself (PNG, JPEG) is explained from the click, the panel sends no pixels', () => {
    const file = (name: string) => ({ key: `file:///ws/${name}`, bytes: new Uint8Array(fs.readFileSync(name === 'two_class_both_dog_cat.png' ? TWO_CLASS : path.join(SAMPLES, name))) });

    it('PNG: the file\'s pixels, so the map is the panel\'s own, class for class', async () => {
      const png = file('two_class_both_dog_cat.png');
      const rgba = await decodeImageFile(TWO_CLASS);
      assert.deepEqual(decodeOnHost(png.bytes), { width: rgba.width, height: rgba.height, data: new Uint8Array(rgba.data) }, 'pngjs decodes what sharp decodes');
      assert.equal(preview.begin(png), true);
      const a = await ask({ imageKey: png.key, target: 'logit', top: 1 });
      const want = await explainImage(panel, prepareImage(panel, rgba), { top: 1, target: 'logit' });
      assert.equal(a.method, want.method.id);
      assert.equal(a.outputs[0].classIndex, want.outputs[0].explanation.classIndex);
      assertMatches(a.outputs[0].raw.data as Float32Array, want.outputs[0].explanation.raw.data, 'CAM raw map');
      assert.ok(a.at.answered >= a.at.arrived);
    });

    it("JPEG: jpeg-js's pixels, within its rounding of sharp's (libjpeg); the same top class and nearly the same map", async () => {
      const jpg = file('wm_cat.jpg');
      const host = decodeOnHost(jpg.bytes)!;
      assert.deepEqual([host.width, host.height], [cat.width, cat.height]);
      let worst = 0;
      let sum = 0;
      for (let i = 0; i < host.data.length; i++) {
        const d = Math.abs(host.data[i] - cat.data[i]);
        worst = Math.max(worst, d);
        sum += d;
      }
      assert.ok(sum / host.data.length < 2, `mean |Δ| ${sum / host.data.length} levels`);
      assert.equal(preview.begin(jpg), true);
      const a = await ask({ imageKey: jpg.key, target: 'logit', top: 1 });
      const exact = await explainImage(panel, prepareImage(panel, host), { top: 1, target: 'logit' });
      assertMatches(a.outputs[0].raw.data as Float32Array, exact.outputs[0].explanation.raw.data, 'CAM raw map on the host-decoded pixels');
      const own = await explainImage(panel, prepareImage(panel, cat), { top: 1, target: 'logit' });
      assert.equal(a.predictions[0].index, own.predictions[0].index, 'the same top class as the panel finds');
      const m = a.outputs[0].display as { map: Float32Array };
      const o = own.outputs[0].explanation.display as { map: Float32Array };
      let far = 0;
      for (let i = 0; i < m.map.length; i++) far = Math.max(far, Math.abs(m.map[i] - o.map[i]));
      assert.ok(far < 0.05, `display maps differ by at most ${far} (worst pixel level difference ${worst})`);
    });

    it('another method or target than the open asked for is explained again from the same pixels; an image it did not decode is refused', async () => {
      const jpg = file('wm_cat.jpg');
      assert.equal(preview.begin(jpg, undefined, 'logit'), true);
      const a = await ask({ imageKey: jpg.key, method: 'gradcam', target: 'logit', top: 1 });
      assert.equal(a.method, 'gradcam');
      await assert.rejects(ask({ imageKey: 'file:///ws/other.jpg', top: 1 }), /an image the host did not decode \("file:\/\/\/ws\/other.jpg"\)/);
    });

    it("a new panel's image is preprocessed while its model loads, before onnxruntime's session: the panel's own map, and its other settings reuse that input", async () => {
      // A panel of its own (another id on the thread): the model loads from the click, the PNG comes right after it.
      const fresh = new HostPreview(thread, FROM);
      const own = payload(SQUEEZENET);
      const lease = fresh.prepare(own);
      try {
        const png = file('two_class_both_dog_cat.png');
        assert.equal(fresh.begin(png), true);
        const a = structuredClone(await fresh.explain(structuredClone({ type: 'preview', key: own.key, imageKey: png.key, top: 1 })));
        assert.equal(a.preparedWhileLoading, true, 'prepared before the session');
        const rgba = await decodeImageFile(TWO_CLASS);
        const input = prepareImage(panel, rgba);
        const want = await explainImage(panel, input, { top: 1 });
        assert.deepEqual(a.crop, input.crop);
        assert.equal(a.outputs[0].classIndex, want.outputs[0].explanation.classIndex);
        assertMatches(a.outputs[0].raw.data as Float32Array, want.outputs[0].explanation.raw.data, 'CAM raw map from the early input');
        const g = structuredClone(await fresh.explain(structuredClone({ type: 'preview', key: own.key, imageKey: png.key, method: 'gradcam', top: 1 })));
        assert.equal(g.preparedWhileLoading, true, 'another method on the same pixels');
        const wantG = await explainImage(panel, input, { method: 'gradcam', top: 1 });
        assertMatches(g.outputs[0].raw.data as Float32Array, wantG.outputs[0].explanation.raw.data, 'Grad-CAM raw map from the early input');
        const sent = structuredClone(await fresh.explain(structuredClone({ type: 'preview', key: own.key, image: { width: rgba.width, height: rgba.height, data: rgba.data }, top: 1 })));
        assert.equal(sent.preparedWhileLoading, false, "the panel's pixels are prepared when they come");
        assertMatches(sent.outputs[0].raw.data as Float32Array, want.outputs[0].explanation.raw.data, "CAM raw map from the panel's pixels");
      } finally {
        await lease();
        await fresh.release();
      }
    });

    it('leaves WebP, GIF, rotated photos and broken files to the panel', () => {
      const rotated = file('wm_cat.jpg').bytes.slice();
      // EXIF orientation (tag 0x0112, SHORT, count 1) set to 6: the browser turns the photo; jpeg-js would not.
      const at = Buffer.from(rotated).indexOf(Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]));
      assert.ok(at > 0, 'the sample has an orientation tag');
      rotated[at + 8] = 6;
      assert.equal(decodeOnHost(rotated), undefined);
      assert.equal(decodeOnHost(file('wm_cat.jpg').bytes.slice(0, 5000)), undefined, 'a truncated JPEG');
      assert.equal(decodeOnHost(new TextEncoder().encode('this is not a PNG')), undefined);
      assert.equal(preview.begin({ key: 'file:///ws/x.gif', bytes: new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0]) }), false);
    });
  });

  describe('refuses what a webview must not send', () => {
    const image = () => ({ width: 2, height: 2, data: new Uint8Array(16) });
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a model it is not loading', { key: 'file:///other.onnx', image: image() }, /a first map of a model the host is not loading \("file:\/\/\/other.onnx"\)/],
      ['data that does not fill the image', { image: { width: 2, height: 2, data: new Uint8Array(15) } }, /image data of "15 bytes".*a 2×2 RGBA image has 16/],
      ['an image over the pixel limit', { image: { width: 100_000, height: 100_000, data: new Uint8Array(4) } }, /100000×100000 pixels.*at most/],
      ['a width that is not a positive integer', { image: { width: 0, height: 2, data: new Uint8Array(0) } }, /an image width 0.*not a positive integer/],
      ['data that is not bytes', { image: { width: 1, height: 1, data: [1, 2, 3, 4] } }, /image data \[1,2,3,4\].*not a byte array/],
      ['an unknown method', { image: image(), method: 'magic' }, /a method "magic".*not a registered method id/],
      ['an unknown target', { image: image(), target: 'argmax' }, /a target "argmax".*Target must be logit/],
      ['top 0', { image: image(), top: 0 }, /top 0.*integer from 1 to 20/],
    ];
    for (const [what, body, message] of cases) {
      it(what, async () => {
        await assert.rejects(preview.explain({ type: 'preview', key: model.key, ...body }), (e: Error & { kind?: string }) => {
          assert.equal(e.kind, 'bad-argument');
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(FROM), e.message);
          return true;
        });
      });
    }
  });

  it("the model's bytes went to the runtime thread by transfer (none copied on the host's thread); bytes() gets the file's back from there, for the panel", async () => {
    assert.equal(model.bytes.byteLength, 0, 'the payload gave its bytes to the thread');
    const back = await preview.bytes(model);
    assert.ok(back);
    assert.deepEqual(Buffer.from(back.bytes), fs.readFileSync(SQUEEZENET));
    assert.equal(back.key, model.key);
    const other = payload(SQUEEZENET);
    assert.equal(await preview.bytes(other), other, 'a payload that still has its bytes is returned as it is');
    assert.equal(await preview.bytes({ ...model, key: 'file:///other.onnx' }), undefined, 'another model: the panel reads the file again');
  });

  describe('once the panel has its own model', () => {
    it('keeps the model while an open that superseded the first (same model, sharing its load) runs; releases every session when the last open ends, and refuses previews after', async () => {
      let { sessionsCreated: created, sessionsLive: live } = await sessions();
      assert.ok(created >= 1 && live >= 1, `${created} created, ${live} live`);
      const before = created;
      const secondOpen = preview.prepare(payload(SQUEEZENET));
      await firstOpen();
      const a = await ask({ image: { width: cat.width, height: cat.height, data: cat.data }, top: 1 });
      assert.equal(a.outputs.length, 1);
      ({ sessionsCreated: created, sessionsLive: live } = await sessions());
      assert.equal(created, before, 'the second open loaded nothing again');
      assert.ok(live >= 1);
      await secondOpen();
      ({ sessionsLive: live } = await sessions());
      assert.equal(live, 0, `${live} sessions still live on the thread`);
      await assert.rejects(preview.explain({ type: 'preview', key: model.key, image: { width: 1, height: 1, data: new Uint8Array(4) } }), /not loading/);
      assert.equal(await preview.bytes(model), undefined, 'released: the thread holds no bytes any more');
    });

    it("a kept model serves the next image's first map with no second load (reuse), and is released only with the panel or another model", async () => {
      const first = preview.prepare(payload(SQUEEZENET));
      preview.keep();
      await first();
      // The load goes on after its open ended (a map asked now waits for it): the model stays.
      await ask({ image: { width: cat.width, height: cat.height, data: cat.data }, top: 1 });
      let { sessionsLive: live } = await sessions();
      const { sessionsCreated: created } = await sessions();
      assert.ok(live >= 1, 'kept after its open ended');
      assert.equal(preview.reuse(model.key, 'another fingerprint'), undefined, 'another version of the file is not reused');
      const next = preview.reuse(model.key, model.fingerprint!);
      assert.ok(next, 'the same file is');
      const png = { key: 'file:///ws/two_class_both_dog_cat.png', bytes: new Uint8Array(fs.readFileSync(TWO_CLASS)) };
      assert.equal(preview.begin(png), true);
      const a = await ask({ imageKey: png.key, top: 1 });
      assert.equal(a.preparedWhileLoading, false, 'the model was loaded: prepared when it came');
      const rgba = await decodeImageFile(TWO_CLASS);
      const want = await explainImage(panel, prepareImage(panel, rgba), { top: 1 });
      assert.equal(a.outputs[0].classIndex, want.outputs[0].explanation.classIndex);
      assertMatches(a.outputs[0].raw.data as Float32Array, want.outputs[0].explanation.raw.data, "the next image's map");
      await next!();
      const after = await sessions();
      assert.ok(after.sessionsLive >= 1, 'still kept after the second open');
      // Its forward session was not made again (a second image may add a backward graph, never a second forward).
      assert.ok(after.sessionsCreated - created <= 1, `${after.sessionsCreated - created} sessions created for the next image`);
      // Another model replaces it: the kept one is released.
      const other = preview.prepare(payload(path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx')));
      await other();
      ({ sessionsLive: live } = await sessions());
      assert.equal(live, 0, `${live} sessions live after another model replaced the kept one and its open ended`);
      assert.equal(preview.reuse(model.key, model.fingerprint!), undefined);
    });
  });

  describe('which models the thread keeps for the next images', () => {
    it("on 'auto' up to 256 MB, where the panel computes in its webview; not on 'cpu' nor for a big model 'auto' sends to the host's CPU", () => {
      const MB = 2 ** 20;
      assert.equal(keptForNextImages('auto', 5 * MB, false), true);
      assert.equal(keptForNextImages('auto', 98 * MB, false), true);
      assert.equal(keptForNextImages('auto', 98 * MB, true), false, "ResNet-50 runs on the host's onnxruntime-node already");
      assert.equal(keptForNextImages('auto', 5 * MB, true), true, 'a small model stays in the webview');
      assert.equal(keptForNextImages('auto', PREVIEW_KEEP_MAX_BYTES + 1, false), false);
      assert.equal(keptForNextImages('cpu', 5 * MB, false), false);
      assert.equal(keptForNextImages('wasm', 5 * MB, false), false);
    });
  });
});

describe('the extension host first map when the runtime thread dies', function () {
  const entry = path.join(ROOT, 'src', 'node', 'ort-thread.ts');
  // The real thread, which exits (as on a crash in onnxruntime) when it is sent the image named crash.png.
  const script = `require('tsx/cjs'); require(${JSON.stringify(entry)}); require('node:worker_threads').parentPort.on('message', (m) => { if (m?.body?.image?.key === 'file:///ws/crash.png') process.exit(3); });`;
  const thread = new RuntimeThread({ file: script, eval: true }, { threads: 2, backend: 'wasm' });
  const preview = new HostPreview(thread, FROM);
  const png = new Uint8Array(fs.readFileSync(TWO_CLASS));
  const ask = (body: Record<string, unknown>) => preview.explain({ type: 'preview', key: `file://${SQUEEZENET}`, ...body });
  after(async () => {
    await preview.release();
    await thread.dispose();
  });

  it('fails the preview with the reason (the panel then loads the model itself); the next open loads again on a new thread', async () => {
    const lease = preview.prepare(payload(SQUEEZENET));
    assert.equal(preview.begin({ key: 'file:///ws/crash.png', bytes: png }), true);
    await assert.rejects(ask({ imageKey: 'file:///ws/crash.png', top: 1 }), /The extension host's onnxruntime thread stopped \(exit code 3\); the next run starts it again/);
    await assert.rejects(ask({ image: { width: 1, height: 1, data: new Uint8Array(4) }, top: 1 }), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, 'runtime');
      assert.match(e.message, /runtime thread has no model loaded for this first map \(the thread restarted, or the model was released\); the panel loads the model itself/);
      return true;
    });
    await lease();
    const next = preview.prepare(payload(SQUEEZENET));
    assert.equal(preview.begin({ key: 'file:///ws/two_class.png', bytes: png }), true);
    const a = await ask({ imageKey: 'file:///ws/two_class.png', top: 1 });
    assert.equal(a.outputs.length, 1);
    assert.match(a.backend, /extension host$/);
    await next();
    assert.equal((await thread.request({ type: 'threadStats' })).sessionsLive, 0);
  });
});
