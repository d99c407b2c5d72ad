/** Batch mode: a folder explained with one model, stacked forward passes, the summary JSON and the HTML gallery. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { explainFolder, listInputs } from '../../src/cli/batch';
import { main } from '../../src/cli/main';
import { Explainer } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import type { BatchSummary } from '../../src/node/report';
import { escapeHtml, renderReportHtml } from '../../src/node/report';
import { loadInput, loadModel } from '../../src/node/workbench';
import { MNIST_8, MNIST_DIGITS, SAMPLES } from '../support/paths';
import { randomData, rng, tinyModel } from '../support/tiny-model';

const runtime = webRuntime();

/** A small classifier with a free batch axis: Conv → Relu → GlobalAveragePool → Flatten → Gemm (CAM applies). */
function tinyClassifier(): Uint8Array {
  const r = rng(3);
  const t = (dims: number[]) => ({ type: 'float32' as const, dims, data: randomData(dims.reduce((a, b) => a * b, 1), r, -0.5, 0.5) });
  return tinyModel({
    inputs: { x: [1, 3, 16, 16] },
    nodes: [
      { op: 'Conv', inputs: ['x', 'W', 'B'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
      { op: 'Relu', inputs: ['c'], outputs: ['a'] },
      { op: 'GlobalAveragePool', inputs: ['a'], outputs: ['p'] },
      { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'G', 'b'], outputs: ['y'], attrs: { transB: 1 } },
    ],
    output: 'y',
    initializers: { W: t([8, 3, 3, 3]), B: t([8]), G: t([5, 8]), b: t([5]) },
  });
}

/** Captures console.log while running the CLI in-process. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  console.error = () => undefined;
  try {
    const code = await main(args);
    return { code, stdout: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
  }
}

describe('batch mode', function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-batch-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('forwardBatch stacks inputs along a free batch axis and matches one-by-one forward passes', async () => {
    const ex = await Explainer.load(runtime, tinyClassifier(), 'tiny');
    const r = rng(5);
    const xs = [0, 1, 2].map(() => float32(randomData(3 * 16 * 16, r), [1, 3, 16, 16]));
    const batched = await ex.forwardBatch(xs, ['a']);
    for (let i = 0; i < xs.length; i++) {
      const one = await ex.forward(xs[i], ['a']);
      assert.deepEqual(batched[i].tensors.a.dims, [1, 8, 8, 8]);
      for (let k = 0; k < one.logits.length; k++) assert.ok(Math.abs(one.logits[k] - batched[i].logits[k]) < 1e-5);
      for (let k = 0; k < one.tensors.a.data.length; k++) assert.ok(Math.abs(one.tensors.a.data[k] - batched[i].tensors.a.data[k]) < 1e-5);
    }
    await ex.dispose();
  });

  it('forwardBatch runs one by one when the batch axis is fixed', async () => {
    const model = await loadModel(runtime, MNIST_8);
    const files = fs.readdirSync(MNIST_DIGITS).slice(0, 3).map((f) => path.join(MNIST_DIGITS, f));
    const xs = await Promise.all(files.map(async (f) => (await loadInput(model, f)).tensor));
    const batched = await model.explainer.forwardBatch(xs);
    for (let i = 0; i < xs.length; i++) assert.deepEqual(batched[i].logits, (await model.explainer.forward(xs[i])).logits);
    await model.explainer.dispose();
  });

  it('explains a folder: per-image maps equal the single-image results, stacked CAM included; a broken file is reported, not fatal', async () => {
    const modelPath = path.join(tmp, 'tiny.onnx');
    fs.writeFileSync(modelPath, tinyClassifier());
    const dir = path.join(tmp, 'photos');
    fs.mkdirSync(dir);
    const photos = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg')).slice(0, 4);
    for (const f of photos) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    fs.copyFileSync(path.join(SAMPLES, photos[0]), path.join(dir, `a<b>&'.jpg`));
    fs.writeFileSync(path.join(dir, 'broken.png'), 'not an image');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
    assert.equal(listInputs(dir).length, photos.length + 2);

    const model = await loadModel(runtime, modelPath);
    const out = path.join(tmp, 'report');
    const progress: number[] = [];
    const s = await explainFolder(model, dir, {
      methods: [methodById('cam'), methodById('gradcam'), methodById('guided-backprop')], top: 2, target: 'logit',
      colormap: 'jet', alpha: 0.5, options: () => ({}), gain: false, batchSize: 3, outDir: out, onProgress: (d) => progress.push(d),
    });
    assert.equal(s.format, 'look-closer-batch');
    assert.equal(s.batchSize, 3);
    assert.equal(s.explained, photos.length + 1);
    assert.equal(s.failed, 1);
    assert.deepEqual(progress, Array.from({ length: photos.length + 2 }, (_, i) => i + 1));
    const broken = s.images.find((i) => i.input.endsWith('broken.png'))!;
    assert.match(broken.error!, /Cannot decode/);
    for (const img of s.images.filter((i) => !i.error)) {
      assert.equal(img.outputs.length, 3 * 2);
      assert.equal(img.predictions.length, 5);
      assert.ok(fs.existsSync(path.join(out, img.view!)));
      const input = await loadInput(model, img.input);
      for (const id of ['cam', 'gradcam', 'guided-backprop']) {
        const single = await methodById(id).run(model.explainer, { input: input.tensor, top: 2, target: 'logit' });
        single.explanations.forEach((e, k) => {
          const o = img.outputs.filter((x) => x.method === id)[k];
          assert.equal(o.class, e.classIndex);
          const npy = decodeNpy(new Uint8Array(fs.readFileSync(path.join(out, o.npy))));
          assert.deepEqual(npy.shape, [...e.raw.dims]);
          for (let j = 0; j < npy.data.length; j++) assert.ok(Math.abs(npy.data[j] - e.raw.data[j]) < 1e-4 * (1 + Math.abs(e.raw.data[j])), `${id} ${img.input}`);
          assert.ok(fs.existsSync(path.join(out, o.png)));
        });
      }
    }
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.ok(html.includes(escapeHtml(`a<b>&'.jpg`)) && !html.includes(`a<b>&'`));
    assert.ok(html.includes('Cannot decode'));
    const json = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as BatchSummary;
    assert.equal(json.images.length, s.images.length);
    // The page has no inline style attributes (a webview's CSP would block them); a file link per overlay.
    assert.ok(!/ style="/.test(html));
    assert.ok(html.includes(`<a href="maps/`));
    // As the extension's report view renders it: its CSP, the stylesheet by nonce, images through resolve, no file links.
    const csp = "default-src 'none'; img-src vscode-resource:; style-src 'nonce-abc'";
    const view = renderReportHtml(json, { csp, styleNonce: 'abc', resolve: (rel) => `vscode-resource:/report/${rel}` });
    assert.ok(view.includes(`content="${escapeHtml(csp)}"`));
    assert.ok(view.includes('<style nonce="abc">'));
    assert.ok(!view.includes('<a href'));
    const srcs = [...view.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(srcs.length, s.explained + s.images.reduce((n, i) => n + i.outputs.length, 0));
    assert.ok(srcs.every((u) => u.startsWith('vscode-resource:/report/')), srcs[0]);
    await model.explainer.dispose();
  });

  it('look-closer explain MODEL DIR --json prints the batch summary; the exit code says whether every image was explained', async () => {
    const dir = path.join(tmp, 'digits');
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(MNIST_DIGITS).slice(0, 3)) fs.copyFileSync(path.join(MNIST_DIGITS, f), path.join(dir, f));
    const out = path.join(tmp, 'digits-report');
    const ok = await runCli(['explain', MNIST_8, dir, '--method', 'gradcam,saliency', '--out', out, '--json', '--backend', 'wasm']);
    assert.equal(ok.code, 0);
    const s = JSON.parse(ok.stdout) as BatchSummary;
    assert.deepEqual(s.methods, ['gradcam', 'saliency']);
    assert.equal(s.explained, 3);
    assert.ok(s.images.every((i) => i.predictions[0].label === path.basename(i.input).split('_')[1]));
    fs.writeFileSync(path.join(dir, 'zz.png'), 'broken');
    const bad = await runCli(['explain', MNIST_8, dir, '--method', 'gradcam', '--out', out, '--backend', 'wasm']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /3 of 4 images explained/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    assert.equal((await runCli(['explain', MNIST_8, empty, '--method', 'gradcam'])).code, 2);
  });
});
