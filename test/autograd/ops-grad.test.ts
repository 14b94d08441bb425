// Acceptance tests of every differentiable op: first derivatives (gradcheck) and second derivatives
// (hvpcheck: double-backprop Hessian-vector products against central differences of gradients) in
// float64, on random inputs, over the ops' options; plus forward values against small independent
// computations. For every op, hvpcheck runs on the op itself and on square(op), so that even ops
// linear in their inputs have their vector-Jacobian products differentiated again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn, rand, tensor, zeros, ones } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import * as F from '../../src/autograd/index.js';
import { grad } from '../../src/autograd/graph.js';
import { checkOp as check } from '../helpers/opcheck.js';
import { conv2dParams } from '../../src/autograd/ops/conv.js';
import { pool2dParams } from '../../src/autograd/ops/pool.js';

const gen = new Generator(20240611, 'ops-grad');
const f64 = { dtype: 'float64' as const, requiresGrad: true };
/** A float64 standard-normal leaf that requires a gradient. */
const r = (...shape: number[]): Tensor => randn(shape, gen, f64);
/** Uniform in [lo, hi). */
const u = (lo: number, hi: number, ...shape: number[]): Tensor => rand(shape, gen, { ...f64, low: lo, high: hi });
const leaf = (values: number[], shape: number[]): Tensor => tensor(values, shape, f64);
/** Shifts random values at least `margin` away from every kink, so finite differences are valid. */
function avoid(t: Tensor, kinks: number[], margin = 0.1): Tensor {
  for (let i = 0; i < t.size; i++) {
    for (const k of kinks) {
      const d = t.data[i]! - k;
      if (Math.abs(d) < margin) t.data[i] = k + (d >= 0 ? margin + Math.abs(d) : -margin - Math.abs(d));
    }
  }
  return t;
}
/** Distinct values at least 0.05 apart, randomly placed: no ties for max / max pooling. */
function distinct(...shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const p = gen.permutation(n);
  const t = zeros(shape, f64);
  for (let i = 0; i < n; i++) t.data[i] = (p[i]! - n / 2) * 0.05 + 0.01 * gen.uniform();
  return t;
}

function dotOf(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

// ---------------------------------------------------------------- element-wise binary

test('add/sub/mul/div: same shape, broadcast, scalar operands', () => {
  for (const [name, op] of [['add', F.add], ['sub', F.sub], ['mul', F.mul]] as const) {
    check(`${name} same`, (a, b) => op(a, b), [r(2, 3), r(2, 3)]);
    check(`${name} broadcast`, (a, b) => op(a, b), [r(2, 1, 3), r(4, 1)]);
    check(`${name} rank-0`, (a, b) => op(a, b), [r(3, 2), r()]);
    check(`${name} number right`, (a) => op(a, 1.7), [r(2, 3)]);
    check(`${name} number left`, (a) => op(-0.6, a), [r(2, 3)]);
  }
  check('div same', (a, b) => F.div(a, b), [r(2, 3), avoid(r(2, 3), [0], 0.5)]);
  check('div broadcast', (a, b) => F.div(a, b), [r(3, 4), avoid(r(4), [0], 0.5)]);
  check('div number right', (a) => F.div(a, 3), [r(2, 3)]);
  check('div number left', (b) => F.div(2, b), [avoid(r(2, 3), [0], 0.5)]);
  // forward values
  const a = leaf([1, 2, 3, 4], [2, 2]), b = leaf([10, 20], [2]);
  close(F.add(a, b).data, [11, 22, 13, 24]);
  close(F.sub(a, b).data, [-9, -18, -7, -16]);
  close(F.mul(a, b).data, [10, 40, 30, 80]);
  close(F.div(a, b).data, [0.1, 0.1, 0.3, 0.2]);
  close(F.sub(5, a).data, [4, 3, 2, 1]);
  close(F.div(2, a).data, [2, 1, 2 / 3, 0.5]);
});

test('neg, exp, log, sqrt, square, reciprocal, rsqrt', () => {
  check('neg', (x) => F.neg(x), [r(3, 4)]);
  check('exp', (x) => F.exp(x), [r(3, 4)]);
  check('log', (x) => F.log(x), [u(0.3, 3, 3, 4)]);
  check('sqrt', (x) => F.sqrt(x), [u(0.3, 3, 3, 4)]);
  check('square', (x) => F.square(x), [r(3, 4)]);
  check('reciprocal', (x) => F.reciprocal(x), [u(0.3, 3, 3, 4)]);
  check('rsqrt', (x) => F.rsqrt(x), [u(0.3, 3, 3, 4)]);
  const x = leaf([0.5, 1, 4], [3]);
  close(F.exp(x).data, [Math.exp(0.5), Math.E, Math.exp(4)]);
  close(F.log(x).data, [Math.log(0.5), 0, Math.log(4)]);
  close(F.sqrt(x).data, [Math.SQRT1_2, 1, 2]);
  close(F.rsqrt(x).data, [Math.SQRT2, 1, 0.5]);
});

test('pow: scalar exponent, tensor exponent, number base', () => {
  for (const p of [2, 3, -1.5, 0.5, 2.7]) check(`pow ^${p}`, (a) => F.pow(a, p), [u(0.3, 2.5, 3, 3)]);
  check('pow tensor exponent', (a, b) => F.pow(a, b), [u(0.3, 2.5, 2, 3), r(2, 3)]);
  check('pow broadcast exponent', (a, b) => F.pow(a, b), [u(0.3, 2.5, 2, 3), r(3)]);
  check('pow number base', (b) => F.pow(1.7, b), [r(2, 3)]);
  close(F.pow(leaf([2, 3], [2]), leaf([3, 0.5], [2])).data, [8, Math.sqrt(3)]);
  close(F.pow(leaf([2, 9], [2]), -0.5).data, [Math.SQRT1_2, 1 / 3]);
});

test('abs, sign (zero gradient), relu: away from the kink', () => {
  check('abs', (x) => F.abs(x), [avoid(r(3, 4), [0])]);
  check('relu', (x) => F.relu(x), [avoid(r(3, 4), [0])]);
  // sign records nothing: its gradient is zero. x + sign(x) has the identity as its Jacobian.
  const x = avoid(r(3, 4), [0]);
  assert.equal(F.sign(x).requiresGrad, false);
  check('x + sign(x)', (t) => F.add(t, F.sign(t)), [x]);
  const gs = grad(F.sum(F.add(F.mul(F.sign(x), 3), F.mulScalar(x, 0))), [x]);
  close(gs[0]!.data, new Array(x.size).fill(0), 0, 'sign gradient');
  close(F.sign(leaf([-2, 0, 3], [3])).data, [-1, 0, 1]);
  close(F.relu(leaf([-2, 0.5, 3], [3])).data, [0, 0.5, 3]);
  close(F.abs(leaf([-2, 0.5, -3], [3])).data, [2, 0.5, 3]);
});

test('gelu (none, tanh), tanh, sigmoid, erf: gradients and values', () => {
  check('gelu none', (x) => F.gelu(x), [r(3, 4)]);
  check('gelu tanh', (x) => F.gelu(x, 'tanh'), [r(3, 4)]);
  check('tanh', (x) => F.tanh(x), [r(3, 4)]);
  check('sigmoid', (x) => F.sigmoid(x), [r(3, 4)]);
  check('erf', (x) => F.erf(x), [r(3, 4)]);
  const one = leaf([1, -1, 0, 2.5], [4]);
  const phi = (x: number): number => 0.5 * x * (1 + erfRef(x / Math.SQRT2));
  close(F.gelu(one).data, [0.8413447460685429, -0.15865525393145707, 0, phi(2.5)], 1e-14, 'gelu');
  const gt = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  close(F.gelu(one, 'tanh').data, [gt(1), gt(-1), 0, gt(2.5)], 1e-14, 'gelu tanh');
  close(F.tanh(one).data, [Math.tanh(1), Math.tanh(-1), 0, Math.tanh(2.5)], 1e-14);
  close(F.sigmoid(one).data, [1 / (1 + Math.exp(-1)), 1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-2.5))], 1e-14);
});

