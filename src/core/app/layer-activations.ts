/**
 * A layer's activation for one prepared input, channel by channel: the values the Layers view draws as tiles
 * and each channel's minimum, maximum, mean and share of zeros; a transformer's attention probabilities come as
 * one tile per head on the patch grid (the class token's row, or the attention each position receives). The
 * same in every front end (the panel reads it for the Layers view; the protocol carries this type).
 */
import { findAttentionLayers } from '../attention-maps/attention-layers';
import { attentionTiles } from '../attention-maps/attention-tiles';
import { LookCloserError } from '../errors';
import type { Classifier } from './classifier';
import type { PreparedInput } from './explain-image';

/** Statistics of one channel of a layer's activation for the current image. */
export interface ChannelStats {
  readonly index: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Share of exact zeros, 0..1. */
  readonly zeros: number;
  /** Constant over the whole map (e.g. a ReLU that never fires). */
  readonly dead: boolean;
}

/** A layer's activation for the current image, ready to draw as channel tiles. */
export interface LayerActivations {
  readonly layer: string;
  readonly op: string;
  readonly shape: readonly number[];
  /** Tile size: spatial dims for a 4-D map, 1×1 for a vector. */
  readonly height: number;
  readonly width: number;
  readonly channels: readonly ChannelStats[];
  /** Channel-major values [C·H·W]. */
  readonly data: Float32Array;
  /** Whether the layer can be a CAM target (a 4-D map with spatial extent). */
  readonly targetable: boolean;
  /** For a transformer's attention probabilities: one tile per head on the patch grid (attention-tiles.ts). */
  readonly attention?: { readonly heads: number; readonly query: number | 'received' };
}

/** Per-channel statistics of channel-major values [channels·hw]. */
export function channelStats(data: Float32Array, channels: number, hw: number): ChannelStats[] {
  const out: ChannelStats[] = [];
  for (let k = 0; k < channels; k++) {
    let lo = Infinity, hi = -Infinity, sum = 0, zeros = 0;
    for (let i = k * hw; i < (k + 1) * hw; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
      if (v === 0) zeros++;
    }
    // A single value is "dead" only when it is zero; a map is dead when it is constant.
    out.push({ index: k, min: lo, max: hi, mean: sum / hw, zeros: zeros / hw, dead: hw > 1 ? !(hi > lo) : hi === 0 });
  }
  return out;
}

/** Tile geometry of a tensor's dims: channels at axis 1, spatial dims for rank 4 (a row for rank 3), 1×1 otherwise. */
function tileShape(d: readonly number[]): { channels: number; height: number; width: number } {
  return {
    channels: d.length >= 2 ? d[1] : 1,
    height: d.length === 4 ? d[2] : 1,
    width: d.length === 4 ? d[3] : d.length === 3 ? d[2] : 1,
  };
}

/** Runs the model on the input and returns one layer's activation with per-channel statistics. */
export async function layerActivations(c: Classifier, input: PreparedInput, layer: string): Promise<LayerActivations> {
  const info = (await c.layers()).find((l) => l.name === layer);
  if (!info) throw new LookCloserError('bad-argument', `${c.name} has no layer '${layer}'.`);
  const t = (await c.explainer.forward(input.tensor, [layer])).tensors[layer];
  const att = findAttentionLayers(c.explainer.graph, await c.explainer.shapes(), c.explainer.inputSize).find((l) => l.tensor === layer);
  if (att && att.layout !== 'grouped') {
    const a = attentionTiles(att, t.data);
    const hw = a.height * a.width;
    return {
      layer, op: info.op, shape: info.shape, height: a.height, width: a.width, channels: channelStats(a.data, a.heads, hw), data: a.data,
      targetable: false, attention: { heads: a.heads, query: a.query },
    };
  }
  const { channels, height, width } = tileShape(t.dims);
  const hw = height * width;
  const data = Float32Array.from(t.data.subarray(0, channels * hw));
  return {
    layer, op: info.op, shape: info.shape, height, width, channels: channelStats(data, channels, hw), data,
    targetable: t.dims.length === 4 && hw > 1,
  };
}
