// The batch-norm warm-up of the paper: forward passes in train mode without gradients, so only
// the running statistics move; the weights do not change. The model is left in eval mode.

import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/graph.js';
import type { Module } from '../nn/module.js';

export function bnWarmup(model: Module, batches: Iterable<Tensor>, o: { maxBatches?: number; progress?: (done: number) => void } = {}): number {
  const max = o.maxBatches ?? Infinity;
  let done = 0;
  model.train();
  try {
    noGrad(() => {
      for (const x of batches) {
        if (done >= max) break;
        model.forward(x);
        done++;
        o.progress?.(done);
      }
    });
  } finally {
    model.eval();
  }
  return done;
}
