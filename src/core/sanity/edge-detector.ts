/**
 * The control "method" of Adebayo et al. (Sanity Checks for Saliency Maps, NeurIPS 2018, §1 fig. 1 and §3):
 * an edge detector that never looks at the model — the Sobel gradient magnitude of the input image, summed
 * over its channels. Its map cannot change when the model's weights are randomised, so the sanity check
 * must flag it; it is offered to `look-closer sanity` as a reference point, not in the method registry.
 */
import { topK } from '../explainer';
import type { Explanation, Method } from '../methods/method';
import { float32 } from '../tensor';

/** Sobel gradient magnitude √(gx² + gy²) per channel, summed over channels; edges replicated at the border. */
export function sobelMagnitude(data: Float32Array, channels: number, height: number, width: number, layout: 'NCHW' | 'NHWC'): Float32Array {
  const at = layout === 'NCHW'
    ? (c: number, y: number, x: number) => data[(c * height + y) * width + x]
    : (c: number, y: number, x: number) => data[(y * width + x) * channels + c];
  const out = new Float32Array(height * width);
  const cy = (y: number) => Math.min(height - 1, Math.max(0, y));
  const cx = (x: number) => Math.min(width - 1, Math.max(0, x));
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = (dy: number, dx: number) => at(c, cy(y + dy), cx(x + dx));
        const gx = p(-1, 1) + 2 * p(0, 1) + p(1, 1) - p(-1, -1) - 2 * p(0, -1) - p(1, -1);
        const gy = p(1, -1) + 2 * p(1, 0) + p(1, 1) - p(-1, -1) - 2 * p(-1, 0) - p(-1, 1);
        out[y * width + x] += Math.sqrt(gx * gx + gy * gy);
      }
    }
  }
  return out;
}

/** The edge detector as a method object (the same map for every class). */
export const edgeDetector: Method = {
  id: 'edge-detector',
  title: 'Edge detector (control)',
  citation: 'Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018, fig. 1 (Sobel gradient magnitude of the input)',
  family: 'input',
  async run(explainer, request) {
    const forward = request.forward ?? (await explainer.forward(request.input));
    const classes = request.classes ?? topK(forward.probs, request.top ?? 1);
    const { layout, channels } = explainer.input;
    const dims = request.input.dims;
    const [h, w] = layout === 'NCHW' ? [dims[2], dims[3]] : [dims[1], dims[2]];
    const map = sobelMagnitude(request.input.data, channels, h, w, layout);
    let max = 0;
    for (const v of map) max = Math.max(max, v);
    const shown = max > 0 ? map.map((v) => v / max) : map;
    const explanations: Explanation[] = classes.map((classIndex) => ({
      method: 'edge-detector', classIndex, raw: float32(map, [h, w]), display: { kind: 'heatmap', map: shown, width: w, height: h },
    }));
    return { explanations, forward };
  },
};
