// pai's own exporter and importer: a zoo model exported to ONNX and imported back is the same
// network to pai — same names, same prunable set, and every criterion gives the same scores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportOnnx } from '../../src/export/index.js';
import { createModel, importOnnx } from '../../src/models/index.js';
import { prunableParameters } from '../../src/prune/index.js';
import { bnWarmup, criterionNames, scoreParameters } from '../../src/prune/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/autograd/index.js';

function roundTrip(): { zoo: ReturnType<typeof createModel>; imported: ReturnType<typeof importOnnx> } {
  const zoo = createModel('resnet20', { width: 0.25, imageSize: 8, seed: 3 }).eval();
  const dir = mkdtempSync(join(tmpdir(), 'pai-onnx-rt-'));
  try {
    const file = join(dir, 'r20.onnx');
    writeFileSync(file, exportOnnx(zoo).bytes);
    return { zoo, imported: importOnnx(file).eval() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function maxRelDiff(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): number {
  let scale = 0, worst = 0;
  for (const t of b.values()) for (let i = 0; i < t.size; i++) scale = Math.max(scale, Math.abs(t.data[i]!));
  for (const [k, t] of b) {
    const u = a.get(k)!;
    for (let i = 0; i < t.size; i++) worst = Math.max(worst, Math.abs(u.data[i]! - t.data[i]!) / (1e-6 * scale + Math.abs(t.data[i]!)));
  }
  return worst;
}

test('ONNX round trip of resnet20: same state dict, prunable sets and classifier', () => {
  const { zoo, imported } = roundTrip();
  assert.deepEqual([...imported.stateDict().keys()].sort(), [...zoo.stateDict().keys()].filter((k) => !k.endsWith('num_batches_tracked')).sort());
  for (const s of ['fixed', 'reference'] as const) assert.deepEqual(prunableParameters(imported, s), prunableParameters(zoo, s), s);
  assert.equal(imported.classifierName, zoo.classifierName);
  assert.deepEqual(imported.config, { ...zoo.config, init: 'default', width: 1 });
});

test('ONNX round trip of resnet20: every criterion scores the imported graph as the zoo model', () => {
  const { zoo, imported } = roundTrip();
  const gen = new Generator(11, 'data');
  const data = { x: randn([4, 3, 8, 8], gen), y: Int32Array.from([0, 3, 7, 9]) };
  for (const c of criterionNames()) {
    const o = { batchSize: 1, seed: 5 };
    const a = scoreParameters(imported, c, data, o), b = scoreParameters(zoo, c, data, o);
    assert.deepEqual([...a.keys()], [...b.keys()].filter((k) => a.has(k)), c);
    const d = maxRelDiff(a, b);
    // The same ops on the same values: equal up to summation order in the native kernels.
    assert.ok(d <= 1e-4, `${c}: max relative difference ${d}`);
  }
});

test('ONNX round trip of resnet20: train-mode BN warm-up moves the same running statistics', () => {
  const { zoo, imported } = roundTrip();
  const x = randn([6, 3, 8, 8], new Generator(2, 'data'));
  bnWarmup(zoo, [x]);
  bnWarmup(imported, [x]);
  const want = new Map(zoo.namedBuffers().filter(([k]) => !k.endsWith('num_batches_tracked')));
  assert.ok(maxRelDiff(new Map(imported.namedBuffers()), want) <= 1e-5);
  const yz = noGrad(() => zoo.forward(x)), yi = noGrad(() => imported.forward(x));
  assert.ok(maxRelDiff(new Map([['y', yi]]), new Map([['y', yz]])) <= 1e-5);
});
