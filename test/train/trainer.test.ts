// The trainer end to end on the reference backend with a tiny ResNet and tiny data: a run killed
// after one epoch (mid-epoch 2) and resumed ends with the same weights, history and best epoch as
// one never interrupted; selection looks at the validation split only; masks hold; the NaN guard
// names epoch, step and layer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { useBackend, jsBackend } from '../../src/kernels/index.js';
import { linear, sqrt, sumAll, add } from '../../src/autograd/index.js';
import { Module } from '../../src/nn/module.js';
import { createModel } from '../../src/models/index.js';
import { InMemoryDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { trainModel, TrainingError, checkpointPaths, type TrainOptions, type TrainResult, type EpochRecord, type TrainProgress } from '../../src/train/trainer.js';
import { loadCheckpoint, CheckpointError } from '../../src/train/checkpoint.js';

// The reference backend: single-threaded and deterministic, so "identical" means bit for bit.
useBackend(jsBackend);

const root = mkdtempSync(join(tmpdir(), 'pai-trainer-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const SHAPE = [3, 8, 8] as const;
const CLASSES = 4;

function dataset(name: string, n: number, seed: number): InMemoryDataset {
  const g = new Generator(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % CLASSES);
  const pixels = new Uint8Array(n * 192);
  // Class-dependent brightness so that there is something to learn.
  for (let i = 0; i < n; i++) for (let k = 0; k < 192; k++) pixels[i * 192 + k] = Math.min(255, Math.floor(g.uniform() * 128) + 40 * labels[i]!);
  return new InMemoryDataset(name, pixels, labels, SHAPE, { numClasses: CLASSES });
}

const TRAIN = dataset('tiny/train', 48, 1), VAL = dataset('tiny/val', 16, 2), TEST = dataset('tiny/test', 16, 3);

function model() {
  return createModel('resnet20', { width: 1 / 8, imageSize: 8, numClasses: CLASSES, seed: 5 });
}

function masksFor(m: Module): Map<string, Tensor> {
  const g = new Generator(8);
  const out = new Map<string, Tensor>();
  for (const [n, p] of m.namedParameters()) {
    if (p.ndim !== 4) continue;
    out.set(n, new Tensor(Float32Array.from({ length: p.size }, () => (g.uniform() < 0.6 ? 1 : 0)), p.shape));
  }
  return out;
}

function options(dir: string, m: Module, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    train: new DataLoader(TRAIN, { batchSize: 16, shuffle: true, seed: 7, transform: { steps: [{ op: 'flip' }] } }),
    val: new DataLoader(VAL, { batchSize: 8 }),
    test: new DataLoader(TEST, { batchSize: 8 }),
    epochs: 3,
    optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
    schedule: { name: 'multistep', milestones: [2], gamma: 0.2 },
    labelSmoothing: 0.1,
    masks: masksFor(m),
    checkpointDir: dir,
    seed: 7,
    ...extra,
  };
}

const withoutTime = (h: EpochRecord[]) => h.map(({ seconds: _, ...r }) => r);

function sameWeights(a: Module, b: Module): void {
  const sb = b.stateDict();
  for (const [k, t] of a.stateDict()) {
    const u = sb.get(k)!;
    assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), `${k} differs`);
  }
}

let uninterrupted: { model: Module; result: TrainResult } | null = null;

async function reference(): Promise<{ model: Module; result: TrainResult }> {
  if (!uninterrupted) {
    const m = model();
    uninterrupted = { model: m, result: await trainModel(m, options(join(root, 'a'), m)) };
  }
  return uninterrupted;
}

