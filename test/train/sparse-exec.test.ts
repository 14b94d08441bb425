// Training with sparse execution takes the same steps as masked dense training: a small pruned CNN
// trained with SGD momentum (and AdamW) ends with the same weights, losses, checkpoints and
// optimiser state within float tolerance; the model and checkpoints come back in the dense form;
// a run resumed from a sparse run's checkpoint continues it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import type { Module } from '../../src/nn/module.js';
import { Conv2d } from '../../src/nn/layers.js';
import { sparseLayers } from '../../src/nn/sparse.js';
import { createModel } from '../../src/models/index.js';
import { InMemoryDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { trainModel, checkpointPaths, type TrainOptions } from '../../src/train/trainer.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import type { OptimizerSpec } from '../../src/train/optim.js';
import { useBackend, jsBackend } from '../../src/kernels/index.js';

// The reference backend accumulates dense and sparse products alike in float64, so the two runs
// differ only by the order of a few float64 additions; the native one rounds in float32, which a
// few steps of training amplify past any tight tolerance (its kernels are tested on their own).
useBackend(jsBackend);

const root = mkdtempSync(join(tmpdir(), 'pai-sparse-exec-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const CLASSES = 4;
function dataset(name: string, n: number, seed: number): InMemoryDataset {
  const g = new Generator(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % CLASSES);
  const pixels = new Uint8Array(n * 3 * 16 * 16);
  for (let i = 0; i < n; i++) for (let k = 0; k < 768; k++) pixels[i * 768 + k] = Math.min(255, Math.floor(g.uniform() * 128) + 40 * labels[i]!);
  return new InMemoryDataset(name, pixels, labels, [3, 16, 16], { numClasses: CLASSES });
}
const TRAIN = dataset('tiny/train', 48, 1), VAL = dataset('tiny/val', 16, 2);

const model = (): Module => createModel('resnet20', { width: 1 / 2, imageSize: 16, numClasses: CLASSES, seed: 5 });

/** Masks for every convolution: most at 0.95 sparsity (sparse), the first at 0.5 (stays dense, masked). */
function masksFor(m: Module): Map<string, Tensor> {
  const g = new Generator(8);
  const out = new Map<string, Tensor>();
  for (const [name, mod] of m.namedModules()) {
    if (!(mod instanceof Conv2d)) continue;
    const s = name === 'conv' ? 0.5 : 0.95;
    out.set(`${name}.weight`, new Tensor(Float32Array.from({ length: mod.weight.size }, () => (g.uniform() < s ? 0 : 1)), mod.weight.shape));
  }
  return out;
}

function options(dir: string, m: Module, optimizer: OptimizerSpec, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    train: new DataLoader(TRAIN, { batchSize: 16, shuffle: true, seed: 7 }),
    val: new DataLoader(VAL, { batchSize: 8 }),
    epochs: 2, optimizer, masks: masksFor(m), checkpointDir: dir, seed: 7, ...extra,
  };
}

function closeMaps(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>, what: string, tol = 1e-5): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: keys`);
  for (const [k, ta] of a) {
    const tb = b.get(k)!;
    assert.deepEqual(tb.shape, ta.shape, `${what} ${k}: shape`);
    let scale = 0;
    for (let i = 0; i < ta.size; i++) scale = Math.max(scale, Math.abs(ta.data[i]!));
    for (let i = 0; i < ta.size; i++) {
      assert.ok(Math.abs(ta.data[i]! - tb.data[i]!) <= tol * Math.max(scale, 1e-6), `${what} ${k}[${i}]: dense ${ta.data[i]} vs sparse ${tb.data[i]}`);
    }
  }
}

const OPTIMIZERS: OptimizerSpec[] = [
  { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
  { name: 'adamw', lr: 0.01, weightDecay: 0.05 },
];

for (const opt of OPTIMIZERS) {
  test(`${opt.name}: sparse execution trains like masked dense training and writes the same checkpoints`, async () => {
    const a = model(), b = model();
    const da = join(root, `${opt.name}-dense`), db = join(root, `${opt.name}-sparse`);
    const ra = await trainModel(a, options(da, a, opt));
    const rb = await trainModel(b, options(db, b, opt, { sparseExecution: { minSparsity: 0.9 } }));
    assert.equal(sparseLayers(b).length, 0, 'the model comes back dense');
    closeMaps(a.stateDict(), b.stateDict(), 'final weights');
    for (const [k, mk] of masksFor(b)) {
      const w = b.stateDict().get(k)!;
      for (let i = 0; i < w.size; i++) if (mk.data[i] === 0) assert.equal(w.data[i], 0, `${k}[${i}] pruned but ${w.data[i]}`);
    }
    ra.history.forEach((h, i) => assert.ok(Math.abs(h.train_loss - rb.history[i]!.train_loss) < 1e-6, `epoch ${i + 1} loss ${h.train_loss} vs ${rb.history[i]!.train_loss}`));
    const ca = loadCheckpoint(checkpointPaths(da).last), cb = loadCheckpoint(checkpointPaths(db).last);
    closeMaps(ca.modelState, cb.modelState, 'checkpoint model');
    closeMaps(ca.optimizer!.buffers, cb.optimizer!.buffers, 'checkpoint optimizer state');
    assert.deepEqual(cb.optimizer!.steps, ca.optimizer!.steps);
  });
}

test('a run resumed from a sparse run\'s checkpoint continues it, dense or sparse', async () => {
  const opt = OPTIMIZERS[0]!;
  const ref = model();
  await trainModel(ref, options(join(root, 'ref'), ref, opt));
  for (const resumeSparse of [true, false]) {
    const dir = join(root, `resume-${resumeSparse}`);
    const first = model();
    await trainModel(first, options(dir, first, opt, { epochs: 1, sparseExecution: { minSparsity: 0.9 } }));
    // The schedule is constant, so a 1-epoch run's checkpoint is a prefix of the 2-epoch run.
    const again = model();
    const r = await trainModel(again, options(dir, again, opt, resumeSparse ? { sparseExecution: true } : {}));
    assert.equal(r.resumedFrom, 1);
    closeMaps(ref.stateDict(), again.stateDict(), `resumed (${resumeSparse ? 'sparse' : 'dense'})`);
  }
});
