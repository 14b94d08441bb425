// A memo of per-sample quantities between scorings. Criteria built on one quantity (hutch_diag,
// hutch_pruning and hts on one Hutchinson diagonal; ggn_diag, ggn_pruning and ggn_ts on one
// Gauss-Newton diagonal) each compute it in full; a caller that scores several of them on one
// model state and mask data (the mask-level analysis) hands them one memo, and the quantity is
// computed once. An entry is keyed by everything the quantity reads: the model's state dict and the
// mask data (content hashes), the parameters, the mask and compute batch sizes, the seed and stream
// of the context's generator, and the quantity's own options. So a memo shared across model states
// or seeds can only miss, never answer with another state's value.

import type { Tensor } from '../tensor/tensor.js';
import { DEFAULT_COMPUTE_BATCH, type QuantitySource, type ScoreContext } from './context.js';
import { hashMaskData, hashWeights } from './hash.js';

/** Per-sample quantities kept between scorings, so criteria that share one compute it once (see the file comment). */
export class QuantityMemo implements QuantitySource {
  private readonly entries = new Map<string, Tensor[]>();
  /** Lookups answered from the memo. */
  hits = 0;
  /** Quantities computed (and kept). */
  misses = 0;

  /**
   * The value of `compute()` for the context's model state, mask data and settings under `key`
   * (the quantity and its options), computed on the first call only. Every caller gets its own
   * copy, so a criterion may change what it is given.
   */
  value(ctx: ScoreContext, key: string, compute: () => Tensor[]): Tensor[] {
    const full = JSON.stringify([
      key, hashWeights(ctx.model), ctx.data ? hashMaskData(ctx.data) : null, ctx.names, ctx.batchSize,
      ctx.computeBatch ?? DEFAULT_COMPUTE_BATCH, ctx.gen.seed, ctx.gen.path, ctx.semantics,
    ]);
    const kept = this.entries.get(full);
    if (kept) {
      this.hits++;
      return kept.map((t) => t.clone());
    }
    const v = compute();
    this.misses++;
    this.entries.set(full, v.map((t) => t.clone()));
    return v;
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.clear();
  }
}

/** `compute()` through the context's memo when it has one, else computed. */
export function memoised(ctx: ScoreContext, key: string, compute: () => Tensor[]): Tensor[] {
  return ctx.memo ? ctx.memo.value(ctx, key, compute) : compute();
}
