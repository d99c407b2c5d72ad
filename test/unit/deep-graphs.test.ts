/**
 * Deep graphs: walks over the graph use explicit stacks or single passes, never recursion on depth, and the
 * backward graph of a long chain loads in near-linear time. A valid chain of 5,000 Relus used to overflow the
 * call stack in Grad-CAM (Graph.isConstant) and keep guided backprop in onnxruntime's session set-up for minutes.
 */
import { strict as assert } from 'node:assert';
import { explainImage } from '../../src/core/app/explain-image';
import { Graph } from '../../src/core/onnx/graph';
import { onnx } from '../../src/core/onnx/model';
import { float32 } from '../../src/core/tensor';
import { selectRuntime } from '../../src/node/ort-runtime';
import { Classifier } from '../../src/core/app/classifier';
import { prepareImage } from '../../src/core/app/explain-image';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { TinyNode, randomData, rng, tinyModel } from '../support/tiny-model';

/** Conv → `depth` Relus → GlobalAveragePool → Flatten → Gemm: a valid classifier of 10 classes on 3×32×32 images. */
function chainModel(depth: number, reverse = false): Uint8Array {
  const r = rng(7);
  const nodes: TinyNode[] = [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['r0'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }];
  for (let i = 0; i < depth; i++) nodes.push({ op: 'Relu', inputs: [`r${i}`], outputs: [`r${i + 1}`] });
  nodes.push({ op: 'GlobalAveragePool', inputs: [`r${depth}`], outputs: ['gap'] });
  nodes.push({ op: 'Flatten', inputs: ['gap'], outputs: ['flat'] });
  nodes.push({ op: 'Gemm', inputs: ['flat', 'fw', 'fb'], outputs: ['logits'], attrs: { transB: 1 } });
  return tinyModel({
    inputs: { x: [1, 3, 32, 32] }, nodes: reverse ? nodes.reverse() : nodes, output: 'logits',
    initializers: {
      w: float32(randomData(8 * 3 * 9, r), [8, 3, 3, 3]), b: float32(randomData(8, r), [8]),
      fw: float32(randomData(10 * 8, r), [10, 8]), fb: float32(randomData(10, r), [10]),
    },
  });
}

/** A 32×32 test image with some structure. */
function image(): RgbaImage {
  const data = new Uint8Array(32 * 32 * 4);
  for (let i = 0; i < 32 * 32; i++) data.set([(i * 7) % 256, (i * 13) % 256, (i >> 5) * 8, 255], i * 4);
  return { width: 32, height: 32, data };
}

async function load(bytes: Uint8Array, name: string): Promise<Classifier> {
  return Classifier.load(selectRuntime('auto'), { path: name, name, bytes, sidecar: { name: `${name}.json`, text: '{"preset": "unit"}' } });
}

describe('graph walks on deep graphs', function () {
  this.timeout(120000);

  it('Graph.constant and Graph.isConstant walk 100,000-node chains without recursion', () => {
    const n = 100_000;
    const nodes: TinyNode[] = [];
    for (let i = 0; i < n; i++) nodes.push({ op: 'Identity', inputs: [i ? `c${i}` : 'k'], outputs: [`c${i + 1}`] });
    for (let i = 0; i < n; i++) nodes.push({ op: 'Relu', inputs: [i ? `r${i}` : 'x'], outputs: [`r${i + 1}`] });
    nodes.push({ op: 'Add', inputs: [`r${n}`, `c${n}`], outputs: ['y'] });
    const graph = new Graph(onnx.ModelProto.decode(tinyModel({ inputs: { x: [1, 4] }, nodes, output: 'y', initializers: { k: float32(new Float32Array([1, 2, 3, 4]), [4]) } })));
    assert.deepEqual([...(graph.constant(`c${n}`)!.data as Float32Array)], [1, 2, 3, 4]);
    assert.equal(graph.isConstant(`c${n}`), true);
    assert.equal(graph.isConstant(`r${n}`), false);
    assert.equal(graph.isConstant('y'), false);
  });

  it('Graph.isConstant calls a cycle not constant, and forgets its answers when the graph is edited', () => {
    const nodes: TinyNode[] = [
      { op: 'Add', inputs: ['k', 'b'], outputs: ['a'] },
      { op: 'Relu', inputs: ['a'], outputs: ['b'] },
      { op: 'Relu', inputs: ['k'], outputs: ['y'] },
    ];
    const graph = new Graph(onnx.ModelProto.decode(tinyModel({ inputs: { x: [1, 1] }, nodes, output: 'y', initializers: { k: float32(new Float32Array([1]), [1]) } })));
    assert.equal(graph.isConstant('a'), false);
    assert.equal(graph.isConstant('y'), true);
    assert.equal(graph.isConstant('z'), false);
    graph.addNode('Relu', ['k'], ['z']);
    assert.equal(graph.isConstant('z'), true);
  });

  it('a model whose nodes are listed in reverse order explains like the sorted one (Kahn order, not repeated scans)', async () => {
    const sorted = await load(chainModel(3), 'sorted.onnx');
    const reversed = await load(chainModel(3, true), 'reversed.onnx');
    try {
      for (const method of ['gradcam', 'guided-backprop']) {
        const a = await explainImage(sorted, prepareImage(sorted, image()), { method, classes: [3] });
        const b = await explainImage(reversed, prepareImage(reversed, image()), { method, classes: [3] });
        assert.deepEqual([...b.outputs[0].explanation.raw.data], [...a.outputs[0].explanation.raw.data], method);
      }
    } finally {
      await sorted.dispose();
      await reversed.dispose();
    }
  });

  it('a valid chain of 5,000 Relus runs Grad-CAM and guided backprop (no stack overflow; times are reported)', async () => {
    const t0 = performance.now();
    const model = await load(chainModel(5000), 'chain5000.onnx');
    const times: string[] = [`load ${((performance.now() - t0) / 1000).toFixed(1)} s`];
    try {
      const input = prepareImage(model, image());
      for (const method of ['gradcam', 'guided-backprop']) {
        const t = performance.now();
        const o = await explainImage(model, input, { method, top: 1 });
        times.push(`${method} ${((performance.now() - t) / 1000).toFixed(1)} s`);
        const e = o.outputs[0].explanation;
        assert.ok(e.raw.data.every(Number.isFinite), `${method}: finite map`);
        if (method === 'gradcam') assert.equal(o.layer, 'r5000');
      }
    } finally {
      await model.dispose();
    }
    console.log(`      5,000-Relu chain (${selectRuntime('auto').backend}): ${times.join(', ')}`);
  });
});
