/** The CAM template's fused display map equals min-max normalisation of the bilinear upsampling, bit for bit. */
import { strict as assert } from 'node:assert';
import { displayMap } from '../../src/core/methods/cam-template';
import { resizeBilinear } from '../../src/core/preprocess/resize';
import { normalizeMinMax } from '../../src/core/render/overlay';
import { randomData, rng } from '../support/tiny-model';

describe('CAM display map', () => {
  const r = rng(11);
  for (const [h, w, oh, ow] of [[7, 7, 224, 224], [13, 13, 224, 224], [3, 5, 17, 9], [1, 1, 4, 4], [6, 4, 6, 4], [14, 14, 7, 5], [7, 7, 225, 223], [2, 9, 300, 31]]) {
    it(`${h}×${w} → ${oh}×${ow}`, () => {
      for (let trial = 0; trial < 20; trial++) {
        const raw = randomData(h * w, r, -1, 3);
        // ReLU'd maps (as CAM produces) have flat zero regions and ties.
        if (trial % 2) for (let i = 0; i < raw.length; i++) raw[i] = Math.max(0, raw[i]);
        assert.deepEqual(displayMap(raw, h, w, oh, ow), normalizeMinMax(resizeBilinear(raw, w, h, ow, oh, 1)));
      }
    });
  }
  it('a constant map becomes zeros', () => {
    assert.ok(displayMap(new Float32Array(9).fill(2), 3, 3, 8, 8).every((v) => v === 0));
  });
});
