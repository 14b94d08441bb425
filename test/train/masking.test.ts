// Pruned weights stay exactly zero through 100 steps of SGD (momentum + weight decay) and of AdamW
// on a small CNN with random data, with MaskEnforcer as the only thing touching masks; without it
// the same steps revive them (so the test can fail).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn, tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { backward, add, sumAll, mul, crossEntropy } from '../../src/autograd/index.js';
import { Module } from '../../src/nn/module.js';
import { createModel } from '../../src/models/index.js';
import { setNumThreads } from '../../src/kernels/index.js';
import { MaskEnforcer, MaskError } from '../../src/prune/masking.js';

// One thread: on a busy 2-core machine threaded kernels stall far more than they gain on a model this small.
setNumThreads(1);
import { createOptimizer, type OptimizerSpec } from '../../src/train/optim.js';

function randomMasks(model: Module, gen: Generator, keep: number): Map<string, Tensor> {
  const masks = new Map<string, Tensor>();
  for (const [n, p] of model.namedParameters()) {
    if (!n.endsWith('weight') || p.ndim < 2) continue;
    const d = new Float32Array(p.size);
    for (let i = 0; i < d.length; i++) d[i] = gen.uniform() < keep ? 1 : 0;
    masks.set(n, new Tensor(d, p.shape));
  }
  return masks;
}

function countRevived(masks: Map<string, Tensor>, model: Module): number {
  const params = new Map(model.namedParameters());
  let bad = 0;
  for (const [n, m] of masks) {
    const w = params.get(n)!.data;
    for (let i = 0; i < w.length; i++) if (m.data[i] === 0 && w[i] !== 0) bad++;
  }
  return bad;
}

function trainSteps(spec: OptimizerSpec, enforce: boolean, steps: number): { revived: number; checkedSteps: number } {
  const gen = new Generator(7);
  const model = createModel('lenet5', { seed: 3, imageSize: 16 });
  const masks = randomMasks(model, gen.stream('mask'), 0.2);
  const enforcer = new MaskEnforcer(model, masks);
  assert.ok(enforcer.prunedCount > 0 && enforcer.density > 0.1 && enforcer.density < 0.3);
  const opt = createOptimizer(model.namedParameters(), spec);
  if (enforce) enforcer.applyToWeights();
  const data = gen.stream('data');
  let checked = 0;
  for (let s = 0; s < steps; s++) {
    const x = randn([8, 1, 16, 16], data);
    const y = Int32Array.from({ length: 8 }, () => data.int(10));
    backward(crossEntropy(model.forward(x), y));
    if (enforce) enforcer.maskGradients();
    opt.step();
    if (enforce) enforcer.afterStep();
    opt.zeroGrad();
    if (enforce) {
      assert.equal(countRevived(masks, model), 0, `step ${s + 1}: a pruned weight is not exactly zero`);
      enforcer.check();
      checked++;
    }
  }
  return { revived: countRevived(masks, model), checkedSteps: checked };
}

const SPECS: [string, OptimizerSpec][] = [
  ['SGD momentum 0.9 + weight decay 5e-4', { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }],
  ['AdamW', { name: 'adamw', lr: 1e-3, weightDecay: 1e-2 }],
];

for (const [label, spec] of SPECS) {
  test(`pruned weights stay exactly zero through 100 steps of ${label}`, () => {
    const r = trainSteps(spec, true, 100);
    assert.equal(r.checkedSteps, 100);
    assert.equal(r.revived, 0);
  });
  test(`without the enforcer, ${label} revives pruned weights (the check above can fail)`, () => {
    assert.ok(trainSteps(spec, false, 2).revived > 0);
  });
}

test('check() names the parameter and index of a revived weight', () => {
  const model = createModel('lenet5', { seed: 1 });
  const masks = randomMasks(model, new Generator(1), 0.5);
  const e = new MaskEnforcer(model, masks);
  e.applyToWeights();
  e.check();
  const m = masks.get('conv2.weight')!;
  const i = m.data.indexOf(0);
  model.getModule('conv2')!.getParameter('weight')!.data[i] = 1e-30;
  assert.throws(() => e.check(), (err: Error) => err instanceof MaskError && err.message.includes(`conv2.weight[${i}]`));
});

test('bad masks are refused before training: unknown name, wrong shape, values other than 0/1', () => {
  const model = createModel('lenet5', { seed: 1 });
  assert.throws(() => new MaskEnforcer(model, new Map([['conv9.weight', tensor([1])]])), /conv9\.weight/);
  assert.throws(() => new MaskEnforcer(model, new Map([['conv1.weight', tensor([1, 0])]])), /shape/);
  const p = model.getModule('conv1')!.getParameter('weight')!;
  const bad = new Float32Array(p.size).fill(1); bad[3] = 0.5;
  assert.throws(() => new MaskEnforcer(model, new Map([['conv1.weight', new Tensor(bad, p.shape)]])), /0\.5 at index 3/);
});

class Shared extends Module {
  a: Tensor; b: Tensor;
  constructor() {
    super();
    this.a = this.registerParameter('a', tensor([1, 2, 3]))!;
    this.b = this.registerParameter('b', tensor([4, 5, 6]))!;
  }
  forward(): Tensor { return sumAll(mul(add(this.a, this.b), tensor([1, 2, 3]))); }
}

test('masking one gradient never changes another parameter\'s gradient, even if autograd shares the buffer', () => {
  const m = new Shared();
  backward(m.forward());
  const e = new MaskEnforcer(m, new Map([['a', tensor([0, 1, 0])]]));
  e.maskGradients();
  assert.deepEqual(Array.from(m.a.grad!.data), [0, 2, 0]);
  assert.deepEqual(Array.from(m.b.grad!.data), [1, 2, 3]);
});
