import { mapScores, toScores } from '../context.js';
import { gradientSum } from './passes.js';
import { BASE_DEFAULTS, type Criterion } from './types.js';

export const gradNorm: Criterion = {
  name: 'grad_norm',
  summary: 'magnitude of the mean mask-batch gradient',
  formula: '|(1/B) Σ_b g_b|',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx, o) => {
    const { sum, batches } = gradientSum(ctx, 'grad_norm', o.temperature);
    return toScores(ctx, sum.map((s) => mapScores(s, (i) => Math.abs(s.data[i]! / batches))));
  },
};
