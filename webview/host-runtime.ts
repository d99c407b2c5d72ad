/**
 * The core's Runtime on the extension host's CPU: sessions live in the host's runtime thread (multi-threaded
 * onnxruntime, src/extension/host-runtime.ts) and this webview reaches them through runtime requests over its
 * messenger. Also the one place that picks a webview's runtime for the `lookCloser.executionProvider` setting:
 * 'auto' is WebGPU when the webview has an adapter, else by size (AUTO_HOST_FROM_BYTES) the host's CPU or the
 * webview's WASM; 'wasm' and 'webgpu' stay in the webview.
 */
import { LookCloserError } from '../src/core/errors';
import type { Runtime, Session, SessionOptions } from '../src/core/runtime';
import type { Tensor } from '../src/core/tensor';
import { AUTO_HOST_FROM_BYTES, type ExecutionProviderSetting, type HostRuntimeInfo, type RuntimeRequest, type RuntimeResponses } from '../src/protocol/protocol';
import { compactBytes, compactTensor, tensorFromWire } from '../src/protocol/tensor-wire';
import { type Backend, type GpuProbe, probeWebGpu, webRuntime } from './ort-runtime';
import { KeptFeeds } from './kept-feeds';
import { cleanMessage } from './ort-worker-protocol';

/** Sends one runtime request to the extension host (the page's messenger). */
export type HostRequest = <R extends RuntimeRequest>(body: R) => Promise<RuntimeResponses[R['type']]>;

/** Where a session runs: the webview's WebGPU or WASM, or the extension host's CPU. */
export type RunsOn = Backend | 'cpu';

/** A runtime that knows where it runs, why, and every fallback (the panel's badge and the folder view read it). */
export interface PanelRuntime extends Runtime {
  readonly preferred: RunsOn;
  /** Reasons sessions left the backend asked for, newest last. */
  readonly fallbacks: string[];
  /** Backends that ran since the last reset. */
  readonly used: Set<RunsOn>;
  /** Why this backend was chosen, shown in the badge's tooltip. */
  readonly reason?: string;
  /** The webview's onnxruntime was restarted (it ran out of memory): its sessions are gone (the host's runtime restarts itself). */
  readonly lost?: boolean;
}

let link: HostRequest | undefined;

/** Lets this page's runtimes reach the extension host (called once by each page that runs models). */
export function connectHostRuntime(request: HostRequest): void {
  link = request;
}

/** The tensors of a host answer as the core's (they arrive as typed arrays; anything else is checked and rebuilt). */
function fromHost(out: Record<string, unknown>): Record<string, Tensor> {
  const res: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(out)) res[k] = tensorFromWire(v, `The extension host's output '${k}'`);
  return res;
}

/** Starts (once per host) and wraps the extension host's CPU runtime; `why` says why it was chosen. */
export async function hostRuntime(why: string): Promise<PanelRuntime> {
  const request = link;
  if (!request) throw new LookCloserError('runtime', 'This view cannot reach the extension host runtime.');
  const info: HostRuntimeInfo = await request({ type: 'runtimeStart' });
  const used = new Set<RunsOn>();
  // Derived graphs take the model's weights as inputs (one copy on the host, not one per backward graph), and the
  // weights cross the webview–host channel once: through code-server it moves about 10 MB/s, so a 98 MB model's
  // every backward graph took 10 s to send with its weights inside.
  const kept = new KeptFeeds((ids) => void request({ type: 'runtimeForget', ids }).catch(() => undefined));
  return {
    preferred: 'cpu',
    sharedWeights: true,
    fallbacks: [],
    used,
    reason: `${info.backend} in the extension host: ${why}`,
    backend: `${info.backend}, extension host`,
    async createSession(model: Uint8Array, options?: SessionOptions): Promise<Session> {
      // cpuNodes is a WebGPU placement hint: the CPU runs every node anyway.
      const s = await request({ type: 'runtimeCreate', model: compactBytes(model), optimization: options?.optimization });
      let released = false;
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        async run(feeds, fetches) {
          const wired = kept.wire(feeds);
          const own = Object.fromEntries(Object.entries(wired.feeds).map(([k, t]) => [k, compactTensor(t)]));
          const out = await request({ type: 'runtimeRun', session: s.session, fetches, ...wired, feeds: own });
          used.add('cpu');
          return fromHost(out);
        },
        async release() {
          if (released) return;
          released = true;
          await request({ type: 'runtimeRelease', session: s.session });
        },
      };
    },
  };
}

/**
 * What a setting needs to know about WebGPU: nothing for 'wasm' and 'cpu'; for 'auto' no adapter when the page
 * has no navigator.gpu (without starting the webview's onnxruntime, which the host's CPU does not need) or when
 * the webview's onnxruntime cannot start to look (the host's CPU then runs); 'webgpu' asks the worker and fails
 * as it fails.
 */
