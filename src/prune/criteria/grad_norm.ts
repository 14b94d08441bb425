import { toScores } from '../context.js';
import { mapScores } from '../loops.js';
import { meanGradient } from '../quantities.js';
import { defineCriterion } from './types.js';

export const gradNorm = defineCriterion({
  name: 'grad_norm',
  summary: 'magnitude of the mean mask-batch gradient',
  formula: '|(1/B) Σ_b g_b|',
  doc: 'Gradient norm: the magnitude of the mean gradient of the (tempered) cross-entropy over the mask batches, as the paper\'s code computes it. First order, without the weight itself.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'gradient-sum',
  defaults: () => ({ temperature: 1 }),
  score: (ctx, o) => toScores(ctx, meanGradient(ctx, 'grad_norm', o.temperature).map((g) => mapScores(g, (v) => Math.abs(v)))),
});
