/** The sanity checks' similarity measures: Spearman by hand and against scipy, SSIM by hand and against a numpy implementation of Wang et al. 2004 (scripts/make_sanity_reference.py). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { comparableMap, controlClass } from '../../src/core/sanity/sanity-check';
import { gaussianTaps, pearson, ranks, spearman, ssim } from '../../src/core/sanity/similarity';
import { float32 } from '../../src/core/tensor';
import { ROOT } from '../support/paths';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('sanity similarity', () => {
  it('ranks ties by the mean of the ranks they span', () => {
    assert.deepEqual([...ranks([10, 20, 20, 30])], [1, 2.5, 2.5, 4]);
    assert.deepEqual([...ranks([3, 1, 2])], [3, 1, 2]);
    assert.deepEqual([...ranks([7, 7, 7])], [2, 2, 2]);
  });

  it('Spearman by hand: ties, monotone maps, reversed maps, constant maps', () => {
    // b's ranks [1, 2, 3.5, 5, 3.5] against [1…5]: Σdadb = 8, Σda² = 10, Σdb² = 9.5 → 8/√95.
    close(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 8 / Math.sqrt(95), 1e-12, 'ties');
    close(spearman([0.1, 0.5, 0.2, 0.9], [1, 25, 4, 81]), 1, 1e-12, 'monotone');
    close(spearman([1, 2, 3, 4], [9, 4, 1, 0]), -1, 1e-12, 'reversed');
    assert.equal(spearman([1, 2, 3], [5, 5, 5]), 0);
    close(pearson([1, 2, 3], [2, 4, 7]), 0.9933992677987828, 1e-12, 'pearson');
    assert.throws(() => spearman([1, 2], [1, 2, 3]), /2 and 3 values/);
  });

  it('SSIM by hand: 1 for identical maps; constant maps give (2ab + C1)/(a² + b² + C1)', () => {
    const a = Float32Array.from({ length: 20 * 16 }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
    close(ssim(a, a, 20, 16), 1, 1e-12, 'identical');
    const c1 = 1e-4;
    close(ssim(new Float32Array(15 * 13).fill(0.2), new Float32Array(15 * 13).fill(0.6), 15, 13), (2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1), 1e-7, 'constants');
    const g = gaussianTaps(11, 1.5);
    close(g.reduce((s, v) => s + v, 0), 1, 1e-15, 'window sum');
    close(g[5] / g[4], Math.exp(1 / (2 * 1.5 * 1.5)), 1e-12, 'window shape');
  });

  it('SSIM and Spearman match the numpy/scipy reference (11×11 Gaussian σ 1.5; 7×7 on a 9×7 map)', () => {
    const ref = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'sanity-ref', 'similarity.json'), 'utf8'));
    assert.equal(ref.cases.length, 5);
    for (const c of ref.cases) {
      close(ssim(c.a, c.b, c.width, c.height), c.ssim, 1e-10, `SSIM ${c.name}`);
      close(spearman(c.a, c.b), c.spearman, 1e-10, `Spearman ${c.name}`);
    }
  });

  it('comparableMap sums input-space gradients over channels (signed and absolute); layer maps are taken as they are', () => {
    const grad = float32(Float32Array.from([1, -2, 3, 0, /* channel 2 */ -1, -1, 2, 5]), [2, 2, 2]);
    const g = comparableMap({ method: 'saliency', classIndex: 0, raw: grad, display: { kind: 'gradient', grad } }, 4, 4);
    assert.deepEqual([...g.signed], [0, -3, 5, 5]);
    assert.deepEqual([...g.abs], [2, 3, 5, 5]);
    assert.equal(g.shown.length, 16);
    const raw = float32(Float32Array.from([0.5, -1, 2, 0]), [2, 2]);
    const m = comparableMap({ method: 'cam', classIndex: 0, raw, display: { kind: 'heatmap', map: Float32Array.from([0.5, 0, 1, 0.25]), width: 2, height: 2 } }, 2, 2);
    assert.deepEqual([...m.signed], [0.5, -1, 2, 0]);
    assert.deepEqual([...m.abs], [0.5, 1, 2, 0]);
    assert.deepEqual([...m.shown], [0.5, 0, 1, 0.25]);
  });

  it('the control class is another class of the model, the same for the same seed', () => {
    for (let seed = 0; seed < 200; seed++) {
      const k = controlClass(1000, 281, seed);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 1000 && k !== 281);
      assert.equal(controlClass(1000, 281, seed), k);
    }
    assert.equal(controlClass(2, 0, 5), 1);
    assert.equal(controlClass(2, 1, 5), 0);
  });
});
