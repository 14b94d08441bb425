import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DataError } from '../../src/data/dataset.js';
import { DATASET_NAMES, datasetInfo, fashionMnistSubsetDir, loadDataset } from '../../src/data/registry.js';
import { loadFashionMnist } from '../../src/data/readers/idx.js';
import { cifarRecords, fullFashionMnistDir, tmp, write, writeIdxSplit } from './fixtures.js';

test('registry: the shipped Fashion-MNIST subset loads, balanced, checksums verified', () => {
  for (const [split, perClass] of [['train', 500], ['test', 100]] as const) {
    const ds = loadDataset('fashion-mnist-subset', split);
    assert.equal(ds.name, `fashion-mnist-subset/${split}`);
    assert.equal(ds.length, perClass * 10);
    assert.deepEqual(ds.shape, [1, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels()) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(perClass));
  }
  assert.equal(loadDataset('fashion-mnist-subset', 'val').length, 1000, "'val' serves the test split");
});

const full = fullFashionMnistDir();
const skipFull = full ? false : 'full Fashion-MNIST not found in /usr/share/datasets/fashion-mnist or ../shared/datasets/fashion-mnist';

test('registry: the subset is the first images of each class of the full set, in file order', { skip: skipFull }, () => {
  for (const [split, perClass] of [['train', 500], ['test', 100]] as const) {
    const fullDs = loadFashionMnist(split, { dataDir: full! });
    const sub = loadDataset('fashion-mnist-subset', split);
    const taken = new Array(10).fill(0);
    const picks: number[] = [];
    const labels = fullDs.labels();
    for (let i = 0; i < labels.length; i++) if (taken[labels[i]!]++ < perClass) picks.push(i);
    assert.equal(picks.length, sub.length);
    for (const k of [0, 1, 77, picks.length - 1]) {
      assert.deepEqual(sub.get(k), fullDs.get(picks[k]!));
    }
  }
});

test('registry: Fashion-MNIST mean and std match the full training set', { skip: skipFull }, () => {
  const ds = loadFashionMnist('train', { dataDir: full!, verify: false });
  let s = 0, s2 = 0;
  const d = ds.data, n = d.length;
  for (let i = 0; i < n; i++) { const v = d[i]!; s += v; s2 += v * v; }
  const mean = s / n / 255;
  const std = Math.sqrt(s2 / n / 65025 - mean * mean);
  const info = datasetInfo('fashion-mnist');
  assert.ok(Math.abs(info.mean[0]! - mean) < 1e-7, `mean ${mean}`);
  assert.ok(Math.abs(info.std[0]! - std) < 1e-7, `std ${std}`);
});

test('registry: dataset info has the paper constants', () => {
  assert.deepEqual(datasetInfo('cifar10').mean, [0.4914, 0.4822, 0.4465]);
  assert.deepEqual(datasetInfo('cifar10').std, [0.2023, 0.1994, 0.2010]);
  assert.deepEqual(datasetInfo('cifar100').std, [0.2675, 0.2565, 0.2761]);
  assert.deepEqual(datasetInfo('tinyimagenet').mean, [0.480, 0.448, 0.397]);
  assert.equal(datasetInfo('imagenet').shape, null);
  for (const name of DATASET_NAMES) {
    const info = datasetInfo(name);
    assert.equal(info.mean.length, info.std.length);
    if (info.shape) assert.equal(info.mean.length, info.shape[0]);
  }
  assert.throws(() => datasetInfo('svhn'), /unknown dataset 'svhn'/);
  assert.ok(fashionMnistSubsetDir().endsWith(join('data', 'fashion-mnist-subset')));
});

test('registry: loadDataset dispatches to the readers with a data dir', (t) => {
  const dir = tmp(t);
  write(join(dir, 'cifar-10-batches-bin', 'test_batch.bin'), cifarRecords([[3], [9]]));
  const c = loadDataset('cifar10', 'test', { dataDir: dir });
  assert.equal(c.name, 'cifar10/test');
  assert.deepEqual([...c.labels()], [3, 9]);
  writeIdxSplit(join(dir, 'mnist'), 'train', 3);
  assert.equal(loadDataset('mnist', 'train', { dataDir: dir }).length, 3);
  assert.throws(() => loadDataset('cifar100', 'train', { dataDir: dir }), DataError);
  assert.throws(() => loadDataset('cifar10', 'dev' as never, { dataDir: dir }), /unknown split/);
});
