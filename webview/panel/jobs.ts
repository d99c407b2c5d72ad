/**
 * Runs the panel's jobs one at a time: work of a new job waits until the work before it stopped. Each job has
 * a cancel switch; after half a second the host shows a cancellable VS Code progress notification for it.
 */
import { LookCloserError } from '../../src/core/errors';
import { CancelledError, isCancellation, throwIfAborted } from '../../src/protocol/messenger';
import type { ResultMsg } from './messages';
import type { Work } from './state';

/** How long work runs before VS Code shows progress for it. */
const PROGRESS_DELAY_MS = 500;

/** What the runner needs from the driver. */
export interface JobHost {
  /** Runs one piece of work. */
  perform(job: number, work: Work, signal: AbortSignal): Promise<ResultMsg>;
  /** Hands a result (or a failure) to the controller. */
  dispatch(msg: ResultMsg): void;
  /** Asks the host for a progress notification; resolves when the user cancels it or `signal` ends it. */
  progress(title: string, signal: AbortSignal): Promise<{ cancelled: boolean }>;
}

/** True for the ways work reports that it was stopped. */
function stopped(e: unknown, signal: AbortSignal): boolean {
  return signal.aborted || isCancellation(e) || (e instanceof LookCloserError && e.kind === 'cancelled');
}

/** The job runner of one panel. */
export class JobRunner {
  private readonly live = new Map<number, { readonly cancel: AbortController; readonly progressDone: AbortController; readonly timer: ReturnType<typeof setTimeout> }>();
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly host: JobHost) {}

  /** Starts job `job`: its cancel switch, and the progress notification after a delay. */
  begin(job: number, title: string): void {
    const cancel = new AbortController();
    const progressDone = new AbortController();
    const timer = setTimeout(() => {
      this.host.progress(title, progressDone.signal).then((r) => r.cancelled && cancel.abort(), () => undefined);
    }, PROGRESS_DELAY_MS);
    this.live.set(job, { cancel, progressDone, timer });
  }

  /** Queues work of a job behind the work before it. */
  work(job: number, work: Work): void {
    const signal = this.live.get(job)?.cancel.signal ?? AbortSignal.abort();
    this.chain = this.chain.then(async () => {
      throwIfAborted(signal);
      const msg = await this.host.perform(job, work, signal);
      throwIfAborted(signal);
      this.host.dispatch(msg);
    }).catch((e) => {
      const cancelled = stopped(e, signal);
      this.host.dispatch({ type: 'failed', job, error: cancelled ? new CancelledError() : e, cancelled });
    }).catch((e) => console.error('[look-closer] a job failure could not be handled', e));
  }

  /** Stops a job's work. */
  abort(job: number): void {
    this.live.get(job)?.cancel.abort();
  }

  /** Forgets a finished job and withdraws its progress notification. */
  end(job: number): void {
    const j = this.live.get(job);
    if (!j) return;
    clearTimeout(j.timer);
    j.progressDone.abort();
    this.live.delete(job);
  }
}
