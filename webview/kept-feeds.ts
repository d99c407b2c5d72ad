/**
 * A model's shared weights (the inputs of its derived graphs: src/core/onnx/shared-weights.ts) sent once to where
 * its sessions run — the webview's onnxruntime worker, or the extension host's runtime thread — and named by id on
 * every later run, so they are not copied across per run. When the page no longer holds a weight (its model was
 * disposed and collected), the other side is told to drop it.
 */
import { isSharedWeight } from '../src/core/onnx/shared-weights';
import type { Tensor } from '../src/core/tensor';

/** A run's feeds as they cross: what is sent, what the other side already keeps (feed name → id), what it should keep (each only when there is some). */
export interface WiredFeeds {
  readonly feeds: Record<string, Tensor>;
  readonly kept?: Record<string, number>;
  readonly keep?: Record<string, number>;
}

/** Ids unique within the page: several runtimes of one page may reach the same host connection. */
let nextId = 1;

/** The shared weights one runtime (one worker, one host connection) keeps, by their data. */
export class KeptFeeds {
  private readonly ids = new WeakMap<object, number>();
  private closed = false;
  private readonly registry: FinalizationRegistry<number>;

  /** `forget` tells the other side to drop ids the page no longer holds. */
  constructor(forget: (ids: number[]) => void) {
    this.registry = new FinalizationRegistry((id) => {
      if (!this.closed) forget([id]);
    });
  }

  /** Splits a run's feeds: a shared weight goes once (to keep) and is named by its id afterwards. */
  wire(feeds: Readonly<Record<string, Tensor>>): WiredFeeds {
    const out: Record<string, Tensor> = {};
    const kept: Record<string, number> = {};
    const keep: Record<string, number> = {};
    for (const [k, t] of Object.entries(feeds)) {
      if (!isSharedWeight(t)) {
        out[k] = t;
        continue;
      }
      const id = this.ids.get(t.data);
      if (id !== undefined) {
        kept[k] = id;
        continue;
      }
      const fresh = nextId++;
      this.ids.set(t.data, fresh);
      this.registry.register(t.data, fresh);
      out[k] = t;
      keep[k] = fresh;
    }
    return { feeds: out, ...(Object.keys(kept).length ? { kept } : {}), ...(Object.keys(keep).length ? { keep } : {}) };
  }

  /** The other side is gone (its worker restarted): nothing more to forget there. */
  close(): void {
    this.closed = true;
  }
}
