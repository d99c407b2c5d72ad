/** ROAD's imputation job of a real map (SqueezeNet's Grad-CAM of its top class on the pelican photo), and a bit-for-bit check, shared by the imputer tests. */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { heatmapAt } from '../../src/core/attention/heatmap';
import { topK } from '../../src/core/explainer';
import { ImputeJob, inlineImputer, roadMasks } from '../../src/core/metrics/road';
import { explanationHeatmap } from '../../src/core/methods/explanation-heatmap';
import { methodById } from '../../src/core/methods/registry';
import type { Runtime } from '../../src/core/runtime';
import type { Float32Tensor } from '../../src/core/tensor';
import { LoadedModel, loadInput, loadModel } from '../../src/node/workbench';
import { SAMPLES, SQUEEZENET } from './paths';

/** The model, its input, the map of its top class, ROAD's job on them (percentiles 25, 50, 75) and its inline imputations. */
export interface RoadJobFixture {
  readonly model: LoadedModel;
  readonly x: Float32Tensor;
  readonly map01: Float32Array;
  readonly cls: number;
  readonly job: ImputeJob;
  readonly inline: Float32Tensor[];
}

/** Loads SqueezeNet and the pelican photo and builds ROAD's job on its Grad-CAM map (the caller disposes model.explainer). */
export async function pelicanRoadJob(runtime: Runtime): Promise<RoadJobFixture> {
  const model = await loadModel(runtime, SQUEEZENET);
  const x = (await loadInput(model, path.join(SAMPLES, 'wm_pelican.jpg'))).tensor;
  const cls = topK((await model.explainer.forward(x)).probs, 1)[0];
  const e = (await methodById('gradcam').run(model.explainer, { input: x, classes: [cls], target: 'logit' })).explanations[0];
  const map01 = heatmapAt(explanationHeatmap(e), model.explainer.inputSize.width, model.explainer.inputSize.height);
  const job: ImputeJob = { x, layout: model.explainer.input.layout, masks: roadMasks(map01, [25, 50, 75]), noise: 0.01, seed: 0 };
  return { model, x, map01, cls, job, inline: await inlineImputer.impute(job) };
}

/** The same values bit for bit (float32 bits compared, so -0 ≠ 0 and NaN = NaN as stored). */
export function assertSameTensors(a: readonly Float32Tensor[], b: readonly Float32Tensor[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((t, i) => {
    assert.deepEqual(t.dims, b[i].dims, `${what}: dims of input ${i}`);
    assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(b[i].data.buffer, b[i].data.byteOffset, b[i].data.byteLength)), `${what}: input ${i} differs`);
  });
}
