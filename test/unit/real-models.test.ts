/** The core on the real pretrained models: predictions, CAM geometry, CAM arithmetic, rewritten graphs. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { topK } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { decodeModel, tensorFromProto } from '../../src/core/onnx/model';
import { asFloat32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { MNIST_8, MNIST_BURN, MNIST_DIGITS, ROOT, SAMPLES, SQUEEZENET, TWO_CLASS } from '../support/paths';

const runtime = webRuntime();

describe('SqueezeNet 1.0 float16 (bundled)', function () {
  let model: LoadedModel;
  before(async () => {
    model = await loadModel(runtime, SQUEEZENET);
  });
  after(() => model.explainer.dispose());

  it('reads its preprocessing and labels from the sidecar', () => {
    assert.equal(model.preprocessing.preprocessing.name, 'caffe-bgr');
    assert.equal(model.preprocessing.source, 'sidecar');
    assert.equal(model.labels?.length, 1000);
    assert.equal(model.explainer.input.dtype, 'float16');
  });

  const expected: Record<string, number[]> = {
    'wm_cat.jpg': [281, 282], 'wm_coyote.jpg': [272], 'wm_bridge.jpg': [839], 'wm_flamingo.jpg': [130],
    'wm_torch.jpg': [862], 'wm_pelican.jpg': [144], 'wm_bald_eagle.jpg': [22],
  };
  for (const [file, classes] of Object.entries(expected)) {
    it(`classifies ${file} as ${classes.join(' or ')}`, async () => {
      const input = await loadInput(model, path.join(SAMPLES, file));
      const f = await model.explainer.forward(input.tensor);
      const top = topK(f.probs, 1)[0];
      assert.ok(classes.includes(top), `top-1 was ${top} (${model.labels![top]})`);
      let sum = 0;
      for (const p of f.probs) sum += p;
      assert.ok(Math.abs(sum - 1) < 5e-3, `probabilities sum to ${sum}`);
    });
  }

  it('lists its layers with shapes and picks the conv10 ReLU (feeding the global pool) as the default layer', async () => {
    const layers = await model.explainer.layers();
    const def = await model.explainer.defaultLayer();
    const l = layers.find((x) => x.name === def)!;
    assert.equal(l.op, 'Relu');
    assert.deepEqual(l.shape, [1, 1000, 13, 13]);
    assert.ok(layers.some((x) => x.op === 'Concat' && x.shape[1] === 512));
  });

  it('CAM of the dog class (243) lies on the dog (top half), of the tabby class (281) on the cat (bottom half)', async () => {
    const input = await loadInput(model, TWO_CLASS);
    const r = await methodById('cam').run(model.explainer, { input: input.tensor, classes: [243, 281], target: 'logit' });
    const topShare = (e: (typeof r.explanations)[number]) => {
      assert.equal(e.display.kind, 'heatmap');
      if (e.display.kind !== 'heatmap') return 0;
      const { map, width, height } = e.display;
      let top = 0, all = 0;
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
        all += map[y * width + x];
        if (y < height / 2) top += map[y * width + x];
      }
      return top / all;
    };
    const [dog, cat] = r.explanations;
    assert.ok(topShare(dog) > 0.6, `dog CAM top share ${topShare(dog)}`);
    assert.ok(topShare(cat) < 0.45, `cat CAM top share ${topShare(cat)}`);
  });

  it('raw CAM of the conv-as-classifier head is channel c of the conv10 ReLU', async () => {
    const input = await loadInput(model, TWO_CLASS);
    const layer = await model.explainer.defaultLayer();
    const f = await model.explainer.forward(input.tensor, [layer]);
    const a = f.tensors[layer];
    const r = await methodById('cam').run(model.explainer, { input: input.tensor, classes: [281], target: 'logit' });
    const hw = 13 * 13;
    const expected = a.data.subarray(281 * hw, 282 * hw);
    assert.deepEqual(Array.from(r.explanations[0].raw.data), Array.from(expected));
    assert.deepEqual(r.explanations[0].raw.dims, [13, 13]);
  });

  it('the rewritten model with extra outputs gives the same logits (float16: within one half-precision step)', async () => {
    // onnxruntime computes float16 nodes in float32 between inserted Casts; a tensor that becomes a graph
    // output is rounded to float16 there, so exposing it can move a logit by one float16 ulp.
    const input = await loadInput(model, path.join(SAMPLES, 'wm_coyote.jpg'));
    const plain = await model.explainer.forward(input.tensor);
    const exposed = await model.explainer.forward(input.tensor, ['fire9/concat_1', 'conv10_2']);
    plain.logits.forEach((v, i) => assert.ok(Math.abs(exposed.logits[i] - v) <= Math.abs(v) * 2 ** -10, `logit ${i}: ${exposed.logits[i]} vs ${v}`));
    assert.deepEqual(topK(exposed.probs, 5), topK(plain.probs, 5));
    const s = await runtime.createSession(new Uint8Array(fs.readFileSync(SQUEEZENET)));
    const out = await s.run(model.explainer.feed(input.tensor));
    await s.release();
    const original = asFloat32(Object.values(out)[0]).data;
    plain.probs.forEach((p, i) => assert.ok(Math.abs(p - original[i]) < 1e-3, `probability ${i}: ${p} vs ${original[i]}`));
  });

  it('explains the softmax probability on request (Grad-CAM, --target softmax)', async () => {
    const input = await loadInput(model, TWO_CLASS);
    const logit = await methodById('gradcam').run(model.explainer, { input: input.tensor, classes: [243], target: 'logit' });
    const soft = await methodById('gradcam').run(model.explainer, { input: input.tensor, classes: [243], target: 'softmax' });
    const a = logit.explanations[0].raw.data, b = soft.explanations[0].raw.data;
    assert.notDeepEqual(Array.from(a), Array.from(b));
    await assert.rejects(methodById('cam').run(model.explainer, { input: input.tensor, classes: [243], target: 'softmax' }), /CAM explains the pre-softmax logit/);
  });
});

describe('MNIST models', function () {
  for (const [file, preset] of [[MNIST_8, 'mnist'], [MNIST_BURN, 'mnist-normalized']] as const) {
    it(`${path.basename(file)} reads all ten digits (${preset})`, async () => {
      const model = await loadModel(runtime, file);
      assert.equal(model.preprocessing.preprocessing.name, preset);
      for (const f of fs.readdirSync(MNIST_DIGITS)) {
        const digit = Number(f.split('_')[1]);
        const input = await loadInput(model, path.join(MNIST_DIGITS, f));
        const out = await model.explainer.forward(input.tensor);
        assert.equal(topK(out.probs, 1)[0], digit, `${f}`);
        assert.equal(model.labels?.[digit], String(digit));
      }
      await model.explainer.dispose();
    });
  }
});

describe('rewritten float32 models', function () {
  for (const file of [MNIST_8, path.join(ROOT, 'test', 'fixtures', 'ref', 'inception_op13.onnx')]) {
    it(`${path.basename(file)}: exposing every layer leaves the logits bit-identical to onnxruntime on the original file`, async () => {
      const model = await loadModel(runtime, file, { preset: 'unit' });
      const x = await loadInput(model, path.join(SAMPLES, 'wm_coyote.jpg'));
      const layers = (await model.explainer.layers()).map((l) => l.name);
      const exposed = await model.explainer.forward(x.tensor, layers);
      const s = await runtime.createSession(new Uint8Array(fs.readFileSync(file)));
      const out = await s.run(model.explainer.feed(x.tensor));
      await s.release();
      assert.deepEqual(Array.from(exposed.logits), Array.from(asFloat32(Object.values(out)[0]).data));
      await model.explainer.dispose();
    });
  }
});

describe('CAM on a GAP → Flatten → Gemm head equals Σ_k w_ck·A_k computed here', function () {
  it('resnet-style reference model', async () => {
    const file = path.join(ROOT, 'test', 'fixtures', 'ref', 'resnet_op13.onnx');
    const model = await loadModel(runtime, file, { preset: 'unit' });
    const raw = decodeModel(new Uint8Array(fs.readFileSync(file)), 'resnet');
    const gemm = raw.graph!.node!.find((n) => n.opType === 'Gemm')!;
    const W = asFloat32(tensorFromProto(raw.graph!.initializer!.find((t) => t.name === gemm.input![1])!));
    const x = await loadInput(model, path.join(SAMPLES, 'wm_coyote.jpg'));
    const f = await model.explainer.forward(x.tensor, ['features']);
    const A = f.tensors.features;
    const [, C, h, w] = A.dims;
    for (const c of [0, 7]) {
      const expected = new Float32Array(h * w);
      for (let k = 0; k < C; k++) for (let i = 0; i < h * w; i++) expected[i] += W.data[c * C + k] * A.data[k * h * w + i];
      const relu = expected.map((v) => Math.max(v, 0));
      const r = await methodById('cam').run(model.explainer, { input: x.tensor, classes: [c], target: 'logit', layer: 'features' });
      r.explanations[0].raw.data.forEach((v, i) => assert.ok(Math.abs(v - relu[i]) < 1e-5, `class ${c} at ${i}: ${v} vs ${relu[i]}`));
    }
    await model.explainer.dispose();
  });

  it('names the head when CAM does not apply', async () => {
    const model = await loadModel(runtime, MNIST_BURN);
    const x = await loadInput(model, path.join(MNIST_DIGITS, fs.readdirSync(MNIST_DIGITS)[0]));
    await assert.rejects(methodById('cam').run(model.explainer, { input: x.tensor, top: 1, target: 'logit' }), /CAM needs global average pooling.*head is .*Use --method gradcam/s);
    await model.explainer.dispose();
  });
});
