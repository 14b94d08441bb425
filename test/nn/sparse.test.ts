// Sparse modules: converting a pruned model's layers in place gives the same outputs as the dense
// masked model, really runs the sparse layers (the parents' fields are rewired), respects the
// sparsity threshold and skips grouped convolutions, and converting back restores a state dict
// equal, name for name and value for value, to the dense masked model's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad } from '../../src/autograd/graph.js';
import { Conv2d, Linear, Sequential, ReLU } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { SparseConv2d, SparseLinear, densifyModel, sparsifyModel, sparseLayers } from '../../src/nn/sparse.js';
import { createModel } from '../../src/models/index.js';
import type { Model } from '../../src/models/common.js';

function randomMasks(m: Model, sparsity: (name: string) => number, seed: number): Map<string, Tensor> {
  const g = new Generator(seed, 'masks');
  const out = new Map<string, Tensor>();
  for (const [name, mod] of m.namedModules()) {
    if (name === m.classifierName || !(mod instanceof Conv2d || mod instanceof Linear)) continue;
    const w = mod.weight, s = sparsity(name);
    out.set(`${name}.weight`, new Tensor(Float32Array.from({ length: w.size }, () => (g.uniform() < s ? 0 : 1)), w.shape));
  }
  return out;
}

function applyMasks(m: Module, masks: ReadonlyMap<string, Tensor>): void {
  const sd = m.stateDict();
  for (const [k, mk] of masks) { const w = sd.get(k)!; for (let i = 0; i < w.size; i++) if (mk.data[i] === 0) w.data[i] = 0; }
}

function close(a: ArrayLike<number>, e: ArrayLike<number>, what: string, tol = 1e-4): void {
  let scale = 0;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]!));
  for (let i = 0; i < e.length; i++) assert.ok(Math.abs(a[i]! - e[i]!) <= tol * scale, `${what}[${i}]: ${a[i]} vs ${e[i]}`);
}

function snapshot(m: Module): [string, number[], number[]][] {
  return [...m.stateDict()].map(([k, t]) => [k, [...t.shape], Array.from(t.data)]);
}

for (const name of ['resnet20', 'vgg11', 'mlp'] as const) {
  test(`${name}: sparse execution matches the dense masked model and converts back exactly`, () => {
    const m = createModel(name, name === 'mlp' ? { numClasses: 10, seed: 1 } : { numClasses: 10, seed: 1, width: 1 / 4 });
    const masks = randomMasks(m, () => 0.95, 2);
    applyMasks(m, masks);
    m.eval();
    const x = randn(name === 'mlp' ? [3, 1, 28, 28] : [3, 3, 32, 32], new Generator(3));
    const before = snapshot(m);
    const yDense = noGrad(() => m.forward(x));
    const report = sparsifyModel(m, masks);
    assert.equal(report.converted.length, masks.size, `every masked layer converted: skipped ${JSON.stringify(report.skipped)}`);
    assert.equal(sparseLayers(m).length, masks.size);
    // The forward really runs the sparse layers: the dense weights no longer take part.
    for (const [, s] of sparseLayers(m)) s.dense.weight.data.fill(Number.NaN);
    const ySparse = noGrad(() => m.forward(x));
    close(ySparse.data, yDense.data, `${name} logits`);
    // Parameter names are the same in both forms.
    assert.deepEqual(m.namedParameters().map(([k]) => k), before.filter(([k]) => !k.includes('running') && !k.includes('num_batches')).map(([k]) => k));
    densifyModel(m);
    assert.equal(sparseLayers(m).length, 0);
    assert.deepEqual(snapshot(m), before);
    close(noGrad(() => m.forward(x)).data, yDense.data, `${name} logits after converting back`, 1e-6);
  });
}

test('only layers at least minSparsity sparse convert; grouped convolutions stay dense', () => {
  const m = createModel('resnet20', { numClasses: 10, seed: 1, width: 1 / 4 });
  const masks = randomMasks(m, (n) => (n.startsWith('blocks.0.') ? 0.5 : 0.97), 4);
  const r = sparsifyModel(m, masks, { minSparsity: 0.9 });
  assert.ok(r.converted.every((c) => !c.name.startsWith('blocks.0.') && c.sparsity >= 0.9));
  assert.ok(r.skipped.some((s) => s.name.startsWith('blocks.0.') && /below 0.9/.test(s.reason)));
  densifyModel(m);

  class Grouped extends Module {
    readonly body = this.registerModule('body', new Sequential(new Conv2d(4, 4, 3, { groups: 2 }), new ReLU(), new Conv2d(4, 4, 3)));
    forward(x: Tensor): Tensor { return this.body.forward(x); }
  }
  const g = new Grouped();
  const gm = new Map([['body.0.weight', new Tensor(new Float32Array(4 * 2 * 9), [4, 2, 3, 3])], ['body.2.weight', new Tensor(new Float32Array(4 * 4 * 9), [4, 4, 3, 3])]]);
  const rg = sparsifyModel(g, gm, { minSparsity: 0.5 });
  assert.deepEqual(rg.converted.map((c) => c.name), ['body.2']);
  assert.match(rg.skipped[0]!.reason, /grouped/);
  // Sequential's own list is rewired too, so its forward runs the sparse layer.
  assert.ok((g.body as unknown as { order: Module[] }).order[2] instanceof SparseConv2d);
  assert.throws(() => sparsifyModel(g, gm, { minSparsity: 2 }), /minSparsity/);
});

test('converting again reuses the same parameter tensors (optimisers stay valid)', () => {
  const m = createModel('mlp', { numClasses: 10, seed: 1 });
  const masks = randomMasks(m, () => 0.95, 5);
  applyMasks(m, masks);
  sparsifyModel(m, masks);
  const first = new Map(m.namedParameters());
  const [, layer] = sparseLayers(m)[0]!;
  assert.ok(layer instanceof SparseLinear);
  layer.weight.data[0] = 42;
  densifyModel(m);
  assert.equal(layer.dense.weight.data[layer.pattern.index[0]!], 42);
  sparsifyModel(m, masks);
  for (const [k, t] of m.namedParameters()) assert.equal(t, first.get(k), `${k} is the same tensor object`);
  assert.equal(layer.weight.data[0], 42);
});
