// Batched forms of the per-sample criteria. At mask batch size 1 the paper's estimators need one
// gradient (Fisher), one gradient per class column (GGN) or one Hessian-vector product per probe
// (Hutchinson) per sample. In eval mode the samples of a batch do not interact, so one pass over
// computeBatch samples holds all of them; the per-sample extension of the backward pass
// (autograd/per-sample.ts) takes them apart inside the weight-gradient ops. Each function returns
// null, after a one-time note, when the model uses a parameter in a way the extension cannot split;
// the criterion then runs its per-sample loop. The result equals the loop's up to float rounding.

import { grad, noGrad } from '../autograd/graph.js';
import { checkPerSampleGraph, withPerSampleGradients, type PerSampleSink } from '../autograd/per-sample.js';
import { add, mul, mulScalar, softmax, sum } from '../autograd/ops/index.js';
import { scalar } from '../tensor/create.js';
import { backendFor } from '../kernels/index.js';
import { Tensor, allocate } from '../tensor/tensor.js';
import { hasRank, shapeMin, shapeStr } from '../tensor/shape.js';
import { at, zip } from '../tensor/checked.js';
import type { Generator } from '../tensor/random.js';
import { DEFAULT_COMPUTE_BATCH, noteOnce, requireData, sampleCount, temperedLoss, zeroScores, type MaskData, type ScoreContext } from './context.js';
import { addInto, factorColumn } from './loops.js';
import { PruneError } from './types.js';

export function computeBatchOf(ctx: ScoreContext): number {
  return ctx.computeBatch ?? DEFAULT_COMPUTE_BATCH;
}

/** Whether the batched path applies at all: mask batch 1 (per-sample semantics) and batching on. */
export function batchedApplies(ctx: ScoreContext): boolean {
  return ctx.batchSize === 1 && computeBatchOf(ctx) > 1;
}

/** Consecutive sample ranges [s, e) of at most `size` samples. */
function* chunks(n: number, size: number): IterableIterator<[number, number]> {
  for (let s = 0; s < n; s += size) yield [s, Math.min(n, s + size)];
}

function sampleRange(data: MaskData, s: number, e: number): { x: Tensor; y: Int32Array } {
  const per = data.x.size / sampleCount(data);
  return { x: new Tensor(data.x.data.subarray(s * per, e * per), [e - s, ...data.x.shape.slice(1)]), y: data.y.subarray(s, e) };
}

function accumulateInto(acc: Tensor, v: Tensor): void {
  addInto(acc.data, v.data);
}

function refuse(ctx: ScoreContext, criterion: string, why: string): null {
  noteOnce(ctx, `${criterion}: batched per-sample path unavailable for this model (${why}); using the per-sample loop`);
  return null;
}

/** acc += Σ_rows g for g [rows, acc.size]: a ones-vector product accumulated in place, one pass. */
function addRowSum(acc: Tensor, g: Tensor, rows: number): void {
  const ones = allocate(g.dtype, rows).fill(1);
  backendFor(g.dtype).matmul(ones, g.data, acc.data, {
    batch: 1, m: 1, k: rows, n: acc.size, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: true,
  });
}

/**
 * A sink adding Σ_rows g (when `sums`) and Σ_rows g² of every reported chunk into the
 * accumulators. The chunk is the op's fresh per-sample stack, owned by nobody else, so it is
 * squared in place.
 */
function momentSink(sums: Tensor[] | null, squares: Tensor[]): PerSampleSink {
  return {
    moments: (i) => ({ sum: sums ? at(sums, i, 'gradient sums').data : null, squares: at(squares, i, 'gradient squares').data }),
    add: (i, _start, g) => {
      const rows = shapeMin('per-sample gradients', g.shape, 1, 'stack')[0];
      if (sums) addRowSum(at(sums, i, 'gradient sums'), g, rows);
      backendFor(g.dtype).unary('square', g.data, g.data);
      addRowSum(at(squares, i, 'gradient squares'), g, rows);
    },
  };
}

