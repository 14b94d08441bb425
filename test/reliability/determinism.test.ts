// Determinism: a seed fixes everything a pruning run computes. Scores and masks of every criterion,
// the model's initial weights and the loader's batches come out bit for bit the same when run
// again from scratch; on the native backend scores may differ in the last bits (threaded
// reductions can change summation order), so they are held to 1e-5 relative instead.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, type Model } from '../../src/models/registry.js';
import { makeMasks, prunableSet, pruneAtInit, scoreParameters, type MaskData, type Masks, type Scores } from '../../src/prune/index.js';
import { jsBackend, nativeBackend, useBackend, type Backend } from '../../src/kernels/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { InMemoryDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const CRITERIA = ['random', 'magnitude', 'snip', 'grasp', 'synflow', 'fisher_diag', 'fts', 'hutch_diag', 'hts', 'ggn_diag'];
const SPARSITY = 0.9;
// 16x16 inputs keep the Hessian criteria to seconds; determinism does not depend on image size.
const IMAGE = 16;

function model(seed: number): Model {
  return createModel('resnet20', { width: 0.25, seed, imageSize: IMAGE });
}

function maskSet(seed: number): MaskData {
  return {
    x: randn([20, 3, IMAGE, IMAGE], new Generator(seed, 'mask-data')),
    y: Int32Array.from({ length: 20 }, (_, i) => i % 10),
  };
}

function bytes(t: Tensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Model, data and criterion all built anew, so nothing carries over between the two runs. */
function scoreFromScratch(criterion: string, seed: number, scoreSeed = seed): { scores: Scores; masks: Masks } {
  const m = model(seed);
  // Two mask batches of 10, so accumulation across batches is part of what is checked.
  const scores = scoreParameters(m, criterion, maskSet(seed), { seed: scoreSeed, batchSize: 10, probes: 2 });
  return { scores, masks: makeMasks(scores, prunableSet(m), SPARSITY, 'global') };
}

function assertBitIdentical(a: Map<string, Tensor>, b: Map<string, Tensor>, label: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${label}: names`);
  for (const [k, t] of a) assert.equal(Buffer.compare(bytes(t), bytes(b.get(k)!)), 0, `${label}: ${k} differs`);
}

/** |a - b| <= rtol * max(|a|, |b|), with a floor at rtol times the tensor's largest value for entries near 0. */
function assertClose(a: Scores, b: Scores, rtol: number, label: string): void {
  for (const [k, t] of a) {
    const u = b.get(k)!;
    let scale = 0;
    for (let i = 0; i < t.size; i++) scale = Math.max(scale, Math.abs(t.data[i]!));
    for (let i = 0; i < t.size; i++) {
      const x = t.data[i]!, y = u.data[i]!;
      const tol = rtol * Math.max(Math.abs(x), Math.abs(y), scale * 1e-3);
      assert.ok(Math.abs(x - y) <= tol, `${label}: ${k}[${i}] ${x} vs ${y}`);
    }
  }
}

function maskDiff(a: Masks, b: Masks): number {
  let d = 0;
  for (const [k, t] of a) { const u = b.get(k)!; for (let i = 0; i < t.size; i++) if (t.data[i] !== u.data[i]) d++; }
  return d;
}

describe('determinism on the reference backend: bit-identical', () => {
  after(() => useBackend(null));
  for (const c of CRITERIA) {
    test(`${c}: same seed, same scores and masks bit for bit`, () => {
      useBackend(jsBackend);
      const a = scoreFromScratch(c, 7), b = scoreFromScratch(c, 7);
      assertBitIdentical(a.scores, b.scores, `${c} scores`);
      assertBitIdentical(a.masks, b.masks, `${c} masks`);
    });
  }
});

const native: Backend | null = nativeBackend();

describe('determinism on the native backend: within 1e-5', { skip: native ? false : 'native backend not built' }, () => {
  after(() => useBackend(null));
  for (const c of CRITERIA) {
    test(`${c}: same seed, scores within 1e-5 relative, same masks`, () => {
      useBackend(native);
      const a = scoreFromScratch(c, 7), b = scoreFromScratch(c, 7);
      assertClose(a.scores, b.scores, 1e-5, c);
      // Masks can only move where two scores sit within 1e-5 of the cut; with continuous scores
      // that does not happen here, so they are required equal.
      assert.equal(maskDiff(a.masks, b.masks), 0, `${c}: masks differ`);
    });
  }
});

describe('seeds that differ give different results', () => {
  after(() => useBackend(null));
  for (const c of ['random', 'hutch_diag']) {
    test(`${c}: another scoring seed on the same model gives another mask`, () => {
      useBackend(null);
      const a = scoreFromScratch(c, 7, 1), b = scoreFromScratch(c, 7, 2);
      assert.ok(maskDiff(a.masks, b.masks) > 0, `${c}: seeds 1 and 2 give the same mask`);
    });
  }

  test('model init: same seed bit-identical, another seed different', () => {
    const sd = (s: number) => model(s).stateDict();
    assertBitIdentical(sd(3), sd(3), 'init');
    const a = sd(3), b = sd(4);
    const w = [...a.keys()].find((k) => k.endsWith('conv.weight'))!;
    assert.notEqual(Buffer.compare(bytes(a.get(w)!), bytes(b.get(w)!)), 0, 'seeds 3 and 4 give the same init');
  });
});

test('pruneAtInit end to end: same seed, same masks and same pruned weights', () => {
  useBackend(jsBackend);
  try {
    const run = () => {
      const m = model(11);
      const r = pruneAtInit(m, { criterion: 'snip', sparsity: SPARSITY, data: maskSet(11), seed: 11, batchSize: 10 });
      return { masks: r.masks, weights: m.stateDict() };
    };
    const a = run(), b = run();
    assertBitIdentical(a.masks, b.masks, 'pruneAtInit masks');
    assertBitIdentical(a.weights, b.weights, 'pruneAtInit weights');
  } finally {
    useBackend(null);
  }
});

test('loader: same seed, same shuffled and augmented batches bit for bit; another seed, another order', () => {
  const n = 40;
  const g = new Generator(5, 'pixels');
  const pixels = Uint8Array.from({ length: n * 3 * 8 * 8 }, () => g.nextU32() & 255);
  const ds = new InMemoryDataset('det', pixels, Int32Array.from({ length: n }, (_, i) => i % 10), [3, 8, 8]);
  const transform = { steps: [{ op: 'randomCrop' as const, size: 8, padding: 2 }, { op: 'flip' as const }] };
  const batches = (seed: number, epoch: number) =>
    [...new DataLoader(ds, { batchSize: 8, shuffle: true, transform, seed }).batchesSync(epoch)];
  for (const epoch of [0, 3]) {
    const a = batches(9, epoch), b = batches(9, epoch);
    assert.equal(a.length, b.length);
    a.forEach((x, i) => {
      const y = b[i]!;
      assert.equal(Buffer.compare(bytes(x.x), bytes(y.x)), 0, `epoch ${epoch} batch ${i}: pixels differ`);
      assert.deepEqual(Array.from(x.y), Array.from(y.y));
      assert.deepEqual(Array.from(x.indices), Array.from(y.indices));
    });
  }
  const order = (seed: number) => batches(seed, 0).flatMap((b) => Array.from(b.indices));
  assert.notDeepEqual(order(9), order(10));
});
