/**
 * SmoothGrad — Smilkov, Thorat, Kim, Viégas, Wattenberg, "SmoothGrad: removing noise by adding noise",
 * arXiv:1706.03825, 2017, §3 eq. 2: M̂_c(x) = (1/n) Σ_{i=1..n} M_c(x + N(0, σ²)).
 */
import { noiseTunnelMethod } from './noise-tunnel';

/** SmoothGrad: the mean attribution over noisy copies of the input. */
export const smoothGrad = noiseTunnelMethod({
  id: 'smoothgrad', title: 'SmoothGrad', citation: 'Smilkov et al., SmoothGrad, arXiv:1706.03825, 2017, eq. 2',
  aggregate: (s, c, j) => s.sum[c][j] / s.n,
});
