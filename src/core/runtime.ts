/** The small interface through which an ONNX runtime (onnxruntime-web, onnxruntime-node) plugs into the core. */
import { Tensor } from './tensor';

/** Options for creating a session. */
export interface SessionOptions {
  /** Node names to keep on the CPU (WebGPU EP quirk, e.g. MaxPool with an Indices output). */
  readonly cpuNodes?: readonly string[];
  /** Graph optimisation level (default 'all'); 'disabled' for one-off probes that expose every tensor. */
  readonly optimization?: 'disabled' | 'basic' | 'all';
}

/** A loaded model ready to run. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; fetches defaults to every output. */
  run(feeds: Readonly<Record<string, Tensor>>, fetches?: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

/** Creates sessions from model bytes. */
export interface Runtime {
  /** What actually runs, e.g. "onnxruntime-web 1.30 (wasm)". */
  readonly backend: string;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<Session>;
}
