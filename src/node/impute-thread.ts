/**
 * ROAD's imputation thread (a worker_threads entry, bundled as dist/impute-thread.js beside dist/cli.js): computes
 * the noisy linear imputations of src/core/metrics/road.ts off the main thread, where onnxruntime-web's wasm (and
 * onnxruntime-node's caller thread) run the metrics' forward passes. Answers each job with its imputed tensors'
 * data, transferred; a job that throws is answered with its message, and the host computes it inline instead.
 */
import { parentPort } from 'node:worker_threads';
import { messageOf } from '../core/errors';
import { noisyLinearImpute } from '../core/metrics/road';
import { float32 } from '../core/tensor';
import type { ImputeReply, ImputeRequest } from './thread-imputer';

const port = parentPort!;

port.on('message', (m: ImputeRequest) => {
  let reply: ImputeReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const x = float32(m.data, m.dims);
    const outs = m.masks.map((mask) => noisyLinearImpute(x, mask, m.layout, m.noise, m.seed).data);
    reply = { id: m.id, outs };
    transfer = outs.map((o) => o.buffer as ArrayBuffer);
  } catch (e) {
    reply = { id: m.id, error: messageOf(e) };
  }
  port.postMessage(reply, transfer);
});
