/** A method's settings for one model: the sidecar's `methodOptions` (for the method and the map method it names), overridden by flags. */
import { LookCloserError } from '../errors';
import type { Method } from '../methods/method';
import type { OptionValues } from '../methods/options';
import { METHODS } from '../methods/registry';
import type { Classifier } from './classifier';

type Values = Record<string, string | number | boolean | undefined>;

/** An own property of a user-given object, never one inherited from Object.prototype (`__proto__`, `toString`). */
function own<T>(o: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return o && Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/** Names of every method option in the registry (the CLI's method flags). */
export const METHOD_OPTION_NAMES: readonly string[] = [...new Set(METHODS.flatMap((m) => m.options ?? []).map((o) => o.name))];

/**
 * The options `method` runs with: the sidecar's for the method, then flags; when they name a map method
 * (attention crops), that method's sidecar options and flags as well. A flag no involved method reads is an error.
 */
export function methodOptionsFor(c: Classifier, method: Method, flags: Readonly<Record<string, unknown>> = {}): OptionValues {
  const side = c.sidecar?.methodOptions;
  const pick = (m: Method, into: Values) => {
    for (const o of m.options ?? []) {
      const v = own(flags, o.name);
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') into[o.name] = v;
    }
  };
  const out: Values = { ...own(side, method.id) };
  pick(method, out);
  const mapId = own(out, 'map-method');
  const mapMethod = typeof mapId === 'string' && mapId !== method.id ? METHODS.find((m) => m.id === mapId) : undefined;
  const merged: Values = { ...(mapMethod ? own(side, mapMethod.id) : {}), ...out };
  if (mapMethod) pick(mapMethod, merged);
  const known = new Set([...(method.options ?? []), ...(mapMethod?.options ?? [])].map((o) => o.name));
  for (const name of METHOD_OPTION_NAMES) {
    if (own(flags, name) !== undefined && !known.has(name)) {
      const owners = METHODS.filter((m) => m.options?.some((o) => o.name === name)).map((m) => m.id).join(', ');
      throw new LookCloserError('bad-argument', `--${name} is an option of ${owners}; it does nothing with --method ${method.id}.`);
    }
  }
  return merged;
}
