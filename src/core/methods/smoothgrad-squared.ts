/**
 * SmoothGrad² — the squared variant of Smilkov et al.'s eq. 2 evaluated by Hooker, Erhan, Kindermans, Kim,
 * "A Benchmark for Interpretability Methods in Deep Neural Networks", NeurIPS 2019, §3 (SG-SQ):
 * M̂_c(x) = (1/n) Σ_{i=1..n} M_c(x + N(0, σ²))².
 */
import { noiseTunnelMethod } from './noise-tunnel';

/** SmoothGrad²: the mean squared attribution over noisy copies of the input. */
export const smoothGradSquared = noiseTunnelMethod({
  id: 'smoothgrad-squared', title: 'SmoothGrad²', citation: 'Hooker et al., NeurIPS 2019, §3 (SmoothGrad of Smilkov et al. 2017 eq. 2, squared)',
  aggregate: (s, c, j) => s.sumSq[c][j] / s.n,
});
