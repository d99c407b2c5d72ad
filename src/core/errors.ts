/** Domain errors: each names the problem and what the user can do about it. */

/** Broad categories of failure, used by front ends to choose exit codes and wording. */
export type ErrorKind =
  | 'bad-model'
  | 'unsupported-model'
  | 'unsupported-operator'
  | 'bad-image'
  | 'bad-input'
  | 'bad-argument'
  | 'method-not-applicable'
  | 'runtime'
  | 'cancelled';

/** An error the user caused or can fix; its message is meant to be shown as is. */
export class LookCloserError extends Error {
  constructor(readonly kind: ErrorKind, message: string, readonly cause?: unknown) {
    super(message);
    this.name = 'LookCloserError';
  }
}

/** Throws a LookCloserError when the condition is false. */
export function check(cond: unknown, kind: ErrorKind, message: string): asserts cond {
  if (!cond) throw new LookCloserError(kind, message);
}

/** Returns the readable message of anything thrown. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
