/**
 * A forward session run by two copies of the model on two runtimes (the panel's onnxruntime worker and a second,
 * "replica" worker), so that two runs in flight use two cores. onnxruntime-web in a webview runs single-threaded
 * (no cross-origin isolation, so no SharedArrayBuffer): without a second worker the metrics' independent batches
 * ran one after another on one core. Each run goes to whichever copy is idle; both copies are the same model run
 * by the same wasm, so a run gives the same numbers on either. The replica starts only when a run waits for the
 * first copy (so only code that issues runs concurrently, the metrics, ever starts it), and any failure of it
 * falls back to the first copy alone, quietly.
 */
import type { Runtime, Session, SessionOptions } from './runtime';
import type { Tensor } from './tensor';

/** A run waiting for a copy. */
interface Job {
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly fetches?: readonly string[];
  readonly resolve: (out: Record<string, Tensor>) => void;
  readonly reject: (e: unknown) => void;
}

/** An error's message on one line. */
function messageOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

/** A session whose runs go to whichever of its two copies is idle (see the file's comment). */
class ReplicatedSession implements Session {
  private readonly queue: Job[] = [];
  private mainBusy = false;
  private replicaBusy = false;
  private replica?: Session;
  private state: 'not started' | 'starting' | 'ready' | 'failed' = 'not started';
  private released = false;

  constructor(private readonly main: Session, private startReplica: (() => Promise<Session>) | undefined, private readonly onFallback: (why: string) => void) {}

  get inputNames() {
    return this.main.inputNames;
  }

  get outputNames() {
    return this.main.outputNames;
  }

  /** 2 until the replica failed (then 1: the runs go one after another to the first copy). */
  get parallelRuns(): number {
    return this.state === 'failed' ? 1 : 2;
  }

  run(feeds: Readonly<Record<string, Tensor>>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, fetches, resolve, reject });
      this.pump();
    });
  }

  /** Hands waiting runs to idle copies, in the order they were asked for; starts the replica when a run waits. */
  private pump(): void {
    while (this.queue.length) {
      if (!this.mainBusy) this.runOn('main', this.queue.shift()!);
      else if (this.state === 'ready' && !this.replicaBusy) this.runOn('replica', this.queue.shift()!);
      else {
        if (this.state === 'not started') this.start();
        return;
      }
    }
  }

  private runOn(copy: 'main' | 'replica', job: Job): void {
    const s = copy === 'main' ? this.main : this.replica!;
    if (copy === 'main') this.mainBusy = true;
    else this.replicaBusy = true;
    s.run(job.feeds, job.fetches).then(job.resolve, (e: unknown) => {
      if (copy === 'main') return job.reject(e);
      // The replica failed a run: it is dropped and the run goes to the first copy.
      this.fail(`a run on it failed (${messageOf(e)})`);
      this.queue.unshift(job);
    }).finally(() => {
      if (copy === 'main') this.mainBusy = false;
      else this.replicaBusy = false;
      this.pump();
    });
  }

  private start(): void {
    const create = this.startReplica;
    this.startReplica = undefined;
    if (!create) {
      this.state = 'failed';
      return;
    }
    this.state = 'starting';
    let made: Promise<Session>;
    try {
      made = create();
    } catch (e) {
      made = Promise.reject(e);
    }
    made.then((s) => {
      if (this.released || this.state !== 'starting') {
        void s.release().catch(() => undefined);
        return;
      }
      this.replica = s;
      this.state = 'ready';
      this.pump();
    }, (e: unknown) => this.fail(`it could not start (${messageOf(e)})`));
  }

  /** Stops using the replica (it failed) and says why. */
  private fail(why: string): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    const r = this.replica;
    this.replica = undefined;
    void r?.release().catch(() => undefined);
    if (!this.released) this.onFallback(why);
  }

  async release(): Promise<void> {
    this.released = true;
    const r = this.replica;
    this.replica = undefined;
    await Promise.all([this.main.release(), r?.release().catch(() => undefined)]);
  }
}

/**
 * `main` with a replica made on demand by `startReplica` (a copy of the same model on another runtime): runs go to
 * whichever copy is idle, and `parallelRuns` says 2. `onFallback` hears once why the replica is not used, when it
 * could not start or a run on it failed (the runs then go to `main` alone).
 */
export function replicatedSession(main: Session, startReplica: () => Promise<Session>, onFallback: (why: string) => void = () => undefined): Session {
  return new ReplicatedSession(main, startReplica, onFallback);
}

/** Where and when a runtime replicates its forward sessions. */
export interface ReplicaOptions {
  /** The largest model replicated (bytes): the replica holds a second copy of the model and its unpacked weights. */
  readonly maxBytes: number;
  /** Hears once per failure why the replica is not used. */
  readonly onFallback?: (why: string) => void;
}

/**
 * `main`, whose replicable sessions (SessionOptions.replicable: the forward session) of at most `maxBytes` are
 * replicated on the runtime `startReplica` gives, started on first need and shared by every session. A replica
 * runtime that cannot start is not asked again: every session then runs on `main` alone.
 */
export function withReplica(main: Runtime, startReplica: () => Promise<Runtime>, o: ReplicaOptions): Runtime {
  let replica: Promise<Runtime> | undefined;
  const fallback = o.onFallback ?? (() => undefined);
  return {
    backend: main.backend,
    sharedWeights: main.sharedWeights,
    async createSession(model: Uint8Array, options?: SessionOptions): Promise<Session> {
      if (!options?.replicable || model.byteLength > o.maxBytes) return main.createSession(model, options);
      // The main runtime may take (detach) the bytes it is given: the replica gets its own copy.
      let copy: Uint8Array | undefined = model.slice();
      const s = await main.createSession(model, options);
      return replicatedSession(s, async () => {
        replica ??= startReplica();
        const bytes = copy!;
        copy = undefined;
        return (await replica).createSession(bytes, options);
      }, fallback);
    },
  };
}
