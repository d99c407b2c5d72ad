/** What the extension host sends for a model, as the core's ModelSource: the webviews load it exactly as the CLI loads files. */
import type { ModelSource } from '../core/app/classifier';
import type { ModelHeld, ModelPayload } from './protocol';

/** The payload's bytes, sidecar, labels and bundled label sets, named as the CLI names them (file names). */
export function modelSourceOf(p: ModelPayload, bytes: Uint8Array = p.bytes): ModelSource {
  return {
    path: p.writable ? p.origin : p.name, name: p.name, bytes,
    sidecar: p.sidecarText !== undefined ? { text: p.sidecarText, name: `${p.name}.json` } : undefined,
    labels: p.labels && { text: p.labels.text, name: p.labels.name.split('/').pop() ?? p.labels.name, origin: 'sidecar' },
    configs: p.configs,
    bundledLabels: (kind) => kind === 'imagenet'
      ? { text: p.fallbackLabels.imagenet, name: 'imagenet-simple-labels.json' }
      : { text: p.fallbackLabels.digits, name: 'mnist_labels.txt' },
  };
}

/**
 * The bytes for a model the host sent without them (ModelHeld): the loaded model's, when it is the same file with
 * the same host fingerprint (URI, size, mtime); undefined when the panel must ask the host for them. A payload
 * with bytes is returned as it is.
 */
export function withHeldBytes(m: ModelPayload | ModelHeld, loaded: ModelPayload | undefined): ModelPayload | undefined {
  if (m.bytes !== undefined) return m;
  if (!loaded || loaded.key !== m.key || loaded.fingerprint === undefined || loaded.fingerprint !== m.fingerprint) return undefined;
  return { ...m, bytes: loaded.bytes };
}

/** The host's fingerprint of a model file's bytes: its URI, size and modification time (ms), as a stat gives them. */
export function fileFingerprint(uri: string, size: number, mtime: number): string {
  return JSON.stringify([uri, size, mtime]);
}
