import { gradientMoments } from '../quantities.js';
import { obd } from './forms.js';
import { defineCriterion } from './types.js';

export const fisherPruner = defineCriterion({
  name: 'fisher_pruner',
  summary: 'OBD saliency with the empirical Fisher diagonal',
  formula: '½ θ² ⊙ F',
  doc: 'Optimal Brain Damage (LeCun et al. 1990) with the empirical-Fisher diagonal F standing in for the Hessian diagonal: the second-order loss increase of removing a weight at a minimum.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'gradient-moments',
  defaults: () => ({ temperature: 1 }),
  score: (ctx, o) => obd(ctx, gradientMoments(ctx, 'fisher_pruner', o.temperature).fisher),
});
