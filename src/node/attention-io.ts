/** Node-side outputs of the attention tools: crop PNGs, the zoom strip, boxes JSON, gate maps and charts, projections. */
import * as path from 'node:path';
import type { AttentionCrops, ClassScore } from '../core/attention/attention-crops';
import type { InputSource } from '../core/attention/crop';
import type { GateValues } from '../core/attention/gates';
import { ChannelProjection, projectionImages } from '../core/attention/projection';
import { attentionStrip, barChart, sideBySide } from '../core/attention/render';
import { labelOf } from '../core/model-config';
import { encodeNpy } from '../core/npy';
import type { Box } from '../core/render/overlay';
import { normalizeMinMax, overlayHeatmap } from '../core/render/overlay';
import { makeOutputDir, writeOutput } from './files';
import { encodePng } from './image-io';
import type { LoadedInput, LoadedModel } from './workbench';

/** Where a loaded input came from, as the core's attention crops want it. */
export function inputSource(model: LoadedModel, input: LoadedInput): InputSource {
  return { image: input.image, region: input.crop, preprocessing: model.preprocessing.preprocessing };
}

function labelled(model: LoadedModel, s: readonly ClassScore[]) {
  return s.map((p) => ({ index: p.index, label: labelOf(model.labels, p.index), score: p.score }));
}

function round(b: Box) {
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { x: r(b.x), y: r(b.y), width: r(b.width), height: r(b.height) };
}

/** Writes each scale's crop, the strip with the boxes, and a boxes JSON; returns the report fragment. */
export async function writeAttentionCrops(model: LoadedModel, crops: AttentionCrops, outDir: string, stem: string) {
  makeOutputDir(outDir);
  const base = path.join(outDir, `${stem}_attention-crop_c${crops.classIndex}`);
  const scales = [];
  for (const s of crops.scales) {
    let png: string | null = null;
    if (s.input.view) {
      png = `${base}_scale${s.scale}.png`;
      await writeOutput(png, await encodePng(s.input.view));
    }
    scales.push({
      scale: s.scale,
      /** The region this scale shows: original image pixels (regionIn 'image') or first-tensor pixels ('tensor'). */
      region: round(s.input.region), regionIn: s.input.fromImage ? 'image' : 'tensor',
      box: s.box ? { tx: s.box.tx, ty: s.box.ty, tl: s.box.tl } : null,
      classScore: s.probs[crops.classIndex],
      predictions: labelled(model, s.top),
      png,
    });
  }
  const boxes = `${base}_boxes.json`;
  await writeOutput(boxes, JSON.stringify({
    class: crops.classIndex, label: labelOf(model.labels, crops.classIndex), proposer: crops.proposer,
    scales: scales.map((s) => ({ scale: s.scale, box: s.box, region: s.region, regionIn: s.regionIn })),
  }, null, 2));
  let strip: string | null = null;
  if (crops.scales.every((s) => s.input.view)) {
    strip = `${base}_scales.png`;
    await writeOutput(strip, await encodePng(attentionStrip(crops)));
  }
  return {
    proposer: crops.proposer, scales, boxes, strip,
    fused: { classScore: crops.fused[crops.classIndex], predictions: labelled(model, crops.fusedTop) },
  };
}

/** Writes each gate's values (.npy) and picture (overlay for spatial/full, bar chart for channel); returns the report rows. */
export async function writeGates(gates: readonly GateValues[], input: LoadedInput, outDir: string, stem: string, opts: { colormap: string; alpha: number }) {
  makeOutputDir(outDir);
  const rows = [];
  for (let i = 0; i < gates.length; i++) {
    const g = gates[i];
    const base = path.join(outDir, `${stem}_gate${i}_${g.gate.kind}`);
    const npy = `${base}.npy`;
    await writeOutput(npy, encodeNpy(g.values.data, g.values.dims));
    const png = `${base}.png`;
    if (g.map) {
      const [, h, w] = g.gate.shape;
      await writeOutput(png, await encodePng(overlayHeatmap(input.base, normalizeMinMax(g.map), w, h, opts)));
    } else {
      await writeOutput(png, await encodePng(barChart(g.weights!)));
    }
    rows.push({
      index: i, kind: g.gate.kind, shape: g.gate.shape, featureShape: g.gate.featureShape, activation: g.gate.activation,
      tensor: g.gate.tensor, node: g.gate.node, mask: g.gate.mask, feature: g.gate.feature, output: g.gate.output,
      residual: g.gate.residual, path: g.gate.path, min: g.min, mean: g.mean, max: g.max,
      weights: g.weights ? Array.from(g.weights) : undefined, npy, png,
    });
  }
  return rows;
}

/** Writes a projection's reconstruction, its image patch, both side by side, and the raw projection (.npy). */
export async function writeProjection(p: ChannelProjection, model: LoadedModel, input: LoadedInput, outDir: string, stem: string) {
  makeOutputDir(outDir);
  const safe = p.layer.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const base = path.join(outDir, `${stem}_project_${safe}_k${p.channel}`);
  const order = model.preprocessing.preprocessing.channels === 'bgr' ? 'bgr' : 'rgb';
  const { reconstruction, patch } = projectionImages(p, input.base, order);
  const files = { npy: `${base}.npy`, reconstruction: `${base}_reconstruction.png`, patch: `${base}_patch.png`, pair: `${base}.png` };
  await writeOutput(files.npy, encodeNpy(p.projection.data, p.projection.dims));
  await writeOutput(files.reconstruction, await encodePng(reconstruction));
  await writeOutput(files.patch, await encodePng(patch));
  await writeOutput(files.pair, await encodePng(sideBySide([reconstruction, patch])));
  return files;
}
