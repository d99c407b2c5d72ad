/** Messages between the panel and its onnxruntime worker (inside the webview; the host never sees them). */
import type { Direction } from '../src/protocol/messenger';
import type { Tensor } from '../src/core/tensor';

/** An error's message on one line, without a leading "Error: " (onnxruntime's messages span lines). */
export function cleanMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/^Error: /, '').replace(/\s+/g, ' ').trim();
}

/** How onnxruntime-web, Emscripten and V8 say that memory ran out. */
const OUT_OF_MEMORY = /out of memory|\bOOM\b|bad_alloc|bad allocation|failed to allocate|Maximum memory size|Memory\.grow|Array buffer allocation failed|could not allocate/i;

/** True for an error that says memory ran out. */
export function isOutOfMemory(e: unknown): boolean {
  return OUT_OF_MEMORY.test(e instanceof Error ? `${e.name} ${e.message}` : String(e));
}

/** The buffers of typed arrays that own their whole ArrayBuffer, in `values` (posted with a message, they move instead of being copied). */
export function wholeBuffers(values: Iterable<unknown>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of values) {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.add(v.buffer);
  }
  return [...out];
}

/** Which onnxruntime-web execution provider a session uses. */
export type Backend = 'webgpu' | 'wasm';

/** What the worker found about WebGPU. */
export interface GpuProbe {
  readonly available: boolean;
  /** Adapter description, e.g. "google swiftshader". */
  readonly adapter?: string;
  readonly shaderF16: boolean;
  /** Why WebGPU is unavailable. */
  readonly reason?: string;
}

/** Loads onnxruntime from what the panel fetched (the worker, a blob, cannot fetch extension files itself): the glue's text and the wasm the panel compiled while it streamed in. */
export interface InitRequest {
  readonly type: 'init';
  readonly glue: string;
  readonly wasm: WebAssembly.Module;
  /** Which pair it is: 'webgpu' (the asyncify build the WebGPU EP needs) or 'wasm' (the plain build, WASM only). */
  readonly pair: Backend;
}
/** Asks for a WebGPU adapter. */
export interface ProbeRequest {
  readonly type: 'probe';
}
/** Creates a session. */
export interface CreateRequest {
  readonly type: 'create';
  readonly model: Uint8Array;
  readonly backend: Backend;
  readonly cpuNodes?: readonly string[];
}
/** Runs a session. */
export interface RunRequest {
  readonly type: 'run';
  readonly session: number;
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly fetches?: readonly string[];
  /** Feeds the worker already keeps (a model's shared weights, sent once): feed name → kept id. */
  readonly kept?: Readonly<Record<string, number>>;
  /** Feeds of this message to keep for later runs: feed name → id. */
  readonly keep?: Readonly<Record<string, number>>;
}
/** Drops kept feeds whose tensors the panel no longer holds. */
export interface ForgetRequest {
  readonly type: 'forget';
  readonly ids: readonly number[];
}
/** Releases a session. */
export interface ReleaseRequest {
  readonly type: 'release';
  readonly session: number;
}
/** Asks how large onnxruntime's WebAssembly heap has grown (a wasm heap never shrinks: its high-water mark). */
export interface HeapRequest {
  readonly type: 'heap';
}
/** Requests the panel sends to the worker. */
export type WorkerRequest = InitRequest | ProbeRequest | CreateRequest | RunRequest | ReleaseRequest | ForgetRequest | HeapRequest;

/** Response type of each worker request. */
export interface WorkerResponses {
  readonly init: { readonly version: string; /** ms in the worker: the wasm instantiated, onnxruntime's first (warm-up) session made, from the init request's arrival. */ readonly marks?: { readonly instantiated: number; readonly ortReady: number } };
  readonly probe: GpuProbe;
  readonly create: { readonly session: number; readonly inputNames: readonly string[]; readonly outputNames: readonly string[] };
  readonly run: Record<string, Tensor>;
  readonly release: void;
  readonly forget: void;
  /** The heap's size in bytes (0 before onnxruntime is instantiated). */
  readonly heap: { readonly bytes: number };
}

/** What the panel sends to the worker. */
export interface PanelToWorker extends Direction {
  readonly requests: WorkerRequest;
  readonly responses: WorkerResponses;
  readonly notes: never;
}

/** What the worker sends to the panel (answers only). */
export interface WorkerToPanel extends Direction {
  readonly requests: never;
  readonly responses: Record<never, never>;
  readonly notes: never;
}
