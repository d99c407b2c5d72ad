/** RA-CNN attention crops: box geometry, crops from the original image or the tensor, SqueezeNet's dog and cat, proposals, the CLI. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AttentionCrops, attentionCrops } from '../../src/core/attention/attention-crops';
import { boxFromMap, boxRect, constrainBox } from '../../src/core/attention/box';
import { cropImage, cropTensor } from '../../src/core/attention/crop';
import { Explainer } from '../../src/core/explainer';
import { methodById } from '../../src/core/methods/registry';
import { methodMapper } from '../../src/core/methods/attention-crop';
import { onnx } from '../../src/core/onnx/model';
import { preprocessImage } from '../../src/core/preprocess/preprocess';
import type { Box } from '../../src/core/render/overlay';
import { float32 } from '../../src/core/tensor';
import { main } from '../../src/cli/main';
import { inputSource } from '../../src/node/attention-io';
import { decodeImageFile } from '../../src/node/image-io';
import { webRuntime } from '../../src/node/ort-runtime';
import { LoadedInput, LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { SAMPLES, SQUEEZENET, TWO_CLASS } from '../support/paths';
import { tensorToProto } from '../../src/core/onnx/model';

const runtime = webRuntime();

/** Pixel boxes [x0, y0, x1, y1) of the 224×224 two-class photo, read off the picture. */
const DOG_HEAD = { x0: 78, y0: 12, x1: 138, y1: 78 };
const CAT_HEAD = { x0: 138, y0: 116, x1: 178, y1: 162 };
/** The cat's torso and front legs (its tail and hind leg reach further left, to x ≈ 15). */
const CAT_BODY = { x0: 90, y0: 145, x1: 198, y1: 222 };

function contains(b: Box, r: { x0: number; y0: number; x1: number; y1: number }): boolean {
  return b.x <= r.x0 && b.y <= r.y0 && b.x + b.width >= r.x1 && b.y + b.height >= r.y1;
}

