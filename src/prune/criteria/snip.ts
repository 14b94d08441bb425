import { mapScores, toScores } from '../context.js';
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
    const raw = sum.map((s, k) => mapScores(s, (i) => Math.abs(ctx.params[k]!.data[i]! * s.data[i]!)));
    let total = 0;
    for (const t of raw) for (let i = 0; i < t.size; i++) total += t.data[i]!;
    const norm = Math.abs(total);
    return toScores(ctx, raw.map((t) => mapScores(t, (i) => t.data[i]! / norm)));
  },
});
