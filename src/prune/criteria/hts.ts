import { hutchinsonDiagonal, meanGradient } from '../quantities.js';
import { taylor } from './forms.js';
import { defineCriterion } from './types.js';

export const hts = defineCriterion({
  name: 'hts',
  summary: 'Hutchinson Taylor saliency: first- plus second-order Taylor term with D',
  formula: 'paper: |θ ⊙ ḡ_T + ½ θ² ⊙ D|; removal: |−θ ⊙ ḡ_T + ½ θ² ⊙ D|; ḡ_T the mean gradient of CE(logits / T)',
  doc: 'The Hutchinson Taylor saliency of the paper: the first-order term with the mean gradient of the tempered loss plus the OBD term with the Hutchinson diagonal. `--taylor-form paper` (default) is the released code\'s sign; `removal` is the second-order loss change of zeroing the weight.',
  needsData: true, drawsRandom: true, iterations: 1, quantity: 'hutchinson-diagonal',
  exact: 'ggn_ts', diagonal: 'hutch_diag',
  defaults: () => ({ temperature: 200, probes: 10, sharedProbes: false, taylorForm: 'paper' }),
  score: (ctx, o) => {
    const d = hutchinsonDiagonal(ctx, 'hts', o);
    return taylor(ctx, meanGradient(ctx, 'hts', o.temperature), d, o.taylorForm);
  },
});
