// The per-sample quantities the data criteria ask for, each in one place: Σ_b g_b (and the mean
// gradient), Σ_b g_b and Σ_b g_b² (the empirical Fisher), Σ_b H_b g (GraSP), the exact Gauss-Newton
// diagonal and the Hutchinson estimate Σ z ⊙ H z. Every quantity has the paper's loop (one reverse
// pass, C class columns or K Hessian-vector products per mask batch, in eval mode, on the mean
// cross-entropy of logits / T) and, at mask batch 1, a batched form (batched.ts) that computes the
// same estimator for many samples in one pass; this module decides which runs. Criteria call these
// functions and never a backend.

import { grad, noGrad } from '../autograd/graph.js';
import { add, mul, mulScalar, softmax, sum } from '../autograd/ops/index.js';
import { rademacher } from '../tensor/create.js';
import { Tensor, allocate } from '../tensor/tensor.js';
import { hasRank, shapeMin, shapeStr } from '../tensor/shape.js';
import { zip } from '../tensor/checked.js';
import { accumulate, maskBatches, noteOnce, requireData, sampleCount, temperedLoss, zeroScores, type ScoreContext } from './context.js';
import { addMomentsInto, addProductInto, addSquaresInto, divideInPlace, factorColumn } from './loops.js';
import { PruneError } from './types.js';
import { checkPiecewiseLinear } from './piecewise-linear.js';
import { memoised } from './memo.js';
import { batchedApplies, batchedGgnSum, batchedGradientMoments, batchedGradientSum, batchedHutchinsonSum, computeBatchOf } from './batched.js';

function divideAll(ts: readonly Tensor[], by: number): void {
  for (const t of ts) divideInPlace(t.data, by);
}

