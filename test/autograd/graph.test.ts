// Autograd semantics: accumulation, unused inputs, freed graphs, no-grad mode, createGraph,
// non-scalar outputs, exact Hessian-vector products of a quadratic, non-leaf inputs, diamonds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn, tensor } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import * as F from '../../src/autograd/index.js';
import { backward, grad, hvp, noGrad, enableGrad, isGradEnabled } from '../../src/autograd/graph.js';

const gen = new Generator(7, 'graph-test');
const r = (...shape: number[]): Tensor => randn(shape, gen, { dtype: 'float64', requiresGrad: true });
const c = (...shape: number[]): Tensor => randn(shape, gen, { dtype: 'float64' });

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-13, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)), `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}
const map = (t: Tensor, f: (v: number, i: number) => number): number[] => Array.from(t.data, f);

test('backward() accumulates into .grad across two calls, on leaves only', () => {
  const x = r(4), w = r(4);
  const loss = (): Tensor => F.sum(F.mul(F.mul(x, x), w)); // grad_x = 2 x w, grad_w = x^2
  backward(loss());
  close(x.grad!.data, map(x, (v, i) => 2 * v * w.data[i]!), 1e-14, 'first');
  close(w.grad!.data, map(x, (v) => v * v), 1e-14, 'first w');
  backward(loss());
  close(x.grad!.data, map(x, (v, i) => 4 * v * w.data[i]!), 1e-14, 'accumulated');
  close(w.grad!.data, map(x, (v) => 2 * v * v), 1e-14, 'accumulated w');
  assert.equal(x.grad!.requiresGrad, false, 'plain backward leaves grads without history');
  // Intermediate (non-leaf) tensors do not get .grad.
  const h = F.mul(x, 2);
  backward(F.sum(h));
  assert.equal(h.grad, null);
  // A constant (not requiring grad) gets nothing.
  const k = c(4);
  backward(F.sum(F.mul(x, k)));
  assert.equal(k.grad, null);
  close(x.grad!.data, map(x, (v, i) => 4 * v * w.data[i]! + 2 + k.data[i]!), 1e-14, 'three accumulations');
});

test('backward with gradOutput for a non-scalar output', () => {
  const x = r(3);
  const go = tensor([1, -2, 0.5], [3], { dtype: 'float64' });
  backward(F.mul(x, x), { gradOutput: go });
  close(x.grad!.data, map(x, (v, i) => 2 * v * go.data[i]!), 1e-14);
});

test('grad(): allowUnused gives zeros; an unused input is an error otherwise', () => {
  const x = r(3), y = r(2, 2);
  const out = F.sum(F.exp(x));
  const [gx, gy] = grad(out, [x, y], { allowUnused: true, retainGraph: true });
  close(gx!.data, map(x, Math.exp), 1e-14);
  assert.deepEqual(gy!.shape, [2, 2]);
  close(gy!.data, [0, 0, 0, 0], 0);
  assert.throws(() => grad(out, [x, y]), (e: Error) => /input 1/.test(e.message) && /not used/.test(e.message) && /\[2, 2\]/.test(e.message) && /allowUnused/.test(e.message));
  // An input that does not require grad is refused.
  assert.throws(() => grad(F.sum(F.exp(x)), [c(3)]), /does not require a gradient/);
  // An output that nothing recorded is refused.
  assert.throws(() => grad(F.sum(c(3)), [x]), /does not require a gradient/);
});

test('second backward through a freed graph fails with a clear message; retainGraph allows it', () => {
  const x = r(3);
  const y = F.sum(F.tanh(F.mul(x, x)));
  grad(y, [x]);
  assert.throws(() => grad(y, [x]), (e: Error) => /already freed/.test(e.message) && /retainGraph/.test(e.message));
  const z = F.sum(F.tanh(F.mul(x, x)));
  const [g1] = grad(z, [x], { retainGraph: true });
  const [g2] = grad(z, [x], { retainGraph: true });
  const [g3] = grad(z, [x]);
  close(g2!.data, g1!.data, 0);
  close(g3!.data, g1!.data, 0);
  close(g1!.data, map(x, (v) => 2 * v * (1 - Math.tanh(v * v) ** 2)), 1e-14);
  // backward() likewise
  const w = F.sum(F.exp(x));
  backward(w);
  assert.throws(() => backward(w), /already freed/);
  const w2 = F.sum(F.exp(x));
  x.grad = null;
  backward(w2, { retainGraph: true });
  backward(w2);
  close(x.grad!.data, map(x, (v) => 2 * Math.exp(v)), 1e-14);
});

test('noGrad records nothing; enableGrad inside noGrad records again', () => {
  const x = r(2, 3), w = r(3, 2);
  const y = noGrad(() => F.relu(F.matmul(x, w)));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  assert.equal(isGradEnabled(), true);
  noGrad(() => {
    assert.equal(isGradEnabled(), false);
    const z = enableGrad(() => F.mul(x, 2));
    assert.equal(z.requiresGrad, true);
    assert.notEqual(z.gradFn, null);
    assert.equal(F.exp(x).requiresGrad, false);
  });
  // The mode is restored after an exception.
  assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
  assert.equal(isGradEnabled(), true);
  // Results from tensors that do not require grad record nothing either.
  const k = F.mul(c(3), c(3));
  assert.equal(k.requiresGrad, false);
  assert.equal(k.gradFn, null);
  assert.throws(() => grad(F.sum(y), [x]), /does not require a gradient/);
});

test('createGraph: gradients require grad and can be differentiated again', () => {
  const x = r(4);
  const y = F.sum(F.powScalar(x, 3)); // dy/dx = 3x^2, d2 = 6x
  const [g] = grad(y, [x], { createGraph: true });
  assert.equal(g!.requiresGrad, true);
  close(g!.data, map(x, (v) => 3 * v * v), 1e-14);
  const [h] = grad(F.sum(g!), [x], { retainGraph: true });
  close(h!.data, map(x, (v) => 6 * v), 1e-14);
  // third derivative through two recorded passes
  const [g2] = grad(F.sum(g!), [x], { createGraph: true });
  assert.equal(g2!.requiresGrad, true);
  const [g3] = grad(F.sum(g2!), [x]);
  close(g3!.data, [6, 6, 6, 6], 1e-14);
  // the first recorded graph was retained (createGraph retains by default), then freed by g3's pass
  // only for g2's own graph; g's graph still works once more without retainGraph
  const [h2] = grad(F.sum(g!), [x]);
  close(h2!.data, h!.data, 0);
  // without createGraph the gradient carries no history
  const [p] = grad(F.sum(F.powScalar(x, 3)), [x]);
  assert.equal(p!.requiresGrad, false);
  // backward with createGraph leaves a differentiable .grad
  const z = r(3);
  backward(F.sum(F.mul(F.exp(z), z)), { createGraph: true });
  assert.equal(z.grad!.requiresGrad, true);
  const [zz] = grad(F.sum(z.grad!), [z]); // d/dz (e^z (1 + z)) = e^z (2 + z)
  close(zz!.data, map(z, (v) => Math.exp(v) * (2 + v)), 1e-14);
});

test('gradOutputs for non-scalar outputs, several outputs at once', () => {
  const x = r(2, 3);
  const y = F.mul(x, x);
  const v = c(2, 3);
  const [g] = grad(y, [x], { gradOutputs: [v], retainGraph: true });
  close(g!.data, map(x, (t, i) => 2 * t * v.data[i]!), 1e-14);
  const [gt] = grad(y, [x], { gradOutputs: v, retainGraph: true });
  close(gt!.data, g!.data, 0);
  assert.throws(() => grad(y, [x]), /gradOutputs is required/);
  assert.throws(() => grad(y, [x], { gradOutputs: [c(3, 2)] }), /\[3, 2\]/);
  // two outputs: gradients add
  const a = F.exp(x), b = F.sum(F.mul(x, 3));
  const va = c(2, 3);
  const [gs] = grad([a, b], [x], { gradOutputs: [va, null] });
  close(gs!.data, map(x, (t, i) => Math.exp(t) * va.data[i]! + 3), 1e-14);
});

test('hvp of the quadratic 0.5 xᵀAx is A v (symmetric A) and (A + Aᵀ)v / 2 otherwise', () => {
  const n = 5;
  const B = c(n, n);
  const Asym = F.add(B, F.transpose(B)); // symmetric
  const x = r(n), v = c(n);
  const quad = (A: Tensor) => (): Tensor => F.mulScalar(F.sum(F.mul(x, F.matmul(A, x))), 0.5);
  const [hv] = hvp(quad(Asym), [x], [v]);
  const Av = F.matmul(Asym, v).data;
  close(hv!.data, Av, 1e-14, 'A v');
  const [hvB] = hvp(quad(B), [x], [v]);
  const ref = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += 0.5 * (B.data[i * n + j]! + B.data[j * n + i]!) * v.data[j]!;
    return s;
  });
  close(hvB!.data, ref, 1e-14, '(A + Aᵀ) v / 2');
  // Two parameters: f = <a, b>^2 / 2 ... H = [[b bᵀ, ab ᵀ + s I], [b aᵀ + s I, a aᵀ]] with s = <a, b>
  const a = r(3), b = r(3), va = c(3), vb = c(3);
  const [ha, hb] = hvp(() => F.mulScalar(F.square(F.sum(F.mul(a, b))), 0.5), [a, b], [va, vb]);
  const dot = (p: Tensor, q: Tensor): number => { let s = 0; for (let i = 0; i < p.size; i++) s += p.data[i]! * q.data[i]!; return s; };
  const s = dot(a, b);
  close(ha!.data, map(a, (_, i) => b.data[i]! * dot(b, va) + b.data[i]! * dot(a, vb) + s * vb.data[i]!), 1e-13, 'H_a');
  close(hb!.data, map(b, (_, i) => a.data[i]! * dot(b, va) + s * va.data[i]! + a.data[i]! * dot(a, vb)), 1e-13, 'H_b');
  // linear function: zero Hessian; unused parameter: zeros
  const unused = r(2);
  const [h0, hu] = hvp(() => F.sum(F.mul(x, 3)), [x, unused], [v, c(2)]);
  close(h0!.data, new Array(n).fill(0), 0);
  close(hu!.data, [0, 0], 0);
  assert.throws(() => hvp(quad(Asym), [x], [c(n + 1)]), /direction 0/);
});

test('grad with respect to a non-leaf input', () => {
  const x = r(3);
  const h = F.mul(F.exp(x), 2);
  const y = F.sum(F.square(h));
  const [gh, gx] = grad(y, [h, x]);
  close(gh!.data, map(h, (v) => 2 * v), 1e-14, 'dy/dh');
  close(gx!.data, map(x, (v) => 8 * Math.exp(2 * v)), 1e-13, 'dy/dx');
  // only the non-leaf: the graph below it is not needed
  const h2 = F.tanh(x);
  const [g2] = grad(F.sum(F.mul(h2, h2)), [h2]);
  close(g2!.data, map(h2, (v) => 2 * v), 1e-14);
});

test('diamond graphs accumulate every path', () => {
  const x = r(4);
  // x -> a = 2x, x -> b = 3x, y = sum(a * b) = 6 x^2  =>  12 x
  const [g1] = grad(F.sum(F.mul(F.mul(x, 2), F.mul(x, 3))), [x]);
  close(g1!.data, map(x, (v) => 12 * v), 1e-14, 'a*b');
  // x used twice directly: sum(x * x) => 2x
  const [g2] = grad(F.sum(F.mul(x, x)), [x]);
  close(g2!.data, map(x, (v) => 2 * v), 1e-14, 'x*x');
  // deeper diamond: h = exp(x); y = sum(h * tanh(h) + h)
  const h = F.exp(x);
  const [g3] = grad(F.sum(F.add(F.mul(h, F.tanh(h)), h)), [x]);
  close(g3!.data, map(x, (v) => { const e = Math.exp(v), t = Math.tanh(e); return (t + e * (1 - t * t) + 1) * e; }), 1e-13, 'deep');
  // the same output listed twice counts twice
  const y = F.sum(F.mul(x, 5));
  const [g4] = grad([y, y], [x]);
  close(g4!.data, [10, 10, 10, 10], 0, 'output twice');
  // second derivative through a diamond: d2/dx2 of sum(x^2 * x) = 6x
  const [gg] = grad(F.sum(F.mul(F.mul(x, x), x)), [x], { createGraph: true });
  const [hh] = grad(F.sum(gg!), [x]);
  close(hh!.data, map(x, (v) => 6 * v), 1e-14, 'second derivative');
});
