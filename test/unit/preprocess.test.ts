import { strict as assert } from 'node:assert';
import { LookCloserError } from '../../src/core/errors';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { preprocessImage, tensorToView, type ModelInputSpec } from '../../src/core/preprocess/preprocess';
import { PRESETS, resolvePreset } from '../../src/core/preprocess/presets';
import { resizeBilinear, resizePil, resizeRgbaPil } from '../../src/core/preprocess/resize';

function rgba(width: number, height: number, pixels: number[][]): RgbaImage {
  return { width, height, data: Uint8Array.from(pixels.flat()) };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

function throwsKind(fn: () => unknown, kind: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LookCloserError && e.kind === kind && message.test(e.message));
}

/*
 * A 2×2 image: (10,20,30) (40,50,60) / (200,100,0) and a half-transparent (0,0,200,a=128), which composited
 * on white is round((v·128 + 255·127) / 255) = (127,127,227). Pillow's convert('L') of the four pixels
 * (checked with Debian's python3-pil 9.4) is 18, 48, 118, 138.
 */
const IMG = rgba(2, 2, [
  [10, 20, 30, 255],
  [40, 50, 60, 255],
  [200, 100, 0, 255],
  [0, 0, 200, 128],
]);
const R = [10, 40, 200, 127];
const G = [20, 50, 100, 127];
const B = [30, 60, 0, 227];
const L = [18, 48, 118, 138];
const nchw3: ModelInputSpec = { width: 2, height: 2, channels: 3, layout: 'NCHW' };
const nhwc3: ModelInputSpec = { width: 2, height: 2, channels: 3, layout: 'NHWC' };
const nchw1: ModelInputSpec = { width: 2, height: 2, channels: 1, layout: 'NCHW' };

describe('preprocessImage: presets on a hand-computed 2×2 image', () => {
  it('unit: RGB planes scaled by 1/255', () => {
    const { tensor } = preprocessImage(IMG, PRESETS.unit, nchw3);
    assert.deepEqual(tensor.dims, [1, 3, 2, 2]);
    assertClose(tensor.data, [...R, ...G, ...B].map((v) => v / 255));
  });

  it('symmetric: (v/255 - 0.5) / 0.5', () => {
    const { tensor } = preprocessImage(IMG, PRESETS.symmetric, nchw3);
    assertClose(tensor.data, [...R, ...G, ...B].map((v) => (v / 255 - 0.5) / 0.5));
  });

  it('caffe-bgr: B, G, R planes minus 104, 117, 123, unscaled', () => {
    const { tensor } = preprocessImage(IMG, PRESETS['caffe-bgr'], nchw3);
    assertClose(tensor.data, [-74, -44, -104, 123, -97, -67, -17, 10, -113, -83, 77, 4]);
  });

  it('caffe-bgr in NHWC: per pixel B, G, R', () => {
    const { tensor } = preprocessImage(IMG, PRESETS['caffe-bgr'], nhwc3);
    assert.deepEqual(tensor.dims, [1, 2, 2, 3]);
    assertClose(tensor.data, [30 - 104, 20 - 117, 10 - 123, 60 - 104, 50 - 117, 40 - 123, 0 - 104, 100 - 117, 200 - 123, 227 - 104, 127 - 117, 127 - 123]);
  });

  it('mnist: Pillow luma / 255 for a 1-channel model', () => {
    const { tensor, view } = preprocessImage(IMG, PRESETS.mnist, nchw1);
    assert.deepEqual(tensor.dims, [1, 1, 2, 2]);
    assertClose(tensor.data, L.map((v) => v / 255));
    assert.deepEqual([...view.data], L.flatMap((v) => [v, v, v, 255]));
  });

  it('mnist-normalized: (luma/255 - 0.1307) / 0.3081', () => {
    const { tensor } = preprocessImage(IMG, PRESETS['mnist-normalized'], nchw1);
    assertClose(tensor.data, [(18 / 255 - 0.1307) / 0.3081, (48 / 255 - 0.1307) / 0.3081, (118 / 255 - 0.1307) / 0.3081, (138 / 255 - 0.1307) / 0.3081]);
  });

  it('a gray preset on a 3-channel model replicates luma', () => {
    const { tensor } = preprocessImage(IMG, PRESETS.mnist, nchw3);
    assertClose(tensor.data, [...L, ...L, ...L].map((v) => v / 255));
  });

  it('an RGB preset on a 1-channel model uses luma and luma-weighted statistics', () => {
    const { tensor } = preprocessImage(IMG, PRESETS.torchvision, { ...nchw1, width: 2, height: 2 });
    const mean = 0.299 * 0.485 + 0.587 * 0.456 + 0.114 * 0.406;
    const std = 0.299 * 0.229 + 0.587 * 0.224 + 0.114 * 0.225;
    // torchvision's default shorter side for a 2×2 input is round(2·256/224) = 2, so nothing is resized.
    assertClose(tensor.data, L.map((v) => (v / 255 - mean) / std));
  });

  it('alpha is composited on white: a fully transparent pixel becomes 255', () => {
    const img = rgba(2, 2, [
      [0, 0, 0, 0],
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 255, 255],
    ]);
    const { view } = preprocessImage(img, PRESETS.unit, nchw3);
    assert.deepEqual([...view.data.subarray(0, 4)], [255, 255, 255, 255]);
  });
});

