/** The small interface through which an ONNX runtime (onnxruntime-web, onnxruntime-node) plugs into the core. */
import { Tensor } from './tensor';

/** Options for creating a session. */
export interface SessionOptions {
  /** Node names to keep on the CPU (WebGPU EP quirk, e.g. MaxPool with an Indices output). */
  readonly cpuNodes?: readonly string[];
  /** Graph optimisation level (default 'all'); 'disabled' for one-off probes that expose every tensor. */
  readonly optimization?: 'disabled' | 'basic' | 'all';
  /**
   * The model's forward session, through which the metrics run many independent batches: a runtime that can run
   * a copy of it on another core (the panel's second worker, src/core/replicated-session.ts) may replicate it.
   */
  readonly replicable?: boolean;
}

/** A loaded model ready to run. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; fetches defaults to every output. */
  run(feeds: Readonly<Record<string, Tensor>>, fetches?: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
  /**
   * How many runs may usefully be in flight at once (default 1: runs are issued one after another). A session
   * replicated on a second worker says 2; its runs give the same numbers whichever copy runs them.
   */
  readonly parallelRuns?: number;
}

/** Creates sessions from model bytes. */
export interface Runtime {
  /** What actually runs, e.g. "onnxruntime-web 1.30 (wasm)". */
  readonly backend: string;
  /**
   * Whether sessions derived from a model (backward graphs, layer tails) should take its weights as graph inputs
   * fed from one shared copy (default true), instead of each holding its own. Worth it where memory is tight
   * (onnxruntime-web: one wasm heap of at most 4 GB) and feeding is cheap; a native runtime that pre-packs
   * constant weights and has memory to spare (onnxruntime-node) says false.
   */
  readonly sharedWeights?: boolean;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<Session>;
}
