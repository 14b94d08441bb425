import { toScores } from '../context.js';
import { mapScores } from '../loops.js';
import { defineCriterion } from './types.js';

export const random = defineCriterion({
  name: 'random',
  summary: 'uniformly random ranking from the seeded stream "random"',
  formula: 'u ~ U(0, 1) per weight',
  doc: 'Random pruning: every weight gets an independent uniform score from the experiment seed\'s "random" stream, so the mask is a uniformly random subset of the prunable weights of the requested size. The baseline every PaI criterion must beat.',
  needsData: false, drawsRandom: true, iterations: 1, quantity: null,
  defaults: () => ({}),
  score: (ctx) => {
    const g = ctx.gen.stream('random');
    return toScores(ctx, ctx.params.map((p) => mapScores(p, () => g.uniform())));
  },
});
