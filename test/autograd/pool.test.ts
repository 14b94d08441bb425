// The reuse of dead gradient buffers (src/tensor/pool.ts, autograd/graph.ts): results must be
// bit-identical with and without it, a buffer must never go back while anything can read it (the
// pool fills given-back buffers with NaN here, so a use after give-back would show), and a
// recorded pass or a per-sample pass gives nothing back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, grad } from '../../src/autograd/graph.js';
import {
  add, batchNorm, concat, conv2d, crossEntropy, linear, mul, relu, reshape, sliceAxes, sumAll,
} from '../../src/autograd/ops/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { poolStats, setPoolEnabled, setPoolPoison, clearPool } from '../../src/tensor/pool.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { createModel } from '../../src/models/registry.js';

function withPool<T>(on: boolean, fn: () => T): T {
  const prevOn = setPoolEnabled(on), prevPoison = setPoolPoison(true);
  try {
    return fn();
  } finally {
    setPoolEnabled(prevOn);
    setPoolPoison(prevPoison);
  }
}

/** A float32 graph with every aliasing pattern the engine meets: views, reuse of one tensor, sums of gradients, slices, concatenation. */
function lossOf(x: Tensor, w: Tensor, w2: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  const h = conv2d(x, w, null, { padding: 1 });                       // [4, 8, 16, 16]
  const b = batchNorm(h, { weight: gamma, bias: beta, training: true });
  const r = relu(b);
  const twice = add(r, r);                                             // one tensor used twice
  const v = reshape(twice, [4, 8 * 16 * 16]);                          // a view of the same buffer
  const halves = concat([sliceAxes(v, [null, [0, 1024]]), sliceAxes(v, [null, [1024, 2048]])], 1);
  const skip = add(mul(halves, v), v);                                 // v read three times
  const logits = linear(skip, w2);
  return crossEntropy(logits, [0, 1, 2, 3]);
}

function params(seed: number): Tensor[] {
  const g = new Generator(seed, 'pool-test');
  return [
    randn([8, 3, 3, 3], g, { requiresGrad: true }), randn([10, 2048], g, { requiresGrad: true }),
    randn([8], g, { requiresGrad: true }), randn([8], g, { requiresGrad: true }),
  ];
}

test('gradients are bit-identical with and without buffer reuse, over repeated passes', () => {
  const x = randn([4, 3, 16, 16], new Generator(1, 'pool-x'));
  const run = (on: boolean): Float32Array[] => withPool(on, () => {
    const ps = params(0);
    let out: Float32Array[] = [];
    // Three passes: the later ones run on buffers the earlier ones gave back.
    for (let k = 0; k < 3; k++) {
      for (const p of ps) p.grad = null;
      backward(lossOf(x, ps[0]!, ps[1]!, ps[2]!, ps[3]!));
      out = ps.map((p) => Float32Array.from(p.grad!.data));
    }
    return out;
  });
  clearPool();
  const before = poolStats();
  const pooled = run(true);
  const after = poolStats();
  const plain = run(false);
  assert.ok(after.hits > before.hits, 'later passes reused given-back buffers');
  pooled.forEach((g, i) => {
    assert.ok(g.every(Number.isFinite), `parameter ${i}: no NaN from a given-back buffer`);
    assert.deepEqual(g, plain[i], `parameter ${i}`);
  });
});

test('a ResNet-20 training step computes the same gradients with reuse, and reuses buffers in the steady state', () => {
  const g = new Generator(3, 'pool-resnet');
  const x = randn([8, 3, 32, 32], g);
  const y = [0, 1, 2, 3, 4, 5, 6, 7];
  const grads = (on: boolean): Float32Array[] => withPool(on, () => {
    const m = createModel('resnet20', { seed: 0 });
    m.train();
    let out: Float32Array[] = [];
    for (let k = 0; k < 2; k++) {
      m.zeroGrad();
      backward(crossEntropy(m.forward(x), y));
      out = m.parameters().map((p) => Float32Array.from(p.grad!.data));
    }
    return out;
  });
  const a = grads(true), b = grads(false);
  a.forEach((t, i) => assert.deepEqual(t, b[i], `parameter ${i}`));
});

test('grad() results and leaf gradients are never given back', () => {
  withPool(true, () => {
    const ps = params(5);
    const x = randn([4, 3, 16, 16], new Generator(6, 'pool-x'));
    const g1 = grad(lossOf(x, ps[0]!, ps[1]!, ps[2]!, ps[3]!), ps).map((t) => t);
    const copy = g1.map((t) => Float32Array.from(t.data));
    // Further passes reuse whatever was given back; the first results must stay intact.
    for (let k = 0; k < 2; k++) grad(lossOf(x, ps[0]!, ps[1]!, ps[2]!, ps[3]!), ps);
    g1.forEach((t, i) => assert.deepEqual(t.data, copy[i], `result ${i}`));
  });
});

test('a recorded pass (createGraph) gives nothing back, and its second derivative is unchanged', () => {
  const x = randn([4, 3, 16, 16], new Generator(7, 'pool-x'));
  const second = (on: boolean): Float32Array => withPool(on, () => {
    const ps = params(8);
    const before = poolStats().given;
    const g = grad(lossOf(x, ps[0]!, ps[1]!, ps[2]!, ps[3]!), ps, { createGraph: true });
    assert.equal(poolStats().given, before, 'the recorded pass gave nothing back');
    const [h] = grad(sumAll(mul(g[0]!, g[0]!)), [ps[0]!]);
    return Float32Array.from(h!.data);
  });
  assert.deepEqual(second(true), second(false));
});
