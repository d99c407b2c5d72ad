/** Marks the suite's output, which code-server mirrors into the workbench log among its own lines. */
export const SUITE_PREFIX = '[suite] ';

/** console.log for the suite: marked so the runner can pick it out of the workbench log. */
export function log(...args: unknown[]): void {
  console.log(SUITE_PREFIX + args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
}
