/**
 * Deconvnet — Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014, §2.1:
 * unpooling through the max-pooling switches, rectification of the reconstruction (R_i = R_{i+1}·[R_{i+1} > 0]),
 * and transposed filtering.
 */
import { inputGradientMethod } from './input-gradient';

/** Deconvnet: ReLUs rectify the backward signal itself; MaxPool routes it through its switches. */
export const deconvnet = inputGradientMethod({
  id: 'deconvnet', title: 'Deconvnet', citation: 'Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014, §2.1', mode: 'deconvnet', display: 'gradient',
});
