import { strict as assert } from 'node:assert';
import { LookCloserError } from '../../src/core/errors';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { applyColormap, COLORMAPS, colormapIndex, getColormap } from '../../src/core/render/colormap';
import { drawBox, gradientToImage, normalizeMinMax, overlayHeatmap } from '../../src/core/render/overlay';

/**
 * matplotlib's jet segment data (matplotlib/_cm.py, _jet_data) evaluated exactly at i/255 with Python's
 * fractions.Fraction and rounded half up to bytes; it is within 0.5 of matplotlib.colormaps['jet'](i / 255) · 255.
 */
const EXACT_JET =
  '00008000008400008900008d00009200009600009b00009f0000a40000a80000ad0000b20000b60000bb0000bf0000c4' +
  '0000c80000cd0000d10000d60000da0000df0000e40000e80000ed0000f10000f60000fa0000ff0000ff0000ff0000ff' +
  '0001ff0005ff0009ff000dff0011ff0015ff0019ff001dff0021ff0025ff0029ff002dff0031ff0035ff0039ff003dff' +
  '0041ff0045ff0049ff004dff0051ff0055ff0059ff005dff0061ff0065ff0069ff006dff0071ff0075ff0079ff007dff' +
  '0081ff0085ff0089ff008dff0091ff0095ff0099ff009dff00a1ff00a5ff00a9ff00adff00b1ff00b5ff00b9ff00bdff' +
  '00c1ff00c5ff00c9ff00cdff00d1ff00d5ff00d9ff00ddfe00e1fb00e5f802e9f406edf109f1ee0cf5eb0ff9e713fde4' +
  '16ffe119ffde1cffdb1fffd723ffd426ffd129ffce2cffca30ffc733ffc436ffc139ffbe3cffba40ffb743ffb446ffb1' +
  '49ffad4dffaa50ffa753ffa456ffa05aff9d5dff9a60ff9763ff9466ff906aff8d6dff8a70ff8773ff8377ff807aff7d' +
  '7dff7a80ff7783ff7387ff708aff6d8dff6a90ff6694ff6397ff609aff5d9dff5aa0ff56a4ff53a7ff50aaff4dadff49' +
  'b1ff46b4ff43b7ff40baff3cbeff39c1ff36c4ff33c7ff30caff2cceff29d1ff26d4ff23d7ff1fdbff1cdeff19e1ff16' +
  'e4ff13e7ff0febff0ceeff09f1fc06f4f802f8f500fbf100feed00ffea00ffe600ffe200ffde00ffdb00ffd700ffd300' +
  'ffd000ffcc00ffc800ffc400ffc100ffbd00ffb900ffb600ffb200ffae00ffab00ffa700ffa300ff9f00ff9c00ff9800' +
  'ff9400ff9100ff8d00ff8900ff8600ff8200ff7e00ff7a00ff7700ff7300ff6f00ff6c00ff6800ff6400ff6000ff5d00' +
  'ff5900ff5500ff5200ff4e00ff4a00ff4700ff4300ff3f00ff3b00ff3800ff3400ff3000ff2d00ff2900ff2500ff2200' +
  'ff1e00ff1a00ff1600ff1300fa0f00f60b00f10800ed0400e80000e40000df0000da0000d60000d10000cd0000c80000' +
  'c40000bf0000bb0000b60000b20000ad0000a80000a400009f00009b00009600009200008d0000890000840000800000';

function px(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return [...img.data.subarray(i, i + 4)];
}

describe('colormaps', () => {
  it('jet built from matplotlib\'s segment data equals its exact evaluation', () => {
    assert.equal(Buffer.from(COLORMAPS.jet.lut).toString('hex'), EXACT_JET);
  });

  it('every colormap has 256 RGB entries and matches matplotlib at 0, 1/4, 1/2, 3/4 and 1', () => {
    // round(matplotlib.colormaps[name](v)[:3] * 255) for v in (0, 0.25, 0.5, 0.75, 1); jet's 127.5 and
    // 128.5 (exact halves, which matplotlib's floats put on either side) round up.
    const expected: Record<string, number[][]> = {
      jet: [[0, 0, 128], [0, 129, 255], [125, 255, 122], [255, 148, 0], [128, 0, 0]],
      turbo: [[48, 18, 59], [40, 188, 235], [164, 252, 60], [251, 126, 33], [122, 4, 3]],
      viridis: [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
      inferno: [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]],
    };
    assert.deepEqual(Object.keys(COLORMAPS).sort(), Object.keys(expected).sort());
    for (const [name, rows] of Object.entries(expected)) {
      assert.equal(COLORMAPS[name].lut.length, 768);
      assert.deepEqual([...applyColormap(Float32Array.from([0, 0.25, 0.5, 0.75, 1]), name)], rows.flat(), name);
    }
  });

  it('indexes values as matplotlib does, clamping out-of-range values and NaN', () => {
    assert.deepEqual([0, 0.25, 0.999, 1, 1.5, -0.2, NaN].map(colormapIndex), [0, 64, 255, 255, 255, 0, 0]);
  });

  it('rejects unknown names with the list of valid ones', () => {
    assert.throws(
      () => getColormap('rainbow'),
      (e: unknown) => e instanceof LookCloserError && e.kind === 'bad-argument' && /jet, turbo, viridis, inferno/.test(e.message),
    );
  });
});

