// The empirical-Fisher family of the paper: F = mean over mask batches of the squared batch
// gradient (per-sample at mask batch size 1), its OBD saliency and its Taylor saliency.

import { mapScores, toScores } from '../context.js';
import { gradientMoments } from './passes.js';
import { BASE_DEFAULTS, type Criterion } from './types.js';

export const fisherDiag: Criterion = {
  name: 'fisher_diag',
  summary: 'empirical Fisher diagonal F (mean squared mask-batch gradient)',
  formula: 'F = (1/B) Σ_b g_b²',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx, o) => toScores(ctx, gradientMoments(ctx, 'fisher_diag', o.temperature).fisher),
};

export const fisherPruner: Criterion = {
  name: 'fisher_pruner',
  summary: 'OBD saliency with the empirical Fisher diagonal',
  formula: '½ θ² ⊙ F',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx, o) => {
    const { fisher } = gradientMoments(ctx, 'fisher_pruner', o.temperature);
    return toScores(ctx, fisher.map((f, k) => mapScores(f, (i) => { const t = ctx.params[k]!.data[i]!; return (t * t * f.data[i]!) / 2; })));
  },
};

export const fts: Criterion = {
  name: 'fts',
  summary: 'Fisher Taylor saliency: first- plus second-order Taylor term with F',
  formula: '|θ ⊙ ḡ + ½ θ² ⊙ F|',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...BASE_DEFAULTS }),
  score: (ctx, o) => {
    const { mean, fisher } = gradientMoments(ctx, 'fts', o.temperature);
    return toScores(ctx, fisher.map((f, k) => mapScores(f, (i) => {
      const t = ctx.params[k]!.data[i]!;
      return Math.abs(t * mean[k]!.data[i]! + (t * t * f.data[i]!) / 2);
    })));
  },
};
