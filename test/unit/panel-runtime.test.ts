/**
 * The panel runtime's pieces that do not need a browser: the warm-up model its worker starts onnxruntime
 * with, the recognition of memory that ran out, the size refusal, the buffers a message moves, and the start-up timeline.
 */
import { strict as assert } from 'node:assert';
import { decodeModel } from '../../src/core/onnx/model';
import { webRuntime } from '../../src/node/ort-runtime';
import { MAX_MODEL_BYTES, sizeText, tooLargeError } from '../../webview/ort-runtime';
import { isOutOfMemory, wholeBuffers } from '../../webview/ort-worker-protocol';
import { StartTimeline, Timeline, timelineDetail, timelineSummary } from '../../webview/panel/timeline';
import { warmUpModel } from '../../webview/warm-up-model';

describe('panel runtime', () => {
  it('the warm-up model is a valid one-node ONNX model that onnxruntime-web runs', async () => {
    const bytes = warmUpModel();
    const m = decodeModel(bytes, 'warm-up');
    assert.equal(m.graph?.node?.length, 1);
    assert.equal(m.graph?.node?.[0].opType, 'Identity');
    assert.deepEqual(m.opsetImport.map((o) => Number(o.version)), [17]);
    const s = await webRuntime().createSession(bytes);
    const out = await s.run({ x: { type: 'float32', dims: [1], data: new Float32Array([2.5]) } });
    assert.deepEqual([...(out.y.data as Float32Array)], [2.5]);
    await s.release();
  });

  it('tells memory that ran out (as Emscripten, onnxruntime and V8 word it) from other failures', async () => {
    // A real out-of-memory needs a 4 GB heap, too much for a test machine: these are the words each layer uses.
    for (const m of ['Aborted(OOM)', 'std::bad_alloc', 'Failed to allocate memory for requested buffer of size 4200000000',
      'WebAssembly.Memory.grow(): Maximum memory size exceeded', 'Array buffer allocation failed', 'RangeError: Out of memory']) {
      assert.ok(isOutOfMemory(new Error(m)), m);
    }
    // onnxruntime's own error for a model it cannot parse is not one of them.
    const bad = await webRuntime().createSession(new Uint8Array([1, 2, 3])).then(() => undefined, (e: unknown) => e);
    assert.ok(bad instanceof Error, 'three bytes are no model');
    assert.ok(!isOutOfMemory(bad), bad.message);
  });

  it('refuses models larger than the heap can load, naming the size and what to try', () => {
    assert.ok(MAX_MODEL_BYTES < 2 * 2 ** 30);
    const e = tooLargeError(2.5 * 2 ** 30);
    assert.match(e.message, /This model is 2\.5 GB/);
    assert.match(e.message, /4\.0 GB/);
    assert.match(e.message, /look-closer/);
    assert.equal(sizeText(5 * 2 ** 20), '5 MB');
  });

  it('moves only typed arrays that own their whole buffer, each buffer once', () => {
    const a = new Float32Array(4);
    const b = new Uint8Array(8);
    const view = new Uint8Array(b.buffer, 2, 4);
    assert.deepEqual(wholeBuffers([a, new Uint16Array(a.buffer), view, 'x', undefined]), [a.buffer]);
    assert.deepEqual(wholeBuffers([b, view]), [b.buffer]);
  });

  it('the start-up timeline counts from the click, clamps earlier steps to 0 and ends when the map is shown', () => {
    const t = new StartTimeline();
    t.begin(10_000, { panel: 9_000, received: 10_250 });
    t.mark('runtime', 10_400);
    t.mark('session', 11_000);
    t.mark('session', 12_000);
    assert.ok(t.running);
    t.mark('map', 12_500);
    t.mark('shown', 13_600, 7);
    assert.ok(!t.running);
    assert.deepEqual(t.last, { panel: 0, received: 250, runtime: 400, session: 1000, map: 2500, shown: 3600 });
    assert.equal(t.lastOutcome, 7);
    assert.equal(timelineSummary(t.last!), 'first map 3.6 s after the click');
    assert.match(timelineDetail(t.last!), /^0\.00 s {2}panel page started\n0\.40 s {2}onnxruntime ready/);
    t.mark('layers', 14_000);
    assert.equal((t.last as Timeline).layers, undefined, 'a finished timeline takes no more marks');
    t.begin(20_000, {});
    t.abandon();
    t.mark('shown', 21_000, 8);
    assert.equal(t.lastOutcome, 7, 'an abandoned timeline does not replace the last one');
  });
});