/** Runs the CLI in-process, capturing what it prints. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    const code = await main(args);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

describe('attention box (RA-CNN tx, ty, tl)', () => {
  it('centres on the mass of the strongest blob and covers its extent', () => {
    const w = 60, h = 60;
    const map = new Float32Array(w * h);
    // Strong blob rows 10..29, columns 20..49 (30 wide, 20 tall); a weaker, separate blob elsewhere.
    for (let y = 10; y < 30; y++) for (let x = 20; x < 50; x++) map[y * w + x] = 1;
    for (let y = 45; y < 50; y++) for (let x = 5; x < 10; x++) map[y * w + x] = 0.8;
    const b = boxFromMap(map, w, h, { minHalfSide: 0.05 });
    assert.ok(Math.abs(b.tx - 35) < 1e-6 && Math.abs(b.ty - 20) < 1e-6, `centre (${b.tx}, ${b.ty})`);
    assert.ok(Math.abs(b.tl - 15) < 1e-6, `half side ${b.tl}`);
  });

  it("keeps tl ≥ L/3 and ≤ L/2 and the square inside the image (RA-CNN's constraint)", () => {
    const small = constrainBox({ tx: 3, ty: 220, tl: 5 }, 224, 224);
    assert.ok(Math.abs(small.tl - 224 / 3) < 1e-9);
    const r = boxRect(small);
    assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= 224 + 1e-9 && r.y + r.height <= 224 + 1e-9);
    assert.equal(constrainBox({ tx: 100, ty: 100, tl: 500 }, 224, 224).tl, 112);
    const flat = boxFromMap(new Float32Array(16 * 16).fill(0.3), 16, 16);
    assert.deepEqual(flat, { tx: 8, ty: 8, tl: 8 });
    assert.throws(() => constrainBox({ tx: NaN, ty: 0, tl: 1 }, 10, 10), /not a finite number/);
  });

  it('crops are bilinear zooms: a linear ramp stays exactly linear', () => {
    const w = 32, h = 32;
    const ramp = float32(Float32Array.from({ length: 2 * w * h }, (_, i) => (i % (w * h)) % w * 2 + Math.floor((i % (w * h)) / w)), [1, 2, h, w]);
    const region = { x: 8, y: 4, width: 16, height: 16 };
    const c = cropTensor(ramp, 'NCHW', region, 32, 32);
    for (let y = 2; y < 30; y++) {
      for (let x = 2; x < 30; x++) {
        const sx = region.x + (x + 0.5) * 0.5 - 0.5;
        const sy = region.y + (y + 0.5) * 0.5 - 0.5;
        assert.ok(Math.abs(c.data[y * 32 + x] - (2 * sx + sy)) < 1e-4, `(${x}, ${y})`);
      }
    }
    const whole = cropTensor(ramp, 'NCHW', { x: 0, y: 0, width: w, height: h }, w, h);
    assert.deepEqual(Array.from(whole.data), Array.from(ramp.data));
    const img = { width: 4, height: 4, data: Uint8Array.from({ length: 64 }, (_, i) => (i * 7) % 256) };
    assert.deepEqual(Array.from(cropImage(img, { x: 0, y: 0, width: 4, height: 4 }, 4, 4).data), Array.from(img.data));
  });
});

describe('attention crops on SqueezeNet (two-class photo)', function () {
  let model: LoadedModel;
  let input: LoadedInput;
  let dog: AttentionCrops;
  let cat: AttentionCrops;
  before(async () => {
    model = await loadModel(runtime, SQUEEZENET);
    input = await loadInput(model, TWO_CLASS);
    const r = await methodById('attention-crop').run(model.explainer, {
      input: input.tensor, classes: [243, 281], target: 'logit', source: inputSource(model, input),
    });
    [dog, cat] = r.explanations.map((e) => (e.payload?.kind === 'attention-crops' ? e.payload.crops : undefined)!);
  });
  after(() => model.explainer.dispose());

  it("the dog class's (243) box contains the dog's head; the tabby class's (281) box the cat's head and body", () => {
    const dogBox = dog.scales[1].input.region;
    const catBox = cat.scales[1].input.region;
    assert.ok(contains(dogBox, DOG_HEAD), `dog box ${JSON.stringify(dogBox)}`);
    assert.ok(contains(catBox, CAT_HEAD) && contains(catBox, CAT_BODY), `cat box ${JSON.stringify(catBox)}`);
    assert.ok(!contains(catBox, DOG_HEAD), 'the cat box does not hold the dog head');
    // The second zoom stays on the same animal.
    assert.ok(contains(dog.scales[2].input.region, { x0: 90, y0: 20, x1: 130, y1: 70 }), `dog scale 3 ${JSON.stringify(dog.scales[2].input.region)}`);
    assert.ok(contains(cat.scales[2].input.region, { x0: 143, y0: 125, x1: 172, y1: 155 }), `cat scale 3 ${JSON.stringify(cat.scales[2].input.region)}`);
  });

  it('has three nested square scales, tl ≥ 1/3 of the parent, crops cut from the original image', () => {
    for (const c of [dog, cat]) {
      assert.equal(c.scales.length, 3);
      assert.equal(c.proposer.kind, 'map');
      for (let s = 1; s < 3; s++) {
        const parent = c.scales[s - 1].input.region;
        const r = c.scales[s].input.region;
        assert.ok(c.scales[s].input.fromImage);
        assert.ok(r.x >= parent.x - 1e-6 && r.y >= parent.y - 1e-6 && r.x + r.width <= parent.x + parent.width + 1e-6 && r.y + r.height <= parent.y + parent.height + 1e-6);
        assert.ok(Math.abs(r.width - r.height) < 1e-6, 'square');
        assert.ok(r.width >= (2 / 3) * parent.width - 1e-6, 'tl ≥ L/3');
        assert.ok(c.scales[s - 1].box && c.scales[s - 1].map);
      }
      assert.equal(c.scales[2].box, undefined);
    }
  });

  it('per-scale predictions are finite probabilities; the fused prediction is their mean and sums to 1', () => {
    for (const c of [dog, cat]) {
      for (const s of c.scales) {
        assert.ok(s.probs.every((p) => Number.isFinite(p) && p >= 0 && p <= 1));
        assert.equal(s.top.length, 5);
      }
      let sum = 0;
      for (let i = 0; i < c.fused.length; i++) {
        sum += c.fused[i];
        const mean = (c.scales[0].probs[i] + c.scales[1].probs[i] + c.scales[2].probs[i]) / 3;
        assert.ok(Math.abs(c.fused[i] - mean) < 1e-7);
      }
      // float16 SqueezeNet: its own Softmax output sums to 1 within half precision.
      assert.ok(Math.abs(sum - 1) < 5e-3, `fused sums to ${sum}`);
    }
    assert.equal(dog.fusedTop[0].index, 243);
    // Zooming on the cat makes the cat classes win (281 tabby, 282 tiger cat, 285 Egyptian cat).
    assert.ok([281, 282, 285].includes(cat.scales[2].top[0].index), `cat scale 3 top ${cat.scales[2].top[0].index}`);
    assert.ok(cat.scales[2].probs[281] > cat.scales[0].probs[281] * 10);
  });

  it('without an image the crops come from the tensor; with one, from the original at full resolution', async () => {
    const bare = await attentionCrops(model.explainer, input.tensor, { classIndex: 243, mapper: methodMapper(model.explainer, methodById('gradcam'), { target: 'logit' }) });
    assert.ok(bare.scales.slice(1).every((s) => !s.input.fromImage && !s.input.view));
    const r2 = bare.scales[1].input.region;
    assert.deepEqual(Array.from(bare.scales[1].input.tensor.data), Array.from(cropTensor(input.tensor, 'NCHW', r2, 224, 224).data));
    // Same photo, same boxes: this 224×224 original matches the tensor pixel for pixel.
    assert.ok(Math.abs(r2.x - dog.scales[1].input.region.x) < 1e-3 && Math.abs(r2.width - dog.scales[1].input.region.width) < 1e-3);
    const img = await decodeImageFile(TWO_CLASS);
    const viaImage = preprocessImage(cropImage(img, dog.scales[1].input.region, 224, 224), { ...model.preprocessing.preprocessing, resize: 'squash' }, model.spec);
    assert.deepEqual(Array.from(dog.scales[1].input.tensor.data), Array.from(viaImage.tensor.data));
  });

  it('crops of a large original keep its detail (flamingo, 1333×2000, squashed to 224×224)', async () => {
    const flamingo = await loadInput(model, path.join(SAMPLES, 'wm_flamingo.jpg'));
    const opts = { classIndex: 130, mapper: methodMapper(model.explainer, methodById('gradcam'), { target: 'logit' }) };
    const fromImage = await attentionCrops(model.explainer, flamingo.tensor, { ...opts, source: inputSource(model, flamingo) });
    const fromTensor = await attentionCrops(model.explainer, flamingo.tensor, opts);
    const r = fromImage.scales[2].input.region;
    assert.ok(r.width > 224 && r.height > 224, `scale 3 region ${JSON.stringify(r)} is in original pixels`);
    // Fine detail: the summed magnitude of the discrete Laplacian (first channel).
    const detail = (t: Float32Array) => {
      let s = 0;
      for (let y = 1; y < 223; y++) for (let x = 1; x < 223; x++) s += Math.abs(4 * t[y * 224 + x] - t[y * 224 + x - 1] - t[y * 224 + x + 1] - t[(y - 1) * 224 + x] - t[(y + 1) * 224 + x]);
      return s;
    };
    const a = detail(fromImage.scales[2].input.tensor.data);
    const b = detail(fromTensor.scales[2].input.tensor.data);
    assert.ok(a > 1.4 * b, `Laplacian energy of the crop from the original ${a.toFixed(0)} vs from the tensor ${b.toFixed(0)}`);
  });
});

/** A model with 3 classes (the channel means) and an attention-proposal output 'apn' = constant (tx, ty, tl) in pixels. */
function proposalModel(box: [number, number, number]): Uint8Array {
  const vi = (name: string, dims?: (number | string)[]) => onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType: 1, shape: dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined } },
  });
  const node = (op: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []) => onnx.NodeProto.create({ opType: op, input, output, name: output[0], attribute });
  const graph = onnx.GraphProto.create({
    name: 'apn',
    input: [vi('image', [1, 3, 32, 32])],
    output: [vi('logits'), vi('apn')],
    node: [
      node('GlobalAveragePool', ['image'], ['pooled']),
      node('Flatten', ['pooled'], ['logits']),
      node('ReduceMean', ['image'], ['m'], [onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 })]),
      node('Mul', ['m', 'zero'], ['m0']),
      node('Add', ['m0', 'box'], ['apn']),
    ],
    initializer: [
      tensorToProto('zero', { type: 'float32', dims: [], data: new Float32Array([0]) }),
      tensorToProto('box', { type: 'float32', dims: [3], data: Float32Array.from(box) }),
    ],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

