// Training does not accumulate memory: after a warm-up, 300 steps of a tiny masked model leave the
// JS heap (after a forced collection) and the resident set where they were, within small bounds.
// A retained graph, gradient or per-step tensor would grow the heap by its size every step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { setNumThreads } from '../../src/kernels/index.js';
import { createModel } from '../../src/models/index.js';
import { trainModel } from '../../src/train/trainer.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
setNumThreads(1);

test('300 training steps: heap and RSS stay flat after warm-up', async (t) => {
  const model = createModel('lenet5', { imageSize: 16, width: 0.5, seed: 1 });
  const g = new Generator(3);
  const batches = Array.from({ length: 10 }, () => ({ x: randn([16, 1, 16, 16], g), y: Int32Array.from({ length: 16 }, () => g.int(10)) }));
  const masks = new Map<string, Tensor>();
  for (const [n, p] of model.namedParameters()) if (p.ndim > 1) masks.set(n, new Tensor(Float32Array.from({ length: p.size }, () => (g.uniform() < 0.3 ? 1 : 0)), p.shape));
  const samples: { step: number; heap: number; buffers: number; rss: number }[] = [];
  await trainModel(model, {
    train: batches, epochs: 30, masks,
    optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    // Between epochs nothing of a step is alive; the turn of the event loop lets native
    // finalizers free tensor memory before the second collection.
    onEpoch: async (r) => {
      if (r.epoch % 5 !== 0) return;
      gc();
      await new Promise((res) => setImmediate(res));
      gc();
      const m = process.memoryUsage();
      samples.push({ step: r.epoch * batches.length, heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss });
    },
  });
  assert.equal(samples.length, 6);
  const base = samples[0]!, last = samples[samples.length - 1]!;
  const mb = (b: number) => (b / 2 ** 20).toFixed(2);
  const report = samples.map((s) => `step ${s.step}: heap ${mb(s.heap)} MB, arrayBuffers ${mb(s.buffers)} MB, rss ${mb(s.rss)} MB`).join('; ');
  t.diagnostic(report);
  // One step's graph here is ~0.2 MB (activations of 16 images); 250 retained steps would be ~50 MB.
  assert.ok(last.heap - base.heap < 1 * 2 ** 20, `heap grew ${mb(last.heap - base.heap)} MB: ${report}`);
  // Tensor data lives in typed-array backing stores, outside heapUsed.
  assert.ok(last.buffers - base.buffers < 1 * 2 ** 20, `arrayBuffers grew ${mb(last.buffers - base.buffers)} MB: ${report}`);
  assert.ok(last.rss - base.rss < 16 * 2 ** 20, `rss grew ${mb(last.rss - base.rss)} MB: ${report}`);
});
