import { gradientMoments } from '../quantities.js';
import { taylor } from './forms.js';
import { defineCriterion } from './types.js';

export const fts = defineCriterion({
  name: 'fts',
  summary: 'Fisher Taylor saliency: first- plus second-order Taylor term with F',
  formula: 'paper: |θ ⊙ ḡ + ½ θ² ⊙ F|; removal: |−θ ⊙ ḡ + ½ θ² ⊙ F|',
  doc: 'The Fisher Taylor saliency of the paper: the first-order term θ ⊙ ḡ plus the OBD term with the empirical Fisher. `--taylor-form paper` (default) adds the first-order term as the released code does; `removal` subtracts it, which is the second-order change of the loss when the weight is set to zero.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'gradient-moments',
  defaults: () => ({ temperature: 1, taylorForm: 'paper' }),
  score: (ctx, o) => {
    const { mean, fisher } = gradientMoments(ctx, 'fts', o.temperature);
    return taylor(ctx, mean, fisher, o.taylorForm);
  },
});
