/**
 * Static shape inference (src/core/onnx/shape-inference.ts) against onnxruntime: on every committed model, each
 * shape it infers equals the shape a forward pass on a zero input gives (the layer probe it replaces), and on the
 * CNN families it infers every layer, so listing layers and the first CAM map need no probe session.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Explainer } from '../../src/core/explainer';
import { candidateTensors } from '../../src/core/model-info';
import { Graph } from '../../src/core/onnx/graph';
import { encodeModel } from '../../src/core/onnx/model';
import { shallowCloneModel } from '../../src/core/onnx/derived-model';
import { inferShapes } from '../../src/core/onnx/shape-inference';
import { float32 } from '../../src/core/tensor';
import { webRuntime } from '../../src/node/ort-runtime';
import { MNIST_8, MNIST_BURN, ROOT, SQUEEZENET } from '../support/paths';

const runtime = webRuntime();
const REF = path.join(ROOT, 'test', 'fixtures', 'ref');
const TRANSFORMERS = path.join(ROOT, 'test', 'fixtures', 'transformers');
const onnxIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort().map((f) => path.join(dir, f));
const CNNS = [SQUEEZENET, MNIST_8, MNIST_BURN, ...onnxIn(REF)];
const OTHERS = [...onnxIn(TRANSFORMERS), path.join(ROOT, 'test', 'fixtures', 'attention-ref', 'swin-shifted.onnx')];

/** The shapes onnxruntime gives every candidate tensor on a zero input (the probe, built here independently). */
async function probedShapes(ex: Explainer): Promise<Map<string, number[]>> {
  const names = candidateTensors(ex.graph).map((c) => c.name);
  const probe = shallowCloneModel(ex.graph.model);
  const g = new Graph(probe);
  for (const n of names) g.addOutput(n);
  const s = await runtime.createSession(encodeModel(probe), { optimization: 'disabled' });
  try {
    const zero = float32(new Float32Array(ex.inputDims.reduce((a, b) => a * b, 1)), ex.inputDims);
    const out = await s.run(ex.feed(zero), names);
    return new Map(names.filter((n) => out[n]).map((n) => [n, [...out[n].dims]]));
  } finally {
    await s.release();
  }
}

async function compare(file: string): Promise<{ inferred: number; total: number }> {
  const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(file)), path.basename(file));
  try {
    const probed = await probedShapes(ex);
    const inferred = inferShapes(ex.graph, ex.input.name, ex.inputDims);
    let n = 0;
    for (const [name, want] of probed) {
      const got = inferred.get(name);
      if (!got) continue;
      n++;
      assert.deepEqual(got, want, `${path.basename(file)}: tensor '${name}' (${ex.graph.producer.get(name)?.opType})`);
    }
    return { inferred: n, total: probed.size };
  } finally {
    await ex.dispose();
  }
}

describe('static shape inference', function () {
  this.timeout(300_000);

  for (const file of CNNS) {
    it(`${path.relative(ROOT, file)}: every layer, as onnxruntime runs it`, async () => {
      const { inferred, total } = await compare(file);
      assert.ok(total > 0);
      assert.equal(inferred, total, `${total - inferred} of ${total} layers not inferred`);
    });
  }

  for (const file of OTHERS) {
    it(`${path.relative(ROOT, file)}: each layer it infers, as onnxruntime runs it`, async () => {
      const { inferred, total } = await compare(file);
      assert.ok(total > 0 && inferred > 0, `${inferred} of ${total}`);
    });
  }

  it('a free batch axis: batch-1 shapes (ShuffleNet op13, declared ["batch", 3, 24, 24])', async () => {
    const file = path.join(REF, 'shufflenet_op13.onnx');
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(file)), 'shufflenet_op13.onnx');
    try {
      assert.equal(typeof ex.input.declared[0], 'string');
      const probed = await probedShapes(ex);
      const inferred = inferShapes(ex.graph, ex.input.name, ex.inputDims);
      for (const [name, want] of probed) assert.deepEqual(inferred.get(name), want, name);
    } finally {
      await ex.dispose();
    }
  });

  it('the explainer lists layers without a probe session where every shape is inferred', async () => {
    const ex = await Explainer.load(runtime, new Uint8Array(fs.readFileSync(SQUEEZENET)), 'squeezenet');
    try {
      let created = 0;
      const counting = Object.create(ex.runtime) as typeof ex.runtime;
      (ex as unknown as { runtime: typeof ex.runtime }).runtime = Object.assign(counting, {
        createSession: (...a: Parameters<typeof runtime.createSession>) => ((created++), runtime.createSession(...a)),
      });
      const layers = await ex.layers();
      assert.ok(layers.length > 20);
      assert.equal(created, 0, 'sessions created to list the layers');
    } finally {
      await ex.dispose();
    }
  });
});
