import { toScores } from '../context.js';
import { gradientMoments } from '../quantities.js';
import { defineCriterion } from './types.js';

export const fisherDiag = defineCriterion({
  name: 'fisher_diag',
  summary: 'empirical Fisher diagonal F (mean squared mask-batch gradient)',
  formula: 'F = (1/B) Σ_b g_b²',
  doc: 'The empirical-Fisher diagonal of the paper: the mean over mask batches of the squared batch gradient, per sample at mask batch 1. A cheap curvature estimate, without the weight itself.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'gradient-moments',
  defaults: () => ({ temperature: 1 }),
  score: (ctx, o) => toScores(ctx, gradientMoments(ctx, 'fisher_diag', o.temperature).fisher),
});
