/**
 * The extension host's CPU runtime (setting lookCloser.executionProvider 'cpu', or 'auto' without WebGPU): a
 * webview's runtime (webview/host-runtime.ts) → a structured-clone channel as VS Code's → the host's checked
 * handlers (src/extension/host-runtime.ts) → the runtime thread (src/node/ort-thread.ts, multi-threaded
 * onnxruntime-web wasm, or onnxruntime-node). Results through it equal onnxruntime-web's in-process and
 * PyTorch's reference maps; what a webview must not send is refused; a closed view's sessions are released.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import type { Runtime } from '../../src/core/runtime';
import { float32 } from '../../src/core/tensor';
import { HostRuntimeSessions, RUNTIME_LIMITS } from '../../src/extension/host-runtime';
import { RuntimeThread, RuntimeThreadOptions } from '../../src/node/thread-runtime';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import type { RuntimeRequest } from '../../src/protocol/protocol';
import { connectHostRuntime, hostRuntime } from '../../webview/host-runtime';
import { assertMatches } from '../support/compare';
import { ROOT, SQUEEZENET, TWO_CLASS } from '../support/paths';

const REF = path.join(ROOT, 'test', 'fixtures', 'ref');
const FROM = 'The explanation panel';

/** The runtime thread started from source (the extension starts the bundle, dist/ort-thread.js). */
function threadFromSource(options: RuntimeThreadOptions): RuntimeThread {
  const entry = path.join(ROOT, 'src', 'node', 'ort-thread.ts');
  return new RuntimeThread({ file: `require('tsx/cjs'); require(${JSON.stringify(entry)});`, eval: true }, options);
}

/** A webview's runtime over a structured-clone channel (as VS Code copies messages) to `sessions`' handlers. */
function viaChannel(sessions: HostRuntimeSessions): void {
  const handlers = sessions.handlers as Record<string, (r: unknown, s: AbortSignal) => Promise<unknown>>;
  connectHostRuntime(async (body: RuntimeRequest) => structuredClone(await handlers[body.type](structuredClone(body), new AbortController().signal)) as never);
}

function npy(file: string) {
  const { data, shape } = decodeNpy(new Uint8Array(fs.readFileSync(file)));
  return float32(data, shape);
}

