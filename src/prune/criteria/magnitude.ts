import { mapScores, toScores } from '../context.js';
import { BASE_DEFAULTS, type Criterion } from './types.js';

export const magnitude: Criterion = {
  name: 'magnitude',
  summary: 'weight magnitude (data-free)',
  formula: '|θ|',
  needsData: false,
  uses: [],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx) => toScores(ctx, ctx.params.map((p) => mapScores(p, (i) => Math.abs(p.data[i]!)))),
};
