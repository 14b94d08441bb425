// Beyond the paper: the exact Gauss-Newton diagonal G = mean over samples of diag(Jᵀ H_z J), with
// z = f(x) / T and H_z = diag(p) − p pᵀ the softmax cross-entropy Hessian. H_z = A Aᵀ with columns
// a_c = √p_c (e_c − p), so diag(Jᵀ H_z J) = Σ_c (Jᵀ a_c)²: one reverse pass per class, no probes.
// For networks that are piecewise linear in each weight (ReLU, eval-mode batch norm, convolution,
// pooling) this is exactly the Hessian diagonal the Hutchinson estimator targets, without its noise.

import { grad, noGrad } from '../../autograd/graph.js';
import { mulScalar, softmax } from '../../autograd/ops/index.js';
import { Tensor, allocate } from '../../tensor/tensor.js';
import { shapeStr } from '../../tensor/shape.js';
import { mapScores, maskBatches, requireData, toScores, zeroScores, type ScoreContext } from '../context.js';
import { PruneError } from '../types.js';
import { gradientSum } from './passes.js';
import { batchedApplies, batchedGgnSum } from './batched.js';
import { BASE_DEFAULTS, type Criterion, type CriterionOptions } from './types.js';

/** The exact Gauss-Newton diagonal of the tempered loss, one backward pass per class and sample. */
export function ggnDiagonal(ctx: ScoreContext, o: CriterionOptions, criterion = 'ggn_diag'): Tensor[] {
  // At mask batch 1 the mean over samples: one backward per class column over a whole batch.
  const r = batchedApplies(ctx) ? batchedGgnSum(ctx, criterion, o.temperature) : null;
  if (r) {
    for (const t of r.squares) for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! / r.samples;
    return r.squares;
  }
  return ggnDiagonalLoop(ctx, o, criterion);
}

/** ggnDiagonal by the loop: C reverse passes per sample. */
export function ggnDiagonalLoop(ctx: ScoreContext, o: CriterionOptions, criterion = 'ggn_diag'): Tensor[] {
  const data = requireData(ctx, criterion);
  const T = o.temperature;
  const acc = zeroScores(ctx);
  let batches = 0;
  ctx.model.eval();
  for (const { x, index, count } of maskBatches(data, ctx.batchSize)) {
    const n = x.shape[0]!;
    // The Gauss-Newton matrix of a batch's mean loss is the mean of its samples' matrices.
    for (let s = 0; s < n; s++) {
      const xs = n === 1 ? x : new Tensor(x.data.subarray(s * (x.size / n), (s + 1) * (x.size / n)), [1, ...x.shape.slice(1)]);
      const out = ctx.model.forward(xs);
      if (out.ndim !== 2) throw new PruneError(`${criterion}: model output must be [N, classes], got ${shapeStr(out.shape)}`);
      const C = out.shape[1]!;
      // The softmax of the tempered logits z = f(x) / T, whose Hessian the factor a_c splits.
      const p = noGrad(() => softmax(T === 1 ? out.detach() : mulScalar(out.detach(), 1 / T), 1)).data;
      for (let c = 0; c < C; c++) {
        const sc = Math.sqrt(p[c]!);
        if (sc === 0) continue;
        const cot = allocate(out.dtype, C);
        for (let j = 0; j < C; j++) cot[j] = (sc * ((j === c ? 1 : 0) - p[j]!)) / T;
        const g = grad(out, ctx.params, { gradOutputs: [new Tensor(cot, out.shape)], retainGraph: c < C - 1, allowUnused: true });
        noGrad(() => g.forEach((gi, i) => {
          const a = acc[i]!.data, d = gi.data;
          for (let j = 0; j < a.length; j++) a[j] = a[j]! + (d[j]! * d[j]!) / n;
        }));
      }
    }
    batches = count;
    ctx.progress?.(index + 1, count);
  }
  for (const t of acc) for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! / batches;
  return acc;
}

const GGN_DEFAULTS: CriterionOptions = { ...BASE_DEFAULTS, temperature: 200 };

export const ggnDiag: Criterion = {
  name: 'ggn_diag',
  summary: 'exact Gauss-Newton diagonal (the zero-variance limit of hutch_diag)',
  formula: 'G = mean_n Σ_c (J_nᵀ a_c)², a_c = √p_c (e_c − p), logits / T',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...GGN_DEFAULTS }),
  score: (ctx, o) => toScores(ctx, ggnDiagonal(ctx, o)),
};

export const ggnPruning: Criterion = {
  name: 'ggn_pruning',
  summary: 'OBD saliency with the exact Gauss-Newton diagonal',
  formula: '½ θ² ⊙ G',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...GGN_DEFAULTS }),
  score: (ctx, o) => {
    const d = ggnDiagonal(ctx, o, 'ggn_pruning');
    return toScores(ctx, d.map((h, k) => mapScores(h, (i) => { const t = ctx.params[k]!.data[i]!; return (t * t * h.data[i]!) / 2; })));
  },
};

export const ggnTs: Criterion = {
  name: 'ggn_ts',
  summary: 'Taylor saliency with the exact Gauss-Newton diagonal',
  formula: '|θ ⊙ ḡ_T + ½ θ² ⊙ G|',
  needsData: true,
  uses: ['temperature'],
  defaults: () => ({ ...GGN_DEFAULTS }),
  score: (ctx, o) => {
    const d = ggnDiagonal(ctx, o, 'ggn_ts');
    const { sum: gs, batches } = gradientSum(ctx, 'ggn_ts', o.temperature);
    return toScores(ctx, d.map((h, k) => mapScores(h, (i) => {
      const t = ctx.params[k]!.data[i]!;
      return Math.abs((t * gs[k]!.data[i]!) / batches + (t * t * h.data[i]!) / 2);
    })));
  },
};
