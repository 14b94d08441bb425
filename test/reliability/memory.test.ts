// Resource bounds over a long run. Memory: 1,000 training steps through the whole input path (a
// shuffling, augmenting DataLoader, masks, SGD with momentum and weight decay, a validation pass
// every epoch) keep the heap, the typed-array stores and the RSS flat after warm-up. (The 300-step
// test in test/train isolates the trainer on a fixed pool of batches.) Disk: the score cache stays
// under its byte limit through many writes of entries of mixed sizes, from two cache objects on
// one folder (two processes), and what usage() reports is what is on disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { setNumThreads } from '../../src/kernels/index.js';
import { createModel } from '../../src/models/index.js';
import { InMemoryDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { trainModel } from '../../src/train/trainer.js';
import { makeMasks, prunableSet, scoreParameters, ScoreCache, scoreCacheKey } from '../../src/prune/index.js';
import { assertFlat, memoryReport, memorySlope, sampleMemory, type MemorySample } from '../helpers/memory.js';

setNumThreads(1);

function images(n: number, seed: number): InMemoryDataset {
  const g = new Generator(seed, 'images');
  return new InMemoryDataset(`noise-${seed}`, Uint8Array.from({ length: n * 256 }, () => g.int(256)), Int32Array.from({ length: n }, (_, i) => i % 10), [1, 16, 16], { numClasses: 10 });
}

test('1,000 training steps through the data loader: heap, arrayBuffers and RSS stay flat after warm-up', { timeout: 120_000 }, async (t) => {
  const model = createModel('lenet5', { imageSize: 16, width: 0.5, seed: 1 });
  const masks = makeMasks(scoreParameters(model, 'magnitude', null, { inputShape: [1, 16, 16] }), prunableSet(model), 0.9, 'global');
  const steps = 10; // per epoch: 80 images at batch 8
  const train = new DataLoader(images(80, 1), {
    batchSize: 8, shuffle: true, seed: 2,
    transform: { steps: [{ op: 'randomCrop', size: 16, padding: 2 }, { op: 'flip' }, { op: 'normalize', mean: [0.5], std: [0.25] }] },
  });
  const val = new DataLoader(images(20, 3), { batchSize: 20, transform: { steps: [{ op: 'normalize', mean: [0.5], std: [0.25] }] } });
  const samples: MemorySample[] = [];
  const t0 = performance.now();
  const r = await trainModel(model, {
    train, val, epochs: 100, masks,
    optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    schedule: { name: 'cosine' },
    // The first 200 steps are warm-up (JIT, pools, lazily built kernels).
    onEpoch: async (rec) => {
      const step = rec.epoch * steps;
      if (step >= 200 && step % 100 === 0) samples.push(await sampleMemory(step));
    },
  });
  assert.equal(r.steps, 1000);
  assert.equal(samples.length, 9);
  const perStep = (k: 'heap' | 'buffers' | 'rss'): string => memorySlope(samples, k).toFixed(0);
  t.diagnostic(`${((performance.now() - t0) / 1000).toFixed(1)} s; ${memoryReport(samples)}; slope (bytes/step): heap ${perStep('heap')}, arrayBuffers ${perStep('buffers')}, rss ${perStep('rss')}`);
  // A step here allocates ~0.1 MB of activations and gradients: 800 retained steps would be ~80 MB,
  // one retained tensor of the smallest layer per step still ~0.5 MB. The per-epoch history (100
  // records with validation metrics) is the only thing meant to grow.
  assertFlat(samples, { heap: 2 ** 20, buffers: 2 ** 20, rss: 16 * 2 ** 20 });
  assert.ok(memorySlope(samples, 'heap') < 1024, `heap grows ${perStep('heap')} bytes/step`);
});

test('score cache: disk use stays under the limit through many writes, and usage() reports it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-cache-bound-'));
  try {
    const model = createModel('lenet5', { imageSize: 16, width: 0.5, seed: 1 });
    const g = new Generator(5, 'sizes');
    const scoresOf = (n: number): Map<string, Tensor> => new Map([['w', new Tensor(Float32Array.from({ length: n }, () => g.uniform()), [n])]]);
    const maxBytes = 64 * 1024;
    // Two caches on one folder, as two processes sharing it would be.
    const caches = [new ScoreCache({ dir, maxBytes, onWarning: () => {} }), new ScoreCache({ dir, maxBytes, onWarning: () => {} })];
    const onDisk = (): number => readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    let stored = 0;
    for (let i = 0; i < 200; i++) {
      // Entries from 40 bytes to 40 KiB of scores, and now and then one that fills the cache
      // alone: its data fits the limit, its file (data and header) does not.
      const n = i % 37 === 0 ? maxBytes / 4 - 8 : 10 + g.int(10_000);
      const cache = caches[i % 2]!;
      cache.put(scoreCacheKey({ modelName: `m${i}`, model, criterion: 'magnitude', data: null }), scoresOf(n));
      const u = cache.usage();
      assert.ok(u.bytes <= maxBytes, `after write ${i}: ${u.bytes} bytes in the cache, limit ${maxBytes}`);
      assert.equal(u.bytes, onDisk(), `after write ${i}: usage() reports what is on disk`);
      assert.equal(u.entries.length, readdirSync(dir).length, `after write ${i}: no temporaries or strays`);
      assert.equal(u.maxBytes, maxBytes);
      stored += n * 4;
    }
    assert.ok(stored > 50 * maxBytes, 'the writes were far more than the cache holds');
    assert.ok(caches[0]!.usage().entries.length > 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
