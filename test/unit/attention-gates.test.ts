/** The gating finder on the exported attention nets (SE, CBAM, residual attention) and on nets without gates; gate values; the CLI. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Gate, gateKind, gateValues, listGates } from '../../src/core/attention/gates';
import { Explainer } from '../../src/core/explainer';
import { decodeNpy } from '../../src/core/npy';
import { float32 } from '../../src/core/tensor';
import { main } from '../../src/cli/main';
import { webRuntime } from '../../src/node/ort-runtime';
import { MNIST_8, MNIST_BURN, ROOT, SQUEEZENET } from '../support/paths';

const runtime = webRuntime();
const REF = path.join(ROOT, 'test', 'fixtures', 'ref');

async function load(file: string): Promise<Explainer> {
  return Explainer.load(runtime, new Uint8Array(fs.readFileSync(path.join(REF, file))), file);
}

function input(name: string) {
  const { data, shape } = decodeNpy(new Uint8Array(fs.readFileSync(path.join(REF, name, 'input.npy'))));
  return float32(data, shape);
}

const summary = (g: Gate) => ({ kind: g.kind, shape: [...g.shape], feature: g.feature, activation: g.activation, residual: g.residual });

describe('attention gates', function () {
  it('SE net: exactly its two channel gates (Sigmoid → Reshape → Mul)', async () => {
    const ex = await load('se_net_op13.onnx');
    const gates = await listGates(ex);
    assert.deepEqual(gates.map(summary), [
      { kind: 'channel', shape: [16, 1, 1], feature: '/layer1/conv2/conv/Conv_output_0', activation: 'Sigmoid', residual: false },
      { kind: 'channel', shape: [24, 1, 1], feature: '/layer2/conv2/conv/Conv_output_0', activation: 'Sigmoid', residual: false },
    ]);
    assert.deepEqual(gates[0].path, ['Sigmoid', 'Reshape', 'Mul']);
    await ex.dispose();
  });

  it('CBAM: a channel and a spatial gate per block, the spatial one applied to the channel-gated map', async () => {
    const ex = await load('cbam_op13.onnx');
    const gates = await listGates(ex);
    assert.deepEqual(gates.map(summary), [
      { kind: 'channel', shape: [16, 1, 1], feature: '/layer1/conv2/conv/Conv_output_0', activation: 'Sigmoid', residual: false },
      { kind: 'spatial', shape: [1, 12, 12], feature: '/layer1/channel_gate/Mul_output_0', activation: 'Sigmoid', residual: false },
      { kind: 'channel', shape: [24, 1, 1], feature: '/layer2/conv2/conv/Conv_output_0', activation: 'Sigmoid', residual: false },
      { kind: 'spatial', shape: [1, 6, 6], feature: '/layer2/channel_gate/Mul_output_0', activation: 'Sigmoid', residual: false },
    ]);
    assert.equal(gates[1].feature, gates[0].output);
    await ex.dispose();
  });

  it('residual attention: one full C×H×W mask through Add(1), (1 + M)·F', async () => {
    const ex = await load('residual_attention_op13.onnx');
    const gates = await listGates(ex);
    assert.deepEqual(gates.map(summary), [
      { kind: 'full', shape: [16, 12, 12], feature: '/attention/trunk2/relu/Relu_output_0', activation: 'Sigmoid', residual: true },
    ]);
    assert.deepEqual(gates[0].path, ['Sigmoid', 'Add(1)', 'Mul']);
    await ex.dispose();
  });

  const none = ['resnet', 'vgg', 'mobilenetv2', 'densenet', 'inception', 'shufflenet', 'convnext', 'squeezenet'].flatMap((f) => [11, 13, 17].map((o) => `${f}_op${o}.onnx`));
  it(`none on the ${none.length} ResNet-style and other gate-free nets, nor on SqueezeNet and the MNIST models`, async () => {
    for (const f of none) {
      const ex = await load(f);
      assert.deepEqual(await listGates(ex), [], f);
      await ex.dispose();
    }
    for (const file of [SQUEEZENET, MNIST_8, MNIST_BURN]) {
      const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(file)), path.basename(file));
      assert.deepEqual(await listGates(ex), [], file);
      await ex.dispose();
    }
  });

  it('only the SE gates of EfficientNet and MobileNetV3, not their SiLU x·σ(x) and Hardswish x·hσ(x)', async () => {
    for (const o of [11, 13, 17]) {
      const ef = await load(`efficientnet_op${o}.onnx`);
      assert.deepEqual((await listGates(ef)).map((g) => `${g.kind}${g.shape.join('x')} ${g.tensor}`), [
        'channel8x1x1 /mb1/se/sigmoid/Sigmoid_output_0', 'channel32x1x1 /mb2/se/sigmoid/Sigmoid_output_0',
      ]);
      await ef.dispose();
      const mb = await load(`mobilenetv3_op${o}.onnx`);
      const gates = await listGates(mb);
      assert.deepEqual(gates.map((g) => `${g.kind}${g.shape.join('x')} ${g.tensor} ${g.activation}`), [
        'channel8x1x1 /b1/se/hsigmoid/HardSigmoid_output_0 HardSigmoid', 'channel24x1x1 /b2/se/hsigmoid/HardSigmoid_output_0 HardSigmoid',
      ]);
      await mb.dispose();
    }
  });

  it('classifies mask shapes against the feature map', () => {
    assert.equal(gateKind([1, 8, 1, 1], [1, 8, 5, 5]), 'channel');
    assert.equal(gateKind([1, 8], [1, 8, 5, 5]), undefined, 'an unreshaped [1,C] does not broadcast as C×1×1');
    assert.equal(gateKind([1, 1, 5, 5], [1, 8, 5, 5]), 'spatial');
    assert.equal(gateKind([5, 5], [1, 8, 5, 5]), 'spatial');
    assert.equal(gateKind([1, 8, 5, 5], [1, 8, 5, 5]), 'full');
    assert.equal(gateKind([1, 1, 1, 1], [1, 8, 5, 5]), undefined);
    assert.equal(gateKind([1, 8, 1, 1], [1, 8, 1, 1]), undefined, 'a 1×1 feature map has no spatial extent');
  });

  it('gate values for an input: the activation reshaped, in 0..1, and what the Mul multiplies in', async () => {
    for (const name of ['se_net', 'cbam', 'residual_attention']) {
      const ex = await load(`${name}_op13.onnx`);
      const gates = await listGates(ex);
      const x = input(name);
      const vals = await gateValues(ex, x, gates);
      const f = await ex.forward(x, gates.flatMap((g) => [g.feature, g.output]));
      for (const v of vals) {
        assert.deepEqual(v.values.dims, [...v.gate.shape]);
        assert.ok(v.min >= 0 && v.max <= 1 && v.min <= v.mean && v.mean <= v.max);
        assert.equal(!!v.weights, v.gate.kind === 'channel');
        assert.equal(!!v.map, v.gate.kind !== 'channel');
        // output = feature · (residual ? 1 + M : M), M broadcast over the feature map.
        const [C, H, W] = v.gate.featureShape;
        const [c, h, w] = v.gate.shape;
        const feat = f.tensors[v.gate.feature].data;
        const out = f.tensors[v.gate.output].data;
        for (let k = 0; k < C; k++) {
          for (let i = 0; i < H * W; i++) {
            const m = v.values.data[(c === 1 ? 0 : k) * h * w + (h === 1 ? 0 : i)];
            const want = feat[k * H * W + i] * (v.gate.residual ? 1 + m : m);
            assert.ok(Math.abs(out[k * H * W + i] - want) < 1e-4 * (1 + Math.abs(want)), `${name} ${v.gate.tensor}`);
          }
        }
      }
      await ex.dispose();
    }
  });

  it('look-closer attention writes .npy maps, overlays for spatial/full gates and bar charts for channel gates', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-gates-'));
    const out: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => out.push(a.join(' '));
    let code: number;
    try {
      code = await main(['attention', path.join(REF, 'cbam_op13.onnx'), path.join(REF, 'cbam', 'input.npy'), '--out', tmp, '--json', '--backend', 'wasm']);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    const j = JSON.parse(out.join('\n'));
    assert.deepEqual(j.gates.map((g: { kind: string }) => g.kind), ['channel', 'spatial', 'channel', 'spatial']);
    for (const g of j.gates) {
      assert.deepEqual(decodeNpy(new Uint8Array(fs.readFileSync(g.npy))).shape, g.shape);
      assert.equal(fs.readFileSync(g.png).subarray(1, 4).toString(), 'PNG');
      assert.equal(g.weights?.length, g.kind === 'channel' ? g.shape[0] : undefined);
    }
    const text: string[] = [];
    console.log = (...a: unknown[]) => text.push(a.join(' '));
    try {
      code = await main(['attention', path.join(REF, 'resnet_op13.onnx'), path.join(REF, 'resnet', 'input.npy'), '--out', tmp, '--backend', 'wasm']);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    assert.match(text.join('\n'), /No attention gates in resnet_op13\.onnx/);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