/** Calls onBatch with each mask batch's gradient (one tensor per parameter): the paper's loop. */
function forEachBatchGradient(ctx: ScoreContext, criterion: string, T: number, onBatch: (g: Tensor[], b: number) => void): number {
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

/** Σ_b g_b over the mask batches, and the number of batches. */
export function gradientSum(ctx: ScoreContext, criterion: string, T: number): { sum: Tensor[]; batches: number } {
  if (batchedApplies(ctx)) {
    const r = batchedGradientSum(ctx, criterion, T);
    return { sum: r.sum, batches: r.samples };
  }
  const acc = zeroScores(ctx);
  const batches = forEachBatchGradient(ctx, criterion, T, (g) => { for (const [gi, a] of zip(g, acc, 'gradients and sums')) accumulate(a, gi); });
  return { sum: acc, batches };
}

/** The mean mask-batch gradient ḡ = (1/B) Σ_b g_b. */
export function meanGradient(ctx: ScoreContext, criterion: string, T: number): Tensor[] {
  const { sum: s, batches } = gradientSum(ctx, criterion, T);
  divideAll(s, batches);
  return s;
}

/** Mean gradient ḡ and mean squared gradient F (the empirical Fisher diagonal) in one pass. */
export function gradientMoments(ctx: ScoreContext, criterion: string, T: number): { mean: Tensor[]; fisher: Tensor[] } {
  const r = batchedApplies(ctx) ? batchedGradientMoments(ctx, criterion, T) : null;
  if (r) {
    divideAll([...r.sum, ...r.squares], r.samples);
    return { mean: r.sum, fisher: r.squares };
  }
  const mean = zeroScores(ctx), fisher = zeroScores(ctx);
  const sums = zip(mean, fisher, 'gradient sums');
  const batches = forEachBatchGradient(ctx, criterion, T, (g) => {
    for (const [gi, [m, f]] of zip(g, sums, 'gradients and sums')) addMomentsInto(m.data, f.data, gi.data);
  });
  divideAll([...mean, ...fisher], batches);
  return { mean, fisher };
}

/** Σ_b H_b g over the context's parameters, g = Σ_b g_b held fixed (GraSP): a loop of double backprops. */
export function hessianGradient(ctx: ScoreContext, criterion: string, T: number): Tensor[] {
  const g = gradientSum(ctx, criterion, T).sum;
  const hg = zeroScores(ctx);
  const data = requireData(ctx, criterion);
  for (const { x, y, index, count } of maskBatches(data, ctx.batchSize)) {
    const gb = grad(temperedLoss(ctx.model, x, y, T), ctx.params, { createGraph: true, allowUnused: true });
    let z: Tensor | null = null;
    for (const [gi, gs] of zip(gb, g, 'batch gradients and the gradient sum')) {
      if (!gi.requiresGrad) continue;
      const term = sum(mul(gi, gs));
      z = z ? add(z, term) : term;
    }
    if (z) {
      const h = grad(z, ctx.params, { allowUnused: true });
      noGrad(() => { for (const [hi, a] of zip(h, hg, 'Hg terms and sums')) accumulate(a, hi); });
    }
    ctx.progress?.(index + 1, count);
  }
  return hg;
}

/**
 * The exact Gauss-Newton diagonal G = mean over samples of diag(Jᵀ H_z J), z = f(x) / T and
 * H_z = diag(p) − p pᵀ the softmax cross-entropy Hessian. H_z = A Aᵀ with columns a_c = √p_c (e_c − p),
 * so diag(Jᵀ H_z J) = Σ_c (Jᵀ a_c)²: one reverse pass per class, no probes. It equals the Hessian
 * diagonal only where the network is piecewise linear in each weight (piecewise-linear.ts); elsewhere
 * it says so once.
 */
export function ggnDiagonal(ctx: ScoreContext, criterion: string, T: number): Tensor[] {
  const where = checkPiecewiseLinear(ctx.model, ctx.inputShape);
  if (!where.holds) {
    noteOnce(ctx, `${criterion}: this model is not piecewise linear in each weight (${where.offending.join(', ')}), so its Gauss-Newton diagonal is not its Hessian diagonal; ${criterion} scores the Gauss-Newton diagonal, which hutch_diag does not estimate here`);
  }
  return memoised(ctx, `ggn-diagonal T=${T}`, () => ggnDiagonalOf(ctx, criterion, T));
}

function ggnDiagonalOf(ctx: ScoreContext, criterion: string, T: number): Tensor[] {
  const r = batchedApplies(ctx) ? batchedGgnSum(ctx, criterion, T) : null;
  if (r) {
    divideAll(r.squares, r.samples);
    return r.squares;
  }
  const data = requireData(ctx, criterion);
  const acc = zeroScores(ctx);
  let batches = 0;
  ctx.model.eval();
  for (const { x, index, count } of maskBatches(data, ctx.batchSize)) {
    const n = shapeMin(criterion, x.shape, 1, 'mask batch')[0];
    // The Gauss-Newton matrix of a batch's mean loss is the mean of its samples' matrices.
    for (let s = 0; s < n; s++) {
      const xs = n === 1 ? x : new Tensor(x.data.subarray(s * (x.size / n), (s + 1) * (x.size / n)), [1, ...x.shape.slice(1)]);
      const out = ctx.model.forward(xs);
      if (!hasRank(out.shape, 2)) throw new PruneError(`${criterion}: model output must be [N, classes], got ${shapeStr(out.shape)}`);
      const C = out.shape[1];
      // The softmax of the tempered logits z = f(x) / T, whose Hessian the factor a_c splits.
      const p = noGrad(() => softmax(T === 1 ? out.detach() : mulScalar(out.detach(), 1 / T), 1)).data;
      for (let c = 0; c < C; c++) {
        const cot = allocate(out.dtype, C);
        if (!factorColumn(p, cot, 0, c, C, T)) continue;
        const g = grad(out, ctx.params, { gradOutputs: [new Tensor(cot, out.shape)], retainGraph: c < C - 1, allowUnused: true });
        noGrad(() => { for (const [gi, a] of zip(g, acc, 'gradients and sums')) addSquaresInto(a.data, gi.data, n); });
      }
    }
    batches = count;
    ctx.progress?.(index + 1, count);
  }
  divideAll(acc, batches);
  return acc;
}

/** What the Hutchinson estimate needs: the temperature, the probes, and whether probes are shared. */
export interface HutchinsonOptions { temperature: number; probes: number; sharedProbes?: boolean }

/**
 * The paper's Hutchinson estimate D = (1/(K B)) Σ_b Σ_k z ⊙ (H_b z), K Rademacher probes z per mask
 * batch from the 'probes' stream, each H_b z an exact double-backprop Hessian-vector product. With
 * sharedProbes each probe is applied to the mean Hessian of a compute batch instead: the same
 * expectation, a larger variance (each probe then averages the Hessians of many samples).
 */
export function hutchinsonDiagonal(ctx: ScoreContext, criterion: string, o: HutchinsonOptions): Tensor[] {
  const K = o.probes;
  if (!Number.isInteger(K) || K < 1) throw new PruneError(`${criterion}: probes must be a positive integer, got ${K}`);
  return memoised(ctx, `hutchinson-diagonal K=${K} T=${o.temperature} shared=${o.sharedProbes === true}`, () => hutchinsonDiagonalOf(ctx, criterion, K, o));
}

function hutchinsonDiagonalOf(ctx: ScoreContext, criterion: string, K: number, o: HutchinsonOptions): Tensor[] {
  if (o.sharedProbes) return hutchinsonLoop({ ...ctx, batchSize: Math.max(ctx.batchSize, computeBatchOf(ctx)) }, criterion, K, o.temperature);
  if (batchedApplies(ctx)) {
    const acc = batchedHutchinsonSum(ctx, criterion, K, o.temperature, ctx.gen.stream('probes'));
    if (acc) {
      divideAll(acc, K * sampleCount(requireData(ctx, criterion)));
      return acc;
    }
  }
  return hutchinsonLoop(ctx, criterion, K, o.temperature);
}

/** The paper's loop: per mask batch one recorded backward pass, then K Hessian-vector products. */
function hutchinsonLoop(ctx: ScoreContext, criterion: string, K: number, temperature: number): Tensor[] {
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
      for (const [gi, z] of zip(g, zs, 'gradients and probes')) {
        if (!gi.requiresGrad) continue;
        const term = sum(mul(gi, z));
        gz = gz ? add(gz, term) : term;
      }
      if (!gz) continue;
      const hz = grad(gz, ctx.params, { retainGraph: true, allowUnused: true });
      const sums = zip(acc, zs, 'sums and probes');
      noGrad(() => { for (const [h, [a, z]] of zip(hz, sums, 'Hz and sums')) addProductInto(a.data, z.data, h.data); });
    }
    batches = count;
    ctx.progress?.(index + 1, count);
  }
  divideAll(acc, K * batches);
  return acc;
}
