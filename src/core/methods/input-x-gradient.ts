/**
 * Input × Gradient — Shrikumar, Greenside, Shcherbina, Kundaje, "Not Just a Black Box: Learning Important
 * Features Through Propagating Activation Differences", arXiv:1605.01713, 2016, §2; as the first-order
 * attribution in Ancona, Ceolini, Öztireli, Gross, "Towards Better Understanding of Gradient-Based Attribution
 * Methods for Deep Neural Networks", ICLR 2018, §2.1 eq. 2: R_i^c(x) = x_i · ∂S_c(x)/∂x_i.
 */
import { float32 } from '../tensor';
import { channelSumMap, toChw } from './attribution-maps';
import { classGradients } from './input-gradient';
import type { Explanation, Method } from './method';
import { ALL_TARGETS } from './score-target';

/** Input × Gradient: the plain gradient times the input, element by element. */
export const inputXGradient: Method = {
  id: 'input-x-gradient',
  title: 'Input × Gradient',
  citation: 'Shrikumar et al., arXiv:1605.01713, 2016, §2; Ancona et al., ICLR 2018, eq. 2',
  family: 'input',
  targets: ALL_TARGETS,
  async run(explainer, request) {
    const { classes, grads, forward } = await classGradients(explainer, request.input, request, 'plain', 'Input × Gradient');
    const x = toChw(explainer, request.input);
    const explanations = grads.map((g, i): Explanation => {
      const raw = float32(g.data.map((v, j) => v * x.data[j]), g.dims);
      return { method: 'input-x-gradient', classIndex: classes[i], raw, display: { kind: 'heatmap', map: channelSumMap(raw), width: g.dims[2], height: g.dims[1] } };
    });
    return { explanations, forward };
  },
};