/** erf by its Taylor series (|x| <= 3 in these tests): an independent reference. */
function erfRef(x: number): number {
  let term = x, s = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    s += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}

test('where: tensor and number branches, broadcast condition', () => {
  const cond = tensor([1, 0, 0, 1, 1, 0], [2, 3], { dtype: 'float64' });
  check('where', (a, b) => F.where(cond, a, b), [r(2, 3), r(2, 3)]);
  check('where broadcast', (a, b) => F.where(tensor([0, 1, 1], [3], { dtype: 'float64' }), a, b), [r(2, 3), r(2, 1)]);
  check('where number b', (a) => F.where(cond, a, -2), [r(2, 3)]);
  check('where number a', (b) => F.where(cond, 0.5, b), [r(2, 3)]);
  close(F.where(cond, leaf([1, 2, 3, 4, 5, 6], [2, 3]), -1).data, [1, -1, -1, 4, 5, -1]);
  // The gradient goes to the chosen branch only.
  const a = r(2, 3), b = r(2, 3);
  const [ga, gb] = grad(F.sum(F.where(cond, a, b)), [a, b]);
  close(ga!.data, [1, 0, 0, 1, 1, 0]);
  close(gb!.data, [0, 1, 1, 0, 0, 1]);
});

test('clamp: min, max, both', () => {
  check('clamp both', (x) => F.clamp(x, -0.5, 0.7), [avoid(r(3, 4), [-0.5, 0.7])]);
  check('clamp min', (x) => F.clamp(x, 0.2, null), [avoid(r(3, 4), [0.2])]);
  check('clamp max', (x) => F.clamp(x, null, -0.1), [avoid(r(3, 4), [-0.1])]);
  const x = leaf([-2, -0.3, 0.4, 3], [4]);
  close(F.clamp(x, -0.5, 0.7).data, [-0.5, -0.3, 0.4, 0.7]);
  const [g] = grad(F.sum(F.clamp(x, -0.5, 0.7)), [x]);
  close(g!.data, [0, 1, 1, 0]);
});

test('maximum/minimum of tensors (and their even split at ties)', () => {
  const a = r(3, 4), b = r(3, 4);
  for (let i = 0; i < a.size; i++) if (Math.abs(a.data[i]! - b.data[i]!) < 0.1) a.data[i] = b.data[i]! + 0.2;
  check('maximum', (x, y) => F.maximum(x, y), [a, b]);
  check('minimum', (x, y) => F.minimum(x, y), [a, b]);
  const x = leaf([1, 2, 3], [3]), y = leaf([2, 2, 1], [3]);
  const [gx, gy] = grad(F.sum(F.maximum(x, y)), [x, y]);
  close(gx!.data, [0, 0.5, 1]);
  close(gy!.data, [1, 0.5, 0]);
});

// ---------------------------------------------------------------- reductions

test('sum/mean over axes with and without keepdim', () => {
  const cases: [number | number[] | undefined, boolean][] = [[undefined, false], [0, false], [-1, true], [[0, 2], false], [[0, 2], true], [1, true], [[0, 1, 2], true]];
  for (const [ax, kd] of cases) {
    check(`sum ${JSON.stringify(ax)} ${kd}`, (x) => F.sum(x, ax, kd), [r(2, 3, 4)]);
    check(`mean ${JSON.stringify(ax)} ${kd}`, (x) => F.mean(x, ax, kd), [r(2, 3, 4)]);
  }
  const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
  close(F.sum(x, 1).data, [6, 15]);
  assert.deepEqual(F.sum(x, 1, true).shape, [2, 1]);
  close(F.mean(x, 0).data, [2.5, 3.5, 4.5]);
  close(F.mean(x).data, [3.5]);
  assert.deepEqual(F.mean(x).shape, []);
});

test('max/min over axes (no ties) and even split of the gradient at ties', () => {
  const cases: [number | number[] | undefined, boolean][] = [[undefined, false], [0, false], [-1, true], [[0, 2], false], [[1, 2], true]];
  for (const [ax, kd] of cases) {
    check(`max ${JSON.stringify(ax)} ${kd}`, (x) => F.max(x, ax, kd), [distinct(2, 3, 4)]);
    check(`min ${JSON.stringify(ax)} ${kd}`, (x) => F.min(x, ax, kd), [distinct(2, 3, 4)]);
  }
  const x = leaf([1, 3, 3, 2, 2, 0], [2, 3]);
  close(F.max(x, 1).data, [3, 2]);
  close(F.min(x, 1).data, [1, 0]);
  const [g] = grad(F.sum(F.max(x, 1)), [x]);
  close(g!.data, [0, 0.5, 0.5, 0.5, 0.5, 0]);
  const y = leaf([4, 1, 4, 4, 1, 2], [6]);
  const [gmax] = grad(F.max(y), [y]);
  close(gmax!.data, [1 / 3, 0, 1 / 3, 1 / 3, 0, 0]);
  const [gmin] = grad(F.mul(F.min(y), 6), [y]);
  close(gmin!.data, [0, 3, 0, 0, 3, 0]);
});

test('variance: unbiased and biased, axes, keepdim', () => {
  check('var all', (x) => F.variance(x), [r(3, 4)]);
  check('var axis 1', (x) => F.variance(x, 1), [r(3, 4)]);
  check('var biased keepdim', (x) => F.variance(x, [0, 2], { unbiased: false, keepdim: true }), [r(2, 3, 4)]);
  const x = leaf([1, 2, 3, 4, 6, 8], [2, 3]);
  close(F.variance(x, 1).data, [1, 4]);
  close(F.variance(x, 1, { unbiased: false }).data, [2 / 3, 8 / 3]);
  close(F.variance(x).data, [(9 + 4 + 1 + 0 + 4 + 16) / 5]);
});

