import { hutchinsonDiagonal } from '../quantities.js';
import { obd } from './forms.js';
import { defineCriterion } from './types.js';

export const hutchPruning = defineCriterion({
  name: 'hutch_pruning',
  summary: 'OBD saliency with the Hutchinson diagonal (signed)',
  formula: '½ θ² ⊙ D',
  doc: 'Optimal Brain Damage with the Hutchinson estimate D of the Hessian diagonal, signed as in the paper\'s code (a negative estimate ranks low).',
  needsData: true, drawsRandom: true, iterations: 1, quantity: 'hutchinson-diagonal',
  exact: 'ggn_pruning', diagonal: 'hutch_diag',
  defaults: () => ({ temperature: 200, probes: 10, sharedProbes: false }),
  score: (ctx, o) => obd(ctx, hutchinsonDiagonal(ctx, 'hutch_pruning', o)),
});
