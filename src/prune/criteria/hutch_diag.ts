import { toScores } from '../context.js';
import { hutchinsonDiagonal } from '../quantities.js';
import { defineCriterion } from './types.js';

export const hutchDiag = defineCriterion({
  name: 'hutch_diag',
  summary: 'Hutchinson estimate of the Hessian diagonal (K Rademacher probes per mask batch)',
  formula: 'D = (1/(K B)) Σ_b Σ_k z ⊙ H_b z, logits / T',
  doc: 'The paper\'s Hutchinson estimate of the Hessian diagonal of the cross-entropy of logits / T (T = 200, K = 10 by default): K Rademacher probes z per mask batch, each H_b z an exact Hessian-vector product by double backprop. Unbiased; its variance comes from the off-diagonal Hessian terms and falls as 1/K.',
  needsData: true, drawsRandom: true, iterations: 1, quantity: 'hutchinson-diagonal',
  exact: 'ggn_diag', diagonal: 'hutch_diag',
  defaults: () => ({ temperature: 200, probes: 10, sharedProbes: false }),
  score: (ctx, o) => toScores(ctx, hutchinsonDiagonal(ctx, 'hutch_diag', o)),
});