describe("attention crops from the model's own proposal output", () => {
  it('uses (tx, ty, tl) of the proposal output at every scale, constrained, in pixels or fractions', async () => {
    const ex = await Explainer.load(runtime, proposalModel([20, 12, 6]), 'apn.onnx');
    const x = float32(Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i)), [1, 3, 32, 32]);
    const r = await attentionCrops(ex, x, { classIndex: 1, proposal: { output: 'apn', units: 'pixels' } });
    assert.deepEqual(r.proposer, { kind: 'proposal', output: 'apn', units: 'pixels' });
    // tl = 6 < 32/3: raised to 32/3; centre (20, 12) keeps the square inside.
    const tl = 32 / 3;
    assert.ok(Math.abs(r.scales[0].box!.tl - tl) < 1e-6 && r.scales[0].box!.tx === 20 && r.scales[0].box!.ty === 12);
    const reg = r.scales[1].input.region;
    assert.ok(Math.abs(reg.x - (20 - tl)) < 1e-6 && Math.abs(reg.y - (12 - tl)) < 1e-6 && Math.abs(reg.width - 2 * tl) < 1e-6);
    // Scale 3 zooms into the same box of scale 2's picture: composed, it is (2/3)² of the input.
    assert.ok(Math.abs(r.scales[2].input.region.width - 32 * (2 / 3) ** 2) < 1e-6);
    const f = await attentionCrops(ex, x, { classIndex: 1, proposal: { output: 'apn', units: 'fraction' }, scales: 2 });
    assert.equal(f.scales[0].box!.tl, 16);
    await assert.rejects(attentionCrops(ex, x, { classIndex: 1, proposal: { output: 'm', units: 'pixels' } }), /must hold three numbers/);
    await ex.dispose();
  });

  it("the registry method reads the proposal from its options (a sidecar's methodOptions)", async () => {
    const ex = await Explainer.load(runtime, proposalModel([16, 16, 12]), 'apn.onnx');
    const x = float32(new Float32Array(3 * 32 * 32).fill(0.5), [1, 3, 32, 32]);
    const r = await methodById('attention-crop').run(ex, { input: x, classes: [0], target: 'logit', options: { proposal: 'apn' } });
    const e = r.explanations[0];
    assert.equal((e.payload?.kind === 'attention-crops' ? e.payload.crops : undefined)!.proposer.kind, 'proposal');
    assert.equal((e.payload?.kind === 'attention-crops' ? e.payload.crops : undefined)!.scales[0].box!.tl, 12);
    // The display map marks the proposed box.
    assert.equal(e.display.kind === 'heatmap' && e.display.map[16 * 32 + 16], 1);
    assert.equal(e.display.kind === 'heatmap' && e.display.map[0], 0);
    await ex.dispose();
  });
});