export async function gpuForSetting(setting: ExecutionProviderSetting): Promise<GpuProbe | undefined> {
  if (setting === 'wasm' || setting === 'cpu') return undefined;
  if (setting === 'auto' && !('gpu' in navigator)) return { available: false, shaderF16: false, reason: 'this webview has no WebGPU (navigator.gpu is missing)' };
  try {
    return await probeWebGpu();
  } catch (e) {
    if (setting !== 'auto') throw e;
    return { available: false, shaderF16: false, reason: `the webview's onnxruntime could not start to look for WebGPU (${cleanMessage(e)})` };
  }
}

/**
 * Why AUTO_HOST_FROM_BYTES (src/protocol/protocol.ts): without WebGPU, `auto` runs a model on the extension host's CPU
 * from that size on, and only where the host has onnxruntime-node and a local desktop window; smaller models, and
 * every model where the host would run onnxruntime-web's threaded WASM, stay in the webview's WASM. Measured on a
 * 2-core machine (README, "Where the model runs"): every run on the host
 * crosses the webview–host channel (about 0.4 s per SqueezeNet forward pass through code-server: 770 ms on the
 * host against 373 ms in the webview), onnxruntime-node saves about 80% of the webview's kernel time (Grad-CAM
 * on ResNet-50: 355 ms against 1789 ms), and the host's threaded WASM was slower than the webview's one thread
 * at both sizes measured (5 MB and 98 MB). Through code-server (a browser window, or any remote host) the channel
 * moves about 10 MB/s, and a 98 MB model crosses it twice more on the host's CPU than in the webview (to the host
 * for its session, and its weights for the backward graphs): ResNet-50's own first map came at 35–42 s there
 * against 18–26 s in the webview's WASM, so there the page is not told the host's runtime is native.
 */
export { AUTO_HOST_FROM_BYTES };

/**
 * What the extension host told the page when it was built: its CPU runtime would be onnxruntime-node in a local
 * desktop window (true), onnxruntime-node behind a network link to the page ('remote': code-server's browser window,
 * a remote host), or onnxruntime-web's threaded WASM (false).
 */
function hostHasNative(): boolean | 'remote' {
  const v = typeof document !== 'undefined' ? document.body?.dataset.nativeCpu : undefined;
  return v === '1' ? true : v === 'remote' ? 'remote' : false;
}

/**
 * The runtime for a setting: 'auto' takes WebGPU when `gpu` found an adapter, else the extension host's CPU for a
 * model of at least AUTO_HOST_FROM_BYTES where the host has onnxruntime-node, else the webview's WASM; 'cpu' the
 * host's CPU; 'webgpu' and 'wasm' the webview's onnxruntime-web. When the host's runtime cannot start, the
 * webview's WASM runs and the fallback says why. `modelBytes`: the model's size (auto's choice).
 */
export async function selectRuntime(setting: ExecutionProviderSetting, gpu: GpuProbe | undefined, modelBytes = 0, native: boolean | 'remote' = hostHasNative()): Promise<PanelRuntime> {
  let why: string | undefined;
  if (setting === 'cpu') why = 'the setting lookCloser.executionProvider asks for it';
  else if (setting === 'auto' && gpu && !gpu.available) {
    const noGpu = gpu.reason ?? 'there is no WebGPU adapter';
    const size = `${Math.max(1, Math.round(modelBytes / 2 ** 20))} MB`;
    if (native === true && modelBytes >= AUTO_HOST_FROM_BYTES) why = `auto picked it, the fastest available: ${noGpu}, and for a ${size} model onnxruntime-node on the host saves more than the round trips to the host cost`;
    else {
      const web = await webRuntime('wasm');
      const reason = native === true
        ? `auto picked the webview's WASM: ${noGpu}, and below ${AUTO_HOST_FROM_BYTES / 2 ** 20} MB (this model: ${size}) the round trips to the extension host's onnxruntime-node cost more than its threads save`
        : native === 'remote'
          ? `auto picked the webview's WASM: ${noGpu}, and the extension host's onnxruntime-node is behind a network link to this view (a browser window or a remote host), which a model on the host's CPU would cross twice more (its session, its weights)`
          : `auto picked the webview's WASM: ${noGpu}, and the extension host has no onnxruntime-node (its threaded WASM measured slower than the webview's single thread once the round trips are counted)`;
      return Object.assign(web, { reason });
    }
  }
  if (why === undefined) return webRuntime(setting === 'cpu' ? 'wasm' : setting);
  try {
    return await hostRuntime(why);
  } catch (e) {
    const web = await webRuntime('wasm');
    web.fallbacks.push(`The extension host's CPU runtime could not start (${cleanMessage(e)}); running on the webview's single-threaded WASM.`);
    return web;
  }
}
