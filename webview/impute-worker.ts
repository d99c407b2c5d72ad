/**
 * ROAD's imputation worker (a Web Worker entry, bundled as dist/impute-worker.js beside ort-worker.js): computes the
 * noisy linear imputations of src/core/metrics/road.ts for the panel (webview/impute-client.ts) off the page's
 * thread, with the same function as inline, so the values are the same bit for bit. Answers each job with its
 * imputed data, moved back; a job that throws is answered with its message, and the page computes it inline instead.
 */
import { ImputeRequest, answerImpute } from '../src/core/metrics/remote-imputer';

const scope = self as unknown as { postMessage(m: unknown, transfer: Transferable[]): void; addEventListener(t: 'message', h: (e: MessageEvent<ImputeRequest>) => void): void };

scope.addEventListener('message', (e) => {
  const { reply, transfer } = answerImpute(e.data);
  scope.postMessage(reply, transfer);
});