// ---------------------------------------------------------------- matrix products

function naiveMatmul(a: Tensor, b: Tensor): number[] {
  const [m, k] = a.shape as [number, number], n = b.shape[1]!;
  const out: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a.data[i * k + t]! * b.data[t * n + j]!;
    out.push(s);
  }
  return out;
}

test('matmul: 2-d, batched, broadcast batch, 1-d operands', () => {
  const cases: [number[], number[], number[]][] = [
    [[3, 4], [4, 5], [3, 5]],
    [[2, 3, 4], [2, 4, 5], [2, 3, 5]],
    [[2, 1, 3, 4], [3, 4, 2], [2, 3, 3, 2]],
    [[3, 4], [2, 4, 5], [2, 3, 5]],
    [[2, 3, 4], [4, 2], [2, 3, 2]],
    [[4], [4, 5], [5]],
    [[3, 4], [4], [3]],
    [[4], [4], []],
    [[4], [2, 4, 3], [2, 3]],
    [[2, 3, 4], [4], [2, 3]],
  ];
  for (const [sa, sb, so] of cases) {
    const a = r(...sa), b = r(...sb);
    assert.deepEqual(F.matmul(a, b).shape, so, `${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`);
    check(`matmul ${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`, (x, y) => F.matmul(x, y), [a, b]);
  }
  const a = r(3, 4), b = r(4, 5);
  close(F.matmul(a, b).data, naiveMatmul(a, b), 1e-13, 'matmul');
  // A broadcast batch: each batch entry is the 2-d product.
  const A = r(2, 3, 4), B = r(4, 2);
  const out = F.matmul(A, B);
  for (let i = 0; i < 2; i++) {
    close(out.data.subarray(i * 6, i * 6 + 6), naiveMatmul(tensor(A.data.subarray(i * 12, i * 12 + 12), [3, 4], { dtype: 'float64' }), B), 1e-13, 'batch');
  }
  const v = r(4), w = r(4);
  close(F.matmul(v, w).data, [dotOf(v, w)], 1e-13, 'dot');
});

test('linear: with and without bias, 3-d input', () => {
  check('linear bias', (x, w, b) => F.linear(x, w, b), [r(4, 3), r(5, 3), r(5)]);
  check('linear no bias', (x, w) => F.linear(x, w), [r(4, 3), r(5, 3)]);
  check('linear 3-d', (x, w, b) => F.linear(x, w, b), [r(2, 3, 4), r(2, 4), r(2)]);
  check('linear 1-d', (x, w, b) => F.linear(x, w, b), [r(4), r(3, 4), r(3)]);
  const x = r(2, 3, 4), w = r(5, 4), b = r(5);
  const y = F.linear(x, w, b);
  assert.deepEqual(y.shape, [2, 3, 5]);
  const expect: number[] = [];
  for (let i = 0; i < 6; i++) for (let o = 0; o < 5; o++) {
    let s = b.data[o]!;
    for (let k = 0; k < 4; k++) s += x.data[i * 4 + k]! * w.data[o * 4 + k]!;
    expect.push(s);
  }
  close(y.data, expect, 1e-13, 'linear');
});

// ---------------------------------------------------------------- convolution

