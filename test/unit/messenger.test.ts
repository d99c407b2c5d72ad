/** The request/response helper both ends of every webview channel use: two Messengers back to back through an in-memory Endpoint. */
import { strict as assert } from 'node:assert';
import { LookCloserError } from '../../src/core/errors';
import { CancelledError, Direction, Endpoint, Envelope, Messenger, RemoteError, isCancellation } from '../../src/protocol/messenger';

interface Ping { readonly type: 'ping'; readonly n: number }
interface Slow { readonly type: 'slow'; readonly ms: number; readonly tag: string }
interface Fail { readonly type: 'fail'; readonly how: 'domain' | 'type' | 'string' | 'cancelled' }
interface Hold { readonly type: 'hold' }
interface Hello { readonly type: 'hello'; readonly from: string }

/** What side A sends: requests B answers, and a note. */
interface AToB extends Direction {
  readonly requests: Ping | Slow | Fail | Hold;
  readonly responses: { readonly ping: number; readonly slow: string; readonly fail: never; readonly hold: string };
  readonly notes: Hello;
}
/** What side B sends: one note, no requests. */
interface BToA extends Direction {
  readonly requests: never;
  readonly responses: Record<never, never>;
  readonly notes: Hello;
}

/** Two endpoints wired back to back: each post arrives at the other side later (a macrotask) and structured-cloned, as postMessage does. */
function channel(): { a: Endpoint; b: Endpoint; sent: { a: Envelope[]; b: Envelope[] }; raw(to: 'a' | 'b', m: unknown): void } {
  const listeners = { a: new Set<(m: unknown) => void>(), b: new Set<(m: unknown) => void>() };
  const sent = { a: [] as Envelope[], b: [] as Envelope[] };
  const deliver = (to: 'a' | 'b', m: unknown) => setImmediate(() => listeners[to].forEach((l) => l(structuredClone(m))));
  const end = (me: 'a' | 'b', peer: 'a' | 'b'): Endpoint => ({
    post: (m) => {
      sent[me].push(m);
      deliver(peer, m);
    },
    listen: (cb) => {
      listeners[me].add(cb);
      return { dispose: () => listeners[me].delete(cb) };
    },
  });
  return { a: end('a', 'b'), b: end('b', 'a'), sent, raw: deliver };
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pair of messengers; B answers A's requests and records what its handlers saw. */
function pair() {
  const ch = channel();
  const seen = { signals: [] as AbortSignal[] };
  let entered!: () => void;
  const holding = { started: new Promise<void>((r) => (entered = r)) };
  const a = new Messenger<AToB, BToA>(ch.a, { requests: {}, notes: { hello: () => undefined } });
  const b = new Messenger<BToA, AToB>(ch.b, {
    requests: {
      ping: async (r) => r.n * 2,
      slow: async (r) => {
        await sleep(r.ms);
        return r.tag;
      },
      fail: (r) => {
        if (r.how === 'domain') throw new LookCloserError('bad-argument', "Layer 'x' has rank 2; CAM needs a 4-D feature map");
        if (r.how === 'type') return Promise.reject(new TypeError('not a function'));
        if (r.how === 'cancelled') return Promise.reject(new CancelledError('The user cancelled.'));
        return Promise.reject('a bare string');
      },
      hold: (_r, signal) => {
        seen.signals.push(signal);
        entered();
        return new Promise((resolve) => signal.addEventListener('abort', () => setTimeout(() => resolve('too late'), 5)));
      },
    },
    notes: { hello: () => undefined },
  });
  return { ch, a, b, seen, holding };
}

/** Names every object inherits; a peer sending one as a type must reach no handler. */
const INHERITED = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/** A handler table whose prototype has, under every inherited name, a function that records being called. */
function trapped(handlers: object, called: string[]): object {
  const trap: Record<string, unknown> = {};
  for (const k of INHERITED.filter((n) => n !== '__proto__')) trap[k] = () => called.push(k);
  return Object.assign(Object.create(trap) as object, handlers);
}

const aborted = (s: AbortSignal) => (s.aborted ? Promise.resolve() : new Promise<void>((r) => s.addEventListener('abort', () => r())));

describe('Messenger (host ↔ webview channel)', () => {
  it('correlates each response with its request by id, whatever order the answers come in', async () => {
    const { a, b } = pair();
    const order: string[] = [];
    const [x, y, p] = await Promise.all([
      a.request({ type: 'slow', ms: 40, tag: 'x' }).then((v) => (order.push(v), v)),
      a.request({ type: 'slow', ms: 1, tag: 'y' }).then((v) => (order.push(v), v)),
      a.request({ type: 'ping', n: 21 }),
    ]);
    assert.deepEqual([x, y, p], ['x', 'y', 42]);
    assert.deepEqual(order, ['y', 'x'], 'the later request answered first');
    a.dispose();
    b.dispose();
  });

  it('answers a handler that throws or rejects with an error that keeps its name, message and kind', async () => {
    const { a, b } = pair();
    await assert.rejects(a.request({ type: 'fail', how: 'domain' }), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.name, 'LookCloserError');
      assert.equal(e.message, "Layer 'x' has rank 2; CAM needs a 4-D feature map");
      assert.equal(e.kind, 'bad-argument');
      return true;
    });
    await assert.rejects(a.request({ type: 'fail', how: 'type' }), (e: unknown) => e instanceof RemoteError && e.name === 'TypeError' && e.message === 'not a function' && e.kind === undefined);
    await assert.rejects(a.request({ type: 'fail', how: 'string' }), (e: unknown) => e instanceof RemoteError && e.name === 'Error' && e.message === 'a bare string');
    // A handler that gives up by cancelling: the requester sees a cancellation, which error funnels keep quiet.
    await assert.rejects(a.request({ type: 'fail', how: 'cancelled' }), (e: unknown) => e instanceof CancelledError && isCancellation(e) && e.message === 'The user cancelled.');
    assert.equal(await a.request({ type: 'ping', n: 1 }), 2, 'the channel still works');
    a.dispose();
    b.dispose();
  });

  it('cancel from the requesting side: its signal aborts the handler\'s, and the late answer is never posted', async () => {
    const { ch, a, b, seen, holding } = pair();
    const c = new AbortController();
    const req = a.request({ type: 'hold' }, c.signal);
    await holding.started;
    c.abort();
    await assert.rejects(req, (e: unknown) => e instanceof CancelledError && isCancellation(e));
    await aborted(seen.signals[0]);
    await sleep(20);
    assert.equal(ch.sent.b.filter((m) => m.lc === 'response').length, 0, 'no response after the cancel');
    assert.ok(ch.sent.a.some((m) => m.lc === 'cancel'), 'A told B');
    // Already aborted: rejects at once and sends nothing.
    const before = ch.sent.a.length;
    await assert.rejects(a.request({ type: 'ping', n: 1 }, c.signal), CancelledError);
    assert.equal(ch.sent.a.length, before);
    a.dispose();
    b.dispose();
  });

  it('cancel from the answering side: disposing it aborts the handler\'s signal', async () => {
    const { a, b, seen, holding } = pair();
    const req = a.request({ type: 'hold' });
    req.catch(() => undefined);
    await holding.started;
    b.dispose();
    await aborted(seen.signals[0]);
    a.dispose();
    await assert.rejects(req, CancelledError);
  });

  it('dispose rejects every pending request with a CancelledError, ignores late answers, and refuses new requests', async () => {
    const { a, b, holding } = pair();
    const pending = [a.request({ type: 'hold' }), a.request({ type: 'slow', ms: 10, tag: 'late' })];
    await holding.started;
    a.dispose();
    for (const p of pending) await assert.rejects(p, (e: unknown) => e instanceof CancelledError && isCancellation(e));
    await sleep(30);
    await assert.rejects(a.request({ type: 'ping', n: 1 }), CancelledError);
    b.dispose();
  });

  it('answers an unknown request type, prototype names included, with an error and never calls an inherited method', async () => {
    const ch = channel();
    const called: string[] = [];
    const a = new Messenger<AToB, BToA>(ch.a, { requests: {}, notes: { hello: () => undefined } });
    const b = new Messenger<BToA, AToB>(ch.b, { requests: trapped({ ping: async (r: Ping) => r.n }, called) as never, notes: { hello: () => undefined } });
    for (const type of ['nope', ...INHERITED]) {
      await assert.rejects(a.request({ type } as unknown as Ping), (e: unknown) => e instanceof RemoteError && e.message === `Unknown request type '${type}'.`, type);
    }
    await assert.rejects(a.request({ nothing: 1 } as unknown as Ping), /Unknown request type 'undefined'/);
    assert.deepEqual(called, []);
    assert.equal(({} as Record<string, unknown>).type, undefined, 'Object.prototype untouched');
    assert.equal(await a.request({ type: 'ping', n: 5 }), 5);
    a.dispose();
    b.dispose();
  });

  it('drops a note of an unknown type (prototype names included) without answering, and keeps delivering known ones', async () => {
    const ch = channel();
    const called: string[] = [];
    const got: string[] = [];
    const a = new Messenger<AToB, BToA>(ch.a, { requests: {}, notes: { hello: (n) => got.push(`a got ${n.from}`) } });
    const b = new Messenger<BToA, AToB>(ch.b, { requests: trapped({}, called) as never, notes: trapped({ hello: (n: Hello) => got.push(`b got ${n.from}`) }, called) as never });
    for (const type of ['nope', ...INHERITED]) a.notify({ type, from: 'A' } as unknown as Hello);
    await tick();
    await tick();
    assert.deepEqual(got, []);
    assert.deepEqual(called, []);
    assert.equal(ch.sent.b.length, 0, 'B posted nothing back');
    a.notify({ type: 'hello', from: 'A' });
    b.notify({ type: 'hello', from: 'B' });
    await tick();
    await tick();
    assert.deepEqual(got.sort(), ['a got B', 'b got A']);
    a.dispose();
    b.dispose();
  });

  it('ignores what is not an envelope and responses to ids it never sent', async () => {
    const { ch, a, b } = pair();
    for (const m of [null, undefined, 'ready', 42, { lc: 7 }, { lc: 'bogus', id: 1 }, { type: 'hello' }]) ch.raw('b', m);
    ch.raw('a', { lc: 'response', id: 999, ok: true, value: 'stray' });
    ch.raw('b', { lc: 'cancel', id: 999 });
    await tick();
    assert.equal(await a.request({ type: 'ping', n: 3 }), 6);
    a.dispose();
    b.dispose();
  });
});
