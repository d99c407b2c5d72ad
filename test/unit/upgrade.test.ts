/**
 * Opset upgrade: every rewritten operator in a small model at an old opset, run before and after in
 * onnxruntime-web (graph optimisations off, so both run exactly the ops the graph names), plus the
 * project's real models (default optimisations, as the extension runs them).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { LookCloserError } from '../../src/core/errors';
import { ONNX_TYPE, decodeModel, encodeModel, makeAttribute, onnx, opsetOf, tensorToProto, toNum } from '../../src/core/onnx/model';
import { upgradeToOpset } from '../../src/core/onnx/upgrade';
import type { Runtime } from '../../src/core/runtime';
import { DType, Tensor, float32ToHalf, fromHalfBits, halfToFloat32 } from '../../src/core/tensor';
import { ortRuntime, webRuntime } from '../../src/node/ort-runtime';
import { randomData, rng } from '../support/tiny-model';

type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | Tensor | onnx.IGraphProto;

interface NodeSpec {
  op: string;
  in: string[];
  out: string[];
  attrs?: Record<string, AttrValue>;
}

interface GraphSpec {
  /** Real inputs: element type and dims (strings are symbolic). */
  inputs: Record<string, [DType, (number | string)[]]>;
  /** Outputs: element type, and dims when they should be declared. */
  outputs: Record<string, DType | [DType, number[]]>;
  nodes: NodeSpec[];
  inits?: Record<string, Tensor>;
  /** value_info entries (declared shapes of inner tensors). */
  shapes?: Record<string, [DType, number[]]>;
}

const IR_FOR: Record<number, number> = { 1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8 };

function valueInfo(name: string, type: DType, dims?: (number | string)[]): onnx.IValueInfoProto {
  const shape = dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined;
  return { name, type: { tensorType: { elemType: ONNX_TYPE[type], shape } } };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (typeof v === 'object' && !Array.isArray(v)) {
    if ('float' in v) return makeAttribute(name, v.float, 'float');
    if ('floats' in v) return makeAttribute(name, v.floats, 'floats');
    if ('node' in v) return { name, type: onnx.AttributeProto.AttributeType.GRAPH, g: v };
  }
  return makeAttribute(name, v as number | number[] | string | Tensor);
}

function graphProto(spec: GraphSpec, name = 'g'): onnx.IGraphProto {
  return {
    name,
    input: Object.entries(spec.inputs).map(([k, [t, d]]) => valueInfo(k, t, d)),
    output: Object.entries(spec.outputs).map(([k, v]) => (Array.isArray(v) ? valueInfo(k, v[0], v[1]) : valueInfo(k, v))),
    valueInfo: Object.entries(spec.shapes ?? {}).map(([k, [t, d]]) => valueInfo(k, t, d)),
    node: spec.nodes.map((n, i) => ({
      opType: n.op, input: n.in, output: n.out, name: `n${i}_${n.op}`,
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    })),
    initializer: Object.entries(spec.inits ?? {}).map(([k, t]) => tensorToProto(k, t)),
  };
}

/** A model at an old opset, decoded from its bytes (as the extension would see it). */
function buildModel(opset: number, spec: GraphSpec, domain = ''): onnx.ModelProto {
  const m = onnx.ModelProto.create({ irVersion: IR_FOR[opset] ?? 8, opsetImport: [{ domain, version: opset }], producerName: 'upgrade-test', graph: graphProto(spec) });
  return onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
}

const f32 = (dims: number[], data: ArrayLike<number>): Tensor => ({ type: 'float32', dims, data: Float32Array.from(data) });
const i64 = (dims: number[], data: number[]): Tensor => ({ type: 'int64', dims, data: BigInt64Array.from(data.map(BigInt)) });
const r = rng(20240611);
const size = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

function randomTensor(type: DType, dims: number[]): Tensor {
  const x = randomData(size(dims), r, -2, 2);
  if (type === 'float32') return f32(dims, x);
  if (type === 'float16') return { type, dims, data: float32ToHalf(x) };
  if (type === 'bool') return { type, dims, data: Uint8Array.from(x, (v) => (v > 0 ? 1 : 0)) };
  throw new Error(`no random ${type}`);
}

/** Random feeds for the model's real inputs; symbolic dims take `dynamic`'s size. */
function feedsFor(model: onnx.ModelProto, dynamic = 2): Record<string, Tensor> {
  const inits = new Set(graphOf(model).initializer.map((t) => t.name));
  const feeds: Record<string, Tensor> = {};
  for (const i of graphOf(model).input) {
    if (inits.has(i.name)) continue;
    const tt = i.type!.tensorType!;
    const dims = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? dynamic : toNum(d.dimValue)));
    const type = Object.entries(ONNX_TYPE).find(([, v]) => v === tt.elemType)![0] as DType;
    feeds[i.name!] = randomTensor(type, dims);
  }
  return feeds;
}

