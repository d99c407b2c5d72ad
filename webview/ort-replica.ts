/**
 * The panel's second onnxruntime worker, a "replica" that holds only forward sessions (src/core/replicated-session.ts):
 * a webview is not cross-origin isolated, so onnxruntime-web runs one thread in one worker, and the metrics' batches
 * (deletion, insertion, ROAD, confidence: 33 SqueezeNet inputs per map) left the machine's other cores idle. The
 * replica is started from what the first worker was started with (its script, onnxruntime's glue and the compiled
 * WebAssembly.Module: nothing fetched or compiled twice) when a run first waits, only on WASM, only where the browser
 * reports two cores or more, and only for models up to REPLICA_MAX_BYTES (it holds a second copy of the model and
 * its unpacked weights in a second wasm32 heap). It ends when the last forward session using it is released (the
 * model or the panel closed). Whatever fails leaves the runs to the first worker, with a console.info line.
 */
import type { Session } from '../src/core/runtime';
import { replicatedSession } from '../src/core/replicated-session';
import { Messenger } from '../src/protocol/messenger';
import { Backend, PanelToWorker, WorkerToPanel, wholeBuffers } from './ort-worker-protocol';

/** The largest model replicated: SqueezeNet (5 MB) is; ResNet-50 (98 MB) is not (a second copy in a second heap). */
export const REPLICA_MAX_BYTES = 64 * 2 ** 20;

/** What the first worker was started with. */
export interface WorkerParts {
  /** The worker's script. */
  readonly code: string;
  /** onnxruntime's glue module, as text. */
  readonly glue: string;
  readonly wasm: WebAssembly.Module;
  readonly pair: Backend;
}

interface Replica {
  readonly worker: Worker;
  readonly messenger: Messenger<PanelToWorker, WorkerToPanel>;
}

let replica: Promise<Replica> | undefined;
let running: Replica | undefined;
/** Forward sessions that may use the replica: it ends when the last is released. */
let users = 0;
/** Reasons already logged (one line per reason, not per session). */
const said = new Set<string>();

function info(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  console.info(`[look-closer] ${line}`);
}

/** Why a model of `bytes` gets no replica on this machine (undefined: it may have one). */
export function noReplica(bytes: number): string | undefined {
  const cores = typeof navigator === 'undefined' ? 1 : navigator.hardwareConcurrency ?? 1;
  if (cores < 2) return `the browser reports ${cores} core`;
  if (bytes > REPLICA_MAX_BYTES) return `the model (${Math.round(bytes / 2 ** 20)} MB) is larger than ${REPLICA_MAX_BYTES / 2 ** 20} MB, and a second copy would share no memory with the first`;
  return undefined;
}

/** Starts the replica worker once from the first worker's parts. */
function startReplica(parts: WorkerParts): Promise<Replica> {
  replica ??= (async () => {
    const t0 = performance.now();
    const w = new Worker(URL.createObjectURL(new Blob([parts.code], { type: 'text/javascript' })), { type: 'module', name: 'onnxruntime replica' });
    const messenger = new Messenger<PanelToWorker, WorkerToPanel>({
      // The model's bytes (a copy kept for the replica) move to it.
      post: (m) => {
        const body = m.lc === 'request' ? (m.body as PanelToWorker['requests']) : undefined;
        w.postMessage(m, body?.type === 'create' ? wholeBuffers([body.model]) : []);
      },
      listen: (cb) => {
        const h = (e: MessageEvent) => cb(e.data);
        w.addEventListener('message', h);
        return { dispose: () => w.removeEventListener('message', h) };
      },
    }, { requests: {}, notes: {} });
    const r = { worker: w, messenger };
    running = r;
    try {
      // A worker whose script fails to load never answers: its error event ends the wait.
      const failed = new Promise<never>((_, reject) => w.addEventListener('error', (e) => reject(new Error(e.message || 'the worker script failed')), { once: true }));
      await Promise.race([messenger.request({ type: 'init', glue: parts.glue, wasm: parts.wasm, pair: parts.pair }), failed]);
    } catch (e) {
      endReplica();
      throw e;
    }
    console.info(`[look-closer] the metrics' second onnxruntime worker (WASM) ready ${(performance.now() - t0).toFixed(0)} ms after its start`);
    return r;
  })();
  return replica;
}

/** Ends the replica worker (its sessions go with it); the next replicated session's first waiting run starts a new one. */
export function endReplica(): void {
  const r = running;
  running = undefined;
  replica = undefined;
  if (!r) return;
  r.messenger.dispose();
  r.worker.terminate();
}

/** A forward session of `model` on the replica worker. */
async function replicaSession(parts: WorkerParts, model: Uint8Array): Promise<Session> {
  const r = await startReplica(parts);
  const s = await r.messenger.request({ type: 'create', model, backend: 'wasm' });
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    run: (feeds, fetches) => r.messenger.request({ type: 'run', session: s.session, feeds, fetches }),
    release: async () => {
      if (running === r) await r.messenger.request({ type: 'release', session: s.session });
    },
  };
}

/**
 * `main` (a WASM forward session of a `bytes`-byte model on the first worker) replicated on the replica worker from
 * `copy` (the model's bytes, which the replica takes), or `main` itself where the machine or the model gets no replica.
 */
export function replicate(main: Session, bytes: number, copy: Uint8Array | undefined, parts: WorkerParts | undefined): Session {
  const why = noReplica(bytes) ?? (parts ? undefined : 'the first worker was not started here');
  if (why || !copy || !parts) {
    info(`the metrics run on one onnxruntime worker: ${why ?? 'no copy of the model was kept'}`);
    return main;
  }
  const s = replicatedSession(main, () => replicaSession(parts, copy), (reason) => info(`the metrics run on one onnxruntime worker: the second worker is not used, ${reason}`));
  users++;
  let released = false;
  return {
    get inputNames() {
      return s.inputNames;
    },
    get outputNames() {
      return s.outputNames;
    },
    get parallelRuns() {
      return s.parallelRuns;
    },
    run: (feeds, fetches) => s.run(feeds, fetches),
    release: async () => {
      try {
        await s.release();
      } finally {
        if (!released) {
          released = true;
          if (--users === 0) endReplica();
        }
      }
    },
  };
}
