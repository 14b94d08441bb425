// SGD and AdamW against PyTorch's update equations, written out here independently in float64
// (from the torch.optim.SGD and torch.optim.AdamW documentation), on a fixed problem: the gradient
// of f(p) = Σ a_i p_i² / 2 + b_i p_i + sin(p_i), so that it depends on the parameters and every
// step sees a new one. Float64 parameters must agree to 1e-12, float32 ones to float32 rounding.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { SGD, AdamW, OptimizerError, type Optimizer, type SGDOptions, type AdamWOptions } from '../../src/train/optim.js';

const P0 = [0.5, -1.25, 2.0, 0.0, -0.3, 1.7, -2.2];
const A = [1.0, 0.5, 2.0, 1.5, 0.25, 3.0, 0.75];
const B = [0.1, -0.2, 0.3, 1.0, -0.5, 0.0, 0.4];

function gradOf(p: ArrayLike<number>): number[] {
  return Array.from(p, (v, i) => A[i]! * v + B[i]! + Math.cos(v));
}

/** torch.optim.SGD, one parameter group, written from its documented algorithm. */
function refSGD(o: Required<SGDOptions>, steps: number): number[] {
  const p = [...P0];
  let buf: number[] | null = null;
  for (let t = 0; t < steps; t++) {
    let g = gradOf(p);
    if (o.weightDecay !== 0) g = g.map((gi, i) => gi + o.weightDecay * p[i]!);
    if (o.momentum !== 0) {
      if (buf === null) buf = [...g];
      else buf = buf.map((bi, i) => o.momentum * bi + (1 - o.dampening) * g[i]!);
      if (o.nesterov) g = g.map((gi, i) => gi + o.momentum * buf![i]!);
      else g = [...buf];
    }
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - o.lr * g[i]!;
  }
  return p;
}

/** torch.optim.AdamW, written from its documented algorithm. */
function refAdamW(o: Required<AdamWOptions>, steps: number): number[] {
  const p = [...P0];
  const [b1, b2] = o.betas;
  const m = p.map(() => 0), v = p.map(() => 0), vmax = p.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    const g = gradOf(p);
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! - o.lr * o.weightDecay * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - b1 ** t);
      let vHat = v[i]! / (1 - b2 ** t);
      if (o.amsgrad) { vmax[i] = Math.max(vmax[i]!, v[i]!); vHat = vmax[i]! / (1 - b2 ** t); }
      p[i] = p[i]! - o.lr * mHat / (Math.sqrt(vHat) + o.eps);
    }
  }
  return p;
}

function run(make: (params: [string, Tensor][]) => Optimizer, steps: number, dtype: 'float32' | 'float64'): number[] {
  const data = dtype === 'float64' ? Float64Array.from(P0) : Float32Array.from(P0);
  const p = new Tensor(data, [P0.length]).requireGrad();
  const opt = make([['w', p]]);
  for (let t = 0; t < steps; t++) {
    const g = gradOf(p.data);
    p.grad = new Tensor(dtype === 'float64' ? Float64Array.from(g) : Float32Array.from(g), p.shape);
    opt.step();
    opt.zeroGrad();
    assert.equal(p.grad, null);
  }
  return Array.from(p.data);
}

function close(actual: number[], expected: number[], rel: number, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    const tol = rel * Math.max(1, Math.abs(expected[i]!));
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}: index ${i}: ${actual[i]} vs PyTorch's ${expected[i]} (tolerance ${tol})`);
  }
}

const SGD_CASES: [string, Required<SGDOptions>][] = [
  ['plain', { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }],
  ['momentum', { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }],
  ['momentum + dampening', { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0, nesterov: false }],
  ['nesterov', { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true }],
  ['weight decay', { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0.05, nesterov: false }],
  ['paper (momentum 0.9, wd 5e-4)', { lr: 0.03, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: false }],
  ['everything', { lr: 0.07, momentum: 0.8, dampening: 0, weightDecay: 0.01, nesterov: true }],
];

for (const [label, o] of SGD_CASES) {
  test(`SGD ${label}: 5 steps equal PyTorch's update equations`, () => {
    const expected = refSGD(o, 5);
    close(run((ps) => new SGD(ps, o), 5, 'float64'), expected, 1e-12, `SGD ${label} float64`);
    close(run((ps) => new SGD(ps, o), 5, 'float32'), expected, 2e-6, `SGD ${label} float32`);
    // The equations matter: a run of 4 steps must be far from 5 (the test can fail).
    assert.ok(Math.abs(refSGD(o, 4)[0]! - expected[0]!) > 1e-4);
  });
}

const ADAM_CASES: [string, Required<AdamWOptions>][] = [
  ['defaults', { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false }],
  ['large lr and decay', { lr: 0.1, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1, amsgrad: false }],
  ['amsgrad', { lr: 0.1, betas: [0.8, 0.9], eps: 1e-8, weightDecay: 0.05, amsgrad: true }],
  ['beta1 above one half (lerp mirrored)', { lr: 0.05, betas: [0.3, 0.95], eps: 1e-8, weightDecay: 0, amsgrad: true }],
];

for (const [label, o] of ADAM_CASES) {
  test(`AdamW ${label}: 6 steps equal PyTorch's update equations`, () => {
    const expected = refAdamW(o, 6);
    close(run((ps) => new AdamW(ps, o), 6, 'float64'), expected, 1e-12, `AdamW ${label} float64`);
    close(run((ps) => new AdamW(ps, o), 6, 'float32'), expected, 2e-6, `AdamW ${label} float32`);
  });
}

