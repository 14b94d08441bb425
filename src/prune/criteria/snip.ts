import { toScores } from '../context.js';
import { mapScores, mapScores2, total } from '../loops.js';
import { zip } from '../../tensor/checked.js';
import { gradientSum } from '../quantities.js';
import { defineCriterion } from './types.js';

export const snip = defineCriterion({
  name: 'snip',
  summary: 'connection sensitivity |θ ⊙ g| (SNIP)',
  formula: '|θ ⊙ Σ_b g_b| / Σ_all |θ ⊙ Σ_b g_b|',
  doc: 'SNIP (Lee et al. 2019): connection sensitivity, the first-order change of the loss when a weight is removed, |θ ⊙ g| over the summed mask-batch gradient, normalised over all parameters as the paper\'s code does (the normalisation does not change the ranking).',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'gradient-sum',
  defaults: () => ({ temperature: 1 }),
  score: (ctx, o) => {
    const { sum } = gradientSum(ctx, 'snip', o.temperature);
    const raw = zip(sum, ctx.params, 'gradient sums and parameters').map(([s, p]) => mapScores2(s, p, (g, t) => Math.abs(t * g)));
    let sumAll = 0;
    for (const t of raw) sumAll = total(t.data, sumAll);
    const norm = Math.abs(sumAll);
    return toScores(ctx, raw.map((t) => mapScores(t, (v) => v / norm)));
  },
});
