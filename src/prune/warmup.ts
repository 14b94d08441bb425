// The batch-norm warm-up of the paper: forward passes in train mode without gradients, so only
// the running statistics move; the weights do not change. The model is left in eval mode.

import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/graph.js';
import { z } from 'zod';
import { isModule, type Module } from '../nn/module.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';

const warmupOptionsSchema = z.strictObject({ maxBatches: is.positiveInt.optional(), progress: is.func.optional() });

/**
 * The batch-norm warm-up: runs `batches` through `model` in train mode without gradients, so the
 * running statistics describe the data before scoring. Returns the number of batches run.
 */
export function bnWarmup(model: Module, batches: Iterable<Tensor>, o: { maxBatches?: number; progress?: (done: number) => void } = {}): number {
  checkArgument('bnWarmup', 'model', isModule, model);
  checkArgument('bnWarmup', 'batches', is.iterable, batches);
  checkOptions('bnWarmup', warmupOptionsSchema, o);
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
