/** What the panel's state keeps of an explain outcome: numbers to show and summarise, not pixels. Pure. */
import type { ExplainOutcome, PreparedInput } from '../../src/core/app/explain-image';
import type { Explanation } from '../../src/core/methods/method';
import type { OutcomeView, OutputView } from './state';

/** Where a heat map peaks, as fractions of the original image (undefined for gradients and for tensor inputs). */
export function peakOf(e: Explanation, input: PreparedInput): OutputView['peak'] {
  if (e.display.kind !== 'heatmap' || !input.crop || !input.image) return undefined;
  const { map, width, height } = e.display;
  let best = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
  const crop = input.crop;
  const x = crop.x + (((best % width) + 0.5) / width) * crop.width;
  const y = crop.y + ((Math.floor(best / width) + 0.5) / height) * crop.height;
  return { x: x / input.image.width, y: y / input.image.height };
}

/** The size of the picture drawn for an explanation: the image the model saw, or the gradient at input size. */
function renderedSize(e: Explanation, input: PreparedInput): OutputView['rendered'] {
  if (e.display.kind === 'gradient') {
    const [, h, w] = e.display.grad.dims;
    return { width: w, height: h };
  }
  return { width: input.base.width, height: input.base.height };
}

/** The outcome of job `id` as the state keeps it. */
export function outcomeView(id: number, o: ExplainOutcome, input: PreparedInput): OutcomeView {
  const outputs = o.outputs.map((out): OutputView => {
    const e = out.explanation;
    const c = e.payload?.kind === 'attention-crops' ? e.payload.crops : undefined;
    return {
      classIndex: e.classIndex, display: e.display.kind, rawRange: [out.min, out.max], shape: e.raw.dims,
      peak: peakOf(e, input), rendered: renderedSize(e, input),
      crops: c && {
        scales: c.scales.map((s) => ({ scale: s.scale, index: s.top[0].index, score: s.top[0].score })),
        fused: { index: c.fusedTop[0].index, score: c.fusedTop[0].score },
      },
    };
  });
  return {
    id, method: { id: o.method.id, title: o.method.title, family: o.method.family }, layer: o.layer, note: o.note,
    predictions: o.predictions.map((p) => ({ index: p.index, score: p.score })), probs: o.forward.probs, outputs, target: o.target,
  };
}
