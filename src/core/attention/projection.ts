/**
 * Projection of one feature-map activation back to the pixels — Zeiler and Fergus, "Visualizing and
 * Understanding Convolutional Networks", ECCV 2014, §2.1 and fig. 2: pick channel k's strongest activation at a
 * layer, set every other activation of the layer to zero, and run the deconvnet down to the input — unpooling
 * through the max-pooling switches, rectifying, filtering with the transposed filters. The backward graph
 * seeds the layer itself, one-hot at the position (`BackwardSpec.from`), in 'deconvnet' rectifier mode.
 */
import { LookCloserError } from '../errors';
import type { Explainer } from '../explainer';
import type { RectifierMode } from '../grad/rule';
import { perClass } from '../methods/input-gradient';
import type { RgbaImage } from '../preprocess/image';
import { Box, gradientToImage } from '../render/overlay';
import { Float32Tensor, float32 } from '../tensor';
import { cropImage } from './crop';
import { receptiveField } from './receptive-field';

/** What to project. */
export interface ProjectionOptions {
  /** A 4-D layer [1,C,H,W]. */
  readonly layer: string;
  readonly channel: number;
  /** Position in the layer; default: the channel's strongest activation for this input. */
  readonly position?: { readonly y: number; readonly x: number };
  /** Rectifier rule of the backward pass (default 'deconvnet', the paper's). */
  readonly mode?: RectifierMode;
}

/** A projection and the patch it came from. */
export interface ChannelProjection {
  readonly layer: string;
  readonly channel: number;
  readonly position: { readonly y: number; readonly x: number };
  /** The activation at that position. */
  readonly activation: number;
  /** The reconstruction in input space, [C,H,W] (channels first, whatever the model's layout), scaled by the activation. */
  readonly projection: Float32Tensor;
  /** The receptive field of the position, in input pixels (integer edges, inside the input). */
  readonly receptiveField: Box;
}

/** Projects channel `channel`'s strongest (or a given) activation at `layer` to the input with the deconvnet. */
export async function projectChannel(explainer: Explainer, input: Float32Tensor, opts: ProjectionOptions): Promise<ChannelProjection> {
  const [, c, h, w] = await explainer.featureMapShape(opts.layer, 'Projection to pixels');
  const k = opts.channel;
  if (!Number.isInteger(k) || k < 0 || k >= c) throw new LookCloserError('bad-argument', `Channel ${k} is out of range: layer '${opts.layer}' has ${c} channels (0–${c - 1}).`);
  const f = await explainer.forward(input, [opts.layer]);
  const a = f.tensors[opts.layer].data;
  let pos = opts.position;
  if (!pos) {
    let best = 0;
    for (let i = 1; i < h * w; i++) if (a[k * h * w + i] > a[k * h * w + best]) best = i;
    pos = { y: Math.floor(best / w), x: best % w };
  }
  if (!(Number.isInteger(pos.y) && Number.isInteger(pos.x) && pos.y >= 0 && pos.y < h && pos.x >= 0 && pos.x < w)) {
    throw new LookCloserError('bad-argument', `Position (${pos.y}, ${pos.x}) is outside layer '${opts.layer}' (${h}×${w}).`);
  }
  const flat = (k * h + pos.y) * w + pos.x;
  const activation = a[flat];
  const r = await explainer.gradients(input, {
    targets: [explainer.input.name], score: 'logit', mode: opts.mode ?? 'deconvnet', method: 'Projection to pixels', from: opts.layer, classes: [flat],
  });
  const g = perClass(explainer, r.grads[explainer.input.name])[0];
  const scale = activation > 0 ? activation : 1;
  const projection = float32(g.data.map((v) => v * scale), g.dims);
  const shapes = new Map(await explainer.shapes());
  // The walk reads spatial axes 2 and 3; an NHWC input (always transposed before its first Conv) is described as NCHW.
  const { height: ih, width: iw } = explainer.inputSize;
  shapes.set(explainer.input.name, [1, explainer.input.channels, ih, iw]);
  const receptive = receptiveField(explainer.graph, shapes, explainer.input.name, opts.layer, pos.y, pos.x);
  return { layer: opts.layer, channel: k, position: pos, activation, projection, receptiveField: receptive };
}

/** The reconstruction and the image patch side by side material: both cropped to the receptive field and enlarged to `size` px. */
export function projectionImages(p: ChannelProjection, view: RgbaImage, order: 'rgb' | 'bgr' = 'rgb', size = 128): { reconstruction: RgbaImage; patch: RgbaImage } {
  const [c, h, w] = p.projection.dims;
  const full = gradientToImage(p.projection.data, c, h, w, order);
  const rf = p.receptiveField;
  const scale = size / Math.max(rf.width, rf.height);
  const ow = Math.max(1, Math.round(rf.width * scale));
  const oh = Math.max(1, Math.round(rf.height * scale));
  const sx = view.width / w;
  const sy = view.height / h;
  return {
    reconstruction: cropImage(full, rf, ow, oh),
    patch: cropImage(view, { x: rf.x * sx, y: rf.y * sy, width: rf.width * sx, height: rf.height * sy }, ow, oh),
  };
}
