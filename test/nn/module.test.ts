// Module bookkeeping the models rely on: state-dict loading errors, train/eval, BatchNorm's
// running statistics, dtype conversion, Sequential names and attention.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Module, StateDictError, Sequential, Conv2d, BatchNorm2d, BatchNorm1d, ReLU, Linear, MultiheadAttention, Dropout } from '../../src/nn/index.js';
import { randn, zeros, ones } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import * as F from '../../src/autograd/ops/index.js';
import { noGrad } from '../../src/autograd/index.js';

const gen = new Generator(5, 'test');

class Net extends Module {
  readonly body = this.registerModule('body', new Sequential(new Conv2d(2, 3, 3, { gen }), new BatchNorm2d(3), new ReLU()));
  readonly head = this.registerModule('head', new Linear(3, 2, { gen }));
  forward(x: Tensor): Tensor { return this.head.forward(F.mean(this.body.forward(x), [2, 3])); }
}

test('loadStateDict names every missing, unexpected and mis-shaped key', () => {
  const net = new Net();
  const sd = new Map(net.stateDict());
  sd.delete('body.1.running_var');
  sd.delete('head.bias');
  sd.set('body.9.weight', zeros([1]));
  sd.set('head.weight', zeros([2, 4]));
  const err = (() => { try { net.loadStateDict(sd, { source: 'ckpt.safetensors' }); } catch (e) { return e; } return null; })();
  assert.ok(err instanceof StateDictError);
  assert.deepEqual(err.missing, ['body.1.running_var', 'head.bias']);
  assert.deepEqual(err.unexpected, ['body.9.weight']);
  assert.equal(err.mismatched.length, 1);
  for (const s of ['ckpt.safetensors', 'body.1.running_var', 'head.bias', 'body.9.weight', 'head.weight: file has [2, 4], model has [2, 3]']) assert.ok(err.message.includes(s), `${s} in ${err.message}`);
  // Non-strict tolerates missing and unexpected keys, never a wrong shape.
  sd.set('head.weight', ones([2, 3]));
  const r = net.loadStateDict(sd, { strict: false });
  assert.deepEqual(r.missing, ['body.1.running_var', 'head.bias']);
  assert.ok(net.head.weight.data.every((v) => v === 1));
});

test('train()/eval() reach every submodule', () => {
  const net = new Net();
  net.eval();
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  net.train();
  assert.ok(net.namedModules().every(([, m]) => m.training));
  const d = new Dropout(0.5, gen);
  const s = new Sequential(d).eval();
  const x = randn([4, 8], gen);
  assert.deepEqual(s.forward(x).data, x.data);
});

test('BatchNorm train forward: batch statistics, unbiased running variance, num_batches_tracked', () => {
  const bn = new BatchNorm2d(2);
  const x = randn([3, 2, 4, 5], gen);
  const y = noGrad(() => bn.forward(x));
  const n = 3 * 4 * 5;
  for (let c = 0; c < 2; c++) {
    const v: number[] = [];
    for (let b = 0; b < 3; b++) for (let i = 0; i < 20; i++) v.push(x.data[(b * 2 + c) * 20 + i]!);
    const mu = v.reduce((s, a) => s + a, 0) / n;
    const ss = v.reduce((s, a) => s + (a - mu) ** 2, 0);
    assert.ok(Math.abs(bn.runningMean!.data[c]! - 0.1 * mu) < 1e-6);
    assert.ok(Math.abs(bn.runningVar!.data[c]! - (0.9 + 0.1 * ss / (n - 1))) < 1e-5);
    // Normalised with the biased variance.
    const yc = (x.data[c * 20]! - mu) / Math.sqrt(ss / n + 1e-5);
    assert.ok(Math.abs(y.data[c * 20]! - yc) < 1e-5);
  }
  assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 1);
  noGrad(() => bn.forward(x));
  assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 2);
  // Eval leaves the statistics alone.
  const before = bn.runningMean!.data.slice();
  noGrad(() => bn.eval().forward(x));
  assert.deepEqual(bn.runningMean!.data, before);
  assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 2);
  const b1 = new BatchNorm1d(3);
  noGrad(() => b1.forward(randn([4, 3], gen)));
  assert.equal(b1.getBuffer('num_batches_tracked')!.item(), 1);
});

test("to('float64') converts parameters and float buffers; the counter stays int64", () => {
  const net = new Net();
  const w = net.head.weight.data.slice();
  net.to('float64');
  for (const [, t] of net.stateDict()) assert.equal(t.dtype, 'float64');
  assert.deepEqual([...net.int64Keys()], ['body.1.num_batches_tracked']);
  assert.deepEqual(Array.from(net.head.weight.data), Array.from(w));
  assert.ok(net.parameters().every((p) => p.requiresGrad));
  const y = net.forward(randn([2, 2, 5, 5], gen, { dtype: 'float64' }));
  assert.equal(y.dtype, 'float64');
});

test('Sequential: numbered or named children, in order', () => {
  const s = new Sequential(new Linear(2, 3, { gen }), new ReLU(), new Linear(3, 1, { gen }));
  assert.deepEqual([...s.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
  const named = new Sequential(['conv_0', new Conv2d(1, 2, 3, { gen })], ['bn_1', new BatchNorm2d(2)], ['relu_2', new ReLU()]);
  assert.deepEqual(named.namedChildren().map(([n]) => n), ['conv_0', 'bn_1', 'relu_2']);
  assert.deepEqual([...named.stateDict().keys()], ['conv_0.weight', 'conv_0.bias', 'bn_1.weight', 'bn_1.bias', 'bn_1.running_mean', 'bn_1.running_var', 'bn_1.num_batches_tracked']);
  assert.equal(new Sequential().stateDict().size, 0);
  assert.deepEqual(s.forward(randn([4, 2], gen)).shape, [4, 1]);
});

test('MultiheadAttention: output shape, and attention rows sum to one', () => {
  const dim = 6, heads = 2;
  const a = new MultiheadAttention(dim, heads, { gen });
  const x = randn([3, 5, dim], gen);
  assert.deepEqual(a.forward(x).shape, [3, 5, dim]);
  assert.deepEqual([...a.stateDict().keys()], ['qkv.weight', 'qkv.bias', 'proj.weight', 'proj.bias']);
  // With v = 1 everywhere and an identity projection, each output is the sum of one attention row.
  const qkvW = a.qkv.weight.data, qkvB = a.qkv.bias!.data;
  qkvW.fill(0, 2 * dim * dim);
  qkvB.fill(0, 0, 2 * dim); qkvB.fill(1, 2 * dim);
  for (let i = 0; i < 2 * dim * dim; i++) qkvW[i] = 3 * (qkvW[i]! + 0.5);
  a.proj.weight.data.fill(0);
  for (let i = 0; i < dim; i++) a.proj.weight.data[i * dim + i] = 1;
  a.proj.bias!.data.fill(0);
  const y = a.forward(x);
  for (const v of y.data) assert.ok(Math.abs(v - 1) < 1e-5, `row sum ${v}`);
  assert.throws(() => new MultiheadAttention(7, 2), /not divisible/);
});
