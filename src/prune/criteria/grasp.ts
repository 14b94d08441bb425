// GraSP (Wang et al. 2020): the effect of removing a weight on the gradient norm, θ ⊙ Hg.
//
// `fixed` follows the published method as Synaptic-Flow implements it: T = 200, keep the largest
// θ ⊙ Hg, with g = Σ_b ∇_P CE(f(x_b)/T, y_b) and Hg = ∇_P Σ_b <stop(g), ∇_P CE(f(x_b)/T, y_b)> taken
// over the prunable weights P only (batch-norm, biases and the classifier neither enter g nor receive
// a score; their scores are 0), normalised by |Σ_P θ ⊙ Hg| + 1e-10. Checked against an independent
// PyTorch computation (scripts/make-grasp-fixture.py, test/prune/grasp.test.ts).
// What of the original GraSP code pai does not follow, in either mode, and why: its forward runs in
// train mode (batch statistics) while pai scores every criterion in eval mode, as the paper's code
// does, so that criteria compare on one network; it splits each class-balanced sample into two halves
// for g and Hg, where pai uses the same mask batches for both, as Synaptic-Flow does; and it
// re-initialises the last layer before scoring, which pai never does, so that every criterion scores
// the same initial weights.
//
// `reference` reproduces the paper's released code: T = 1, keeps the largest −θ ⊙ Hg, with g, Hg and
// the normaliser |Σ| over every parameter.

import { zerosLike } from '../../tensor/create.js';
import { restrictTo, toScores } from '../context.js';
import { mapScores, mapScores2, total } from '../loops.js';
import { zip } from '../../tensor/checked.js';
import { hessianGradient } from '../quantities.js';
import { defineCriterion } from './types.js';

export const grasp = defineCriterion({
  name: 'grasp',
  summary: 'gradient-signal preservation θ ⊙ Hg (GraSP), by double backprop',
  formula: 'fixed: θ ⊙ H_PP g_P / (|Σ_P| + 1e-10) over the prunable weights P, T = 200 (others 0); reference: −θ ⊙ Σ_b H_b g / |Σ_all| over every parameter, T = 1',
  doc: 'GraSP (Wang et al. 2020): the change of the gradient norm when a weight is removed, θ ⊙ Hg by double backprop. `fixed`: as published, over the prunable weights only, T = 200, keeping the largest θ ⊙ Hg; `reference`: the paper\'s code, over every parameter, T = 1, keeping the largest −θ ⊙ Hg. Scored in eval mode on the mask batches, without the original\'s data halves or last-layer re-initialisation.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'hessian-gradient',
  defaults: (s) => ({ temperature: s === 'reference' ? 1 : 200 }),
  score: (ctx, o) => {
    const reference = ctx.semantics === 'reference';
    const over = reference ? ctx : restrictTo(ctx, ctx.prunable);
    const hg = hessianGradient(over, 'grasp', o.temperature);
    const sign = reference ? -1 : 1;
    const raw = zip(hg, over.params, 'Hg and parameters').map(([h, p]) => mapScores2(h, p, (hv, t) => sign * t * hv));
    let sumAll = 0;
    for (const t of raw) sumAll = total(t.data, sumAll);
    const norm = reference ? Math.abs(sumAll) : Math.abs(sumAll) + 1e-10;
    const byName = new Map(zip(over.names, raw, 'parameter names and scores'));
    return toScores(ctx, zip(ctx.names, ctx.params, 'parameter names and tensors').map(([name, p]) => {
      const t = byName.get(name);
      return t ? mapScores(t, (v) => v / norm) : zerosLike(p);
    }));
  },
});
