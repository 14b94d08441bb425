import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/tensor/random.js';
import type { Dataset, Sample } from '../../src/data/dataset.js';
import { DataLoader, LoaderError, SharedMemoryDataset, datasetSpecOf, type Batch } from '../../src/data/loader.js';
import { standardTransform } from '../../src/data/transforms.js';

/** n images of shape [c, h, w] whose pixels encode their index, label = index % classes. */
function literal(n: number, shape: [number, number, number] = [3, 8, 8], classes = 10): Dataset {
  const per = shape[0] * shape[1] * shape[2];
  return {
    name: 'toy', length: n, numClasses: classes, shape,
    get(i: number): Sample {
      const pixels = new Uint8Array(per);
      for (let k = 0; k < per; k++) pixels[k] = (i * 7 + k * 13) & 255;
      return { pixels, shape, label: i % classes };
    },
    labels: () => Int32Array.from({ length: n }, (_, i) => i % classes),
  };
}

async function collect(loader: DataLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.batches(epoch)) out.push(b);
  return out;
}

function sameBatches(a: Batch[], b: Batch[]): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => {
    assert.deepEqual(x.indices, b[i]!.indices, `batch ${i} indices`);
    assert.deepEqual(x.y, b[i]!.y, `batch ${i} labels`);
    assert.deepEqual(x.x.shape, b[i]!.x.shape);
    assert.ok(Buffer.from(x.x.data.buffer, x.x.data.byteOffset, x.x.data.byteLength)
      .equals(Buffer.from(b[i]!.x.data.buffer, b[i]!.x.data.byteOffset, b[i]!.x.data.byteLength)), `batch ${i} pixels differ`);
  });
}

test('every index exactly once per epoch, with and without dropLast; shapes and labels', () => {
  const ds = literal(103);
  for (const dropLast of [false, true]) {
    const loader = new DataLoader(ds, { batchSize: 10, shuffle: true, dropLast, seed: 4 });
    assert.equal(loader.length, dropLast ? 10 : 11);
    const batches = [...loader.batchesSync(0)];
    assert.equal(batches.length, loader.length);
    const seen = new Int32Array(103);
    batches.forEach((b, i) => {
      const n = !dropLast && i === 10 ? 3 : 10;
      assert.deepEqual(b.x.shape, [n, 3, 8, 8]);
      assert.equal(b.y.length, n);
      b.indices.forEach((idx, k) => { seen[idx]!++; assert.equal(b.y[k], idx % 10); });
    });
    const total = seen.reduce((s, v) => s + v, 0);
    assert.equal(total, dropLast ? 100 : 103);
    assert.ok(seen.every((v) => v <= 1));
  }
  // Without shuffling, the dataset order, and the values are ToTensor's.
  const plain = [...new DataLoader(ds, { batchSize: 50 }).batchesSync(0)];
  assert.deepEqual(Array.from(plain[0]!.indices.subarray(0, 5)), [0, 1, 2, 3, 4]);
  assert.equal(plain[0]!.x.data[3 * 64 + 1], Math.fround(((1 * 7 + 1 * 13) & 255) / 255));
});

test('same seed same batches; different seeds or epochs a different order; resuming reproduces an epoch', () => {
  const ds = literal(64);
  const spec = standardTransform('cifar10', 'train');
  const mk = (seed: number) => new DataLoader(ds, { batchSize: 16, shuffle: true, seed, transform: { steps: [{ op: 'randomCrop', size: 8, padding: 2 }, ...spec.steps.slice(1)] } });
  const a = [...mk(1).batchesSync(3)], b = [...mk(1).batchesSync(3)];
  sameBatches(a, b);
  const order = (bs: Batch[]) => bs.flatMap((x) => Array.from(x.indices)).join(',');
  assert.notEqual(order(a), order([...mk(2).batchesSync(3)]));
  assert.notEqual(order(a), order([...mk(1).batchesSync(4)]));
  // The order is the permutation of stream data-order/epoch-3, so it needs no earlier epochs.
  assert.equal(order(a), Array.from(new Generator(1).stream('data-order/epoch-3').permutation(64)).join(','));
  // A generator argument uses its own streams.
  const viaGen = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: new Generator(1) });
  assert.equal(order([...viaGen.batchesSync(3)]), order(a));
});

test('workers=2 gives bit-identical batches to workers=0, over shared memory', async () => {
  const ds = literal(300, [3, 16, 16]);
  const transform = { steps: [{ op: 'randomCrop' as const, size: 16, padding: 4 }, { op: 'flip' as const }, { op: 'normalize' as const, mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }] };
  const opts = { batchSize: 32, shuffle: true, seed: 9, transform };
  const sync = await collect(new DataLoader(ds, { ...opts, workers: 0 }), 2);
  const par = new DataLoader(ds, { ...opts, workers: 2, prefetch: 3 });
  const threaded = await collect(par, 2);
  sameBatches(sync, threaded);
  assert.deepEqual(threaded[0]!.x.shape, [32, 3, 16, 16]);
  assert.deepEqual(threaded.at(-1)!.x.shape, [300 - 9 * 32, 3, 16, 16]);
  // The spec the workers got is the shared copy, not a per-worker clone.
  const spec = datasetSpecOf(ds);
  assert.equal(spec.kind, 'memory');
  assert.ok(spec.kind === 'memory' && spec.pixels.buffer instanceof SharedArrayBuffer);
  // A later epoch with persistent workers also matches.
  const persist = new DataLoader(ds, { ...opts, workers: 2, persistentWorkers: true });
  try {
    sameBatches(await collect(persist, 0), await collect(new DataLoader(ds, opts), 0));
    sameBatches(await collect(persist, 1), await collect(new DataLoader(ds, opts), 1));
  } finally {
    await persist.close();
  }
});