function asNumbers(t: Tensor): number[] {
  if (t.type === 'float16') return Array.from(halfToFloat32(t.data as Uint16Array));
  if (t.type === 'int64') return Array.from(t.data as BigInt64Array, Number);
  return Array.from(t.data as ArrayLike<number>);
}

/** One float16 unit in the last place at the magnitude of v. */
function halfUlp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -14) return 2 ** -24;
  return 2 ** (Math.floor(Math.log2(a)) - 10);
}

function assertSame(a: Tensor, b: Tensor, what: string, tol = 1e-6): void {
  assert.deepEqual([...b.dims], [...a.dims], `${what}: dims`);
  assert.equal(b.type, a.type, `${what}: type`);
  const x = asNumbers(a);
  const y = asNumbers(b);
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    const allowed = a.type === 'float16' ? Math.max(tol, halfUlp(Math.max(Math.abs(x[i]), Math.abs(y[i])))) : tol;
    assert.ok(d <= allowed || (Number.isNaN(x[i]) && Number.isNaN(y[i])), `${what}[${i}]: ${x[i]} vs ${y[i]}`);
  }
}

 
const exact: Runtime = ortRuntime(require('onnxruntime-web'), 'onnxruntime-web (wasm, no graph optimisation)', { executionProviders: ['wasm'], graphOptimizationLevel: 'disabled' });
const defaults: Runtime = webRuntime();

async function run(rt: Runtime, model: onnx.ModelProto, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await rt.createSession(encodeModel(model));
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Upgrades, checks the opset, runs both models on the same random feeds and compares every output. */
async function sameOutputs(model: onnx.ModelProto, opts: { target?: number; feeds?: Record<string, Tensor>; rt?: Runtime; tol?: number } = {}): Promise<onnx.ModelProto> {
  const target = opts.target ?? 17;
  const up = upgradeToOpset(model, target);
  assert.equal(opsetOf(up), target);
  assert.equal(opsetOf(model) < target, true);
  const feeds = opts.feeds ?? feedsFor(model);
  const rt = opts.rt ?? exact;
  const [a, b] = [await run(rt, model, feeds), await run(rt, up, feeds)];
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const k of Object.keys(a)) assertSame(a[k], b[k], k, opts.tol);
  return up;
}

/** Runs only the upgraded model (for originals onnxruntime no longer loads) against expected values. */
async function upgradedGives(model: onnx.ModelProto, feeds: Record<string, Tensor>, expected: Record<string, Tensor>, target = 17): Promise<onnx.ModelProto> {
  const up = upgradeToOpset(model, target);
  assert.equal(opsetOf(up), target);
  const out = await run(exact, up, feeds);
  for (const k of Object.keys(expected)) assertSame(expected[k], out[k], k);
  return up;
}

function graphOf(m: onnx.ModelProto): onnx.GraphProto {
  return m.graph as onnx.GraphProto;
}

const ops = (m: onnx.ModelProto) => graphOf(m).node.map((n) => n.opType);
const nodeOf = (m: onnx.ModelProto, op: string) => graphOf(m).node.find((n) => n.opType === op)!;
const attrNames = (n: onnx.INodeProto) => (n.attribute ?? []).map((a) => a.name).sort();

function unary(opset: number, op: string, attrs: Record<string, AttrValue>, dims: (number | string)[], type: DType = 'float32'): onnx.ModelProto {
  return buildModel(opset, { inputs: { x: [type, dims] }, outputs: { y: type }, nodes: [{ op, in: ['x'], out: ['y'], attrs }] });
}

function assertUnsupported(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LookCloserError && e.kind === 'unsupported-model' && pattern.test(e.message));
}

