/** What the extension host sends for a model, as the core's ModelSource: the webviews load it exactly as the CLI loads files. */
import type { ModelSource } from '../core/app/classifier';
import type { ModelPayload } from './protocol';

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
