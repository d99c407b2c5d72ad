/**
 * The editor's CPU path in a benchmark process: the webview's runtime (webview/host-runtime.ts) → a
 * structured-clone channel (VS Code copies webview messages alike) → the host's checked handlers
 * (src/extension/host-runtime.ts) → the runtime thread (the bundle dist/ort-thread.js when built, else the
 * source through tsx). Everything the editor runs except VS Code's own message transport.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Runtime } from '../src/core/runtime';
import { HostRuntimeSessions } from '../src/extension/host-runtime';
import { RuntimeThread, RuntimeThreadScript } from '../src/node/thread-runtime';
import type { RuntimeRequest } from '../src/protocol/protocol';
import { connectHostRuntime, hostRuntime } from '../webview/host-runtime';

const ROOT = path.resolve(__dirname, '..');

/** Starts the host path with `threads` onnxruntime threads; 'wasm' as the .vsix ships, 'auto' uses onnxruntime-node when installed. */
export async function hostPathRuntime(threads: number, backend: 'wasm' | 'auto'): Promise<{ runtime: Runtime; dispose(): Promise<void> }> {
  const bundle = path.join(ROOT, 'dist', 'ort-thread.js');
  const script: RuntimeThreadScript = fs.existsSync(bundle)
    ? { file: bundle }
    : { file: `require('tsx/cjs'); require(${JSON.stringify(path.join(ROOT, 'src', 'node', 'ort-thread.ts'))});`, eval: true };
  const wasmDir = path.join(ROOT, 'dist', 'ort-node');
  const thread = new RuntimeThread(script, { threads, backend, wasmDir: fs.existsSync(wasmDir) ? wasmDir : undefined });
  const sessions = new HostRuntimeSessions(thread, 'The benchmark');
  const handlers = sessions.handlers as Record<string, (r: unknown, s: AbortSignal) => Promise<unknown>>;
  connectHostRuntime(async (body: RuntimeRequest) => structuredClone(await handlers[body.type](structuredClone(body), new AbortController().signal)) as never);
  const runtime = await hostRuntime('the benchmark asks for it');
  return {
    runtime,
    dispose: async () => {
      await sessions.dispose();
      await thread.dispose();
    },
  };
}