describe('normalizeMinMax', () => {
  it('maps min to 0 and max to 1', () => {
    assert.deepEqual([...normalizeMinMax(Float32Array.from([2, 4, 6, 3]))], [0, 0.5, 1, 0.25]);
  });

  it('turns a constant map into zeros', () => {
    assert.deepEqual([...normalizeMinMax(Float32Array.from([7, 7, 7]))], [0, 0, 0]);
  });
});

describe('overlayHeatmap', () => {
  const gray: RgbaImage = { width: 4, height: 4, data: new Uint8Array(64).fill(100) };

  it('blends (1 - alpha)·base + alpha·colour', () => {
    for (let i = 3; i < 64; i += 4) gray.data[i] = 255;
    // A 1×1 map of 1 colours everything jet[255] = (128, 0, 0).
    const out = overlayHeatmap(gray, Float32Array.from([1]), 1, 1, { colormap: 'jet' });
    assert.deepEqual(px(out, 2, 3), [114, 50, 50, 255]);
    const heavy = overlayHeatmap(gray, Float32Array.from([1]), 1, 1, { colormap: 'jet', alpha: 0.75 });
    assert.deepEqual(px(heavy, 0, 0), [Math.round(25 + 96), 25, 25, 255]);
  });

  it('upsamples the map bilinearly with half-pixel centres', () => {
    // A 2×1 map [0, 1] over a 4-wide image samples 0, 0.25, 0.75, 1: jet entries 0, 64, 192, 255.
    const out = overlayHeatmap(gray, Float32Array.from([0, 1]), 2, 1, { colormap: 'jet', alpha: 1 });
    const lut = COLORMAPS.jet.lut;
    [0, 64, 192, 255].forEach((k, x) => assert.deepEqual(px(out, x, 1), [lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2], 255]));
  });

  it('composites a transparent base on white and checks its arguments', () => {
    const clear: RgbaImage = { width: 2, height: 2, data: new Uint8Array(16) };
    assert.deepEqual(px(overlayHeatmap(clear, new Float32Array(4), 2, 2, { colormap: 'jet', alpha: 0 }), 1, 1), [255, 255, 255, 255]);
    assert.throws(() => overlayHeatmap(clear, new Float32Array(3), 2, 2, { colormap: 'jet' }), LookCloserError);
    assert.throws(() => overlayHeatmap(clear, new Float32Array(4), 2, 2, { colormap: 'jet', alpha: 2 }), LookCloserError);
  });
});

describe('gradientToImage', () => {
  // deprocess_image: g - mean, / (std + 1e-5), · 0.1 + 0.5, clip, · 255, truncated to uint8.
  const grad = Float32Array.from([1, -1, 0, 0, 2, -2]); // 3 channels × 1 × 2, mean 0
  const std = Math.sqrt(10 / 6);
  const byte = (v: number): number => Math.floor(Math.min(1, Math.max(0, (v / (std + 1e-5)) * 0.1 + 0.5)) * 255);

  it('normalises like pytorch-grad-cam\'s deprocess_image', () => {
    const img = gradientToImage(grad, 3, 1, 2);
    assert.deepEqual([...img.data], [byte(1), byte(0), byte(2), 255, byte(-1), byte(0), byte(-2), 255]);
    assert.deepEqual([byte(1), byte(0), byte(2)], [147, 127, 167]);
  });

  it('shows a BGR gradient as RGB', () => {
    const img = gradientToImage(grad, 3, 1, 2, 'bgr');
    assert.deepEqual([...img.data], [byte(2), byte(0), byte(1), 255, byte(-2), byte(0), byte(-1), 255]);
  });

  it('reads HWC gradients and shows one channel as gray', () => {
    const hwc = gradientToImage(Float32Array.from([1, 0, 2, -1, 0, -2]), 3, 1, 2, 'rgb', 'HWC');
    assert.deepEqual([...hwc.data], [...gradientToImage(grad, 3, 1, 2).data]);
    const g = gradientToImage(Float32Array.from([3, -3]), 1, 1, 2);
    // mean 0, std 3: 3 → floor((3/(3 + 1e-5)·0.1 + 0.5)·255) = floor(152.9999) = 152, -3 → floor(102.00009) = 102.
    assert.deepEqual([...g.data], [152, 152, 152, 255, 102, 102, 102, 255]);
  });
});

describe('drawBox', () => {
  it('draws an outline inside the box and leaves the rest alone', () => {
    const img: RgbaImage = { width: 6, height: 6, data: new Uint8Array(144).fill(10) };
    const out = drawBox(img, { x: 1, y: 1, width: 4, height: 4 }, [255, 0, 0], 1);
    const red = [255, 0, 0, 255];
    const old = [10, 10, 10, 10];
    assert.deepEqual(px(out, 1, 1), red);
    assert.deepEqual(px(out, 4, 4), red);
    assert.deepEqual(px(out, 4, 2), red);
    assert.deepEqual(px(out, 2, 2), old);
    assert.deepEqual(px(out, 3, 3), old);
    assert.deepEqual(px(out, 0, 0), old);
    assert.deepEqual(px(out, 5, 5), old);
    assert.deepEqual(px(img, 1, 1), old, 'input untouched');
  });

  it('clips a thick box at the image edges', () => {
    const img: RgbaImage = { width: 4, height: 4, data: new Uint8Array(64) };
    const out = drawBox(img, { x: -2, y: -2, width: 5, height: 5 }, [0, 255, 0], 2);
    assert.deepEqual(px(out, 2, 2), [0, 255, 0, 255]);
    assert.deepEqual(px(out, 0, 0), [0, 0, 0, 0]);
    assert.deepEqual(px(out, 3, 3), [0, 0, 0, 0]);
  });
});
