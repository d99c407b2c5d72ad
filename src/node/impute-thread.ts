/**
 * ROAD's imputation thread (a worker_threads entry, bundled as dist/impute-thread.js beside dist/cli.js): computes
 * the noisy linear imputations of src/core/metrics/road.ts off the main thread, where onnxruntime-web's wasm (and
 * onnxruntime-node's caller thread) run the metrics' forward passes. Answers each job with its imputed tensors'
 * data, transferred; a job that throws is answered with its message, and the host computes it inline instead.
 */
import { parentPort } from 'node:worker_threads';
import { ImputeRequest, answerImpute } from '../core/metrics/remote-imputer';

const port = parentPort!;

port.on('message', (m: ImputeRequest) => {
  const { reply, transfer } = answerImpute(m);
  port.postMessage(reply, transfer);
});