/*
 * A 4×3 image whose pixel (x, y) is (10x + y, 100 + 10x + y, 200 + 10x + y). With the shorter side kept at 3,
 * torchvision's CenterCrop(2) takes left = round((4-2)/2) = 1 and top = round((3-2)/2) = round(0.5) = 0
 * (Python rounds halves to even), so the crop shows pixels x = 1..2, y = 0..1.
 */
const GRID: RgbaImage = (() => {
  const px: number[][] = [];
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) px.push([10 * x + y, 100 + 10 * x + y, 200 + 10 * x + y, 255]);
  return rgba(4, 3, px);
})();

describe('preprocessImage: center crop', () => {
  it('torchvision: crops the middle the way CenterCrop rounds, then normalises', () => {
    const p = { ...PRESETS.torchvision, resizeShorter: 3 };
    const { tensor, crop } = preprocessImage(GRID, p, nchw3);
    assert.deepEqual(crop, { x: 1, y: 0, width: 2, height: 2 });
    const r = [10, 20, 11, 21];
    assertClose(tensor.data, [
      ...r.map((v) => (v / 255 - 0.485) / 0.229),
      ...r.map((v) => ((v + 100) / 255 - 0.456) / 0.224),
      ...r.map((v) => ((v + 200) / 255 - 0.406) / 0.225),
    ]);
  });

  it('inception: the same crop with (v/255 - 0.5) / 0.5 in NHWC', () => {
    const p = { ...PRESETS.inception, resizeShorter: 3 };
    const { tensor } = preprocessImage(GRID, p, nhwc3);
    const n = (v: number): number => (v / 255 - 0.5) / 0.5;
    assertClose(tensor.data, [10, 20, 11, 21].flatMap((v) => [n(v), n(v + 100), n(v + 200)]));
  });

  it('maps the crop box back to original pixels on a non-square image (500×375 → 341×256 → 224²)', () => {
    const img: RgbaImage = { width: 500, height: 375, data: new Uint8Array(500 * 375 * 4).fill(255) };
    const { crop, view, tensor } = preprocessImage(img, PRESETS.torchvision, { width: 224, height: 224, channels: 3, layout: 'NCHW' });
    // Resize(256): 500×375 → trunc(256·500/375) = 341 × 256; CenterCrop(224): left round(58.5) = 58, top 16.
    assertClose([crop.x, crop.y, crop.width, crop.height], [(58 * 500) / 341, (16 * 375) / 256, (224 * 500) / 341, (224 * 375) / 256], 1e-9);
    assert.equal(view.width, 224);
    assert.deepEqual(tensor.dims, [1, 3, 224, 224]);
  });

  it('portrait images scale the width to the shorter side', () => {
    const img: RgbaImage = { width: 375, height: 500, data: new Uint8Array(375 * 500 * 4).fill(255) };
    const { crop } = preprocessImage(img, PRESETS.inception, { width: 299, height: 299, channels: 3, layout: 'NCHW' });
    // Shorter side round(299·256/224) = 342, long side trunc(342·500/375) = 456;
    // left round((342-299)/2) = round(21.5) = 22, top round((456-299)/2) = round(78.5) = 78 (halves to even).
    assertClose([crop.x, crop.y, crop.width, crop.height], [(22 * 375) / 342, (78 * 500) / 456, (299 * 375) / 342, (299 * 500) / 456], 1e-9);
  });
});

