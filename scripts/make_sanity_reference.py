#!/usr/bin/env python3
"""Reference values for the sanity checks' similarity measures (src/core/sanity/similarity.ts).

SSIM: Wang, Bovik, Sheikh & Simoncelli, "Image Quality Assessment: From Error Visibility to Structural
Similarity", IEEE TIP 2004, eq. 13 averaged over window positions (eq. 17), written out in numpy with the
paper's 11x11 circular-symmetric Gaussian window (sigma 1.5, normalised to unit sum), K1 = 0.01, K2 = 0.03,
dynamic range L = 1, and only window positions that fit inside the image (as the authors' ssim_index.m,
filter2 'valid'). The 2-D window is applied directly (no separable filtering), so the TypeScript code's
separable passes are checked against an independent computation. A map smaller than 11 px uses the largest
odd window that fits (the TypeScript rule). Spearman: scipy.stats.spearmanr (ties get average ranks).

Writes test/fixtures/sanity-ref/similarity.json with the inputs and the values. Run: python3 scripts/make_sanity_reference.py
"""
import json
import os

import numpy as np
from scipy.stats import spearmanr


def gaussian_window(size, sigma):
    h = (size - 1) / 2
    ax = np.arange(size) - h
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sigma * sigma))
    return g / g.sum()


def filter_valid(x, w):
    k = w.shape[0]
    oh, ow = x.shape[0] - k + 1, x.shape[1] - k + 1
    out = np.zeros((oh, ow))
    for y in range(oh):
        for xx in range(ow):
            out[y, xx] = np.sum(x[y:y + k, xx:xx + k] * w)
    return out


def ssim(a, b, L=1.0):
    side = min(11, a.shape[0], a.shape[1])
    if side % 2 == 0:
        side -= 1
    w = gaussian_window(side, 1.5)
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    mu1, mu2 = filter_valid(a, w), filter_valid(b, w)
    s11 = filter_valid(a * a, w) - mu1 * mu1
    s22 = filter_valid(b * b, w) - mu2 * mu2
    s12 = filter_valid(a * b, w) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s11 + s22 + c2))
    return float(m.mean())


def main():
    rng = np.random.default_rng(2018)
    cases = []
    # A smooth blob and a noisy, shifted copy (values in 0..1, as the shown heat maps are).
    h, w = 24, 32
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((yy - 10) ** 2 + (xx - 14) ** 2) / 40.0)
    noisy = np.clip(0.7 * np.roll(blob, 3, axis=1) + 0.3 * rng.random((h, w)), 0, 1)
    cases.append(('blob vs shifted noisy blob', blob, noisy))
    cases.append(('uniform noise vs uniform noise', rng.random((h, w)), rng.random((h, w))))
    cases.append(('blob vs itself darkened', blob, 0.5 * blob))
    # Smaller than the window: 9x7 uses a 7x7 window.
    cases.append(('9x7 map, 7x7 window', rng.random((9, 7)), rng.random((9, 7))))
    # Ties: maps quantised to 4 levels (Spearman's average ranks matter).
    q1 = np.floor(rng.random((12, 12)) * 4) / 3
    q2 = np.floor(np.clip(q1 + 0.4 * rng.random((12, 12)), 0, 0.999) * 4) / 3
    cases.append(('quantised maps with ties', q1, q2))
    out = []
    for name, a, b in cases:
        a = a.astype(np.float32).astype(np.float64)
        b = b.astype(np.float32).astype(np.float64)
        out.append({
            'name': name, 'height': a.shape[0], 'width': a.shape[1],
            'a': a.ravel().tolist(), 'b': b.ravel().tolist(),
            'ssim': ssim(a, b), 'spearman': float(spearmanr(a.ravel(), b.ravel()).correlation),
        })
    path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'sanity-ref', 'similarity.json')
    with open(path, 'w') as f:
        json.dump({'generator': 'scripts/make_sanity_reference.py', 'numpy': np.__version__, 'window': '11x11 Gaussian, sigma 1.5 (smaller maps: largest odd side that fits), valid positions', 'K1': 0.01, 'K2': 0.03, 'L': 1, 'cases': out}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
