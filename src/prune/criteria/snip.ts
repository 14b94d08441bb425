import { mapScores, toScores } from '../context.js';
import { gradientSum } from './passes.js';
import { BASE_DEFAULTS, type Criterion } from './types.js';

/** SNIP (Lee et al. 2019): connection sensitivity, normalised over all parameters as the paper's code does. */
export const snip: Criterion = {
  name: 'snip',
  summary: 'connection sensitivity |θ ⊙ g| (SNIP)',
  formula: '|θ ⊙ Σ_b g_b| / Σ_all |θ ⊙ Σ_b g_b|',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx, o) => {
    const { sum } = gradientSum(ctx, 'snip', o.temperature);
    const raw = sum.map((s, k) => mapScores(s, (i) => Math.abs(ctx.params[k]!.data[i]! * s.data[i]!)));
    let total = 0;
    for (const t of raw) for (let i = 0; i < t.size; i++) total += t.data[i]!;
    const norm = Math.abs(total);
    return toScores(ctx, raw.map((t) => mapScores(t, (i) => t.data[i]! / norm)));
  },
};
