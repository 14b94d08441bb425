import { mapScores, toScores } from '../context.js';
import { BASE_DEFAULTS, type Criterion } from './types.js';

export const random: Criterion = {
  name: 'random',
  summary: 'uniformly random ranking from the seeded stream "random"',
  formula: 'u ~ U(0, 1) per weight',
  needsData: false,
  uses: [],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx) => {
    const g = ctx.gen.stream('random');
    return toScores(ctx, ctx.params.map((p) => mapScores(p, () => g.uniform())));
  },
};
