// Training does not accumulate memory: after a warm-up, 300 steps of a tiny masked model leave the
// JS heap (after a forced collection) and the resident set where they were, within small bounds.
// A retained graph, gradient or per-step tensor would grow the heap by its size every step.
// (test/reliability/memory.test.ts does 1,000 steps through the data loader.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { setNumThreads } from '../../src/kernels/index.js';
import { createModel } from '../../src/models/index.js';
import { trainModel } from '../../src/train/trainer.js';
import { assertFlat, memoryReport, sampleMemory, type MemorySample } from '../helpers/memory.js';

setNumThreads(1);

test('300 training steps: heap and RSS stay flat after warm-up', async (t) => {
  const model = createModel('lenet5', { imageSize: 16, width: 0.5, seed: 1 });
  const g = new Generator(3);
  const batches = Array.from({ length: 10 }, () => ({ x: randn([16, 1, 16, 16], g), y: Int32Array.from({ length: 16 }, () => g.int(10)) }));
  const masks = new Map<string, Tensor>();
  for (const [n, p] of model.namedParameters()) if (p.ndim > 1) masks.set(n, new Tensor(Float32Array.from({ length: p.size }, () => (g.uniform() < 0.3 ? 1 : 0)), p.shape));
  const samples: MemorySample[] = [];
  await trainModel(model, {
    train: batches, epochs: 30, masks,
    optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    onEpoch: async (r) => {
      if (r.epoch % 5 === 0) samples.push(await sampleMemory(r.epoch * batches.length));
    },
  });
  assert.equal(samples.length, 6);
  t.diagnostic(memoryReport(samples));
  // One step's graph here is ~0.2 MB (activations of 16 images); 250 retained steps would be ~50 MB.
  assertFlat(samples, { heap: 2 ** 20, buffers: 2 ** 20, rss: 16 * 2 ** 20 });
});