test('resume after a crash mid-epoch 2 gives the same final weights, history and best as an uninterrupted run', async () => {
  const { model: a, result: ra } = await reference();
  assert.equal(ra.history.length, 3);
  assert.equal(ra.resumedFrom, null);

  const dir = join(root, 'b');
  const b1 = model();
  let crashed = false;
  await assert.rejects(trainModel(b1, options(dir, b1, {
    progress: (p) => {
      if (p.phase === 'train' && p.epoch === 2 && p.batch === 2) { crashed = true; throw new Error('simulated kill'); }
    },
  })), /simulated kill/);
  assert.ok(crashed);
  assert.equal(loadCheckpoint<{ epochsDone: number }>(checkpointPaths(dir).last).trainer.epochsDone, 1);

  // A new process: fresh model (its initial weights are overwritten), fresh loaders.
  const b2 = model();
  const rb = await trainModel(b2, options(dir, b2));
  assert.equal(rb.resumedFrom, 1);
  sameWeights(a, b2);
  assert.deepEqual(withoutTime(rb.history), withoutTime(ra.history));
  assert.deepEqual({ ...rb.best, metrics: { ...rb.best.metrics, seconds: 0 } }, { ...ra.best, metrics: { ...ra.best.metrics, seconds: 0 } });
  assert.equal(rb.steps, ra.steps);
  assert.equal(rb.steps, 9);
  assert.deepEqual(rb.lastMetrics, ra.lastMetrics);
  // The lr schedule continued where it was: epoch 3 ran at 0.05 · 0.2.
  assert.ok(Math.abs(rb.history[2]!.lr - 0.01) < 1e-15);

  // Run again: nothing left to train, the stored result comes back.
  const b3 = model();
  const rc = await trainModel(b3, options(dir, b3));
  assert.equal(rc.resumedFrom, 3);
  sameWeights(a, b3);
  assert.deepEqual(withoutTime(rc.history), withoutTime(ra.history));
});

test('the model actually trains, and a different seed would change the weights (the resume check can fail)', async () => {
  const { model: a, result } = await reference();
  assert.ok(result.history[2]!.train_loss < result.history[0]!.train_loss, JSON.stringify(withoutTime(result.history)));
  const c = model();
  await trainModel(c, options(join(root, 'c'), c, { epochs: 3, train: new DataLoader(TRAIN, { batchSize: 16, shuffle: true, seed: 8, transform: { steps: [{ op: 'flip' }] } }) }));
  assert.throws(() => sameWeights(a, c));
});

test('selection uses the validation split only; best and last checkpoints hold masked weights', async () => {
  const { model: a, result } = await reference();
  const vals = result.history.map((r) => r.val!.top1);
  const bestEpoch = vals.indexOf(Math.max(...vals)) + 1;
  assert.equal(result.best.by, 'val_top1');
  assert.equal(result.best.epoch, bestEpoch);
  assert.equal(result.best.value, Math.max(...vals));
  assert.deepEqual(result.best.metrics.test, result.history[bestEpoch - 1]!.test);
  for (const r of result.history) {
    assert.ok(r.val && r.test && r.val.count === 16 && r.test.count === 16);
    assert.ok(r.train_top1 >= 0 && r.train_top1 <= 1 && Number.isFinite(r.train_loss));
  }
  assert.equal(result.lastMetrics.test!.confusion.length, CLASSES);

  const paths = checkpointPaths(join(root, 'a'));
  const best = loadCheckpoint<{ best: { epoch: number } }>(paths.best);
  assert.equal(best.trainer.best.epoch, bestEpoch);
  assert.equal(best.optimizer, null);
  for (const c of [best, loadCheckpoint(paths.last)]) {
    assert.ok(c.masks && c.masks.size > 0);
    for (const [n, m] of c.masks) {
      const w = c.modelState.get(n)!;
      for (let i = 0; i < m.size; i++) if (m.data[i] === 0) assert.equal(w.data[i], 0, `${c.dir}: ${n}[${i}]`);
    }
  }
  const params = new Map(a.namedParameters());
  for (const [n, m] of masksFor(a)) for (let i = 0; i < m.size; i++) if (m.data[i] === 0) assert.equal(params.get(n)!.data[i], 0);
});

