/**
 * Saliency — Simonyan, Vedaldi, Zisserman, "Deep Inside Convolutional Networks: Visualising Image
 * Classification Models and Saliency Maps", ICLR 2014 workshop, §3.1: w = ∂S_c/∂I; the map is max_c |w|.
 */
import { inputGradientMethod } from './input-gradient';

/** Saliency: the plain gradient of the class score with respect to the pixels. */
export const saliency = inputGradientMethod({
  id: 'saliency', title: 'Saliency', citation: 'Simonyan et al., Deep Inside Convolutional Networks, 2014, §3.1', mode: 'plain', display: 'heatmap',
});
