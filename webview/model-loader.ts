/**
 * Loading a model in a webview (the panel and the folder view): picks the backend (WebGPU, else the extension
 * host's CPU, or the one the setting forces: host-runtime.ts), converts float16 models for WebGPU adapters without shader-f16, and hands the bytes, sidecar
 * and labels the host sent to the core's Classifier, which makes every check the CLI makes.
 */
import { Classifier } from '../src/core/app/classifier';
import { float32Copy, usesFloat16 } from '../src/core/onnx/float32';
import { decodeModel, encodeModel } from '../src/core/onnx/model';
import { throwIfAborted } from '../src/protocol/messenger';
import { modelSourceOf } from '../src/protocol/model-payload';
import type { ExecutionProviderSetting, ModelPayload } from '../src/protocol/protocol';
import { PanelRuntime, gpuForSetting, selectRuntime } from './host-runtime';

/** A classifier loaded in the webview, with the runtime it runs on. */
export interface WebModel {
  readonly payload: ModelPayload;
  readonly classifier: Classifier;
  readonly runtime: PanelRuntime;
  readonly ep: ExecutionProviderSetting;
  readonly loadMs: number;
  /** Set when the model runs as a float32 copy, and why. */
  readonly conversion?: string;
}

/** The backend that ran, as the badge and summaries name it ('CPU': the extension host's). */
export function backendLabel(runtime: PanelRuntime): 'WebGPU + WASM' | 'WebGPU' | 'WASM' | 'CPU' {
  const used = runtime.used;
  if (used.has('cpu') || (runtime.preferred === 'cpu' && !used.size)) return 'CPU';
  return used.has('webgpu') ? (used.has('wasm') ? 'WebGPU + WASM' : 'WebGPU') : 'WASM';
}

/** Loads the host's model payload on the chosen backend. */
export async function loadWebModel(p: ModelPayload, ep: ExecutionProviderSetting, signal: AbortSignal): Promise<WebModel> {
  const t0 = performance.now();
  let bytes = p.bytes;
  let conversion: string | undefined;
  const gpu = await gpuForSetting(ep);
  if (gpu?.available && !gpu.shaderF16) {
    // Every float16 kernel fails on WebGPU adapters without shader-f16 (SwiftShader): run a float32 copy there.
    const decoded = decodeModel(p.bytes, p.name);
    if (usesFloat16(decoded)) {
      bytes = encodeModel(float32Copy(decoded));
      conversion = `The WebGPU adapter (${gpu.adapter}) lacks shader-f16, so a float32 copy of this float16 model runs on WebGPU (results differ by float16 rounding only).`;
    }
  }
  const runtime = await selectRuntime(ep, gpu, p.bytes.byteLength);
  throwIfAborted(signal);
  const classifier = await Classifier.load(runtime, modelSourceOf(p, bytes));
  if (signal.aborted) {
    await classifier.dispose();
    throwIfAborted(signal);
  }
  return { payload: p, classifier, runtime, ep, loadMs: performance.now() - t0, conversion };
}
