/** Node adapters of the core Runtime: onnxruntime-web (wasm) and, when installed, onnxruntime-node. */
import { pathToFileURL } from 'node:url';
import { LookCloserError } from '../core/errors';
import type { Runtime, Session, SessionOptions } from '../core/runtime';
import type { Tensor } from '../core/tensor';

/** The part of the onnxruntime JS API both packages share. */
interface OrtModule {
  env: { wasm?: { numThreads?: number; wasmPaths?: unknown }; logLevel?: string; versions?: Record<string, string> };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => { type: string; data: unknown; dims: readonly number[] };
  InferenceSession: {
    create(bytes: Uint8Array, opts?: Record<string, unknown>): Promise<{
      inputNames: readonly string[];
      outputNames: readonly string[];
      run(feeds: Record<string, unknown>, fetches?: readonly string[]): Promise<Record<string, { type: string; data: unknown; dims: readonly number[] }>>;
      release(): Promise<void>;
    }>;
  };
}

/** Wraps an onnxruntime module (web or node) as a core Runtime. */
export function ortRuntime(ort: OrtModule, backend: string, sessionOptions: Record<string, unknown>, sharedWeights = true): Runtime {
  return {
    backend,
    sharedWeights,
    async createSession(model: Uint8Array, options?: SessionOptions): Promise<Session> {
      let s;
      try {
        s = await ort.InferenceSession.create(model, { graphOptimizationLevel: options?.optimization ?? 'all', ...sessionOptions });
      } catch (e) {
        throw new LookCloserError('runtime', `onnxruntime could not load the model: ${cleanOrtMessage(e)}`, e);
      }
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        async run(feeds, fetches) {
          const ortFeeds: Record<string, unknown> = {};
          for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.type, t.data, t.dims);
          let out;
          try {
            out = fetches ? await s.run(ortFeeds, fetches) : await s.run(ortFeeds);
          } catch (e) {
            throw new LookCloserError('runtime', `onnxruntime failed to run the model: ${cleanOrtMessage(e)}`, e);
          }
          const res: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(out)) res[k] = { type: v.type as Tensor['type'], dims: [...v.dims], data: v.data as Tensor['data'] };
          return res;
        },
        release: () => s.release(),
      };
    },
  };
}

/** Strips onnxruntime's internal prefixes so the user sees the reason. */
export function cleanOrtMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^Error: /, '').replace(/\s+/g, ' ').trim();
}

/** onnxruntime-web's wasm backend in Node; `wasmDir` is where its .mjs/.wasm pair is when bundled away from node_modules. */
export function webRuntime(threads = 1, wasmDir?: string): Runtime {
  const ort = require('onnxruntime-web') as OrtModule;
  if (ort.env.wasm) ort.env.wasm.numThreads = threads;
  if (ort.env.wasm && wasmDir) ort.env.wasm.wasmPaths = pathToFileURL(wasmDir).href.replace(/\/?$/, '/');
  const version = (ort.env.versions && (ort.env.versions.web || ort.env.versions.common)) || '';
  return ortRuntime(ort, `onnxruntime-web ${version} (wasm)`.replace('  ', ' '), { executionProviders: ['wasm'], logSeverityLevel: 4 });
}

/** onnxruntime-node when it is installed, else undefined. */
export function nodeRuntime(threads = 2): Runtime | undefined {
  let ort: OrtModule;
  try {
    ort = require('onnxruntime-node') as OrtModule;
  } catch {
    return undefined;
  }
  const version = (ort.env.versions && ort.env.versions.node) || '';
  // Severity 4 (fatal only): onnxruntime's own error log would repeat, raw and coloured, what the CLI reports in its words.
  return ortRuntime(ort, `onnxruntime-node ${version} (cpu)`, { executionProviders: ['cpu'], intraOpNumThreads: threads, logSeverityLevel: 4 },
    // Weights fed as inputs lose onnxruntime's constant-weight optimisations (NCHWc layout, pre-packing), which doubled
    // guided backprop's time on ResNet-18 (see README "Benchmarks"); native memory has room for a copy per session.
    false);
}

/** Picks a runtime for `--backend auto|node|wasm`. */
export function selectRuntime(choice: 'auto' | 'node' | 'wasm' = 'auto'): Runtime {
  if (choice === 'wasm') return webRuntime();
  const native = nodeRuntime();
  if (native) return native;
  if (choice === 'node') {
    throw new LookCloserError('bad-argument', "--backend node needs the optional package onnxruntime-node; install it (ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node) or use --backend wasm.");
  }
  return webRuntime();
}