describe('upgradeToOpset', () => {
  describe('Softmax, LogSoftmax, Hardmax (2-D coercion before opset 13)', () => {
    it('rewrites Softmax-1 on a 4-D input with the default axis as Flatten → Softmax → Reshape', async () => {
      const up = await sameOutputs(unary(7, 'Softmax', {}, [2, 3, 4, 5]));
      assert.deepEqual(ops(up), ['Shape', 'Flatten', 'Softmax', 'Reshape']);
      assert.equal(toNum(nodeOf(up, 'Softmax').attribute![0].i), 1);
    });

    it('keeps dynamic batch sizes working through the reshape', async () => {
      const m = unary(10, 'Softmax', { axis: 1 }, ['N', 3, 4]);
      await sameOutputs(m, { feeds: { x: randomTensor('float32', [5, 3, 4]) } });
    });

    it('rewrites Softmax-11 with axis 2 of 4', async () => {
      await sameOutputs(unary(11, 'Softmax', { axis: 2 }, [2, 3, 4, 5]));
    });

    it('keeps LogSoftmax-12 over the last axis as one node', async () => {
      const up = await sameOutputs(unary(12, 'LogSoftmax', { axis: -1 }, [2, 3, 4]));
      assert.deepEqual(ops(up), ['LogSoftmax']);
    });

    it('keeps Softmax-8 over axis 1 of [1,10,1,1] as one node (trailing axes of size 1)', async () => {
      const m = buildModel(8, { inputs: { x: ['float32', [1, 10, 1, 1]] }, outputs: { y: 'float32' }, nodes: [{ op: 'Softmax', in: ['x'], out: ['y'] }] });
      const up = await sameOutputs(m);
      assert.deepEqual(ops(up), ['Softmax']);
    });

    it('rewrites Hardmax-9 with axis 0 of a 2-D input (a max over all elements before 13)', async () => {
      const up = await sameOutputs(unary(9, 'Hardmax', { axis: 0 }, [3, 4]));
      assert.ok(ops(up).includes('Flatten'));
    });

    it('rewrites LogSoftmax-11 with a negative non-last axis', async () => {
      await sameOutputs(unary(11, 'LogSoftmax', { axis: -2 }, [2, 3, 4]));
    });
  });

  describe('Clip (attributes → inputs before 11)', () => {
    it('moves min and max to float inputs (opset 7)', async () => {
      const up = await sameOutputs(unary(7, 'Clip', { min: { float: -0.5 }, max: { float: 0.75 } }, [2, 3, 4]));
      const clip = nodeOf(up, 'Clip');
      assert.equal(clip.input!.length, 3);
      assert.deepEqual(attrNames(clip), []);
    });

    it('leaves a missing min empty (opset 10, max only)', async () => {
      const up = await sameOutputs(unary(10, 'Clip', { max: { float: 0.25 } }, [2, 5]));
      assert.equal(nodeOf(up, 'Clip').input![1], '');
    });

    it('drops both when neither is given (opset 9)', async () => {
      const up = await sameOutputs(unary(9, 'Clip', {}, [4, 5]));
      assert.deepEqual(nodeOf(up, 'Clip').input, ['x']);
    });

    it('uses float16 bounds for float16 data', async () => {
      const m = unary(7, 'Clip', { min: { float: 0 }, max: { float: 6 } }, [2, 8], 'float16');
      const up = upgradeToOpset(m);
      const names = nodeOf(up, 'Clip').input!.slice(1);
      for (const n of names) assert.equal(graphOf(up).initializer.find((t) => t.name === n)!.dataType, ONNX_TYPE.float16);
      const x = randomTensor('float16', [2, 8]);
      const y = Uint16Array.from(x.data as Uint16Array, (h) => {
        const v = fromHalfBits(h);
        return v < 0 ? 0 : v > 6 ? float32ToHalf([6])[0] : h;
      });
      await upgradedGives(m, { x }, { y: { type: 'float16', dims: [2, 8], data: y } });
    });
  });

  describe('Dropout', () => {
    it('becomes Identity when its mask is unused (opset 7, mask named)', async () => {
      const m = buildModel(7, {
        inputs: { x: ['float32', [2, 6]] }, outputs: { z: 'float32' },
        nodes: [{ op: 'Dropout', in: ['x'], out: ['y', 'mask'], attrs: { ratio: { float: 0.3 } } }, { op: 'Relu', in: ['y'], out: ['z'] }],
        shapes: { mask: ['float32', [2, 6]] },
      });
      const up = await sameOutputs(m);
      assert.deepEqual(ops(up), ['Identity', 'Relu']);
      assert.equal(graphOf(up).valueInfo.length, 0, 'value_info of the dropped mask is removed');
    });

    it('drops is_test (opset 6) when becoming Identity', () => {
      const m = buildModel(6, { inputs: { x: ['float32', [2, 6]] }, outputs: { y: 'float32' }, nodes: [{ op: 'Dropout', in: ['x'], out: ['y'], attrs: { is_test: 1, ratio: { float: 0.5 } } }] });
      const up = upgradeToOpset(m);
      assert.deepEqual(ops(up), ['Identity']);
      assert.deepEqual(attrNames(graphOf(up).node[0]), []);
    });

    // onnxruntime's Dropout 7–11 kernels give an all-zero mask at inference, the ONNX reference an all-true
    // one; the upgrade follows the spec, so only Y is compared with the original here.
    it('keeps a Dropout whose float mask is read, casting the new bool mask back (opset 9)', async () => {
      const m = buildModel(9, {
        inputs: { x: ['float32', [2, 6]] }, outputs: { y: 'float32', z: 'float32' },
        nodes: [{ op: 'Dropout', in: ['x'], out: ['y', 'mask'], attrs: { ratio: { float: 0.2 } } }, { op: 'Mul', in: ['x', 'mask'], out: ['z'] }],
      });
      const x = randomTensor('float32', [2, 6]);
      const before = await run(exact, m, { x });
      const up = await upgradedGives(m, { x }, { y: before.y, z: x });
      assert.deepEqual(ops(up), ['Dropout', 'Cast', 'Mul']);
      assert.deepEqual(attrNames(nodeOf(up, 'Dropout')), []);
      assert.equal(nodeOf(up, 'Dropout').input!.length, 2);
    });

    it('keeps a Dropout whose bool mask is read (opset 10)', async () => {
      const m = buildModel(10, {
        inputs: { x: ['float32', [3, 4]] }, outputs: { y: 'float32', m: 'float32' },
        nodes: [{ op: 'Dropout', in: ['x'], out: ['y', 'mask'] }, { op: 'Cast', in: ['mask'], out: ['m'], attrs: { to: ONNX_TYPE.float32 } }],
      });
      const x = randomTensor('float32', [3, 4]);
      const up = await upgradedGives(m, { x }, { y: x, m: f32([3, 4], new Array(12).fill(1)) });
      assert.deepEqual(ops(up), ['Dropout', 'Cast']);
    });

    it('becomes Identity at opset 12 (ratio as input)', async () => {
      const m = buildModel(12, {
        inputs: { x: ['float32', [3, 4]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'Dropout', in: ['x', 'ratio'], out: ['y'] }], inits: { ratio: f32([], [0.4]) },
      });
      const up = await sameOutputs(m);
      assert.deepEqual(ops(up), ['Identity']);
    });
  });

  describe('BatchNormalization', () => {
    const bn = (opset: number, attrs: Record<string, AttrValue>, outs = ['y'], used: string[] = ['y']): onnx.ModelProto =>
      buildModel(opset, {
        inputs: { x: ['float32', [2, 3, 4, 4]] }, outputs: Object.fromEntries(used.map((u) => [u, 'float32' as DType])),
        nodes: [{ op: 'BatchNormalization', in: ['x', 's', 'b', 'mean', 'var'], out: outs, attrs }],
        inits: { s: f32([3], [1.5, 0.5, -1]), b: f32([3], [0.1, 0.2, 0.3]), mean: f32([3], [0.2, -0.1, 0]), var: f32([3], [0.5, 2, 1]) },
      });

    it('drops spatial=1 (opset 7)', async () => {
      const up = await sameOutputs(bn(7, { spatial: 1, epsilon: { float: 1e-3 } }));
      assert.deepEqual(attrNames(nodeOf(up, 'BatchNormalization')), ['epsilon']);
    });

    it('passes opset 8 through', async () => {
      await sameOutputs(bn(8, { momentum: { float: 0.9 } }));
    });

    it('runs a node listing statistics outputs in training mode, as before 14 (opset 9)', async () => {
      const up = await sameOutputs(bn(9, {}, ['y', 'm1', 'v1', 'sm', 'sv']));
      const node = nodeOf(up, 'BatchNormalization');
      assert.deepEqual(node.output, ['y', 'm1', 'v1']);
      assert.equal(toNum(node.attribute!.find((a) => a.name === 'training_mode')!.i), 1);
    });

    it('keeps only Y of a test-mode node (opset 6, is_test=1)', () => {
      const up = upgradeToOpset(bn(6, { is_test: 1, consumed_inputs: [0, 0, 0, 1, 1] }, ['y', 'm1', 'v1']));
      const node = nodeOf(up, 'BatchNormalization');
      assert.deepEqual(node.output, ['y']);
      assert.deepEqual(attrNames(node), []);
    });

    it('refuses spatial=0', () => {
      assertUnsupported(() => upgradeToOpset(bn(7, { spatial: 0 })), /^Operator 'BatchNormalization' \(node 'n0_BatchNormalization'\) at opset 7 cannot be upgraded to opset 17 yet; .*spatial=0/);
    });

    it('refuses used saved_mean/saved_var outputs (gone in 14)', () => {
      assertUnsupported(() => upgradeToOpset(bn(9, {}, ['y', 'm1', 'v1', 'sm', 'sv'], ['y', 'sm'])), /saved_mean/);
    });
  });

  describe('shape operators', () => {
    it('moves the Reshape-1..4 shape attribute to an input', async () => {
      const m = buildModel(4, { inputs: { x: ['float32', [2, 3, 4]] }, outputs: { y: 'float32' }, nodes: [{ op: 'Reshape', in: ['x'], out: ['y'], attrs: { shape: [0, -1, 2] } }] });
      const x = randomTensor('float32', [2, 3, 4]);
      const up = await upgradedGives(m, { x }, { y: { type: 'float32', dims: [2, 6, 2], data: x.data } });
      assert.equal(nodeOf(up, 'Reshape').input!.length, 2);
    });

    it('moves Squeeze and Unsqueeze axes to inputs (opset 11)', async () => {
      const m = buildModel(11, {
        inputs: { x: ['float32', [1, 3, 1, 4]] }, outputs: { y: 'float32', z: 'float32' },
        nodes: [
          { op: 'Squeeze', in: ['x'], out: ['s'], attrs: { axes: [0, -2] } },
          { op: 'Unsqueeze', in: ['s'], out: ['y'], attrs: { axes: [1, 3] } },
          { op: 'Squeeze', in: ['x'], out: ['z'] },
        ],
      });
      const up = await sameOutputs(m);
      assert.deepEqual(graphOf(up).node.map((n) => n.input!.length), [2, 2, 1]);
    });

    it('moves Split sizes to an input (opset 11)', async () => {
      const m = buildModel(11, {
        inputs: { x: ['float32', [2, 5, 3]] }, outputs: { a: 'float32', b: 'float32' },
        nodes: [{ op: 'Split', in: ['x'], out: ['a', 'b'], attrs: { axis: 1, split: [2, 3] } }],
      });
      await sameOutputs(m);
    });

    it('sets num_outputs for an even Split at target 18 (opset 7)', async () => {
      const m = buildModel(7, {
        inputs: { x: ['float32', [2, 6]] }, outputs: { a: 'float32', b: 'float32', c: 'float32' },
        nodes: [{ op: 'Split', in: ['x'], out: ['a', 'b', 'c'], attrs: { axis: 1 } }],
      });
      const up = await sameOutputs(m, { target: 18 });
      assert.equal(toNum(nodeOf(up, 'Split').attribute!.find((a) => a.name === 'num_outputs')!.i), 3);
    });

    it('moves Slice-1 starts/ends/axes to inputs (opset 9)', async () => {
      const m = buildModel(9, {
        inputs: { x: ['float32', [3, 5, 6]] }, outputs: { y: 'float32', z: 'float32' },
        nodes: [
          { op: 'Slice', in: ['x'], out: ['y'], attrs: { starts: [1, -4], ends: [1000000, 5], axes: [2, 1] } },
          { op: 'Slice', in: ['x'], out: ['z'], attrs: { starts: [0, 1], ends: [2, 3] } },
        ],
      });
      await sameOutputs(m);
    });

    it('moves Pad pads and value to inputs (opset 10 constant and reflect, opset 2 edge)', async () => {
      const m10 = buildModel(10, {
        inputs: { x: ['float32', [1, 2, 3, 4]] }, outputs: { y: 'float32', z: 'float32' },
        nodes: [
          { op: 'Pad', in: ['x'], out: ['y'], attrs: { pads: [0, 0, 1, 2, 0, 0, 2, 1], value: { float: 1.5 } } },
          { op: 'Pad', in: ['x'], out: ['z'], attrs: { mode: 'reflect', pads: [0, 0, 1, 1, 0, 0, 2, 2] } },
        ],
      });
      await sameOutputs(m10);
      const m2 = buildModel(2, {
        inputs: { x: ['float32', [1, 2, 3, 4]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'Pad', in: ['x'], out: ['y'], attrs: { mode: 'edge', pads: [0, 0, 2, 1, 0, 0, 1, 3] } }],
      });
      await sameOutputs(m2);
    });

    it('turns TopK-1 k into an input (opset 9)', async () => {
      const m = buildModel(9, {
        inputs: { x: ['float32', [2, 7]] }, outputs: { v: 'float32', i: 'int64' },
        nodes: [{ op: 'TopK', in: ['x'], out: ['v', 'i'], attrs: { k: 3, axis: 1 } }],
      });
      await sameOutputs(m);
    });

    it('renames Scatter (opset 9) to ScatterElements', async () => {
      const m = buildModel(9, {
        inputs: { x: ['float32', [3, 4]], u: ['float32', [2, 4]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'Scatter', in: ['x', 'idx', 'u'], out: ['y'], attrs: { axis: 0 } }],
        inits: { idx: i64([2, 4], [2, 0, 1, 2, 0, 1, 2, 0]) },
      });
      const up = await sameOutputs(m);
      assert.deepEqual(ops(up), ['ScatterElements']);
    });
  });

  describe('reductions', () => {
    const reduce = (opset: number, op: string, attrs: Record<string, AttrValue>) =>
      buildModel(opset, { inputs: { x: ['float32', [2, 3, 4, 5]] }, outputs: { y: 'float32' }, nodes: [{ op, in: ['x'], out: ['y'], attrs }] });

    it('moves ReduceSum axes to an input (opset 11)', async () => {
      const up = await sameOutputs(reduce(11, 'ReduceSum', { axes: [1, -1], keepdims: 0 }));
      assert.equal(nodeOf(up, 'ReduceSum').input!.length, 2);
      await sameOutputs(reduce(11, 'ReduceSum', {}));
    });

    it('keeps ReduceMean axes as an attribute at 17 and moves them at 18', async () => {
      const m = reduce(11, 'ReduceMean', { axes: [2, 3] });
      const up17 = await sameOutputs(m);
      assert.deepEqual(attrNames(nodeOf(up17, 'ReduceMean')), ['axes']);
      const up18 = await sameOutputs(m, { target: 18 });
      assert.deepEqual(attrNames(nodeOf(up18, 'ReduceMean')), []);
      assert.equal(nodeOf(up18, 'ReduceMean').input!.length, 2);
    });

    it('upgrades the other reductions to 18', async () => {
      await sameOutputs(reduce(12, 'ReduceMax', { keepdims: 0 }), { target: 18 });
      for (const op of ['ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare']) {
        await sameOutputs(reduce(11, op, { axes: [1] }), { target: 18 });
      }
    });
  });

  describe('Upsample and Resize-10', () => {
    const up4 = (opset: number, op: string, attrs: Record<string, AttrValue>, scales?: number[], dims = [1, 2, 3, 4]) =>
      buildModel(opset, {
        inputs: { x: ['float32', dims] }, outputs: { y: 'float32' },
        nodes: [{ op, in: scales ? ['x', 'scales'] : ['x'], out: ['y'], attrs }],
        inits: scales ? { scales: f32([scales.length], scales) } : {},
      });

    it('turns Upsample-7 nearest into Resize', async () => {
      const up = await sameOutputs(up4(7, 'Upsample', { mode: 'nearest', scales: { floats: [1, 1, 2, 3] } }));
      assert.deepEqual(ops(up), ['Resize']);
    });

    it('turns Upsample-8 linear into Resize', async () => {
      await sameOutputs(up4(8, 'Upsample', { mode: 'linear', scales: { floats: [1, 1, 2, 2] } }));
    });

    it('turns Upsample-9 with a scales input into Resize (nearest and fractional linear)', async () => {
      await sameOutputs(up4(9, 'Upsample', {}, [1, 1, 2, 2]));
      await sameOutputs(up4(9, 'Upsample', { mode: 'linear' }, [1, 1, 1.5, 2.5]));
    });

    it('turns the experimental Upsample-1 (height_scale, width_scale) into Resize', async () => {
      const m = up4(6, 'Upsample', { mode: 'nearest', height_scale: { float: 2 }, width_scale: { float: 3 } }, undefined, [1, 1, 2, 2]);
      const x = randomTensor('float32', [1, 1, 2, 2]);
      const xs = x.data as Float32Array;
      const y = f32([1, 1, 4, 6], Array.from({ length: 24 }, (_, k) => xs[Math.floor(Math.floor(k / 6) / 2) * 2 + Math.floor((k % 6) / 3)]));
      await upgradedGives(m, { x }, { y });
    });

    it('gives Resize-10 its roi input and asymmetric coordinates (up and down, nearest and linear)', async () => {
      await sameOutputs(up4(10, 'Resize', { mode: 'nearest' }, [1, 1, 2, 2]));
      await sameOutputs(up4(10, 'Resize', { mode: 'linear' }, [1, 1, 1.5, 2]));
      await sameOutputs(up4(10, 'Resize', { mode: 'nearest' }, [1, 1, 0.5, 0.5], [1, 2, 6, 8]));
      await sameOutputs(up4(10, 'Resize', { mode: 'linear' }, [1, 1, 0.6, 0.5], [1, 2, 5, 8]));
    });
  });

  describe('legacy operators', () => {
    it('rewrites ImageScaler (experimental, opset 8) as Mul and Add', async () => {
      const m = buildModel(8, {
        inputs: { x: ['float32', [1, 3, 2, 2]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'ImageScaler', in: ['x'], out: ['y'], attrs: { scale: { float: 0.5 }, bias: { floats: [1, -2, 3] } } }],
      });
      const x = randomTensor('float32', [1, 3, 2, 2]);
      const bias = [1, -2, 3];
      const y = f32([1, 3, 2, 2], Array.from(x.data as Float32Array, (v, i) => v * 0.5 + bias[Math.floor(i / 4)]));
      const up = await upgradedGives(m, { x }, { y });
      assert.deepEqual(ops(up), ['Mul', 'Add']);
    });

    it('aligns legacy broadcast (opset 6, broadcast=1, axis=1) with a constant and with a computed B', async () => {
      const a = randomTensor('float32', [2, 3, 2, 2]);
      const bv = [10, 20, 30];
      const expected = f32([2, 3, 2, 2], Array.from(a.data as Float32Array, (v, i) => v + bv[Math.floor(i / 4) % 3]));
      const constB = buildModel(6, {
        inputs: { a: ['float32', [2, 3, 2, 2]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'Add', in: ['a', 'b'], out: ['y'], attrs: { broadcast: 1, axis: 1 } }], inits: { b: f32([3], bv) },
      });
      const up = await upgradedGives(constB, { a }, { y: expected });
      assert.deepEqual(ops(up), ['Add']);
      const inputB = buildModel(6, {
        inputs: { a: ['float32', [2, 3, 2, 2]], b: ['float32', [3]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'Add', in: ['a', 'b'], out: ['y'], attrs: { broadcast: 1, axis: 1 } }],
      });
      await upgradedGives(inputB, { a, b: f32([3], bv) }, { y: expected });
    });

    it('drops consumed_inputs (opset 5) and Gemm broadcast (opset 6)', () => {
      const m = buildModel(5, {
        inputs: { x: ['float32', [2, 3]] }, outputs: { y: 'float32' },
        nodes: [
          { op: 'Relu', in: ['x'], out: ['r'], attrs: { consumed_inputs: [0] } },
          { op: 'Gemm', in: ['r', 'w', 'c'], out: ['y'], attrs: { broadcast: 1, transB: 1 } },
        ],
        inits: { w: f32([4, 3], new Array(12).fill(0.5)), c: f32([4], [1, 2, 3, 4]) },
      });
      const up = upgradeToOpset(m);
      assert.deepEqual(attrNames(graphOf(up).node[0]), []);
      assert.deepEqual(attrNames(graphOf(up).node[1]), ['transB']);
    });
  });

  describe('subgraphs and model metadata', () => {
    it('upgrades the branches of an If (opset 11)', async () => {
      const branch = (op: string, attrs: Record<string, AttrValue>): onnx.IGraphProto =>
        graphProto({ inputs: {}, outputs: { out: ['float32', [3, 4]] }, nodes: [{ op, in: ['x'], out: ['out'], attrs }] }, op);
      const m = buildModel(11, {
        inputs: { c: ['bool', []], x: ['float32', [1, 3, 4]] }, outputs: { y: 'float32' },
        nodes: [{ op: 'If', in: ['c'], out: ['y'], attrs: { then_branch: branch('Squeeze', { axes: [0] }), else_branch: branch('ReduceSum', { axes: [0], keepdims: 0 }) } }],
      });
      const x = randomTensor('float32', [1, 3, 4]);
      for (const c of [0, 1]) await sameOutputs(m, { feeds: { c: { type: 'bool', dims: [], data: new Uint8Array([c]) }, x } });
      const up = upgradeToOpset(m);
      const thenNode = graphOf(up).node[0].attribute!.find((a) => a.name === 'then_branch')!.g!.node![0];
      assert.equal(thenNode.input!.length, 2);
    });

    it("updates an 'ai.onnx' opset import and raises the IR version", () => {
      const m = buildModel(9, { inputs: { x: ['float32', [2]] }, outputs: { y: 'float32' }, nodes: [{ op: 'Relu', in: ['x'], out: ['y'] }] }, 'ai.onnx');
      const up = upgradeToOpset(m);
      assert.deepEqual(up.opsetImport.map((o) => [o.domain, toNum(o.version)]), [['ai.onnx', 17]]);
      assert.equal(toNum(up.irVersion), 8);
    });

    it('returns an equal copy when the model is already at the target', () => {
      for (const [file, target] of [['test/fixtures/models/mnist-burn-pytorch.onnx', 16], ['test/fixtures/ref/resnet_op17.onnx', 17]] as const) {
        const m = decodeModel(readFileSync(file), file);
        const up = upgradeToOpset(m, target);
        assert.notEqual(up, m);
        assert.deepEqual(encodeModel(up), encodeModel(m));
      }
    });

    it('does not modify its argument', () => {
      const m = unary(7, 'Clip', { min: { float: 0 } }, [2, 2]);
      const before = encodeModel(m);
      upgradeToOpset(m);
      assert.deepEqual(encodeModel(m), before);
    });
  });

  describe('refusals', () => {
    it('refuses Scan-8 (batch axis removed in 9)', () => {
      const body = graphProto({ inputs: { s: ['float32', [2]], e: ['float32', [2]] }, outputs: { s2: 'float32', o: 'float32' }, nodes: [{ op: 'Add', in: ['s', 'e'], out: ['s2'] }, { op: 'Identity', in: ['s2'], out: ['o'] }] });
      const m = buildModel(8, {
        inputs: { s0: ['float32', [1, 2]], xs: ['float32', [1, 3, 2]] }, outputs: { sN: 'float32', os: 'float32' },
        nodes: [{ op: 'Scan', in: ['', 's0', 'xs'], out: ['sN', 'os'], attrs: { body, num_scan_inputs: 1 } }],
      });
      assertUnsupported(() => upgradeToOpset(m), /^Operator 'Scan' \(node 'n0_Scan'\) at opset 8 cannot be upgraded to opset 17 yet; /);
    });

    it('refuses experimental operators without a replacement and per-channel PRelu before 7', () => {
      assertUnsupported(() => upgradeToOpset(unary(8, 'Crop', { border: [1, 1, 1, 1] }, [1, 1, 4, 4])), /Operator 'Crop'/);
      const prelu = buildModel(6, { inputs: { x: ['float32', [1, 3, 2, 2]] }, outputs: { y: 'float32' }, nodes: [{ op: 'PRelu', in: ['x', 's'], out: ['y'] }], inits: { s: f32([3], [0.1, 0.2, 0.3]) } });
      assertUnsupported(() => upgradeToOpset(prelu), /Operator 'PRelu'/);
    });

    it('refuses targets outside 13–21', () => {
      const m = unary(9, 'Relu', {}, [2]);
      assert.throws(() => upgradeToOpset(m, 12), (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-argument');
      assert.throws(() => upgradeToOpset(m, 22), (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-argument');
    });
  });

  describe('real models', () => {
    it('SqueezeNet 1.0 float16 (opset 7: Dropout, 4-D Softmax)', async () => {
      const file = 'assets/models/squeezenet1.0-fp16-winml.onnx';
      const m = decodeModel(readFileSync(file), file);
      const feeds = { data_0: randomTensor('float16', [1, 3, 224, 224]) };
      const up = await sameOutputs(m, { feeds });
      assert.ok(!ops(up).includes('Dropout'));
      assert.deepEqual(graphOf(up).input.map((i) => i.name), ['data_0'], 'IR-3 weights are no longer listed as inputs');
      await sameOutputs(m, { feeds, rt: defaults });
    });

    for (const file of ['test/fixtures/models/mnist-8-opt-wonnx.onnx', 'test/fixtures/models/mnist-burn-pytorch.onnx']) {
      it(file.split('/').pop()!, async () => {
        const m = decodeModel(readFileSync(file), file);
        const feeds = { [graphOf(m).input[0].name!]: randomTensor('float32', [1, 1, 28, 28]) };
        await sameOutputs(m, { feeds });
        await sameOutputs(m, { feeds, rt: defaults });
      });
    }

    it('the PyTorch reference models at opsets 11 and 13', async () => {
      const index = JSON.parse(readFileSync('test/fixtures/ref/index.json', 'utf8')) as { models: { file: string; opset: number; input_shape: number[] }[] };
      const old = index.models.filter((e) => e.opset < 17);
      assert.ok(old.length >= 10);
      for (const e of old) {
        const file = `test/fixtures/ref/${e.file}`;
        const m = decodeModel(readFileSync(file), file);
        const name = graphOf(m).input.find((i) => !graphOf(m).initializer.some((t) => t.name === i.name))!.name!;
        await sameOutputs(m, { feeds: { [name]: randomTensor('float32', e.input_shape) } });
      }
    });
  });
});
