/**
 * Method-specific settings (occlusion patch size, attention-crop scales, …) as data: each method lists the
 * options it reads, so the CLI's flags, a sidecar's per-model settings and the panel's controls come from
 * one table; values arrive as strings (flags, JSON) or numbers and are parsed here with readable errors.
 */
import { LookCloserError } from '../errors';

/** One setting a method reads from `ExplainRequest.options`. */
export interface MethodOption {
  /** Kebab-case name: the CLI flag is `--<name>`, the sidecar key under `methodOptions.<method id>` is `<name>`. */
  readonly name: string;
  /** 'boolean' options are switches: a bare CLI flag (`--eigen-smooth`), `true`/`false` in a sidecar. */
  readonly kind: 'int' | 'number' | 'string' | 'boolean';
  /** One sentence for help texts and tooltips. */
  readonly description: string;
  /** Shown as the default; undefined when the default depends on the model or image. */
  readonly default?: number | string;
  readonly min?: number;
  readonly max?: number;
  /** Allowed values of a string option. */
  readonly choices?: readonly string[];
}

/** Values as they arrive from flags, a sidecar or the panel. */
export type OptionValues = Readonly<Record<string, string | number | boolean | undefined>>;

/** Progress of a long method: `done` of `total` steps. */
export type ProgressCallback = (done: number, total: number) => void;

/** The part of the DOM/Node AbortSignal the core reads (the core has no DOM or Node types). */
export interface CancelSignal {
  readonly aborted: boolean;
}

/** Throws a quiet 'cancelled' error when the signal has fired. */
export function throwIfCancelled(signal: CancelSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LookCloserError('cancelled', `${what} was cancelled.`);
}

function find(options: readonly MethodOption[], name: string, method: string): MethodOption {
  const o = options.find((x) => x.name === name);
  if (!o) throw new LookCloserError('runtime', `Internal: ${method} reads option '${name}' that it does not declare.`);
  return o;
}

/** Reads a numeric option (int or number), checking its range; undefined when not given. */
export function numberOption(options: readonly MethodOption[], values: OptionValues | undefined, name: string, method: string): number | undefined {
  const o = find(options, name, method);
  const v = values?.[name];
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  const bad = !Number.isFinite(n) || (o.kind === 'int' && !Number.isInteger(n)) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max);
  if (bad) {
    const range = o.min !== undefined && o.max !== undefined ? ` between ${o.min} and ${o.max}` : o.min !== undefined ? ` ≥ ${o.min}` : o.max !== undefined ? ` ≤ ${o.max}` : '';
    throw new LookCloserError('bad-argument', `${method} option '${name}' must be ${o.kind === 'int' ? 'an integer' : 'a number'}${range}, got '${v}'.`);
  }
  return n;
}

/** Reads a string option, checking its choices; undefined when not given. */
export function stringOption(options: readonly MethodOption[], values: OptionValues | undefined, name: string, method: string): string | undefined {
  const o = find(options, name, method);
  const v = values?.[name];
  if (v === undefined || v === '') return undefined;
  const s = String(v);
  if (o.choices && !o.choices.includes(s)) {
    throw new LookCloserError('bad-argument', `${method} option '${name}' must be one of ${o.choices.join(', ')}, got '${s}'.`);
  }
  return s;
}

/** Reads a boolean option (true/false, or the strings 'true'/'false'/'1'/'0' from a sidecar or the panel); undefined when not given. */
export function booleanOption(options: readonly MethodOption[], values: OptionValues | undefined, name: string, method: string): boolean | undefined {
  find(options, name, method);
  const v = values?.[name];
  if (v === undefined || v === '') return undefined;
  if (v === true || v === 'true' || v === 1 || v === '1') return true;
  if (v === false || v === 'false' || v === 0 || v === '0') return false;
  throw new LookCloserError('bad-argument', `${method} option '${name}' must be true or false, got '${String(v)}'.`);
}