test('AdamW with amsgrad differs from without on this problem (the amsgrad test can fail)', () => {
  const o: Required<AdamWOptions> = { lr: 0.1, betas: [0.8, 0.9], eps: 1e-8, weightDecay: 0.05, amsgrad: true };
  const a = refAdamW(o, 6), b = refAdamW({ ...o, amsgrad: false }, 6);
  assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-4));
});

test('AdamW defaults are PyTorch\'s: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2', () => {
  const expected = refAdamW({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false }, 3);
  close(run((ps) => new AdamW(ps), 3, 'float64'), expected, 1e-12, 'AdamW defaults');
});

test('parameters without a gradient are skipped: no update, no state, no step count', () => {
  const a = new Tensor(Float64Array.from(P0), [P0.length]).requireGrad();
  const b = new Tensor(Float64Array.from([1, 2, 3]), [3]).requireGrad();
  const opt = new AdamW([['a', a], ['b', b]], { lr: 0.1, weightDecay: 0.1 });
  for (let t = 0; t < 3; t++) {
    a.grad = new Tensor(Float64Array.from(gradOf(a.data)), a.shape);
    opt.step();
    opt.zeroGrad();
  }
  assert.deepEqual(Array.from(b.data), [1, 2, 3], 'weight decay must not touch a parameter without a gradient');
  const s = opt.stateDict();
  assert.deepEqual(s.steps, { a: 3 });
  assert.deepEqual([...s.buffers.keys()], ['a.exp_avg', 'a.exp_avg_sq']);
  // Its first step later uses bias corrections for t = 1, as PyTorch's per-parameter step does.
  b.grad = new Tensor(Float64Array.from([0.5, 0.5, 0.5]), [3]);
  opt.step();
  // t = 1: m̂ = g, v̂ = g², update = lr·g/(|g| + eps) ≈ lr, after decay p(1 − lr·wd).
  close(Array.from(b.data), [1, 2, 3].map((v) => v * (1 - 0.01) - 0.1 * 0.5 / (0.5 + 1e-8)), 1e-12, 'first step of b');
  assert.equal(opt.stateDict().steps['b'], 1);

  const c = new Tensor(Float64Array.from([1, 2]), [2]).requireGrad();
  const sgd = new SGD([['c', c]], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
  sgd.step();
  assert.deepEqual(Array.from(c.data), [1, 2]);
  assert.equal(sgd.stateDict().buffers.size, 0);
});

test('stateDict / loadStateDict: a restored optimiser continues exactly like the original', () => {
  for (const make of [
    (ps: [string, Tensor][]) => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
    (ps: [string, Tensor][]) => new AdamW(ps, { lr: 0.05, amsgrad: true }),
  ]) {
    const p = new Tensor(Float32Array.from(P0), [P0.length]).requireGrad();
    const opt = make([['w', p]]);
    const stepWith = (o: Optimizer, q: Tensor): void => { q.grad = new Tensor(Float32Array.from(gradOf(q.data)), q.shape); o.step(); o.zeroGrad(); };
    stepWith(opt, p); stepWith(opt, p);
    const saved = opt.stateDict();
    const q = new Tensor(p.data.slice(), p.shape).requireGrad();
    const opt2 = make([['w', q]]);
    opt2.loadStateDict(saved);
    // The saved buffers are copies: stepping the original does not change them.
    const snapshot = [...saved.buffers.values()].map((t) => Array.from(t.data));
    stepWith(opt, p); stepWith(opt2, q);
    stepWith(opt, p); stepWith(opt2, q);
    assert.deepEqual(Array.from(q.data), Array.from(p.data), `${opt.name}: resumed optimiser diverged`);
    assert.deepEqual([...saved.buffers.values()].map((t) => Array.from(t.data)), snapshot);
  }
});

test('loadStateDict refuses other hyperparameters, parameters or shapes', () => {
  const p = new Tensor(Float32Array.from(P0), [P0.length]).requireGrad();
  const a = new SGD([['w', p]], { lr: 0.1, momentum: 0.9 });
  p.grad = new Tensor(Float32Array.from(gradOf(p.data)), p.shape);
  a.step();
  const s = a.stateDict();
  assert.throws(() => new SGD([['w', p]], { lr: 0.1, momentum: 0.5 }).loadStateDict(s), /momentum/);
  assert.throws(() => new SGD([['v', p]], { lr: 0.1, momentum: 0.9 }).loadStateDict(s), /w\.momentum_buffer/);
  const q = new Tensor(new Float32Array(3), [3]).requireGrad();
  assert.throws(() => new SGD([['w', q]], { lr: 0.1, momentum: 0.9 }).loadStateDict(s), /\[7\].*\[3\]|shape|\[3\]/);
  assert.throws(() => new AdamW([['w', p]]).loadStateDict(s), /sgd/);
});

test('lr is settable and validated; invalid options are refused as PyTorch refuses them', () => {
  const p = new Tensor(Float64Array.from([1]), [1]).requireGrad();
  const opt = new SGD([['w', p]], { lr: 0.1 });
  opt.lr = 0.5;
  p.grad = new Tensor(Float64Array.from([2]), [1]);
  opt.step();
  assert.equal(p.data[0], 0);
  assert.throws(() => { opt.lr = -1; }, OptimizerError);
  assert.throws(() => new SGD([['w', p]], { lr: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new SGD([['w', p]], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new AdamW([['w', p]], { betas: [1, 0.9] }), /betas/);
  assert.throws(() => new SGD([['w', p], ['w', p]], { lr: 0.1 }), /twice/);
});