interface ConvO { stride?: [number, number]; padding?: [number, number]; dilation?: [number, number]; groups?: number }
function naiveConv(x: Tensor, w: Tensor, b: Tensor | null, o: ConvO): { data: number[]; shape: number[] } {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [oc, cg, kh, kw] = w.shape as [number, number, number, number];
  const [sh, sw] = o.stride ?? [1, 1], [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1], g = o.groups ?? 1;
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1, ow = Math.floor((wd + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const ocg = oc / g;
  const out: number[] = [];
  for (let b0 = 0; b0 < n; b0++) for (let o0 = 0; o0 < oc; o0++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    let s = b ? b.data[o0]! : 0;
    const grp = Math.floor(o0 / ocg);
    for (let ci = 0; ci < cg; ci++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const y = i * sh - ph + p * dh, z = j * sw - pw + q * dw;
      if (y < 0 || y >= h || z < 0 || z >= wd) continue;
      s += x.data[((b0 * c + grp * cg + ci) * h + y) * wd + z]! * w.data[((o0 * cg + ci) * kh + p) * kw + q]!;
    }
    out.push(s);
  }
  return { data: out, shape: [n, oc, oh, ow] };
}

const convCases: { name: string; x: number[]; w: number[]; bias: boolean; o: ConvO }[] = [
  { name: 'padding 1', x: [2, 3, 5, 5], w: [4, 3, 3, 3], bias: true, o: { padding: [1, 1] } },
  { name: 'stride 2 padding 1', x: [2, 2, 7, 6], w: [3, 2, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1] } },
  { name: 'dilation 2', x: [1, 2, 7, 7], w: [2, 2, 3, 3], bias: true, o: { dilation: [2, 2], padding: [2, 1] } },
  { name: 'groups 2', x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, o: { groups: 2, padding: [1, 1] } },
  { name: 'depthwise', x: [1, 3, 6, 6], w: [3, 1, 3, 3], bias: false, o: { groups: 3, padding: [1, 1] } },
  { name: 'no bias, batch 1, odd sizes, even kernel', x: [1, 3, 7, 5], w: [2, 3, 2, 3], bias: false, o: { stride: [2, 1], padding: [1, 0] } },
  { name: 'stride 3 odd, 1x1 kernel', x: [2, 2, 5, 7], w: [3, 2, 1, 1], bias: true, o: { stride: [3, 2] } },
];

test('conv2d: forward values against a direct loop', () => {
  for (const cc of convCases) {
    const x = r(...cc.x), w = r(...cc.w), b = cc.bias ? r(cc.w[0]!) : null;
    const y = F.conv2d(x, w, b, cc.o);
    const ref = naiveConv(x, w, b, cc.o);
    assert.deepEqual(y.shape, ref.shape, cc.name);
    close(y.data, ref.data, 1e-12, cc.name);
  }
});

test('conv2d: gradients and Hessian-vector products over its options', () => {
  for (const cc of convCases) {
    const ins = cc.bias ? [r(...cc.x), r(...cc.w), r(cc.w[0]!)] : [r(...cc.x), r(...cc.w)];
    check(`conv2d ${cc.name}`, (x, w, b) => F.conv2d(x!, w!, b ?? null, cc.o), ins);
  }
});

test('conv2dInputGrad and conv2dWeightGrad: adjointness and their own derivatives', () => {
  for (const cc of convCases) {
    const x = r(...cc.x), w = r(...cc.w);
    const p = conv2dParams(cc.x, cc.w, cc.o);
    const gy = r(p.n, p.oc, p.oh, p.ow);
    // <conv(x, w), gy> = <x, inputGrad(gy, w)> = <w, weightGrad(x, gy)>
    const dot = dotOf;
    const lhs = dot(F.conv2d(x, w, null, cc.o), gy);
    const gx = F.conv2dInputGrad(gy, w, p), gw = F.conv2dWeightGrad(x, gy, p);
    assert.deepEqual(gx.shape, cc.x);
    assert.deepEqual(gw.shape, cc.w);
    assert.ok(Math.abs(lhs - dot(x, gx)) < 1e-11 * (1 + Math.abs(lhs)), `${cc.name}: input-grad adjoint ${lhs} vs ${dot(x, gx)}`);
    assert.ok(Math.abs(lhs - dot(w, gw)) < 1e-11 * (1 + Math.abs(lhs)), `${cc.name}: weight-grad adjoint ${lhs} vs ${dot(w, gw)}`);
    check(`conv2dInputGrad ${cc.name}`, (g, ww) => F.conv2dInputGrad(g, ww, p), [gy, w]);
    check(`conv2dWeightGrad ${cc.name}`, (xx, g) => F.conv2dWeightGrad(xx, g, p), [x, gy]);
  }
});

// ---------------------------------------------------------------- pooling

interface PoolO { stride?: [number, number]; padding?: [number, number]; dilation?: [number, number]; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number }
function naivePool(kind: 'max' | 'avg', x: Tensor, k: [number, number], o: PoolO, oh: number, ow: number): number[] {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [sh, sw] = o.stride ?? k, [ph, pw] = o.padding ?? [0, 0], [dh, dw] = o.dilation ?? [1, 1];
  const out: number[] = [];
  for (let nc = 0; nc < n * c; nc++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    if (kind === 'max') {
      let m = -Infinity;
      for (let p = 0; p < k[0]; p++) for (let q = 0; q < k[1]; q++) {
        const y = i * sh - ph + p * dh, z = j * sw - pw + q * dw;
        if (y >= 0 && y < h && z >= 0 && z < w) m = Math.max(m, x.data[(nc * h + y) * w + z]!);
      }
      out.push(m);
    } else {
      // PyTorch's avg_pool2d: the window is clipped to the padded input for the divisor with
      // count_include_pad, and to the input itself for the sum and the divisor without it.
      let hs = i * sh - ph, ws = j * sw - pw;
      let he = Math.min(hs + k[0], h + ph), we = Math.min(ws + k[1], w + pw);
      const poolSize = (he - hs) * (we - ws);
      hs = Math.max(hs, 0); ws = Math.max(ws, 0); he = Math.min(he, h); we = Math.min(we, w);
      let s = 0;
      for (let y = hs; y < he; y++) for (let z = ws; z < we; z++) s += x.data[(nc * h + y) * w + z]!;
      const div = o.divisorOverride ? o.divisorOverride : (o.countIncludePad ?? true) ? poolSize : (he - hs) * (we - ws);
      out.push(s / div);
    }
  }
  return out;
}

const maxCases: { name: string; x: number[]; k: [number, number]; o: PoolO; out: [number, number] }[] = [
  { name: 'kernel 2', x: [2, 2, 6, 6], k: [2, 2], o: {}, out: [3, 3] },
  { name: 'kernel 2 odd input', x: [1, 2, 5, 7], k: [2, 2], o: {}, out: [2, 3] },
  { name: 'kernel 3 stride 2', x: [2, 2, 7, 7], k: [3, 3], o: { stride: [2, 2] }, out: [3, 3] },
  { name: 'kernel 3 stride 2 padding 1', x: [1, 3, 6, 5], k: [3, 3], o: { stride: [2, 2], padding: [1, 1] }, out: [3, 3] },
  { name: 'kernel 3 stride 2 ceilMode', x: [1, 2, 6, 6], k: [3, 3], o: { stride: [2, 2], ceilMode: true }, out: [3, 3] },
  { name: 'kernel 2 ceilMode odd', x: [1, 2, 5, 5], k: [2, 2], o: { ceilMode: true }, out: [3, 3] },
  { name: 'kernel 3 stride 1 padding 1', x: [1, 1, 4, 4], k: [3, 3], o: { stride: [1, 1], padding: [1, 1] }, out: [4, 4] },
  { name: 'kernel [2,3] stride [1,2] dilation 2', x: [1, 2, 6, 7], k: [2, 3], o: { stride: [1, 2], dilation: [2, 2] }, out: [4, 2] },
];

test('maxPool2d: values, gradients, Hessian-vector products (no ties)', () => {
  for (const mc of maxCases) {
    const x = distinct(...mc.x);
    const y = F.maxPool2d(x, mc.k, mc.o);
    assert.deepEqual(y.shape, [mc.x[0], mc.x[1], ...mc.out], mc.name);
    close(y.data, naivePool('max', x, mc.k, mc.o, mc.out[0], mc.out[1]), 0, mc.name);
    check(`maxPool2d ${mc.name}`, (t) => F.maxPool2d(t, mc.k, mc.o), [x]);
  }
});

const avgCases: { name: string; x: number[]; k: [number, number]; o: PoolO; out: [number, number] }[] = [
  { name: 'kernel 2', x: [2, 2, 4, 6], k: [2, 2], o: {}, out: [2, 3] },
  { name: 'kernel 3 stride 2 padding 1 countIncludePad', x: [1, 2, 5, 6], k: [3, 3], o: { stride: [2, 2], padding: [1, 1] }, out: [3, 3] },
  { name: 'kernel 3 stride 2 padding 1 exclude pad', x: [1, 2, 5, 6], k: [3, 3], o: { stride: [2, 2], padding: [1, 1], countIncludePad: false }, out: [3, 3] },
  { name: 'kernel 3 stride 2 ceilMode', x: [1, 2, 6, 6], k: [3, 3], o: { stride: [2, 2], ceilMode: true }, out: [3, 3] },
  { name: 'kernel 2 ceilMode padding 1 include pad', x: [1, 1, 5, 4], k: [2, 2], o: { padding: [1, 1], ceilMode: true }, out: [3, 3] },
  { name: 'kernel 3 ceilMode padding 1 exclude pad', x: [1, 2, 6, 7], k: [3, 3], o: { stride: [2, 2], padding: [1, 1], ceilMode: true, countIncludePad: false }, out: [4, 4] },
  { name: 'divisorOverride', x: [1, 2, 5, 5], k: [3, 3], o: { stride: [2, 2], padding: [1, 1], divisorOverride: 5 }, out: [3, 3] },
  { name: 'kernel [3,2] stride [1,2]', x: [2, 1, 5, 6], k: [3, 2], o: { stride: [1, 2] }, out: [3, 3] },
];

test('avgPool2d: values, gradients, Hessian-vector products', () => {
  for (const ac of avgCases) {
    const x = r(...ac.x);
    const y = F.avgPool2d(x, ac.k, ac.o);
    assert.deepEqual(y.shape, [ac.x[0], ac.x[1], ...ac.out], ac.name);
    close(y.data, naivePool('avg', x, ac.k, ac.o, ac.out[0], ac.out[1]), 1e-13, ac.name);
    check(`avgPool2d ${ac.name}`, (t) => F.avgPool2d(t, ac.k, ac.o), [x]);
  }
});

test('avgPool2dBackward: adjoint of avgPool2d and its own derivatives', () => {
  for (const ac of avgCases) {
    const p = pool2dParams('avg_pool2d', ac.x, ac.k, ac.o);
    const x = r(...ac.x), gy = r(p.n, p.c, p.oh, p.ow);
    const gx = F.avgPool2dBackward(gy, p);
    assert.deepEqual(gx.shape, ac.x);
    const lhs = F.sum(F.mul(F.avgPool2d(x, ac.k, ac.o), gy)).item(), rhs = F.sum(F.mul(x, gx)).item();
    assert.ok(Math.abs(lhs - rhs) < 1e-12 * (1 + Math.abs(lhs)), `${ac.name}: ${lhs} vs ${rhs}`);
    check(`avgPool2dBackward ${ac.name}`, (g) => F.avgPool2dBackward(g, p), [gy]);
  }
});

function naiveAdaptive(x: Tensor, oh: number, ow: number): number[] {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const out: number[] = [];
  for (let nc = 0; nc < n * c; nc++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const hs = Math.floor((i * h) / oh), he = Math.ceil(((i + 1) * h) / oh);
    const ws = Math.floor((j * w) / ow), we = Math.ceil(((j + 1) * w) / ow);
    let s = 0;
    for (let y = hs; y < he; y++) for (let z = ws; z < we; z++) s += x.data[(nc * h + y) * w + z]!;
    out.push(s / ((he - hs) * (we - ws)));
  }
  return out;
}

test('adaptiveAvgPool2d and its backward: non-divisible sizes', () => {
  const cases: [number[], [number, number]][] = [[[2, 2, 7, 7], [3, 3]], [[1, 3, 5, 5], [2, 2]], [[2, 1, 7, 5], [3, 2]], [[1, 2, 4, 6], [1, 1]], [[1, 2, 3, 3], [5, 4]]];
  for (const [xs, [oh, ow]] of cases) {
    const name = `${JSON.stringify(xs)} -> ${oh}x${ow}`;
    const x = r(...xs);
    const y = F.adaptiveAvgPool2d(x, [oh, ow]);
    assert.deepEqual(y.shape, [xs[0], xs[1], oh, ow]);
    close(y.data, naiveAdaptive(x, oh, ow), 1e-13, name);
    check(`adaptiveAvgPool2d ${name}`, (t) => F.adaptiveAvgPool2d(t, [oh, ow]), [x]);
    const p = { n: xs[0]!, c: xs[1]!, h: xs[2]!, w: xs[3]!, oh, ow };
    const gy = r(p.n, p.c, oh, ow);
    const gx = F.adaptiveAvgPool2dBackward(gy, p);
    const lhs = F.sum(F.mul(y, gy)).item(), rhs = F.sum(F.mul(x, gx)).item();
    assert.ok(Math.abs(lhs - rhs) < 1e-12 * (1 + Math.abs(lhs)), `${name}: adjoint ${lhs} vs ${rhs}`);
    check(`adaptiveAvgPool2dBackward ${name}`, (g) => F.adaptiveAvgPool2dBackward(g, p), [gy]);
  }
  close(F.adaptiveAvgPool2d(leaf([1, 2, 3, 4, 5], [1, 1, 1, 5]), [1, 2]).data, [2, 4]);
});

// ---------------------------------------------------------------- normalisation

test('batchNorm train mode: gradients and Hessian-vector products w.r.t. input, weight, bias', () => {
  check('batchNorm2d train affine', (x, w, b) => F.batchNorm(x, { training: true, weight: w, bias: b }), [r(3, 2, 3, 3), r(2), r(2)]);
  check('batchNorm2d train no affine', (x) => F.batchNorm(x, { training: true }), [r(2, 3, 2, 3)]);
  check('batchNorm1d train', (x, w, b) => F.batchNorm(x, { training: true, weight: w, bias: b, eps: 1e-3 }), [r(5, 3), r(3), r(3)]);
  const rm = zeros([2], { dtype: 'float64' }), rv = ones([2], { dtype: 'float64' });
  check('batchNorm2d train with running stats', (x, w, b) => F.batchNorm(x, { training: true, weight: w, bias: b, runningMean: rm, runningVar: rv }), [r(2, 2, 3, 2), r(2), r(2)]);
});

test('batchNorm train mode: weight-only and bias-only affine, 3-d input', () => {
  check('batchNorm2d train weight only', (x, w) => F.batchNorm(x, { training: true, weight: w }), [r(3, 2, 2, 2), r(2)]);
  check('batchNorm2d train bias only', (x, b) => F.batchNorm(x, { training: true, bias: b }), [r(3, 2, 2, 2), r(2)]);
  check('batchNorm1d train [N, C, L]', (x, w, b) => F.batchNorm(x, { training: true, weight: w, bias: b }), [r(3, 2, 4), r(2), r(2)]);
});

test('batchNorm train mode: the fused first-order backward equals the recorded (createGraph) one', () => {
  // grad without createGraph runs the fused kernels; with createGraph the composite formula.
  const x = r(4, 3, 2, 3), w = r(3), b = r(3), gy = r(4, 3, 2, 3);
  for (const [name, ins] of [['affine', [x, w, b]], ['weight', [x, w]], ['bias', [x, b]], ['none', [x]]] as const) {
    const f = (): Tensor => F.sum(F.mul(F.batchNorm(x, { training: true, weight: ins.includes(w) ? w : null, bias: ins.includes(b) ? b : null }), gy));
    const fast = grad(F.enableGrad(f), [...ins]);
    const slow = grad(F.enableGrad(f), [...ins], { createGraph: true });
    fast.forEach((g, i) => close(g.data, slow[i]!.data, 1e-12, `${name} input ${i}`));
  }
});

test('channelScaleShift: x s[c] + t[c], gradients and Hessian-vector products', () => {
  check('channelScaleShift NCHW', (x, s, t) => F.channelScaleShift(x, s, t), [r(2, 3, 2, 2), r(3), r(3)]);
  check('channelScaleShift [N, C] no shift', (x, s) => F.channelScaleShift(x, s, null), [r(4, 3), r(3)]);
  const x = r(2, 2, 3), s = r(2), t = r(2);
  const y = F.channelScaleShift(x, s, t);
  close(y.data, Array.from(x.data, (v, i) => v * s.data[Math.floor(i / 3) % 2]! + t.data[Math.floor(i / 3) % 2]!), 1e-15, 'channelScaleShift values');
});

test('batchNorm train mode: output formula and running statistics as PyTorch (unbiased var)', () => {
  const [n, c, h, w] = [3, 2, 2, 3];
  const x = r(n, c, h, w), wt = r(c), bs = r(c);
  const rm0 = [0.3, -0.2], rv0 = [1.5, 0.7];
  for (const momentum of [0.1, 0.25]) {
    const rm = tensor(rm0, [c], { dtype: 'float64' }), rv = tensor(rv0, [c], { dtype: 'float64' });
    const y = F.batchNorm(x, { training: true, weight: wt, bias: bs, runningMean: rm, runningVar: rv, momentum });
    const m = n * h * w;
    for (let ch = 0; ch < c; ch++) {
      const vals: number[] = [];
      for (let b = 0; b < n; b++) for (let i = 0; i < h * w; i++) vals.push(x.data[(b * c + ch) * h * w + i]!);
      const mu = vals.reduce((s, v) => s + v, 0) / m;
      const ss = vals.reduce((s, v) => s + (v - mu) ** 2, 0);
      const varB = ss / m, varU = ss / (m - 1);
      assert.ok(Math.abs(rm.data[ch]! - ((1 - momentum) * rm0[ch]! + momentum * mu)) < 1e-14, `running_mean[${ch}] ${rm.data[ch]}`);
      assert.ok(Math.abs(rv.data[ch]! - ((1 - momentum) * rv0[ch]! + momentum * varU)) < 1e-14, `running_var[${ch}] ${rv.data[ch]} (unbiased ${(1 - momentum) * rv0[ch]! + momentum * varU}, biased would be ${(1 - momentum) * rv0[ch]! + momentum * varB})`);
      for (let b = 0; b < n; b++) for (let i = 0; i < h * w; i++) {
        const k = (b * c + ch) * h * w + i;
        const e = ((x.data[k]! - mu) / Math.sqrt(varB + 1e-5)) * wt.data[ch]! + bs.data[ch]!;
        assert.ok(Math.abs(y.data[k]! - e) < 1e-12, `y[${k}] ${y.data[k]} vs ${e}`);
      }
    }
  }
  // Default momentum 0.1 in a second step, from the updated state.
  const rm = tensor(rm0, [c], { dtype: 'float64' }), rv = tensor(rv0, [c], { dtype: 'float64' });
  F.batchNorm(x, { training: true, runningMean: rm, runningVar: rv });
  const rm1 = Array.from(rm.data), rv1 = Array.from(rv.data);
  const x2 = r(n, c, h, w);
  F.batchNorm(x2, { training: true, runningMean: rm, runningVar: rv });
  const st = F.mean(x2, [0, 2, 3]).data, vu = F.variance(x2, [0, 2, 3]).data;
  close(rm.data, rm1.map((v, i) => 0.9 * v + 0.1 * st[i]!), 1e-14, 'second step running_mean');
  close(rv.data, rv1.map((v, i) => 0.9 * v + 0.1 * vu[i]!), 1e-14, 'second step running_var');
  // No recording of the running statistics.
  assert.equal(rm.requiresGrad, false);
  assert.equal(rm.gradFn, null);
});

test('batchNorm eval mode: running statistics, formula, derivatives', () => {
  const c = 3;
  const rm = r(c), rv = u(0.5, 2, c);
  const x = r(2, c, 2, 2), wt = r(c), bs = r(c);
  const y = F.batchNorm(x, { training: false, runningMean: rm, runningVar: rv, weight: wt, bias: bs });
  const e: number[] = [];
  for (let i = 0; i < x.size; i++) {
    const ch = Math.floor(i / 4) % c;
    e.push(((x.data[i]! - rm.data[ch]!) / Math.sqrt(rv.data[ch]! + 1e-5)) * wt.data[ch]! + bs.data[ch]!);
  }
  close(y.data, e, 1e-13, 'batchNorm eval');
  const before = [Array.from(rm.data), Array.from(rv.data)];
  check('batchNorm eval', (xx, w, b, m, v) => F.batchNorm(xx, { training: false, runningMean: m, runningVar: v, weight: w, bias: b }), [x, wt, bs, rm, rv]);
  check('batchNorm eval no affine', (xx) => F.batchNorm(xx, { training: false, runningMean: rm.detach(), runningVar: rv.detach() }), [r(2, c, 3)]);
  check('batchNorm eval weight only', (xx, w) => F.batchNorm(xx, { training: false, runningMean: rm.detach(), runningVar: rv.detach(), weight: w }), [r(2, c), r(c)]);
  close(rm.data, before[0]!, 0, 'eval leaves running_mean');
  close(rv.data, before[1]!, 0, 'eval leaves running_var');
});

test('layerNorm: the fused first-order backward equals the recorded (createGraph) one', () => {
  const x = r(3, 4, 5), gy = r(3, 4, 5);
  for (const shape of [[5], [4, 5]]) {
    const w = r(...shape), b = r(...shape);
    const f = (): Tensor => F.sum(F.mul(F.layerNorm(x, shape, w, b), gy));
    const fast = grad(F.enableGrad(f), [x, w, b]);
    const slow = grad(F.enableGrad(f), [x, w, b], { createGraph: true });
    fast.forEach((g, i) => close(g.data, slow[i]!.data, 1e-12, `layerNorm [${shape}] input ${i}`));
  }
});

test('layerNorm: with and without affine; output has mean 0 and variance 1', () => {
  check('layerNorm affine', (x, w, b) => F.layerNorm(x, [4], w, b), [r(2, 3, 4), r(4), r(4)]);
  check('layerNorm 2 axes affine', (x, w, b) => F.layerNorm(x, [3, 4], w, b), [r(2, 3, 4), r(3, 4), r(3, 4)]);
  check('layerNorm plain', (x) => F.layerNorm(x, [5]), [r(3, 5)]);
  const x = r(3, 6);
  const y = F.layerNorm(x, [6], null, null, 0);
  for (let i = 0; i < 3; i++) {
    const row = Array.from(y.data.subarray(i * 6, i * 6 + 6));
    const m = row.reduce((s, v) => s + v, 0) / 6;
    const v = row.reduce((s, t) => s + (t - m) ** 2, 0) / 6;
    assert.ok(Math.abs(m) < 1e-14, `mean ${m}`);
    assert.ok(Math.abs(v - 1) < 1e-13, `var ${v}`);
  }
  const y5 = F.layerNorm(leaf([1, 2, 3, 4], [1, 4]), [4]);
  const sd = Math.sqrt(1.25 + 1e-5);
  close(y5.data, [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd], 1e-14, 'layerNorm eps');
});

// ---------------------------------------------------------------- softmax and losses

test('softmax and logSoftmax: axes, sums, derivatives', () => {
  for (const ax of [-1, 0, 1]) {
    check(`softmax ${ax}`, (x) => F.softmax(x, ax), [r(2, 3, 4)]);
    check(`logSoftmax ${ax}`, (x) => F.logSoftmax(x, ax), [r(2, 3, 4)]);
  }
  const x = r(3, 5);
  x.data[0] = 800; // large logits stay finite
  const s = F.softmax(x, 1);
  for (let i = 0; i < 3; i++) {
    const row = Array.from(s.data.subarray(i * 5, i * 5 + 5));
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-14, 'rows sum to 1');
    assert.ok(row.every((v) => v >= 0 && Number.isFinite(v)));
  }
  const ls = F.logSoftmax(x, 1);
  close(ls.data, Array.from(s.data, (v) => Math.log(v)).map((v, i) => (Number.isFinite(v) ? v : ls.data[i]!)), 1e-12, 'log of softmax');
  const z = leaf([1, 2, 3], [3]);
  const den = Math.exp(1) + Math.exp(2) + Math.exp(3);
  close(F.softmax(z).data, [Math.exp(1) / den, Math.exp(2) / den, Math.exp(3) / den], 1e-15);
});

