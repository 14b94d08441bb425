import { ggnDiagonal } from '../quantities.js';
import { obd } from './forms.js';
import { defineCriterion } from './types.js';

/** Beyond the paper. */
export const ggnPruning = defineCriterion({
  name: 'ggn_pruning',
  summary: 'OBD saliency with the exact Gauss-Newton diagonal',
  formula: '½ θ² ⊙ G',
  doc: 'Beyond the paper: Optimal Brain Damage with the exact Gauss-Newton diagonal G (see ggn_diag): hutch_pruning without the estimator\'s noise where the network is piecewise linear in each weight.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'ggn-diagonal',
  defaults: () => ({ temperature: 200 }),
  score: (ctx, o) => obd(ctx, ggnDiagonal(ctx, 'ggn_pruning', o.temperature)),
});
