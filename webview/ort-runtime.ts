/**
 * The core's Runtime on onnxruntime-web in a webview: the native WebGPU EP when an adapter exists (or the
 * setting asks for it), else WASM. A session that fails on WebGPU is rebuilt on WASM and the reason kept,
 * so the panel can say what ran where.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { LookCloserError } from '../src/core/errors';
import type { Runtime, Session, SessionOptions } from '../src/core/runtime';
import type { Tensor } from '../src/core/tensor';
import type { ExecutionProviderSetting } from '../src/protocol/protocol';

/** The little of WebGPU the probe needs (TypeScript's DOM lib has no WebGPU types). */
interface GpuAdapterLike {
  readonly features: { has(name: string): boolean };
  readonly info?: { readonly architecture?: string; readonly vendor?: string; readonly description?: string };
  readonly isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/** What the probe found about WebGPU in this webview. */
export interface GpuProbe {
  readonly available: boolean;
  /** Adapter description, e.g. "google swiftshader". */
  readonly adapter?: string;
  readonly shaderF16: boolean;
  /** Why WebGPU is unavailable. */
  readonly reason?: string;
}

let probed: Promise<GpuProbe> | undefined;

/** Asks the browser for a WebGPU adapter once. */
export function probeWebGpu(): Promise<GpuProbe> {
  probed ??= (async (): Promise<GpuProbe> => {
    const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu;
    if (!gpu) return { available: false, shaderF16: false, reason: 'this webview has no WebGPU (navigator.gpu is missing)' };
    try {
      const a = await gpu.requestAdapter();
      if (!a) return { available: false, shaderF16: false, reason: 'the browser offers no WebGPU adapter' };
      const name = [a.info?.vendor, a.info?.architecture].filter(Boolean).join(' ') || a.info?.description || 'unknown adapter';
      return { available: true, adapter: name, shaderF16: a.features.has('shader-f16') };
    } catch (e) {
      return { available: false, shaderF16: false, reason: `requesting a WebGPU adapter failed (${e instanceof Error ? e.message : e})` };
    }
  })();
  return probed;
}

/** Points onnxruntime at the wasm files shipped in the extension; webviews have no SharedArrayBuffer, so one thread. */
export function configureOrt(wasmBase: string): void {
  ort.env.wasm.wasmPaths = wasmBase;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

/** Which backend runs; 'webgpu' sessions may still have fallen back one by one. */
export type Backend = 'webgpu' | 'wasm';

/** A runtime that knows which backend it chose and records every fallback. */
export interface WebRuntime extends Runtime {
  readonly preferred: Backend;
  /** Reasons sessions left WebGPU, newest last. */
  readonly fallbacks: string[];
  /** Backends that ran since the last reset. */
  readonly used: Set<Backend>;
}

function clean(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/^Error: /, '').replace(/\s+/g, ' ').trim();
}

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims as number[]);
}

function fromOrt(t: ort.Tensor): Tensor {
  let data = t.data as Tensor['data'];
  // Where the browser has Float16Array, onnxruntime-web returns float16 outputs as one; the core reads half bits.
  if (t.type === 'float16' && !(data instanceof Uint16Array)) {
    const v = data as unknown as ArrayBufferView & { length: number };
    data = new Uint16Array(v.buffer, v.byteOffset, v.length);
  }
  return { type: t.type as Tensor['type'], dims: [...t.dims], data };
}

async function create(model: Uint8Array, backend: Backend, options?: SessionOptions): Promise<ort.InferenceSession> {
  const ep: ort.InferenceSession.ExecutionProviderConfig = backend === 'webgpu'
    // MaxPool with an Indices output is placed on WebGPU but only runs on the CPU: the backward graph names such nodes.
    ? { name: 'webgpu', ...(options?.cpuNodes?.length ? { forceCpuNodeNames: [...options.cpuNodes] } : {}) }
    : 'wasm';
  return ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: 'all' });
}

/** Builds the runtime for a setting (float16 models reach it as float32 copies where the adapter lacks shader-f16). */
export async function webRuntime(setting: ExecutionProviderSetting): Promise<WebRuntime> {
  const fallbacks: string[] = [];
  const used = new Set<Backend>();
  let preferred: Backend = 'wasm';
  if (setting !== 'wasm') {
    const gpu = await probeWebGpu();
    if (!gpu.available) {
      if (setting === 'webgpu') fallbacks.push(`WebGPU was requested but ${gpu.reason}; running on WASM.`);
    } else preferred = 'webgpu';
  }
  const runtime: WebRuntime = {
    preferred,
    fallbacks,
    used,
    get backend() {
      return `onnxruntime-web ${ort.env.versions.web ?? ''} (${preferred})`;
    },
    async createSession(model: Uint8Array, options?: SessionOptions): Promise<Session> {
      let backend: Backend = preferred;
      let s: ort.InferenceSession;
      const onWasm = async (why: string) => {
        fallbacks.push(`WebGPU failed (${why}); this step runs on WASM.`);
        backend = 'wasm';
        try {
          return await create(model, 'wasm');
        } catch (e) {
          throw new LookCloserError('runtime', `onnxruntime could not load the model: ${clean(e)}`, e);
        }
      };
      try {
        s = await create(model, backend, options);
      } catch (e) {
        if (backend !== 'webgpu') throw new LookCloserError('runtime', `onnxruntime could not load the model: ${clean(e)}`, e);
        s = await onWasm(clean(e));
      }
      let proven = backend === 'wasm';
      return {
        get inputNames() {
          return s.inputNames;
        },
        get outputNames() {
          return s.outputNames;
        },
        async run(feeds, fetches) {
          const f: Record<string, ort.Tensor> = {};
          for (const [k, t] of Object.entries(feeds)) f[k] = toOrt(t);
          let out: ort.InferenceSession.ReturnType;
          try {
            out = fetches ? await s.run(f, [...fetches]) : await s.run(f);
          } catch (e) {
            if (proven || backend !== 'webgpu') throw new LookCloserError('runtime', `onnxruntime failed to run the model: ${clean(e)}`, e);
            // The first run on WebGPU failed (e.g. an operator the EP cannot run): rebuild on WASM and retry.
            void s.release().catch(() => undefined);
            s = await onWasm(clean(e));
            try {
              out = fetches ? await s.run(f, [...fetches]) : await s.run(f);
            } catch (e2) {
              throw new LookCloserError('runtime', `onnxruntime failed to run the model: ${clean(e2)}`, e2);
            }
          }
          proven = true;
          used.add(backend);
          const res: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v);
          return res;
        },
        release: () => s.release(),
      };
    },
  };
  return runtime;
}