test('without a validation split there is no selection: best is the last epoch, the test set decides nothing', async () => {
  const m = model();
  const { val: _, ...o } = options(join(root, 'noval'), m, { epochs: 2, evalEvery: 5 });
  const r = await trainModel(m, o);
  assert.equal(r.best.by, 'last');
  assert.equal(r.best.epoch, 2);
  assert.equal(r.best.value, null);
  // evalEvery 5 > epochs: only the final epoch is evaluated.
  assert.equal(r.history[0]!.test, undefined);
  assert.ok(r.history[1]!.test);
});

test('resume refuses a checkpoint trained with other settings', async () => {
  await reference();
  const m = model();
  await assert.rejects(trainModel(m, options(join(root, 'a'), m, { schedule: { name: 'cosine' } })), (e: Error) => e instanceof CheckpointError && /schedule/.test(e.message));
  const other = masksFor(m);
  const [k, t] = [...other][0]!;
  other.set(k, new Tensor(new Float32Array(t.size).fill(1), t.shape));
  await assert.rejects(trainModel(m, options(join(root, 'a'), m, { masks: other })), new RegExp(`masks differ.*${k.replace(/\./g, '\\.')}`));
});

test('progress reports images/s and an ETA', async () => {
  const m = model();
  const seen: TrainProgress[] = [];
  const { val: _v, test: _t, ...o } = options(join(root, 'p'), m, { epochs: 2, progress: (p) => seen.push(p) });
  await trainModel(m, { ...o, checkpointDir: undefined });
  const train = seen.filter((p) => p.phase === 'train');
  assert.equal(train.length, 6);
  assert.deepEqual(train.map((p) => p.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(train.every((p) => p.batches === 3 && p.imagesPerSec > 0 && p.etaSeconds !== undefined && p.etaSeconds >= 0));
  assert.equal(train[5]!.etaSeconds, 0);
  assert.equal(existsSync(join(root, 'p')), false);
});

test('NaN guard: a non-finite input stops training naming the epoch, the step and the first layer', async () => {
  const m = model();
  const loader = new DataLoader(TRAIN, { batchSize: 16 });
  const batches = [...loader.batchesSync(0)];
  const bad = batches[2]!.x.data.slice();
  bad[5] = Infinity;
  const poisoned = [batches[0]!, batches[1]!, { x: new Tensor(bad, batches[2]!.x.shape), y: batches[2]!.y }];
  let n = 0;
  await assert.rejects(trainModel(m, { train: (e) => (e === 0 ? batches : poisoned), epochs: 2, optimizer: { name: 'sgd', lr: 0.01 }, onEpoch: () => { n++; } }), (e: Error) => {
    assert.ok(e instanceof TrainingError, String(e));
    assert.equal(e.epoch, 2);
    assert.equal(e.step, 6);
    assert.equal(e.batch, 2);
    assert.equal(e.parameter, 'conv.weight');
    // A function source does not know its batch count, so none is printed.
    assert.match(e.message, /epoch 2, step 6 \(batch 3\)/);
    assert.match(e.message, /conv\.weight/);
    return true;
  });
  assert.equal(n, 1);
});

class SqrtProbe extends Module {
  w: Tensor; s: Tensor;
  constructor() {
    super();
    this.w = this.registerParameter('w', tensor([[0.1, 0.2], [0.3, -0.1], [0.0, 0.5], [0.2, 0.2]]))!;
    this.s = this.registerParameter('s', tensor([0]))!;
  }
  forward(x: Tensor): Tensor {
    // d sqrt(s)/ds at s = 0 is infinite while the value, and the loss, stay finite.
    return add(linear(x, this.w), sumAll(sqrt(this.s)));
  }
}

test('NaN guard: a finite loss with an infinite gradient names that parameter', async () => {
  const batch = { x: tensor([[1, 2], [3, 4]]), y: Int32Array.from([0, 1]) };
  await assert.rejects(trainModel(new SqrtProbe(), { train: [batch], epochs: 1, optimizer: { name: 'adamw' } }), (e: Error) => {
    assert.ok(e instanceof TrainingError);
    assert.equal(e.parameter, 's');
    assert.equal(e.step, 1);
    assert.match(e.message, /non-finite gradient in s .*epoch 1, step 1/);
    return true;
  });
});
