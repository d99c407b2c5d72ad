/**
 * Guided backpropagation — Springenberg, Dosovitskiy, Brox, Riedmiller, "Striving for Simplicity: The All
 * Convolutional Net", ICLR 2015 workshop, §3.4 and fig. 1: at each rectifier R_i = R_{i+1}·[f_i > 0]·[R_{i+1} > 0].
 */
import { inputGradientMethod } from './input-gradient';

/** Guided backprop: gradients pass a ReLU only where both its input and the gradient are positive. */
export const guidedBackprop = inputGradientMethod({
  id: 'guided-backprop', title: 'Guided backprop', citation: 'Springenberg et al., Striving for Simplicity, ICLR 2015, fig. 1', mode: 'guided', display: 'gradient',
});