/**
 * Σ_n g_n and Σ_n g_n² over the mask samples, g_n the gradient of sample n's tempered loss, or
 * null when the model cannot be split per sample.
 */
export function batchedGradientMoments(ctx: ScoreContext, criterion: string, T: number): { sum: Tensor[]; squares: Tensor[]; samples: number } | null {
  const data = requireData(ctx, criterion);
  const N = sampleCount(data);
  const sums = zeroScores(ctx), squares = zeroScores(ctx);
  const sink = momentSink(sums, squares);
  ctx.model.eval();
  for (const [s, e] of chunks(N, computeBatchOf(ctx))) {
    const { x, y } = sampleRange(data, s, e);
    const why = withPerSampleGradients(ctx.params, e - s, (ps) => {
      const loss = temperedLoss(ctx.model, x, y, T);
      const bad = checkPerSampleGraph([loss], true);
      if (bad) return bad;
      ps.setSink(sink);
      ps.setMode('report');
      // The loss is the batch mean; per-sample semantics want each sample's own loss.
      grad(loss, ctx.params, { allowUnused: true, gradOutputs: [scalar(e - s, { dtype: loss.dtype })] });
      return ps.unsupported();
    });
    if (why) return refuse(ctx, criterion, why);
    ctx.progress?.(e, N);
  }
  return { sum: sums, squares, samples: N };
}

/**
 * Σ_n g_n over the mask samples: in eval mode the gradient of the summed loss of a batch, no
 * per-sample extension needed.
 */
export function batchedGradientSum(ctx: ScoreContext, criterion: string, T: number): { sum: Tensor[]; samples: number } {
  const data = requireData(ctx, criterion);
  const N = sampleCount(data);
  const acc = zeroScores(ctx);
  ctx.model.eval();
  for (const [s, e] of chunks(N, computeBatchOf(ctx))) {
    const { x, y } = sampleRange(data, s, e);
    const loss = temperedLoss(ctx.model, x, y, T);
    const g = grad(loss, ctx.params, { allowUnused: true, gradOutputs: [scalar(e - s, { dtype: loss.dtype })] });
    for (const [gi, a] of zip(g, acc, 'gradients and sums')) accumulateInto(a, gi);
  }
  return { sum: acc, samples: N };
}

/**
 * Σ_n Σ_c (J_nᵀ a_nc)² over the mask samples (see quantities.ts): one reverse pass per class column over a
 * whole batch, the per-sample squares taken inside it. Null when the model cannot be split.
 */
export function batchedGgnSum(ctx: ScoreContext, criterion: string, T: number): { squares: Tensor[]; samples: number } | null {
  const data = requireData(ctx, criterion);
  const N = sampleCount(data);
  const squares = zeroScores(ctx);
  const sink = momentSink(null, squares);
  ctx.model.eval();
  for (const [s, e] of chunks(N, computeBatchOf(ctx))) {
    const { x } = sampleRange(data, s, e);
    const n = e - s;
    const why = withPerSampleGradients(ctx.params, n, (ps) => {
      const out = ctx.model.forward(x);
      if (!hasRank(out.shape, 2)) throw new PruneError(`${criterion}: model output must be [N, classes], got ${shapeStr(out.shape)}`);
      const bad = checkPerSampleGraph([out], true);
      if (bad) return bad;
      ps.setSink(sink);
      ps.setMode('report');
      const C = out.shape[1];
      const p = noGrad(() => softmax(T === 1 ? out.detach() : mulScalar(out.detach(), 1 / T), 1)).data;
      for (let c = 0; c < C; c++) {
        const cot = allocate(out.dtype, n * C);
        for (let r = 0; r < n; r++) factorColumn(p, cot, r, c, C, T);
        grad(out, ctx.params, { gradOutputs: [new Tensor(cot, out.shape)], retainGraph: c < C - 1, allowUnused: true });
        if (ps.unsupported()) return ps.unsupported();
      }
      return null;
    });
    if (why) return refuse(ctx, criterion, why);
    ctx.progress?.(e, N);
  }
  return { squares, samples: N };
}

