/**
 * One request/response helper for both ends of a webview channel (host and webview): requests are
 * correlated by id, a handler that throws answers with an error, and either side can cancel a request
 * it sent (the handler sees an aborted AbortSignal). Notifications are one-way.
 */

/** The wire format of every message the helper posts. */
export type Envelope =
  | { readonly lc: 'request'; readonly id: number; readonly body: { readonly type: string } }
  | { readonly lc: 'response'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly lc: 'response'; readonly id: number; readonly ok: false; readonly error: WireError }
  | { readonly lc: 'cancel'; readonly id: number }
  | { readonly lc: 'notify'; readonly body: { readonly type: string } };

/** An error as it crosses the channel. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** LookCloserError's kind, when the error was one. */
  readonly kind?: string;
}

/** What one side sends: its requests, the response type of each request type (keyed by the request's `type`), and its notifications. */
export interface Direction {
  readonly requests: { readonly type: string };
  readonly responses: object;
  readonly notes: { readonly type: string };
}

/** The response type a direction declares for request type K. */
export type ResponseOf<D extends Direction, K extends string> = K extends keyof D['responses'] ? D['responses'][K] : never;

/** The request of type K in a direction. */
export type RequestOf<D extends Direction, K extends D['requests']['type']> = Extract<D['requests'], { readonly type: K }>;

/** One handler per request type; the compiler checks each returns the declared response type. */
export type RequestHandlers<D extends Direction> = {
  readonly [K in D['requests']['type']]: (request: RequestOf<D, K>, signal: AbortSignal) => Promise<ResponseOf<D, K>>;
};

/** One handler per notification type. */
export type NoteHandlers<D extends Direction> = {
  readonly [K in D['notes']['type']]: (note: Extract<D['notes'], { readonly type: K }>) => void;
};

/**
 * Compile-time check that a direction's response map names exactly its request types: `true` when it does,
 * else the offending keys (a protocol file asserts `const _: ResponsesMatch<X> = true`).
 */
export type ResponsesMatch<D extends Direction> =
  [Exclude<D['requests']['type'], keyof D['responses']>, Exclude<keyof D['responses'], D['requests']['type']>] extends [never, never]
    ? true
    : { readonly missing: Exclude<D['requests']['type'], keyof D['responses']>; readonly extra: Exclude<keyof D['responses'], D['requests']['type']> };

/** The transport: post a message, subscribe to incoming ones. */
export interface Endpoint {
  post(message: Envelope): void;
  listen(onMessage: (message: unknown) => void): { dispose(): void };
}

/** How the receiving side handles what the peer sends: a table of request handlers and one of note handlers. */
export interface Handlers<Peer extends Direction> {
  /** Answer requests; throwing (or rejecting) answers with the error. */
  readonly requests: RequestHandlers<Peer>;
  readonly notes: NoteHandlers<Peer>;
}

/** Error of a request the peer failed; keeps the peer's error name and kind. */
export class RemoteError extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
  /** LookCloserError kind on the peer, if any. */
  get kind(): string | undefined {
    return this.wire.kind;
  }
}

/** The error a cancelled request rejects with (name 'AbortError', as DOM cancellation). */
export class CancelledError extends Error {
  constructor(message = 'Cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

/** True for a cancellation on either side, which error funnels keep quiet. */
export function isCancellation(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === 'AbortError' || e.name === 'Canceled' || (e instanceof RemoteError && e.kind === 'cancelled');
}

/** Throws a CancelledError when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

function toWire(e: unknown): WireError {
  if (e instanceof RemoteError) return e.wire;
  if (e instanceof Error) {
    const kind = (e as { kind?: unknown }).kind;
    return { name: e.name, message: e.message, kind: typeof kind === 'string' ? kind : undefined };
  }
  return { name: 'Error', message: String(e) };
}

/** The handler for a message's type, looked up as an own property only (a peer's `__proto__` or `toString` finds nothing). */
function ownHandler(table: object, body: unknown): ((body: never, signal: AbortSignal) => unknown) | undefined {
  const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(table, type)) return undefined;
  const h = (table as Record<string, unknown>)[type];
  return typeof h === 'function' ? (h.bind(table) as (body: never, signal: AbortSignal) => unknown) : undefined;
}

const KINDS: ReadonlySet<unknown> = new Set<Envelope['lc']>(['request', 'response', 'cancel', 'notify']);

function isEnvelope(m: unknown): m is Envelope {
  return typeof m === 'object' && m !== null && KINDS.has((m as { lc?: unknown }).lc);
}

/** One end of a typed channel: `Me` is what this end sends, `Peer` what the other end sends. */
export class Messenger<Me extends Direction, Peer extends Direction> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private readonly running = new Map<number, AbortController>();
  private readonly subscription: { dispose(): void };
  private disposed = false;

