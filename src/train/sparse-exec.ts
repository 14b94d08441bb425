// Sparse execution during training: the trainer's pruned layers run as SparseConv2d / SparseLinear
// (src/nn/sparse.ts) while checkpoints, results and the caller's model stay in the dense form.
//
// Optimiser equivalence: masked dense training zeroes the pruned gradients before every step and
// the pruned weights after it, so a pruned weight's momentum / Adam moments stay exactly 0 and the
// update of a kept weight depends only on kept quantities (SGD's coupled weight decay and AdamW's
// decoupled decay are element-wise). An optimiser over the kept values alone therefore takes the
// same steps. Its state is the dense state gathered at the kept entries, and scattered back (zeros
// elsewhere) whenever the dense optimiser must hold it: before a checkpoint and at the end.

import type { Module } from '../nn/module.js';
import { densifyModel, sparseLayers, sparsifyModel, DEFAULT_MIN_SPARSITY, type SparsifyReport } from '../nn/sparse.js';
import { gatherSparseValues, scatterSparseValues, type SparsePattern } from '../autograd/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { createOptimizer, type Optimizer, type OptimizerSpec, type OptimizerState } from './optim.js';

/** true = the default threshold; an object picks the minimum layer sparsity that runs sparse. */
export type SparseExecutionOption = boolean | { minSparsity?: number };

export function minSparsityOf(o: SparseExecutionOption): number {
  return typeof o === 'object' ? o.minSparsity ?? DEFAULT_MIN_SPARSITY : DEFAULT_MIN_SPARSITY;
}

/** Training with the pruned layers swapped for sparse ones, and back to the dense form for checkpoints and the result. */
export class SparseTraining {
  readonly report: SparsifyReport;
  /** The optimiser over the sparse model's parameters; the trainer steps this one. */
  readonly optimizer: Optimizer;
  private patterns = new Map<string, SparsePattern>();
  private sparse = true;

  /**
   * Converts `model` in place and builds the sparse optimiser from the dense one's state (which a
   * resumed run has just loaded).
   */
  constructor(private readonly model: Module, private readonly masks: ReadonlyMap<string, Tensor>, private readonly minSparsity: number,
    private readonly dense: Optimizer, spec: OptimizerSpec) {
    this.report = sparsifyModel(model, masks, { minSparsity });
    for (const [name, m] of sparseLayers(model)) this.patterns.set(`${name}.weight`, m.pattern);
    this.optimizer = createOptimizer(model.namedParameters(), spec);
    this.optimizer.loadStateDict(this.mapState(dense.stateDict(), 'gather'));
  }

  /** Names of the parameters that run sparse (`layer.weight`). */
  get sparseParameters(): string[] {
    return [...this.patterns.keys()];
  }

  /** Dense modules back in place and the dense optimiser holding the current state. */
  toDense(): void {
    if (!this.sparse) return;
    this.dense.loadStateDict(this.mapState(this.optimizer.stateDict(), 'scatter'));
    densifyModel(this.model);
    this.sparse = false;
  }

  /** The same sparse modules (same parameter tensors) back in place after toDense. */
  toSparse(): void {
    if (this.sparse) return;
    sparsifyModel(this.model, this.masks, { minSparsity: this.minSparsity });
    this.sparse = true;
  }

  private mapState(s: OptimizerState, how: 'gather' | 'scatter'): OptimizerState {
    const buffers = new Map<string, Tensor>();
    for (const [key, t] of s.buffers) {
      const param = key.slice(0, key.lastIndexOf('.'));
      const pt = this.patterns.get(param);
      buffers.set(key, pt ? (how === 'gather' ? gatherSparseValues(t, pt) : scatterSparseValues(t, pt)) : t);
    }
    return { ...s, buffers };
  }
}
