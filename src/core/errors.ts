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

/** " (did you mean 'x'?)" for the closest of `known` to a mistyped name (edit distance ≤ 2 or a shared prefix), else "". */
export function didYouMean(name: string, known: readonly string[]): string {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    return d[a.length][b.length];
  };
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dk = dist(lower, k.toLowerCase());
    if (dk < bestD) [best, bestD] = [k, dk];
  }
  return best !== undefined && (bestD <= 2 || (lower.length >= 3 && best.toLowerCase().startsWith(lower))) ? ` (did you mean '${best}'?)` : '';
}