  constructor(private readonly endpoint: Endpoint, private readonly handlers: Handlers<Peer>) {
    this.subscription = endpoint.listen((m) => this.receive(m));
  }

  /** Sends a request and resolves with the peer's answer; aborting `signal` cancels it on the peer too. */
  request<R extends Me['requests']>(body: R, signal?: AbortSignal): Promise<ResponseOf<Me, R['type']>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.disposed) return reject(new CancelledError('The view was closed.'));
      if (signal?.aborted) return reject(new CancelledError());
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.endpoint.post({ lc: 'cancel', id });
        reject(new CancelledError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => (signal?.removeEventListener('abort', onAbort), resolve(v as ResponseOf<Me, R['type']>)),
        reject: (e) => (signal?.removeEventListener('abort', onAbort), reject(e)),
      });
      this.endpoint.post({ lc: 'request', id, body });
    });
  }

  /** Sends a one-way notification. */
  notify(body: Me['notes']): void {
    this.endpoint.post({ lc: 'notify', body });
  }

  /** Rejects every request still waiting (the peer went away), aborts the handlers running, and stops listening; later requests reject at once. */
  dispose(): void {
    this.disposed = true;
    this.subscription.dispose();
    for (const p of this.pending.values()) p.reject(new CancelledError('The view was closed.'));
    this.pending.clear();
    for (const c of this.running.values()) c.abort();
    this.running.clear();
  }

  private receive(m: unknown): void {
    if (!isEnvelope(m)) return;
    switch (m.lc) {
      case 'request': {
        const controller = new AbortController();
        this.running.set(m.id, controller);
        const answer = (e: Envelope) => {
          if (this.running.get(m.id) !== controller) return;
          this.running.delete(m.id);
          this.endpoint.post(e);
        };
        let work: Promise<unknown>;
        try {
          const handler = ownHandler(this.handlers.requests, m.body);
          if (!handler) throw new Error(`Unknown request type '${String(m.body?.type)}'.`);
          work = Promise.resolve(handler(m.body as never, controller.signal));
        } catch (e) {
          work = Promise.reject(e);
        }
        work.then(
          (value) => answer({ lc: 'response', id: m.id, ok: true, value }),
          (e) => answer({ lc: 'response', id: m.id, ok: false, error: toWire(e) }),
        );
        return;
      }
      case 'response': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(m.error.name === 'AbortError' ? new CancelledError(m.error.message) : new RemoteError(m.error));
        return;
      }
      case 'cancel': {
        const c = this.running.get(m.id);
        this.running.delete(m.id);
        c?.abort();
        return;
      }
      case 'notify': {
        // A note of a type this side does not know is dropped: notes have no answer to carry an error.
        ownHandler(this.handlers.notes, m.body)?.(m.body as never, new AbortController().signal);
        return;
      }
      default:
        assertNever(m);
    }
  }
}

/** Compile-time exhaustiveness check for switches over closed unions. */
export function assertNever(x: never): never {
  throw new Error(`Unexpected message: ${JSON.stringify(x)}`);
}

/**
 * Bytes as they arrive over a webview channel: a Uint8Array where the transport keeps typed arrays, an
 * ArrayBuffer or another view where it does not, or a plain index-keyed object after JSON-like cloning.
 */
export function asBytes(x: unknown): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return Uint8Array.from(x as number[]);
  if (x && typeof x === 'object' && (x as { type?: unknown }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) {
    return Uint8Array.from((x as { data: number[] }).data);
  }
  if (x && typeof x === 'object') {
    const o = x as Record<string, number>;
    const n = Object.keys(o).length;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = o[i];
    return out;
  }
  throw new TypeError(`Expected bytes, got ${typeof x}`);
}

/** Float32 values as they arrive over a webview channel (see asBytes). */
export function asFloat32(x: unknown): Float32Array {
  if (x instanceof Float32Array) return x;
  if (x instanceof ArrayBuffer) return new Float32Array(x);
  if (ArrayBuffer.isView(x)) return x.byteOffset % 4 === 0 ? new Float32Array(x.buffer, x.byteOffset, x.byteLength / 4) : new Float32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  if (Array.isArray(x)) return Float32Array.from(x as number[]);
  if (x && typeof x === 'object') {
    const o = x as Record<string, number>;
    const n = Object.keys(o).length;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = o[i];
    return out;
  }
  throw new TypeError(`Expected float32 values, got ${typeof x}`);
}