describe('the extension host CPU runtime', function () {
  const thread = threadFromSource({ threads: 2, backend: 'wasm' });
  const sessions = new HostRuntimeSessions(thread, FROM);
  let host: Runtime;
  const direct = webRuntime();

  before(async () => {
    viaChannel(sessions);
    host = await hostRuntime('the test asks for it');
  });
  after(async () => {
    await sessions.dispose();
    await thread.dispose();
  });

  it('names the runtime the thread runs: onnxruntime-web wasm with 2 threads', () => {
    assert.match(host.backend, /^onnxruntime-web \S+ \(wasm, 2 threads\), extension host$/);
  });

  describe('SqueezeNet 1.0 float16 (bundled), dog and cat photo: the same as onnxruntime-web in-process', () => {
    let a: LoadedModel, b: LoadedModel;
    before(async () => {
      a = await loadModel(direct, SQUEEZENET);
      b = await loadModel(host, SQUEEZENET);
    });
    after(async () => {
      await a?.explainer.dispose();
      await b?.explainer.dispose();
    });

    it('predictions', async () => {
      const pa = (await a.explainer.forward((await loadInput(a, TWO_CLASS)).tensor)).probs;
      const pb = (await b.explainer.forward((await loadInput(b, TWO_CLASS)).tensor)).probs;
      assertMatches(pb, pa, 'class probabilities', 0.99999, 1e-3);
    });

    for (const id of ['gradcam', 'guided-backprop']) {
      it(`${id} for the dog (243) and the cat (281)`, async () => {
        const run = async (m: LoadedModel) => methodById(id).run(m.explainer, { input: (await loadInput(m, TWO_CLASS)).tensor, classes: [243, 281], target: 'logit' });
        const ra = await run(a);
        const rb = await run(b);
        rb.explanations.forEach((e, i) => assertMatches(e.raw.data, ra.explanations[i].raw.data, `${id} class ${e.classIndex}`));
      });
    }

    it('holds the sessions of the loaded model on the host, released when the model is disposed', async () => {
      const before = sessions.size;
      assert.ok(before >= 1, 'the forward session lives on the host');
      const m = await loadModel(host, SQUEEZENET);
      assert.ok(sessions.size > before);
      await m.explainer.dispose();
      assert.equal(sessions.size, before);
    });
  });

  it('ResNet-style reference net: Grad-CAM through the host equals PyTorch\'s (float64 autograd reference maps)', async () => {
    const m = await loadModel(host, path.join(REF, 'resnet_op17.onnx'));
    try {
      const input = npy(path.join(REF, 'resnet', 'input.npy'));
      const r = await methodById('gradcam').run(m.explainer, { input, classes: [3, 6], target: 'logit' });
      for (const e of r.explanations) assertMatches(e.raw.data, npy(path.join(REF, 'resnet', `gradcam_c${e.classIndex}.npy`)).data, `Grad-CAM class ${e.classIndex}`);
      const logits = npy(path.join(REF, 'resnet', 'logits.npy'));
      const fw = await m.explainer.forward(input);
      assertMatches(fw.logits, logits.data, 'logits');
    } finally {
      await m.explainer.dispose();
    }
  });

  describe('refuses what a webview must not send', () => {
    const h = sessions.handlers as Record<string, (r: unknown, s: AbortSignal) => Promise<unknown>>;
    const ask = (type: string, body: Record<string, unknown>) => h[type]({ type, ...body }, new AbortController().signal);
    let session: number;
    const feed = (over: Record<string, unknown> = {}) => ({ data_0: { type: 'float16', dims: [1, 3, 224, 224], data: new Uint16Array(3 * 224 * 224), ...over } });
    before(async () => {
      session = ((await ask('runtimeCreate', { model: new Uint8Array(fs.readFileSync(SQUEEZENET)) })) as { session: number }).session;
    });

    const cases: [string, string, () => Record<string, unknown>, RegExp][] = [
      ['model bytes that are not bytes', 'runtimeCreate', () => ({ model: 'squeezenet.onnx' }), /model bytes that are not bytes/],
      ['an unknown optimization level', 'runtimeCreate', () => ({ model: new Uint8Array(4), optimization: 'extreme' }), /optimization level "extreme".*refused/],
      ['a session it did not create', 'runtimeRun', () => ({ session: session + 1000, feeds: feed() }), /session 1\d{3}.*not a session this view created/],
      ['a session that is not a number', 'runtimeRelease', () => ({ session: '1' }), /session "1".*refused/],
      ['an unknown element type', 'runtimeRun', () => ({ session, feeds: feed({ type: 'float128' }) }), /feed "data_0" is refused: element type "float128"/],
      ['data that does not fill the dims', 'runtimeRun', () => ({ session, feeds: feed({ dims: [1, 3, 224, 225] }) }), /feed "data_0" is refused: its data has 150528 elements but dims \[1, 3, 224, 225\] need 151200/],
      ['negative dims', 'runtimeRun', () => ({ session, feeds: feed({ dims: [1, -3, 224, 224] }) }), /dimension -3 is not a non-negative integer/],
      ['a rank above 8', 'runtimeRun', () => ({ session, feeds: feed({ dims: [1, 1, 1, 1, 1, 1, 1, 1, 1] }) }), /9 dimensions \(at most 8\)/],
      ['data that is a string', 'runtimeRun', () => ({ session, feeds: feed({ data: 'AAAA' }) }), /its data is not a typed array/],
      ['fetches that are not names', 'runtimeRun', () => ({ session, feeds: feed(), fetches: [42] }), /a fetch name 42.*not a string/],
      ['feeds that are not an object', 'runtimeRun', () => ({ session, feeds: [1, 2] }), /feeds \[1,2\].*refused/],
    ];
    for (const [what, type, body, message] of cases) {
      it(what, async () => {
        await assert.rejects(ask(type, body()), (e: Error & { kind?: string }) => {
          assert.equal(e.kind, 'bad-argument');
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(FROM), e.message);
          return true;
        });
      });
    }

    it(`more than ${RUNTIME_LIMITS.sessions} sessions at once`, async () => {
      // A backend that only counts: the limit is the handlers', whatever runs behind them.
      let n = 0;
      const other = new HostRuntimeSessions({ start: () => thread.start(), request: async (b) => (b.type === 'runtimeCreate' ? { session: ++n, inputNames: [], outputNames: [] } : undefined) as never }, FROM);
      for (let i = 0; i < RUNTIME_LIMITS.sessions; i++) await other.handlers.runtimeCreate({ type: 'runtimeCreate', model: new Uint8Array(1) }, new AbortController().signal);
      await assert.rejects(other.handlers.runtimeCreate({ type: 'runtimeCreate', model: new Uint8Array(1) }, new AbortController().signal), /at most 256/);
    });

    it('a valid run of the same session still answers', async () => {
      const out = (await ask('runtimeRun', { session, feeds: feed() })) as Record<string, { dims: number[] }>;
      assert.deepEqual(out.softmaxout_1.dims, [1, 1000, 1, 1]);
    });
  });

  describe("a model's weights cross the channel once (derived graphs take them as inputs, the host keeps them)", () => {
    /** Bytes of feed data each runtimeRun request carried, and the requests, as the channel saw them. */
    const sent: { type: string; bytes: number; kept: number; keep: number }[] = [];
    const view = new HostRuntimeSessions(thread, FROM);
    let counted: Runtime;
    before(async () => {
      const handlers = view.handlers as Record<string, (r: unknown, s: AbortSignal) => Promise<unknown>>;
      connectHostRuntime(async (body: RuntimeRequest) => {
        if (body.type === 'runtimeRun') {
          const bytes = Object.values(body.feeds).reduce((n, t) => n + t.data.byteLength, 0);
          sent.push({ type: body.type, bytes, kept: Object.keys(body.kept ?? {}).length, keep: Object.keys(body.keep ?? {}).length });
        } else sent.push({ type: body.type, bytes: 0, kept: 0, keep: 0 });
        return structuredClone(await handlers[body.type](structuredClone(body), new AbortController().signal)) as never;
      });
      counted = await hostRuntime('the test asks for it');
      viaChannel(sessions);
    });
    after(() => view.dispose());

    it('Grad-CAM twice on the ResNet-style net: the second run sends no weight, and both equal PyTorch\'s', async () => {
      assert.equal(counted.sharedWeights, true);
      const m = await loadModel(counted, path.join(REF, 'resnet_op17.onnx'));
      try {
        const input = npy(path.join(REF, 'resnet', 'input.npy'));
        let first = 0;
        for (const round of [1, 2]) {
          const from = sent.length;
          const r = await methodById('gradcam').run(m.explainer, { input, classes: [3, 6], target: 'logit' });
          for (const e of r.explanations) assertMatches(e.raw.data, npy(path.join(REF, 'resnet', `gradcam_c${e.classIndex}.npy`)).data, `round ${round}: Grad-CAM class ${e.classIndex}`);
          const runs = sent.slice(from).filter((x) => x.type === 'runtimeRun');
          const bytes = runs.reduce((n, x) => n + x.bytes, 0);
          const kept = runs.reduce((n, x) => n + x.kept, 0);
          const keep = runs.reduce((n, x) => n + x.keep, 0);
          if (round === 1) {
            assert.ok(keep > 0, 'the first run sends the weights to keep');
            first = bytes;
          } else {
            assert.equal(keep, 0, 'the second run keeps nothing new');
            assert.ok(kept > 0, 'it names the kept weights');
            // Only the input (3×24×24 float32) and the class seed go again: no weight.
            assert.ok(bytes <= runs.length * (input.data.byteLength + 1024) && bytes < first, `the second round sent ${bytes} bytes of feeds in ${runs.length} runs (the first ${first})`);
          }
        }
        assert.ok(view.size >= 2, 'the forward and backward sessions live on the host');
      } finally {
        await m.explainer.dispose();
      }
    });

    describe('refuses kept ids a view must not send', () => {
      const h = () => view.handlers as Record<string, (r: unknown, s: AbortSignal) => Promise<unknown>>;
      let session: number;
      const x = () => ({ type: 'float32' as const, dims: [1, 3, 24, 24], data: new Float32Array(3 * 24 * 24) });
      let input: string;
      before(async () => {
        const c = (await h().runtimeCreate({ type: 'runtimeCreate', model: new Uint8Array(fs.readFileSync(path.join(REF, 'resnet_op17.onnx'))) }, new AbortController().signal)) as { session: number; inputNames: string[] };
        session = c.session;
        input = c.inputNames[0];
      });
      const run = (body: Record<string, unknown>) => h().runtimeRun({ type: 'runtimeRun', session, ...body }, new AbortController().signal);
      const cases: [string, () => Record<string, unknown>, RegExp][] = [
        ['an id it never kept', () => ({ feeds: {}, kept: { [input]: 987654 } }), /kept feed id 987654.*names no feed this view keeps/],
        ['a feed to keep that the request does not send', () => ({ feeds: { [input]: x() }, keep: { w: 5 } }), /a feed to keep "w".*does not send it/],
        ['a kept feed sent as well', () => ({ feeds: { [input]: x() }, kept: { [input]: 1 } }), /a kept feed .*sends it too/],
        ['an id that is not a positive integer', () => ({ feeds: { [input]: x() }, keep: { [input]: 1.5 } }), /is not a positive integer/],
        ['kept feeds that are not an object', () => ({ feeds: { [input]: x() }, kept: [1] }), /kept feeds \[1\].*refused/],
      ];
      for (const [what, body, message] of cases) {
        it(what, async () => {
          await assert.rejects(run(body()), (e: Error & { kind?: string }) => e.kind === 'bad-argument' && message.test(e.message) && e.message.startsWith(FROM));
        });
      }
      it('a kept input answers as if sent; once forgotten it is refused', async () => {
        const sentOut = (await run({ feeds: { [input]: x() }, keep: { [input]: 424242 } })) as Record<string, { data: Float32Array }>;
        const keptOut = (await run({ feeds: {}, kept: { [input]: 424242 } })) as Record<string, { data: Float32Array }>;
        for (const k of Object.keys(sentOut)) assert.deepEqual(keptOut[k].data, sentOut[k].data);
        await assert.rejects(run({ feeds: { [input]: x() }, keep: { [input]: 424242 } }), /already keeps a feed under it/);
        await h().runtimeForget({ type: 'runtimeForget', ids: [424242] }, new AbortController().signal);
        await assert.rejects(run({ feeds: {}, kept: { [input]: 424242 } }), /names no feed this view keeps/);
      });
    });
  });

  it('a closed view tells the thread to forget the feeds it kept', async () => {
    const asked: RuntimeRequest[] = [];
    const view = new HostRuntimeSessions({ start: () => thread.start(), request: async (b) => {
      asked.push(b);
      return (b.type === 'runtimeCreate' ? { session: 1, inputNames: ['x'], outputNames: ['y'] } : b.type === 'runtimeRun' ? {} : undefined) as never;
    } }, FROM);
    const signal = new AbortController().signal;
    await view.handlers.runtimeCreate({ type: 'runtimeCreate', model: new Uint8Array(1) }, signal);
    const w = { type: 'float32' as const, dims: [2], data: new Float32Array(2) };
    await view.handlers.runtimeRun({ type: 'runtimeRun', session: 1, feeds: { a: w, b: { ...w, data: new Float32Array(2) } }, keep: { a: 7, b: 8 } }, signal);
    const run = asked.find((b) => b.type === 'runtimeRun') as Extract<RuntimeRequest, { type: 'runtimeRun' }>;
    const threadIds = Object.values(run.keep ?? {});
    assert.equal(threadIds.length, 2);
    await view.dispose();
    const forget = asked.find((b) => b.type === 'runtimeForget') as Extract<RuntimeRequest, { type: 'runtimeForget' }>;
    assert.deepEqual([...forget.ids].sort(), [...threadIds].sort());
  });

  it('a closed view\'s sessions are released on the thread, and the view\'s later requests are refused', async () => {
    const view = new HostRuntimeSessions(thread, FROM);
    const created = await view.handlers.runtimeCreate({ type: 'runtimeCreate', model: new Uint8Array(fs.readFileSync(path.join(REF, 'resnet_op17.onnx'))) }, new AbortController().signal);
    const x = { type: 'float32' as const, dims: [1, 3, 24, 24], data: new Float32Array(3 * 24 * 24) };
    await thread.request({ type: 'runtimeRun', session: created.session, feeds: { [created.inputNames[0]]: x } });
    await view.dispose();
    assert.equal(view.size, 0);
    await assert.rejects(thread.request({ type: 'runtimeRun', session: created.session, feeds: { [created.inputNames[0]]: { ...x, data: new Float32Array(3 * 24 * 24) } } }), /was released/);
    await assert.rejects(view.handlers.runtimeRun({ type: 'runtimeRun', session: created.session, feeds: {} }, new AbortController().signal), /was closed/);
  });

  it('a thread that dies fails its work as an error (not a cancel) and the next request starts a new one', async () => {
    const t = threadFromSource({ threads: 1, backend: 'wasm' });
    try {
      await t.start();
      const worker = (t as unknown as { current: { worker: { terminate(): Promise<number> } } }).current.worker;
      const pending = t.request({ type: 'runtimeCreate', model: new Uint8Array(fs.readFileSync(SQUEEZENET)) });
      await worker.terminate();
      await assert.rejects(pending, (e: Error & { kind?: string }) => e.name === 'LookCloserError' && e.kind === 'runtime' && /thread stopped/.test(e.message));
      assert.match((await t.start()).backend, /wasm, 1 threads/);
    } finally {
      await t.dispose();
    }
  });

  it('the bundle (dist/ort-thread.js, when built) loads onnxruntime-web\'s threaded wasm pair from dist/ort-node/', async function () {
    const bundle = path.join(ROOT, 'dist', 'ort-thread.js');
    if (!fs.existsSync(bundle)) this.skip();
    const t = new RuntimeThread({ file: bundle }, { threads: 2, backend: 'wasm', wasmDir: path.join(ROOT, 'dist', 'ort-node') });
    try {
      const s = await t.request({ type: 'runtimeCreate', model: new Uint8Array(fs.readFileSync(path.join(REF, 'resnet_op17.onnx'))) });
      const input = npy(path.join(REF, 'resnet', 'input.npy'));
      const out = await t.request({ type: 'runtimeRun', session: s.session, feeds: { [s.inputNames[0]]: input } });
      assertMatches(out[s.outputNames[0]].data as Float32Array, npy(path.join(REF, 'resnet', 'logits.npy')).data, 'logits');
    } finally {
      await t.dispose();
    }
  });
});
