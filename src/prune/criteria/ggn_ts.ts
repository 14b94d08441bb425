import { ggnDiagonal, meanGradient } from '../quantities.js';
import { taylor } from './forms.js';
import { defineCriterion } from './types.js';

/** Beyond the paper. */
export const ggnTs = defineCriterion({
  name: 'ggn_ts',
  summary: 'Taylor saliency with the exact Gauss-Newton diagonal',
  formula: 'paper: |θ ⊙ ḡ_T + ½ θ² ⊙ G|; removal: |−θ ⊙ ḡ_T + ½ θ² ⊙ G|',
  doc: 'Beyond the paper: the Taylor saliency with the exact Gauss-Newton diagonal G (see ggn_diag): hts without the estimator\'s noise where the network is piecewise linear in each weight. --taylor-form as for hts.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'ggn-diagonal',
  defaults: () => ({ temperature: 200, taylorForm: 'paper' }),
  score: (ctx, o) => {
    const d = ggnDiagonal(ctx, 'ggn_ts', o.temperature);
    return taylor(ctx, meanGradient(ctx, 'ggn_ts', o.temperature), d, o.taylorForm);
  },
});
