// The gradient passes the data-driven criteria share: one reverse pass per mask batch of the
// mean cross-entropy of logits / T, in eval mode, exactly as the paper's loops do. At mask batch 1
// the same quantities come from batched passes (./batched.ts) unless the model refuses them.

import type { Tensor } from '../../tensor/tensor.js';
import { grad, noGrad } from '../../autograd/graph.js';
import { maskBatches, requireData, temperedLoss, zeroScores, accumulate, type ScoreContext } from '../context.js';
import { batchedApplies, batchedGradientMoments, batchedGradientSum } from './batched.js';

/** Calls onBatch with each mask batch's gradient (one tensor per parameter). */
export function forEachBatchGradient(ctx: ScoreContext, criterion: string, T: number, onBatch: (g: Tensor[], b: number) => void): number {
  const data = requireData(ctx, criterion);
  ctx.model.eval();
  let batches = 0;
  for (const { x, y, index, count } of maskBatches(data, ctx.batchSize)) {
    const loss = temperedLoss(ctx.model, x, y, T);
    const g = grad(loss, ctx.params, { allowUnused: true });
    noGrad(() => onBatch(g, index));
    batches = count;
    ctx.progress?.(index + 1, count);
  }
  return batches;
}

/** Sum over mask batches of the batch gradients, and the number of batches. */
export function gradientSum(ctx: ScoreContext, criterion: string, T: number): { sum: Tensor[]; batches: number } {
  if (batchedApplies(ctx)) {
    const r = batchedGradientSum(ctx, criterion, T);
    return { sum: r.sum, batches: r.samples };
  }
  return gradientSumLoop(ctx, criterion, T);
}

export function gradientSumLoop(ctx: ScoreContext, criterion: string, T: number): { sum: Tensor[]; batches: number } {
  const sum = zeroScores(ctx);
  const batches = forEachBatchGradient(ctx, criterion, T, (g) => g.forEach((gi, i) => accumulate(sum[i]!, gi)));
  return { sum, batches };
}

/** Mean gradient ḡ and mean squared gradient F (the empirical Fisher diagonal) in one pass. */
export function gradientMoments(ctx: ScoreContext, criterion: string, T: number): { mean: Tensor[]; fisher: Tensor[] } {
  const r = batchedApplies(ctx) ? batchedGradientMoments(ctx, criterion, T) : null;
  if (r) {
    for (const t of [...r.sum, ...r.squares]) for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! / r.samples;
    return { mean: r.sum, fisher: r.squares };
  }
  return gradientMomentsLoop(ctx, criterion, T);
}

/** gradientMoments by the paper's loop: one reverse pass per mask batch. */
export function gradientMomentsLoop(ctx: ScoreContext, criterion: string, T: number): { mean: Tensor[]; fisher: Tensor[] } {
  const mean = zeroScores(ctx), fisher = zeroScores(ctx);
  const batches = forEachBatchGradient(ctx, criterion, T, (g) => {
    g.forEach((gi, i) => {
      const m = mean[i]!.data, f = fisher[i]!.data, d = gi.data;
      for (let j = 0; j < d.length; j++) { const v = d[j]!; m[j] = m[j]! + v; f[j] = f[j]! + v * v; }
    });
  });
  for (const t of [...mean, ...fisher]) for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! / batches;
  return { mean, fisher };
}
