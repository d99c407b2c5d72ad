/** Checks backward graphs against central finite differences of the forward graph, run in onnxruntime. */
import { strict as assert } from 'node:assert';
import { buildBackward } from '../../src/core/grad/backward-graph';
import type { RectifierMode } from '../../src/core/grad/rule';
import { Graph } from '../../src/core/onnx/graph';
import { cloneModel, decodeModel, encodeModel } from '../../src/core/onnx/model';
import type { Runtime } from '../../src/core/runtime';
import { Tensor, asFloat32 } from '../../src/core/tensor';

/** Shapes of every tensor (batch 1) and values of integer tensors, by one forward run exposing everything. */
export async function probe(runtime: Runtime, bytes: Uint8Array, feeds: Record<string, Tensor>) {
  const model = decodeModel(bytes, 'probe');
  const g = new Graph(model);
  const names = g.nodes.flatMap((n) => n.output).filter((o) => o && g.dtype(o) && g.dtype(o) !== 'bool');
  const p = cloneModel(model);
  const pg = new Graph(p);
  for (const n of names) pg.addOutput(n, g.dtype(n));
  const s = await runtime.createSession(encodeModel(p));
  const out = await s.run(feeds, names);
  await s.release();
  const shapes = new Map<string, number[]>();
  const values = new Map<string, Tensor>();
  for (const [k, t] of Object.entries(feeds)) shapes.set(k, [...t.dims]);
  for (const n of names) {
    shapes.set(n, [...out[n].dims]);
    if (out[n].type === 'int64') values.set(n, out[n]);
  }
  return { shapes, values };
}

/** Gradient rows [K, ...] of output elements `classes` (of the flattened output) w.r.t. `target`, from the backward graph. */
export async function backwardGrad(
  runtime: Runtime, bytes: Uint8Array, feeds: Record<string, Tensor>, output: string, target: string, classes: number[], mode: RectifierMode = 'plain',
): Promise<{ data: Float32Array; batchSafe: boolean }> {
  const model = decodeModel(bytes, 'test');
  const { shapes, values } = await probe(runtime, bytes, feeds);
  const bw = buildBackward(model, shapes, { output, logits: output, finalOp: 'none' }, { targets: [target], score: 'logit', mode, seed: 'classes', method: 'test' }, values);
  const s = await runtime.createSession(encodeModel(bw.model));
  const run = async (cls: number[]) => {
    const out = await s.run({ ...feeds, [bw.seedInput]: { type: 'int64', dims: [cls.length], data: BigInt64Array.from(cls.map(BigInt)) } }, [bw.gradOutputs[target]]);
    return asFloat32(out[bw.gradOutputs[target]]).data;
  };
  let data: Float32Array;
  if (bw.batchSafe) data = await run(classes);
  else {
    const parts = [];
    for (const c of classes) parts.push(await run([c]));
    data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
  }
  await s.release();
  return { data, batchSafe: bw.batchSafe };
}

/** Central finite differences of the flattened output elements `classes` w.r.t. every element of `target` (batched in one run). */
export async function finiteDiff(
  runtime: Runtime, bytes: Uint8Array, feeds: Record<string, Tensor>, output: string, target: string, classes: number[], eps: number,
): Promise<Float32Array> {
  const s = await runtime.createSession(bytes);
  const x = asFloat32(feeds[target]);
  const n = x.data.length;
  const batch = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    batch.set(x.data, 2 * i * n);
    batch.set(x.data, (2 * i + 1) * n);
    batch[2 * i * n + i] += eps;
    batch[(2 * i + 1) * n + i] -= eps;
  }
  const others: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    if (k === target) continue;
    const f = asFloat32(t);
    const rep = new Float32Array(2 * n * f.data.length);
    for (let b = 0; b < 2 * n; b++) rep.set(f.data, b * f.data.length);
    others[k] = { type: 'float32', dims: [2 * n, ...f.dims.slice(1)], data: rep };
  }
  const out = await s.run({ ...others, [target]: { type: 'float32', dims: [2 * n, ...x.dims.slice(1)], data: batch } }, [output]);
  await s.release();
  const y = asFloat32(out[output]).data;
  const m = y.length / (2 * n);
  const res = new Float32Array(classes.length * n);
  classes.forEach((c, k) => {
    for (let i = 0; i < n; i++) res[k * n + i] = (y[2 * i * m + c] - y[(2 * i + 1) * m + c]) / (2 * eps);
  });
  return res;
}

/** Asserts two gradients agree: max |a − b| ≤ tol · max(1, max |b|). */
export function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  assert.ok(worst <= tol * scale, `${what}: max |Δ| = ${worst} at ${at} (got ${actual[at]}, expected ${expected[at]}), tolerance ${tol * scale}`);
}
