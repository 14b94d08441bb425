// GraSP (Wang et al. 2020): the effect of removing a weight on the gradient norm, θ ⊙ Hg.
// `fixed` keeps the largest θ ⊙ Hg with T = 200 as the original GraSP code and Synaptic-Flow do;
// `reference` reproduces the paper's code, which keeps the largest −θ ⊙ Hg with T = 1.

import { grad, noGrad } from '../../autograd/graph.js';
import { add, mul, sum } from '../../autograd/ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import { accumulate, mapScores, maskBatches, requireData, temperedLoss, toScores, zeroScores } from '../context.js';
import { gradientSum } from './passes.js';
import { BASE_DEFAULTS, type Criterion } from './types.js';

export const grasp: Criterion = {
  name: 'grasp',
  summary: 'gradient-signal preservation θ ⊙ Hg (GraSP), by double backprop',
  formula: 'fixed: θ ⊙ Σ_b H_b g / (|Σ_all| + 1e-10), T = 200; reference: −θ ⊙ Σ_b H_b g / |Σ_all|, T = 1',
  needsData: true,
  uses: ['temperature'],
  defaults: (s) => ({ ...BASE_DEFAULTS, temperature: s === 'reference' ? 1 : 200 }),
  score: (ctx, o) => {
    const T = o.temperature;
    const g = gradientSum(ctx, 'grasp', T).sum;
    const hg = zeroScores(ctx);
    const data = requireData(ctx, 'grasp');
    for (const { x, y, index, count } of maskBatches(data, ctx.batchSize)) {
      const gb = grad(temperedLoss(ctx.model, x, y, T), ctx.params, { createGraph: true, allowUnused: true });
      let z: Tensor | null = null;
      gb.forEach((gi, i) => {
        if (!gi.requiresGrad) return;
        const term = sum(mul(gi, g[i]!));
        z = z ? add(z, term) : term;
      });
      if (z) {
        const h = grad(z, ctx.params, { allowUnused: true });
        noGrad(() => h.forEach((hi, i) => accumulate(hg[i]!, hi)));
      }
      ctx.progress?.(index + 1, count);
    }
    const sign = ctx.semantics === 'reference' ? -1 : 1;
    const raw = hg.map((h, k) => mapScores(h, (i) => sign * ctx.params[k]!.data[i]! * h.data[i]!));
    let total = 0;
    for (const t of raw) for (let i = 0; i < t.size; i++) total += t.data[i]!;
    const norm = ctx.semantics === 'reference' ? Math.abs(total) : Math.abs(total) + 1e-10;
    return toScores(ctx, raw.map((t) => mapScores(t, (i) => t.data[i]! / norm)));
  },
};