describe('look-closer explain --method attention-crop', function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-att-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('keeps the --json schema and adds crops (PNG), boxes (JSON), per-scale and fused predictions', async () => {
    const out = path.join(tmp, 'out');
    const r = await runCli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'attention-crop', '--class', '243', '--out', out, '--json', '--backend', 'wasm']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    for (const k of ['model', 'input', 'backend', 'preprocessing', 'predictions', 'method', 'layer', 'outputs', 'timings']) assert.ok(k in j, `missing ${k}`);
    const o = j.outputs[0];
    for (const k of ['method', 'class', 'label', 'layer', 'shape', 'min', 'max', 'npy', 'png']) assert.ok(k in o, `missing output.${k}`);
    assert.deepEqual(o.shape, [224, 224]);
    const a = o.attentionCrop;
    assert.equal(a.scales.length, 3);
    for (const s of a.scales) {
      assert.equal(fs.readFileSync(s.png).subarray(1, 4).toString(), 'PNG');
      assert.ok(s.predictions.length === 5 && typeof s.predictions[0].label === 'string');
    }
    assert.equal(fs.readFileSync(a.strip).subarray(1, 4).toString(), 'PNG');
    const boxes = JSON.parse(fs.readFileSync(a.boxes, 'utf8'));
    assert.equal(boxes.class, 243);
    assert.ok(boxes.scales[0].box.tl > 0 && boxes.scales[2].box === null);
    assert.ok(contains(boxes.scales[1].region, DOG_HEAD));
    assert.equal(a.fused.predictions[0].index, 243);
  });

  it('refuses options of another method and a map method that is itself', async () => {
    const r = await runCli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'gradcam', '--patch', '8', '--out', path.join(tmp, 'x')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--patch is an option of occlusion/);
    const s = await runCli(['explain', SQUEEZENET, TWO_CLASS, '--method', 'attention-crop', '--map-method', 'attention-crop', '--out', path.join(tmp, 'x')]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /cannot use their own map/);
  });
});