test('crossEntropy: hand example, reductions, label smoothing, probability targets', () => {
  const logits = leaf([1, 2, 3, 0.5, -1, 2], [2, 3]);
  const lse = (a: number[]): number => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
  const nll0 = lse([1, 2, 3]) - 3, nll1 = lse([0.5, -1, 2]) - 0.5;
  close(F.crossEntropy(logits, [2, 0]).data, [(nll0 + nll1) / 2], 1e-14, 'mean');
  close(F.crossEntropy(logits, [2, 0], { reduction: 'sum' }).data, [nll0 + nll1], 1e-14, 'sum');
  close(F.crossEntropy(logits, [2, 0], { reduction: 'none' }).data, [nll0, nll1], 1e-14, 'none');
  close(F.crossEntropy(logits, tensor([2, 0], [2], { dtype: 'float64' })).data, [(nll0 + nll1) / 2], 1e-14, 'tensor labels');
  // -log softmax of the label, via softmax itself
  const sm = F.softmax(logits, 1).data;
  close(F.crossEntropy(logits, [1, 2], { reduction: 'none' }).data, [-Math.log(sm[1]!), -Math.log(sm[5]!)], 1e-14, '-log softmax');
  // label smoothing 0.1: (1 - eps) nll + eps * mean over classes of -log p
  const eps = 0.1;
  const ls0 = (1 - eps) * nll0 + (eps * (3 * lse([1, 2, 3]) - 6)) / 3;
  const ls1 = (1 - eps) * nll1 + (eps * (3 * lse([0.5, -1, 2]) - 1.5)) / 3;
  close(F.crossEntropy(logits, [2, 0], { labelSmoothing: eps }).data, [(ls0 + ls1) / 2], 1e-14, 'smoothing');
  // probability targets
  const q = tensor([0.2, 0.3, 0.5, 1, 0, 0], [2, 3], { dtype: 'float64' });
  const pt0 = 0.2 * (lse([1, 2, 3]) - 1) + 0.3 * (lse([1, 2, 3]) - 2) + 0.5 * (lse([1, 2, 3]) - 3);
  close(F.crossEntropy(logits, q).data, [(pt0 + nll1) / 2], 1e-14, 'probabilities');
  // one-hot probabilities equal integer labels, also with smoothing
  const oh = tensor([0, 0, 1, 1, 0, 0], [2, 3], { dtype: 'float64' });
  close(F.crossEntropy(logits, oh, { labelSmoothing: eps }).data, [(ls0 + ls1) / 2], 1e-14, 'one-hot smoothing');

  const labels = [1, 0, 3, 3];
  check('crossEntropy mean', (x) => F.crossEntropy(x, labels), [r(4, 5)]);
  check('crossEntropy smoothing', (x) => F.crossEntropy(x, labels, { labelSmoothing: 0.1 }), [r(4, 5)]);
  check('crossEntropy none', (x) => F.crossEntropy(x, labels, { reduction: 'none' }), [r(4, 5)]);
  check('crossEntropy sum smoothing', (x) => F.crossEntropy(x, labels, { reduction: 'sum', labelSmoothing: 0.1 }), [r(4, 5)]);
  const probs = F.softmax(randn([4, 5], gen, { dtype: 'float64' }), 1);
  check('crossEntropy probabilities', (x) => F.crossEntropy(x, probs), [r(4, 5)]);
  check('crossEntropy probabilities smoothing', (x) => F.crossEntropy(x, probs, { labelSmoothing: 0.1, reduction: 'none' }), [r(4, 5)]);
  check('crossEntropy w.r.t. logits and targets', (x, t) => F.crossEntropy(x, t), [r(4, 5), u(0.05, 1, 4, 5)]);
  // gradient of mean cross-entropy is (softmax - onehot) / N
  const x = r(4, 5);
  const [g] = grad(F.crossEntropy(x, labels), [x]);
  const p = F.softmax(x, 1).data;
  close(g!.data, Array.from(p, (v, i) => (v - (labels[Math.floor(i / 5)] === i % 5 ? 1 : 0)) / 4), 1e-14, 'CE gradient');
});