describe('preprocessImage: errors', () => {
  it('rejects a 1×1 image', () => {
    throwsKind(() => preprocessImage(rgba(1, 1, [[1, 2, 3, 255]]), PRESETS.unit, nchw3), 'bad-image', /^Image is 1×1 pixels; Look Closer needs at least 2×2/);
  });

  it('rejects an image over 100 megapixels, naming size and limit', () => {
    const huge: RgbaImage = { width: 20000, height: 10000, data: new Uint8Array(0) };
    throwsKind(() => preprocessImage(huge, PRESETS.unit, nchw3), 'bad-image', /20000×10000.*200\.0 megapixels.*100 megapixels/);
  });

  it('rejects data of the wrong length', () => {
    throwsKind(() => preprocessImage({ width: 3, height: 3, data: new Uint8Array(12) }, PRESETS.unit, nchw3), 'bad-image', /malformed/);
  });
});

describe('tensorToView', () => {
  for (const name of Object.keys(PRESETS)) {
    it(`undoes the '${name}' normalisation`, () => {
      const p = { ...PRESETS[name], resizeShorter: 3 };
      for (const spec of [nchw3, nhwc3, nchw1]) {
        const { tensor, view } = preprocessImage(GRID, p, spec);
        assert.deepEqual([...tensorToView(tensor, p, spec).data], [...view.data]);
      }
    });
  }

  it('clamps out-of-range values and rejects mismatched dims', () => {
    const t = { type: 'float32' as const, dims: [1, 1, 2, 2], data: Float32Array.from([-5, 0.6, 2, NaN]) };
    assert.deepEqual([...tensorToView(t, PRESETS.unit, nchw1).data], [0, 0, 0, 255, 153, 153, 153, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
    throwsKind(() => tensorToView(t, PRESETS.unit, nchw3), 'bad-input', /\[1, 1, 2, 2\].*\[1, 3, 2, 2\]/);
  });
});

describe('resolvePreset', () => {
  it('returns presets by name and lists valid names for unknown ones', () => {
    assert.equal(resolvePreset('torchvision'), PRESETS.torchvision);
    throwsKind(() => resolvePreset('imagenet'), 'bad-argument', /Unknown preprocessing preset 'imagenet'.*torchvision, caffe-bgr, mnist/);
    throwsKind(() => resolvePreset({ preset: 'nope' }), 'bad-argument', /Valid presets/);
  });

  it('applies a sidecar override on top of a preset', () => {
    const p = resolvePreset({ preset: 'torchvision', resize: 'squash', mean: [0.5], std: [0.25] });
    assert.deepEqual(p, { name: "custom (based on 'torchvision')", resize: 'squash', channels: 'rgb', scale: 1 / 255, mean: [0.5], std: [0.25] });
    assert.deepEqual(resolvePreset({ preset: 'mnist-normalized' }), PRESETS['mnist-normalized']);
    assert.equal(resolvePreset({ channels: 'bgr' }).scale, 1 / 255);
  });

  it('validates override fields', () => {
    throwsKind(() => resolvePreset({ std: [0, 1, 1] }), 'bad-argument', /'std'/);
    throwsKind(() => resolvePreset({ mean: [1, 2] }), 'bad-argument', /'mean'/);
    throwsKind(() => resolvePreset({ resize: 'fit' as 'squash' }), 'bad-argument', /'resize'/);
    throwsKind(() => resolvePreset({ channels: 'hsv' as 'rgb' }), 'bad-argument', /'channels'/);
  });
});

/*
 * Expected values from Debian's python3-pil 9.4.0:
 *   arr[y, x, c] = (37x + 53y + 91c) % 256, a 7×5 RGB image;
 *   numpy.array(Image.fromarray(arr, 'RGB').resize(size, Image.BILINEAR)).flatten()
 */
const PIL_SRC: RgbaImage = (() => {
  const px: number[][] = [];
  for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) px.push([0, 1, 2].map((c) => (x * 37 + y * 53 + c * 91) % 256).concat(255));
  return rgba(7, 5, px);
})();
const PIL_RESIZED: Record<string, number[]> = {
  '3x2': [85, 156, 112, 152, 153, 94, 148, 95, 160, 174, 121, 121, 116, 117, 166, 113, 155, 111],
  '11x8': [
    0, 91, 182, 17, 108, 199, 40, 131, 199, 64, 155, 60, 87, 178, 13, 111, 202, 37, 135, 226, 61, 158, 179, 84, 182, 40, 108, 205, 40, 131,
    222, 57, 148, 23, 114, 205, 40, 131, 171, 63, 154, 120, 87, 178, 53, 110, 201, 36, 134, 225, 60, 158, 178, 84, 181, 121, 107, 205, 53, 131,
    167, 63, 154, 133, 80, 171, 56, 147, 222, 73, 164, 130, 96, 186, 22, 120, 200, 46, 143, 218, 69, 167, 242, 93, 191, 114, 117, 210, 49, 140,
    224, 73, 164, 115, 96, 187, 22, 113, 204, 89, 180, 95, 106, 197, 76, 129, 205, 55, 153, 117, 79, 176, 91, 102, 200, 115, 126, 224, 89, 150,
    199, 82, 173, 111, 106, 197, 75, 129, 220, 55, 146, 237, 123, 214, 49, 140, 194, 66, 163, 158, 89, 187, 70, 113, 181, 45, 136, 154, 69, 160,
    178, 93, 184, 152, 116, 185, 64, 140, 158, 72, 163, 174, 89, 180, 191, 156, 247, 82, 173, 154, 99, 196, 45, 122, 220, 59, 146, 156, 78, 169,
    27, 102, 193, 51, 126, 217, 69, 149, 174, 83, 173, 45, 105, 196, 47, 122, 213, 64, 189, 136, 115, 206, 102, 132, 216, 64, 155, 148, 88, 179,
    91, 111, 202, 44, 135, 226, 68, 159, 158, 91, 182, 98, 115, 206, 51, 138, 151, 64, 155, 102, 81, 212, 47, 138, 229, 64, 155, 229, 87, 178,
    90, 111, 202, 43, 134, 225, 67, 158, 249, 91, 182, 110, 114, 205, 40, 138, 229, 64, 161, 113, 87, 178, 13, 104,
  ],
  '4x9': [
    19, 110, 189, 77, 168, 54, 145, 185, 71, 203, 50, 129, 37, 128, 170, 95, 186, 55, 163, 158, 89, 176, 64, 147, 66, 157, 138, 124, 215, 56,
    192, 114, 118, 131, 86, 176, 96, 181, 96, 154, 153, 80, 199, 97, 148, 97, 115, 206, 125, 204, 51, 183, 69, 109, 200, 86, 177, 65, 144, 235,
    154, 172, 80, 172, 70, 138, 116, 115, 178, 88, 173, 129, 183, 138, 110, 155, 77, 168, 54, 145, 170, 112, 188, 49, 205, 93, 139, 111, 106, 197,
    83, 174, 126, 141, 143, 71, 219, 66, 157, 84, 124, 215, 101, 192, 99, 159, 116, 85,
  ],
  '7x3': [
    23, 114, 205, 60, 151, 132, 97, 188, 23, 134, 225, 60, 171, 152, 97, 208, 43, 134, 135, 80, 171, 106, 197, 89, 143, 177, 69, 180, 72, 106,
    160, 109, 143, 197, 89, 180, 92, 126, 160, 72, 163, 197, 189, 134, 115, 226, 61, 152, 117, 98, 189, 44, 135, 226, 81, 172, 117, 118, 209, 44,
    155, 100, 81,
  ],
};

function rgbOf(img: RgbaImage): number[] {
  return [...img.data].filter((_, i) => i % 4 !== 3);
}

describe('resizeRgbaPil matches Pillow BILINEAR byte for byte', () => {
  for (const [key, expected] of Object.entries(PIL_RESIZED)) {
    it(`7×5 → ${key.replace('x', '×')}`, () => {
      const [w, h] = key.split('x').map(Number);
      const out = resizeRgbaPil(PIL_SRC, w, h);
      assert.equal(out.width, w);
      assert.equal(out.height, h);
      assert.deepEqual(rgbOf(out), expected);
    });
  }

  it('squash preprocessing shows the model exactly the Pillow-resized image', () => {
    const { view } = preprocessImage(PIL_SRC, PRESETS.unit, { width: 3, height: 2, channels: 3, layout: 'NCHW' });
    assert.deepEqual(rgbOf(view), PIL_RESIZED['3x2']);
  });
});

describe('float resampling', () => {
  /*
   * f[y, x] = 1.7x - 2.3y + (x·y % 3) as float32, 6×4; expected values from
   * numpy.array(Image.fromarray(f, 'F').resize(size, Image.BILINEAR)) with python3-pil 9.4.0.
   */
  const F = new Float32Array(24);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) F[y * 6 + x] = x * 1.7 - y * 2.3 + ((x * y) % 3);

  it('resizePil matches Pillow mode F downscaling (antialiased)', () => {
    assertClose(resizePil(F, 6, 4, 4, 3), [
      0.0599999837577343, 2.7655556201934814, 4.954444408416748, 7.660000324249268, -2.25, 0.9055554866790771, 2.694444417953491, 5.912499904632568,
      -5.347499847412109, -2.8211112022399902, -0.49888885021209717, 2.065000057220459,
    ]);
    assertClose(resizePil(F, 6, 4, 2, 7), [
      2.125, 6.375, 1.6160714626312256, 5.955357074737549, 0.8017857074737549, 5.283928394317627, -0.38750001788139343, 4.049999713897705,
      -1.710714340209961, 2.6553571224212646, -3.596428632736206, 0.6982142329216003, -4.775000095367432, -0.5249999761581421,
    ]);
  });

  it('resizePil and resizeBilinear agree with Pillow when upscaling', () => {
    const expected = [
      0.0, 0.85, 1.9833333492279053, 3.116666793823242, 4.25, 5.383333206176758, 6.516666889190674, 7.650000095367432, 8.5, -1.61, -0.41,
      1.19, 2.79, 3.34, 3.89, 5.49, 7.09, 8.29, -3.45, -1.85, 0.03333333134651184, 1.1666666269302368, 1.55, 2.183333396911621,
      4.316666603088379, 5.7, 6.55, -5.29, -3.74, -2.0233333110809326, -1.3566666841506958, -0.69, 0.3266666829586029, 2.3933331966400146, 3.41,
      3.91, -6.9, -6.05, -4.916666507720947, -3.7833333015441895, -2.65, -1.5166666507720947, -0.38333332538604736, 0.75, 1.6,
    ];
    assertClose(resizePil(F, 6, 4, 9, 5), expected);
    assertClose(resizeBilinear(F, 6, 4, 9, 5), expected);
  });

  it('resizeBilinear uses half-pixel centres without antialiasing', () => {
    // Sample points (x + 0.5)·w/outW - 0.5, clamped to the edges: 2 → 4 gives -0.25, 0.25, 0.75, 1.25.
    assertClose(resizeBilinear(Float32Array.from([0, 1]), 2, 1, 4, 1), [0, 0.25, 0.75, 1]);
    // 4 → 2 samples at 0.5 and 2.5 only (cv2 INTER_LINEAR), ignoring the neighbours an antialiased filter would mix in.
    assertClose(resizeBilinear(Float32Array.from([0, 10, 20, 30]), 4, 1, 2, 1), [5, 25]);
    // Interleaved channels are resampled independently.
    assertClose(resizeBilinear(Float32Array.from([0, 100, 1, 200]), 2, 1, 4, 1, 2), [0, 100, 0.25, 125, 0.75, 175, 1, 200]);
  });
});