/**
 * Σ_n Σ_k z_nk ⊙ (H_n z_nk) over the mask samples with the loop's probes, drawn from `probes` in
 * the loop's order (sample, then probe, then parameter). The K probes of a sample travel through
 * one Hessian-vector product together: the sample is repeated K times in a batch; the first,
 * recorded backward pass forms Σ_rows <g_row, z_row> from per-row probe terms (probe mode), and the
 * second one splits ∂/∂θ of that by row (report mode), row r giving H_n z_r exactly, since rows do
 * not interact in eval mode. Several samples share a pass when computeBatch allows.
 */
export function batchedHutchinsonSum(ctx: ScoreContext, criterion: string, K: number, T: number, probes: Generator): Tensor[] | null {
  const data = requireData(ctx, criterion);
  const N = sampleCount(data);
  const acc = zeroScores(ctx);
  const perChunk = Math.max(1, Math.floor(computeBatchOf(ctx) / K));
  const per = data.x.size / N;
  ctx.model.eval();
  // The probes of a chunk cover every parameter once per row: over a gigabyte for ResNet-18 at 30
  // rows. One buffer per parameter serves every chunk (the generator overwrites it whole), so the
  // memory is faulted in once per call, not once per chunk.
  const zBuf = ctx.params.map((p) => allocate(p.dtype, Math.min(N, perChunk) * K * p.size));
  for (const [s, e] of chunks(N, perChunk)) {
    const rows = (e - s) * K;
    const xr = allocate(data.x.dtype, rows * per);
    const yr = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const n = s + Math.floor(r / K);
      xr.set(data.x.data.subarray(n * per, (n + 1) * per), r * per);
      yr[r] = at(data.y, n, 'mask labels');
    }
    const z = zip(ctx.params, zBuf, 'parameters and probe buffers').map(([p, buf]) => new Tensor(buf.subarray(0, rows * p.size), [rows, ...p.shape]));
    const paramProbes = zip(ctx.params, z, 'parameters and probes');
    for (let r = 0; r < rows; r++) for (const [p, zi] of paramProbes) probes.fillRademacher(zi.data.subarray(r * p.size, (r + 1) * p.size));
    const why = withPerSampleGradients(ctx.params, rows, (ps) => {
      const loss = temperedLoss(ctx.model, new Tensor(xr, [rows, ...data.x.shape.slice(1)]), yr, T);
      const bad = checkPerSampleGraph([loss], false);
      if (bad) return bad;
      ps.setProbes(z);
      ps.setMode('probe');
      grad(loss, ctx.params, { createGraph: true, allowUnused: true, gradOutputs: [scalar(rows, { dtype: loss.dtype })] });
      const terms = ps.takeTerms();
      if (ps.unsupported()) return ps.unsupported();
      if (terms.length === 0) return null;
      const gz = terms.reduce((a, b) => add(a, b));
      const bad2 = checkPerSampleGraph([gz], false);
      if (bad2) return bad2;
      ps.setMode('report');
      ps.setSink({
        probeDot: (i) => ({ z: at(z, i, 'probes').data, acc: at(acc, i, 'sums').data }),
        add: (i, start, h) => noGrad(() => {
          const c = shapeMin('per-sample Hz', h.shape, 1, 'stack')[0], size = h.size / c;
          const zi = new Tensor(at(z, i, 'probes').data.subarray(start * size, (start + c) * size), [c, size]);
          accumulateInto(at(acc, i, 'sums'), sum(mul(new Tensor(h.data, [c, size]), zi), 0));
        }),
      });
      grad(gz, ctx.params, { allowUnused: true });
      return ps.unsupported();
    });
    if (why) return refuse(ctx, criterion, why);
    ctx.progress?.(e, N);
  }
  return acc;
}