test('dropout: fixed generator, fixed mask; inverted scaling; eval identity', () => {
  const p = 0.3;
  check('dropout', (x) => F.dropout(x, p, true, new Generator(7, 'dropout')), [r(4, 5)]);
  check('dropout p=0.6', (x) => F.mul(F.dropout(x, 0.6, true, new Generator(8)), x), [r(3, 4)]);
  const x = r(40, 50);
  const y = F.dropout(x, p, true, new Generator(7, 'dropout'));
  let zeroed = 0;
  for (let i = 0; i < x.size; i++) {
    if (y.data[i] === 0) zeroed++;
    else assert.ok(Math.abs(y.data[i]! - x.data[i]! / (1 - p)) < 1e-15);
  }
  assert.ok(Math.abs(zeroed / x.size - p) < 0.05, `dropped fraction ${zeroed / x.size}`);
  close(F.dropout(x, p, true, new Generator(7, 'dropout')).data, y.data, 0, 'same generator, same mask');
  assert.equal(F.dropout(x, p, false, new Generator(7)), x);
  close(F.dropout(x, 1, true, new Generator(1)).data, new Array(x.size).fill(0), 0, 'p = 1');
});

// ---------------------------------------------------------------- shape ops

test('reshape, flatten, unsqueeze, squeeze', () => {
  check('reshape', (x) => F.reshape(x, [3, 8]), [r(2, 3, 4)]);
  check('reshape -1', (x) => F.reshape(x, [-1, 2]), [r(2, 3, 4)]);
  check('flatten 1', (x) => F.flatten(x, 1), [r(2, 3, 2, 2)]);
  check('flatten 1..2', (x) => F.flatten(x, 1, 2), [r(2, 3, 2, 2)]);
  check('unsqueeze', (x) => F.unsqueeze(x, -1), [r(2, 3)]);
  check('squeeze axis', (x) => F.squeeze(x, 1), [r(2, 1, 3)]);
  check('squeeze all', (x) => F.squeeze(x), [r(1, 2, 1, 3)]);
  const x = r(2, 3, 2, 2);
  assert.deepEqual(F.flatten(x, 1).shape, [2, 12]);
  assert.deepEqual(F.flatten(x).shape, [24]);
  assert.deepEqual(F.unsqueeze(r(2, 3), 1).shape, [2, 1, 3]);
  assert.deepEqual(F.unsqueeze(r(2, 3), -1).shape, [2, 3, 1]);
  assert.deepEqual(F.squeeze(r(1, 2, 1, 3)).shape, [2, 3]);
  assert.deepEqual(F.reshape(x, [-1, 4]).shape, [6, 4]);
  close(F.reshape(x, [4, 6]).data, x.data, 0);
});

