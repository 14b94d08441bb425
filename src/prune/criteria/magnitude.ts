import { toScores } from '../context.js';
import { mapScores } from '../loops.js';
import { defineCriterion } from './types.js';

export const magnitude = defineCriterion({
  name: 'magnitude',
  summary: 'weight magnitude (data-free)',
  formula: '|θ|',
  doc: 'Magnitude pruning at initialisation: keep the largest |θ|. Data-free; at initialisation it mostly follows each layer\'s initialisation scale.',
  needsData: false, drawsRandom: false, iterations: 1, quantity: null,
  defaults: () => ({}),
  score: (ctx) => toScores(ctx, ctx.params.map((p) => mapScores(p, (v) => Math.abs(v)))),
});
