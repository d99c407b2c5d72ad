/**
 * The panel's "Compare methods" work in Node, timed (issue 12: eight methods on the bundled SqueezeNet in under
 * 10 s): the methods the panel picks by default (webview/panel/selectors.ts comparedMethods) or those given, each
 * run as the panel runs a cell (webview/panel/measure.ts compareOne with one memo for the comparison: shared
 * substrate passes, a bit-identical map's metrics reused), on onnxruntime-web (wasm, 1 thread) or onnxruntime-node.
 * Prints each cell's time and the total; --no-memo measures every cell in full (as before the memo).
 * `--backend thread` runs onnxruntime-web (wasm, 1 thread) in a worker thread, as the panel runs it in its Web
 * Worker, and `--replica` adds a second such thread holding a copy of the forward session
 * (src/core/replicated-session.ts), as the panel's replica worker (webview/ort-replica.ts) does.
 *
 *   tsx bench/compare-view.ts [--model M.onnx] [--image IMG] [--backend wasm|node|thread] [--replica] [--methods a,b] [--no-memo]
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { methodAvailability } from '../src/core/app/availability';
import { explainImage, measureFaithfulness } from '../src/core/app/explain-image';
import { methodById } from '../src/core/methods/registry';
import { withReplica } from '../src/core/replicated-session';
import type { Runtime } from '../src/core/runtime';
import { nodeRuntime, webRuntime } from '../src/node/ort-runtime';
import { REPLICA_MAX_BYTES } from '../webview/ort-replica';
import { hostPathRuntime } from './host-path';
import { loadInput, loadModel } from '../src/node/workbench';
import { compareMemo, compareOne, rememberShown } from '../webview/panel/measure';
import { SHOWN_METRICS, comparedMethods, comparedMetrics } from '../webview/panel/selectors';
import type { PanelState } from '../webview/panel/state';

const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: 'string' }, image: { type: 'string' }, backend: { type: 'string' }, methods: { type: 'string' }, 'no-memo': { type: 'boolean' }, replica: { type: 'boolean' } },
  });
  const threads: { dispose(): Promise<void> }[] = [];
  const thread = async () => {
    const t = await hostPathRuntime(1, 'wasm');
    threads.push(t);
    return t.runtime;
  };
  let runtime: Runtime | undefined = values.backend === 'node' ? nodeRuntime(2) : values.backend === 'thread' ? await thread() : webRuntime(1);
  if (!runtime) throw new Error('onnxruntime-node is not installed');
  if (values.replica) {
    if (values.backend !== 'thread') throw new Error('--replica needs --backend thread (two onnxruntime-web instances in one thread would take turns)');
    const replicas: string[] = [];
    runtime = withReplica(runtime, thread, { maxBytes: REPLICA_MAX_BYTES, onFallback: (why) => replicas.push(why) });
    process.on('exit', () => replicas.length && process.stderr.write(`replica not used: ${replicas.join('; ')}\n`));
  }
  const model = await loadModel(runtime, values.model ?? path.join(ROOT, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx'));
  const input = await loadInput(model, values.image ?? path.join(ROOT, 'assets', 'samples', 'two_class_both_dog_cat.png'));
  // What the panel has when the user presses Compare methods: the shown map (Grad-CAM, top class) and its forward pass.
  const shown = await explainImage(model, input, { method: 'gradcam', top: 1, target: 'logit' });
  const k = shown.outputs[0].explanation.classIndex;
  const layer = shown.layer;
  const unavailable = (await methodAvailability(model)).filter((a) => !a.available).map((a) => ({ method: a.method, reason: a.reason ?? '' }));
  const state = { model: { unavailable }, ...(values.methods ? { compareChoice: values.methods.split(',') } : {}) } as unknown as PanelState;
  const methods = comparedMethods(state);
  const metrics = comparedMetrics('deletion', false);
  const memo = values['no-memo'] ? undefined : compareMemo();
  // As in the panel, the shown map's metrics (its metrics row) are measured beside it before the comparison and seed it.
  const tm = performance.now();
  const shownMetrics = await measureFaithfulness(model, input, shown.outputs[0].explanation, shown.forward, { ids: SHOWN_METRICS });
  const metricsRowMs = performance.now() - tm;
  process.stderr.write(`shown map's metrics row (${SHOWN_METRICS.join(', ')}): ${(metricsRowMs / 1000).toFixed(2)} s\n`);
  if (memo) rememberShown(memo, model, shown.outputs[0].explanation, shownMetrics, shown.forward);
  process.stderr.write(`${path.basename(values.model ?? 'squeezenet1.0-fp16-winml.onnx')} on ${runtime.backend}${values.replica ? ' with a replica thread' : ''}: ${methods.length} methods, class ${k}, metrics ${metrics.join(', ')}${memo ? '' : ' (no memo)'}\n`);
  const t0 = performance.now();
  const cells: { method: string; status: string; ms: number; sameAs?: string }[] = [];
  for (const id of methods) {
    const t = performance.now();
    const { cell } = await compareOne(model, input, { method: id, classIndex: k, target: 'logit', layer: methodById(id).family === 'cam' ? layer : undefined, forward: shown.forward, metrics, memo });
    cells.push({ method: id, status: cell.status, ms: performance.now() - t, sameAs: cell.sameAs });
    process.stderr.write(`  ${id.padEnd(22)} ${cell.status.padEnd(8)} ${((performance.now() - t) / 1000).toFixed(2).padStart(6)} s${cell.sameAs ? ` (same map as ${cell.sameAs}: metrics reused)` : ''}  at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const totalMs = performance.now() - t0;
  process.stderr.write(`compare view: ${cells.filter((c) => c.status === 'done').length} methods in ${(totalMs / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${JSON.stringify({ backend: runtime.backend, replica: !!values.replica, metricsRowMs, methods: cells, totalMs, memo: !!memo })}\n`);
  await model.dispose();
  for (const t of threads) await t.dispose();
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