test('permute and transpose', () => {
  check('permute', (x) => F.permute(x, [2, 0, 1]), [r(2, 3, 4)]);
  check('permute negative axes', (x) => F.permute(x, [1, -1, 0]), [r(2, 3, 4)]);
  check('transpose', (x) => F.transpose(x), [r(3, 4)]);
  check('transpose 0,2', (x) => F.transpose(x, 0, 2), [r(2, 3, 4)]);
  const x = r(2, 3, 4);
  const y = F.permute(x, [2, 0, 1]);
  assert.deepEqual(y.shape, [4, 2, 3]);
  for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 4; c++) {
    assert.equal(y.data[(c * 2 + a) * 3 + b], x.data[(a * 3 + b) * 4 + c]);
  }
  const t = F.transpose(leaf([1, 2, 3, 4, 5, 6], [2, 3]));
  close(t.data, [1, 4, 2, 5, 3, 6], 0);
});

test('expand', () => {
  check('expand', (x) => F.expand(x, [2, 3, 4]), [r(3, 1)]);
  check('expand middle', (x) => F.expand(x, [2, 3, 4]), [r(2, 1, 4)]);
  check('expand rank-0', (x) => F.expand(x, [2, 2]), [r()]);
  close(F.expand(leaf([1, 2], [2, 1]), [2, 3]).data, [1, 1, 1, 2, 2, 2], 0);
  const x = r(3, 1);
  const [g] = grad(F.sum(F.expand(x, [2, 3, 4])), [x]);
  close(g!.data, [8, 8, 8], 0);
});

