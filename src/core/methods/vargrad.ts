/**
 * VarGrad — Adebayo, Gilmer, Goodfellow, Kim, "Local Explanation Methods for Deep Neural Networks Lack
 * Sensitivity to Parameter Values", ICLR 2018 workshop, §2: the variance of the attribution over noisy copies,
 * M̂_c(x) = (1/n) Σ_i M_c(x + ε_i)² − ((1/n) Σ_i M_c(x + ε_i))², ε_i ~ N(0, σ²) (population variance).
 */
import { noiseTunnelMethod } from './noise-tunnel';

/** VarGrad: the element-wise variance of the attribution over noisy copies of the input. */
export const varGrad = noiseTunnelMethod({
  id: 'vargrad', title: 'VarGrad', citation: 'Adebayo et al., ICLR 2018 workshop, §2',
  aggregate: (s, c, j) => Math.max(0, s.sumSq[c][j] / s.n - (s.sum[c][j] / s.n) ** 2),
});