test('breaking out early stops the workers; a later epoch still works', async () => {
  const ds = SharedMemoryDataset.from(literal(200));
  const loader = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 1, workers: 2 });
  let n = 0;
  for await (const b of loader.batches(0)) { assert.equal(b.x.shape[0], 8); if (++n === 3) break; }
  assert.equal(n, 3);
  assert.equal((loader as unknown as { pool: unknown }).pool, null, 'workers stopped on break');
  const all = await collect(loader, 0);
  assert.equal(all.length, 25);
  sameBatches(all.slice(0, 3), [...new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 1 }).batchesSync(0)].slice(0, 3));
});

test('an item that fails is reported in the consumer with the item and the reader message', async () => {
  const base = literal(40);
  const broken: Dataset = {
    ...base, name: 'broken',
    get(i: number): Sample {
      if (i === 17) throw Object.assign(new Error('bad JPEG in /data/x/17.JPEG'), { file: '/data/x/17.JPEG' });
      return base.get(i);
    },
    labels: base.labels,
  };
  // Workers rebuild datasets from specs, so the failing reader is exercised in-thread here and a bad
  // transform (shape mismatch) in the workers.
  assert.throws(() => [...new DataLoader(broken, { batchSize: 8 }).batchesSync(0)], (e: unknown) => {
    assert.ok(e instanceof LoaderError);
    assert.equal(e.item, 17);
    assert.equal(e.file, '/data/x/17.JPEG');
    assert.match(e.message, /item 17.*17\.JPEG/);
    return true;
  });
  const mixed: Dataset = {
    name: 'mixed', length: 20, numClasses: 2, shape: null,
    get: (i: number) => ({ pixels: new Uint8Array(i === 13 ? 3 * 5 * 5 : 3 * 4 * 4), shape: i === 13 ? [3, 5, 5] as const : [3, 4, 4] as const, label: i % 2 }),
    labels: () => Int32Array.from({ length: 20 }, (_, i) => i % 2),
  };
  assert.throws(() => [...new DataLoader(mixed, { batchSize: 20 }).batchesSync(0)], /item 13 comes out as \[3, 5, 5\]/);
  // In a worker: a transform that cannot apply to the images.
  const loader = new DataLoader(literal(40), { batchSize: 8, workers: 2, transform: { steps: [{ op: 'randomCrop', size: 20, padding: 0 }] } });
  await assert.rejects(collect(loader, 0), (e: unknown) => {
    assert.ok(e instanceof LoaderError, String(e));
    assert.match(e.message, /toy: item 0 .*randomCrop\(20\)/);
    assert.equal(e.item, 0);
    return true;
  });
  assert.equal((loader as unknown as { pool: unknown }).pool, null, 'workers stopped on error');
  // A dataset the workers cannot load: the consumer hears why, naming it.
  const unloadable = new DataLoader(literal(40), { batchSize: 8, workers: 1, datasetSpec: { kind: 'registry', name: 'no-such-dataset', split: 'train', dataDir: '/nonexistent' } });
  await assert.rejects(collect(unloadable, 0), /could not load dataset no-such-dataset/);
});

test('workers load a registry dataset by spec and match the consumer thread', async () => {
  const { loadDataset } = await import('../../src/data/registry.js');
  const ds = loadDataset('fashion-mnist-subset', 'train');
  const transform = standardTransform('fashion-mnist-subset', 'train', { padTo32: true });
  const opts = { batchSize: 64, shuffle: true, seed: 5, transform };
  const threaded = new DataLoader(ds, { ...opts, workers: 2, datasetSpec: { kind: 'registry', name: 'fashion-mnist-subset', split: 'train' } });
  const got: Batch[] = [];
  for await (const b of threaded.batches(1)) { got.push(b); if (got.length === 4) break; }
  const want = [...new DataLoader(ds, opts).batchesSync(1)].slice(0, 4);
  sameBatches(got, want);
  assert.deepEqual(got[0]!.x.shape, [64, 1, 32, 32]);
});

test('option checks', () => {
  const ds = literal(10);
  assert.throws(() => new DataLoader(ds, { batchSize: 0 }), /batchSize/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, workers: -1 }), /workers/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, transform: { steps: [{ op: 'nope' } as never] } }), /unknown op/);
  assert.throws(() => [...new DataLoader(ds, { batchSize: 2 }).batchesSync(-1)], /epoch/);
});