test('concat and stack', () => {
  check('concat axis 1', (a, b, c) => F.concat([a, b, c], 1), [r(2, 1, 3), r(2, 2, 3), r(2, 3, 3)]);
  check('concat axis -1', (a, b) => F.concat([a, b], -1), [r(2, 2), r(2, 3)]);
  check('concat axis 0', (a, b) => F.concat([a, b], 0), [r(1, 3), r(2, 3)]);
  check('stack axis 0', (a, b) => F.stack([a, b]), [r(2, 3), r(2, 3)]);
  check('stack axis 1', (a, b, c) => F.stack([a, b, c], 1), [r(2, 3), r(2, 3), r(2, 3)]);
  check('concat same tensor twice', (a) => F.concat([a, F.mul(a, a)], 0), [r(2, 2)]);
  close(F.concat([leaf([1, 2], [1, 2]), leaf([3, 4, 5, 6], [2, 2])], 0).data, [1, 2, 3, 4, 5, 6], 0);
  close(F.concat([leaf([1, 2], [2, 1]), leaf([3, 4, 5, 6], [2, 2])], 1).data, [1, 3, 4, 2, 5, 6], 0);
  const s = F.stack([leaf([1, 2], [2]), leaf([3, 4], [2])], 1);
  assert.deepEqual(s.shape, [2, 2]);
  close(s.data, [1, 3, 2, 4], 0);
});

test('slice and sliceAxes', () => {
  check('slice', (x) => F.slice(x, 1, 1, 3), [r(2, 4, 3)]);
  check('slice negative', (x) => F.slice(x, -1, -3, -1), [r(2, 4)]);
  check('sliceAxes', (x) => F.sliceAxes(x, [[1, 2], null, [0, 2]]), [r(3, 4, 3)]);
  close(F.slice(leaf([0, 1, 2, 3, 4], [5]), 0, 1, 4).data, [1, 2, 3], 0);
  close(F.slice(leaf([0, 1, 2, 3, 4], [5]), 0, -2, 5).data, [3, 4], 0);
  close(F.sliceAxes(leaf([0, 1, 2, 3, 4, 5], [2, 3]), [[1, 2], [1, 3]]).data, [4, 5], 0);
  const x = r(2, 4);
  const [g] = grad(F.sum(F.slice(x, 1, 1, 3)), [x]);
  close(g!.data, [0, 1, 1, 0, 0, 1, 1, 0], 0);
});

test('pad and padAxes, with a nonzero value', () => {
  check('pad last two', (x) => F.pad(x, [1, 2, 0, 1], 1.5), [r(2, 3, 2)]);
  check('pad one side', (x) => F.pad(x, [0, 2]), [r(2, 3)]);
  check('padAxes', (x) => F.padAxes(x, [[1, 0], [0, 0], [2, 1]], -2), [r(2, 2, 3)]);
  const y = F.pad(leaf([1, 2, 3, 4], [2, 2]), [1, 0, 0, 1], 9);
  assert.deepEqual(y.shape, [3, 3]);
  close(y.data, [9, 1, 2, 9, 3, 4, 9, 9, 9], 0);
  const z = F.padAxes(leaf([1, 2], [2]), [[2, 1]], -2);
  close(z.data, [-2, -2, 1, 2, -2], 0);
  // the padded value carries no gradient
  const x = r(2, 2);
  const [g] = grad(F.sum(F.pad(x, [1, 1, 1, 1], 3)), [x]);
  close(g!.data, [1, 1, 1, 1], 0);
});

test('gatherFlat and scatterAddFlat (with repeated indices)', () => {
  const idx = Int32Array.from([0, 5, 5, 2, 11, 3, 0]);
  check('gatherFlat', (x) => F.gatherFlat(x, idx, [7]), [r(3, 4)]);
  check('gatherFlat 2-d out', (x) => F.gatherFlat(x, Int32Array.from([1, 1, 0, 4, 2, 3]), [2, 3]), [r(5)]);
  check('scatterAddFlat', (g) => F.scatterAddFlat(g, idx, [3, 4]), [r(7)]);
  const x = leaf([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], [3, 4]);
  close(F.gatherFlat(x, idx, [7]).data, [10, 15, 15, 12, 21, 13, 10], 0);
  const s = F.scatterAddFlat(leaf([1, 2, 3, 4, 5, 6, 7], [7]), idx, [3, 4]);
  close(s.data, [8, 0, 4, 6, 0, 5, 0, 0, 0, 0, 0, 5], 0);
  const [g] = grad(F.sum(F.gatherFlat(x, idx, [7])), [x]);
  close(g!.data, [2, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 1], 0);
});
