// The Hutchinson family of the paper: D = mean over mask batches and K Rademacher probes z of
// z ⊙ (H_b z), with H_b the Hessian of the mean cross-entropy of logits / T (T = 200, K = 10),
// each H_b z an exact double-backprop Hessian-vector product; its OBD and Taylor saliencies.

import { grad, noGrad } from '../../autograd/graph.js';
import { add, mul, sum } from '../../autograd/ops/index.js';
import { rademacher } from '../../tensor/create.js';
import type { Tensor } from '../../tensor/tensor.js';
import { mapScores, maskBatches, requireData, temperedLoss, toScores, zeroScores, type ScoreContext } from '../context.js';
import { gradientSum } from './passes.js';
import { batchedApplies, batchedHutchinsonSum, computeBatchOf } from './batched.js';
import { BASE_DEFAULTS, type Criterion, type CriterionOptions } from './types.js';

/** The Hutchinson estimate of the Hessian diagonal: the mean over mask batches and probes z of z ⊙ (H z). */
export function hutchinsonDiagonal(ctx: ScoreContext, o: CriterionOptions, criterion = 'hutch_diag'): Tensor[] {
  const K = o.probes;
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`${criterion}: probes must be a positive integer, got ${K}`);
  if (o.sharedProbes) return hutchinsonLoop({ ...ctx, batchSize: Math.max(ctx.batchSize, computeBatchOf(ctx)) }, K, o.temperature, criterion);
  if (batchedApplies(ctx)) {
    const acc = batchedHutchinsonSum(ctx, criterion, K, o.temperature, ctx.gen.stream('probes'));
    if (acc) {
      const n = requireData(ctx, criterion).x.shape[0]!;
      for (const t of acc) for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! / (K * n);
      return acc;
    }
  }
  return hutchinsonLoop(ctx, K, o.temperature, criterion);
}

/** The paper's loop: per mask batch one recorded backward pass, then K Hessian-vector products. */
export function hutchinsonLoop(ctx: ScoreContext, K: number, temperature: number, criterion = 'hutch_diag'): Tensor[] {
  const data = requireData(ctx, criterion);
  const probes = ctx.gen.stream('probes');
  const acc = zeroScores(ctx);
  let batches = 0;
  ctx.model.eval();
  for (const { x, y, index, count } of maskBatches(data, ctx.batchSize)) {
    const g = grad(temperedLoss(ctx.model, x, y, temperature), ctx.params, { createGraph: true, allowUnused: true });
    for (let k = 0; k < K; k++) {
      const zs = ctx.params.map((p) => rademacher(p.shape, probes, { dtype: p.dtype }));
      let gz: Tensor | null = null;
      g.forEach((gi, i) => {
        if (!gi.requiresGrad) return;
        const term = sum(mul(gi, zs[i]!));
        gz = gz ? add(gz, term) : term;
      });
      if (!gz) continue;
      const hz = grad(gz, ctx.params, { retainGraph: true, allowUnused: true });
      noGrad(() => hz.forEach((h, i) => {
        const a = acc[i]!.data, z = zs[i]!.data, d = h.data;
        for (let j = 0; j < a.length; j++) a[j] = a[j]! + z[j]! * d[j]!;
      }));
    }
    batches = count;
    ctx.progress?.(index + 1, count);
  }
  for (const t of acc) for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! / (K * batches);
  return acc;
}

const HUTCH_DEFAULTS: CriterionOptions = { ...BASE_DEFAULTS, temperature: 200, probes: 10 };

export const hutchDiag: Criterion = {
  name: 'hutch_diag',
  summary: 'Hutchinson estimate of the Hessian diagonal (K Rademacher probes per mask batch)',
  formula: 'D = (1/(K B)) Σ_b Σ_k z ⊙ H_b z, logits / T',
  needsData: true,
  uses: ['temperature', 'probes'],
  defaults: () => ({ ...HUTCH_DEFAULTS }),
  score: (ctx, o) => toScores(ctx, hutchinsonDiagonal(ctx, o)),
};

export const hutchPruning: Criterion = {
  name: 'hutch_pruning',
  summary: 'OBD saliency with the Hutchinson diagonal (signed)',
  formula: '½ θ² ⊙ D',
  needsData: true,
  uses: ['temperature', 'probes'],
  defaults: () => ({ ...HUTCH_DEFAULTS }),
  score: (ctx, o) => {
    const d = hutchinsonDiagonal(ctx, o, 'hutch_pruning');
    return toScores(ctx, d.map((h, k) => mapScores(h, (i) => { const t = ctx.params[k]!.data[i]!; return (t * t * h.data[i]!) / 2; })));
  },
};

export const hts: Criterion = {
  name: 'hts',
  summary: 'Hutchinson Taylor saliency: first- plus second-order Taylor term with D',
  formula: '|θ ⊙ ḡ_T + ½ θ² ⊙ D|, ḡ_T the mean gradient of CE(logits / T)',
  needsData: true,
  uses: ['temperature', 'probes'],
  defaults: () => ({ ...HUTCH_DEFAULTS }),
  score: (ctx, o) => {
    const d = hutchinsonDiagonal(ctx, o, 'hts');
    const { sum: gs, batches } = gradientSum(ctx, 'hts', o.temperature);
    return toScores(ctx, d.map((h, k) => mapScores(h, (i) => {
      const t = ctx.params[k]!.data[i]!;
      return Math.abs((t * gs[k]!.data[i]!) / batches + (t * t * h.data[i]!) / 2);
    })));
  },
};
