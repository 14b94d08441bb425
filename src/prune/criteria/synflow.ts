// SynFlow (Tanaka et al. 2020): data-free synaptic flow through the network with every weight and
// statistic made non-negative, scored on an all-ones input. Iterated by the pruning loop.

import { grad } from '../../autograd/graph.js';
import { sum } from '../../autograd/ops/index.js';
import { ones } from '../../tensor/create.js';
import { toScores } from '../context.js';
import { absInPlace, mapScores2 } from '../loops.js';
import { zip } from '../../tensor/checked.js';
import { defineCriterion } from './types.js';

export const synflow = defineCriterion({
  name: 'synflow',
  summary: 'synaptic flow |θ ⊙ ∂R/∂θ| of the |θ|-network on an all-ones input (data-free)',
  formula: '|θ ⊙ ∂R/∂θ|, R = Σ f_|θ|(1)',
  doc: 'SynFlow (Tanaka et al. 2020): every state-dict entry (batch-norm statistics included) replaced by its absolute value, R the sum of the outputs on an all-ones input, score |θ ⊙ ∂R/∂θ|. Data-free. It avoids layer collapse only when iterated: by default 100 prune-rescore iterations on an exponential schedule of the kept fraction (`fixed`), or the paper\'s shipped schedule (`reference`).',
  needsData: false, drawsRandom: false, iterations: 100, quantity: null,
  defaults: () => ({}),
  score: (ctx) => {
    const model = ctx.model;
    model.eval();
    const state = [...model.stateDict().values()];
    const saved = state.map((t) => t.data.slice());
    try {
      for (const t of state) absInPlace(t.data);
      const x = ones([1, ...ctx.inputShape], { dtype: ctx.params[0]?.dtype ?? 'float32' });
      const r = sum(model.forward(x));
      const g = grad(r, ctx.params, { allowUnused: true });
      return toScores(ctx, zip(g, ctx.params, 'gradients and parameters').map(([gi, p]) => mapScores2(gi, p, (gv, t) => Math.abs(t * gv))));
    } finally {
      for (const [t, s] of zip(state, saved, 'state and its saved copy')) t.data.set(s);
    }
  },
});
