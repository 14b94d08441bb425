// The native backend against the reference one: every kernel on random shapes (odd sizes, batch 1,
// broadcasting, strides, padding, dilation, groups) must agree to 1e-4 of the reference output's
// largest magnitude. Skips, saying why, when the addon is not built.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/tensor/random.js';
import { jsBackend as J } from '../../src/kernels/js/index.js';
import { loadNativeBackend } from '../../src/kernels/native/index.js';
import type {
  AdaptivePool2dParams, Backend, BinaryOp, Conv2dParams, MatmulParams, Pool2dParams, ReduceOp, UnaryOp,
} from '../../src/kernels/interface.js';

const loaded = loadNativeBackend();
const skip = loaded.backend ? false : `native backend not available: ${loaded.reason}`;
const N = loaded.backend as Backend;

// ------------------------------------------------------------------ helpers

/** Uniform [0, 1) draws from pai's seeded generator, so every run sees the same data. */
function rng(seed: number): () => number {
  const g = new Generator(seed, 'kernel-tests');
  return () => g.uniform();
}
const randInt = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
function rand(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** |actual - expected| <= tol * max|expected| everywhere; NaNs must coincide. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (Number.isFinite(e)) scale = Math.max(scale, Math.abs(e));
  }
  const bound = tol * Math.max(scale, 1e-30);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: got ${a}, want ${e}`);
      continue;
    }
    if (!(Math.abs(a - e) <= bound)) assert.fail(`${what}[${i}]: got ${a}, want ${e} (bound ${bound})`);
  }
}

function exact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i]) && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, want ${expected[i]}`);
    }
  }
}

// ------------------------------------------------------------------ element-wise

const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'step', 'tanh',
  'sigmoid', 'erf', 'square', 'reciprocal'];

test('native: supports float32 only and reports its threads', { skip }, () => {
  assert.equal(N.name, 'native');
  assert.equal(N.supports('float32'), true);
  assert.equal(N.supports('float64'), false);
  assert.ok(N.numThreads() >= 1);
});

test('native: unary ops match the reference, special values included', { skip }, () => {
  const r = rng(1);
  for (const n of [1, 7, 1000, 100_003]) {
    for (const op of UNARY) {
      const positive = op === 'log' || op === 'sqrt' || op === 'rsqrt';
      const x = positive ? rand(r, n, 0.01, 5) : rand(r, n, -4, 4);
      const a = new Float32Array(n), e = new Float32Array(n);
      N.unary(op, x, a);
      J.unary(op, x, e);
      close(a, e, `${op} n=${n}`, op === 'exp' || op === 'reciprocal' ? 1e-5 : 1e-4);
    }
  }
  const special = Float32Array.from([0, -0, NaN, Infinity, -Infinity, 1e-30, -1e-30, 80, -80, 3.5, -3.5]);
  for (const op of ['neg', 'abs', 'sign', 'relu', 'step', 'tanh', 'sigmoid', 'erf', 'square', 'exp'] as UnaryOp[]) {
    const a = new Float32Array(special.length), e = new Float32Array(special.length);
    N.unary(op, special, a);
    J.unary(op, special, e);
    close(a, e, `${op} special`, 1e-6);
    if (op === 'sign' || op === 'relu' || op === 'step' || op === 'neg' || op === 'abs') exact(a, e, `${op} special`);
  }
});

test('native: erf is correctly rounded against the reference on a dense grid', { skip }, () => {
  const n = 20001;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -7 + (14 * i) / (n - 1);
  const a = new Float32Array(n), e = new Float32Array(n);
  N.unary('erf', x, a);
  J.unary('erf', x, e);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(a[i]! - e[i]!) <= 1.2e-7 * Math.max(Math.abs(e[i]!), 1e-30) + 1e-45, `erf(${x[i]})`);
});

test('native: exp, tanh and sigmoid stay within a few ulp of the reference everywhere', { skip }, () => {
  // A dense grid plus a log-spaced sweep of tiny and huge magnitudes of both signs.
  const xs: number[] = [];
  for (let i = 0; i <= 40000; i++) xs.push(-110 + (220 * i) / 40000);
  for (let e = -40; e <= 2; e += 0.01) xs.push(10 ** e, -(10 ** e));
  xs.push(0, -0, NaN, Infinity, -Infinity, 88.72, 88.7229, -87.34, -103.9, -104.1, 0.625, -0.625);
  const x = Float32Array.from(xs);
  const ulp = (v: number): number => {
    const a = Math.abs(v);
    if (a < 1.1754943508222875e-38) return 1.401298464324817e-45;
    return 2 ** (Math.floor(Math.log2(a)) - 23);
  };
  for (const op of ['exp', 'tanh', 'sigmoid'] as UnaryOp[]) {
    const a = new Float32Array(x.length), e = new Float32Array(x.length);
    N.unary(op, x, a);
    J.unary(op, x, e);
    for (let i = 0; i < x.length; i++) {
      const want = e[i]!, got = a[i]!;
      if (Number.isNaN(want) || !Number.isFinite(want)) {
        assert.ok(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), `${op}(${x[i]}): got ${got}, want ${want}`);
        continue;
      }
      // Results that underflow may flush to zero; everything else must be within 3 ulp.
      const ok = Math.abs(got - want) <= 3 * ulp(want) || (Math.abs(want) < 1.2e-38 && Math.abs(got) < 1.2e-38);
      if (!ok) assert.fail(`${op}(${x[i]}): got ${got}, want ${want} (${Math.abs(got - want) / ulp(want)} ulp)`);
    }
  }
});

test('native: affine and powScalar', { skip }, () => {
  const r = rng(2);
  for (const n of [1, 33, 70_001]) {
    const x = rand(r, n, -3, 3);
    const a = new Float32Array(n), e = new Float32Array(n);
    N.affine(x, 1.7, -0.3, a);
    J.affine(x, 1.7, -0.3, e);
    close(a, e, 'affine');
    const xp = rand(r, n, 0.1, 3);
    for (const p of [0, 1, 2, 3, 0.5, -0.5, -1, -2, 1.7, -2.3]) {
      N.powScalar(xp, p, a);
      J.powScalar(xp, p, e);
      close(a, e, `pow ${p}`);
    }
    for (const p of [2, 3, -1]) {
      N.powScalar(x, p, a);
      J.powScalar(x, p, e);
      close(a, e, `pow ${p} signed`);
    }
  }
});

const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'];

const BCAST: [number[], number[]][] = [
  [[5], [5]], [[], [4, 3]], [[4, 3], []], [[3, 1, 5], [4, 5]], [[2, 1], [1, 3]], [[1], [7]],
  [[64, 16, 9, 9], [1, 16, 1, 1]], [[16, 1, 1], [8, 16, 5, 5]], [[37, 129], [129]], [[37, 129], [37, 1]],
  [[3, 1, 4, 1, 5], [1, 2, 1, 3, 1]], [[8, 64, 65], [8, 64, 65]], [[1, 1, 1], [2, 3, 4]], [[2, 0, 3], [3]],
  [[300, 1], [1, 211]],
];

function outShapeOf(...shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let d = 0; d < rank; d++) {
    let v = 1;
    for (const s of shapes) {
      const x = s[d - (rank - s.length)] ?? 1;
      if (x !== 1) v = x;
    }
    out.push(v);
  }
  return out;
}

test('native: binary ops with broadcasting', { skip }, () => {
  const r = rng(3);
  for (const [as, bs] of BCAST) {
    const os = outShapeOf(as, bs);
    for (const op of BINARY) {
      const cmp = op === 'gt' || op === 'ge' || op === 'lt' || op === 'le' || op === 'eq' || op === 'ne';
      // Small integers make ties (eq, ge, maximum of equals) common.
      const mk = (s: number[]): Float32Array => {
        const x = rand(r, prod(s), op === 'pow' ? 0.2 : -3, 3);
        if (cmp || op === 'maximum' || op === 'minimum') for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]!);
        if (op === 'div') for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) < 0.1) x[i] = 0.5;
        return x;
      };
      const a = mk(as), b = mk(bs);
      const got = new Float32Array(prod(os)), want = new Float32Array(prod(os));
      N.binary(op, a, as, b, bs, got, os);
      J.binary(op, a, as, b, bs, want, os);
      if (cmp) exact(got, want, `${op} [${as}] [${bs}]`);
      else close(got, want, `${op} [${as}] [${bs}]`);
    }
  }
});

test('native: maximum / minimum propagate NaN like the reference', { skip }, () => {
  const a = Float32Array.from([NaN, 1, NaN, -0, 0]), b = Float32Array.from([1, NaN, NaN, 0, -0]);
  for (const op of ['maximum', 'minimum'] as BinaryOp[]) {
    const got = new Float32Array(5), want = new Float32Array(5);
    N.binary(op, a, [5], b, [5], got, [5]);
    J.binary(op, a, [5], b, [5], want, [5]);
    exact(got, want, op);
  }
});

test('native: where with broadcasting', { skip }, () => {
  const r = rng(4);
  const cases: [number[], number[], number[]][] = [
    [[5], [5], [5]], [[4, 1], [1, 3], [4, 3]], [[], [2, 3], [3]], [[64, 1, 33], [64, 70, 33], [1]],
    [[2, 3, 1], [1], [3, 4]], [[100, 400], [100, 400], [100, 400]],
    // relu's backward (where(out, g, 0)) and its mirror: full condition, one scalar branch.
    [[64, 70, 33], [64, 70, 33], []], [[300], [], [300]], [[7, 9], [7, 9], [1]],
  ];
  for (const [cs, as, bs] of cases) {
    const os = outShapeOf(cs, as, bs);
    const c = rand(r, prod(cs));
    for (let i = 0; i < c.length; i++) c[i] = c[i]! > 0 ? (r() < 0.5 ? 1 : NaN) : 0;
    const a = rand(r, prod(as)), b = rand(r, prod(bs));
    const got = new Float32Array(prod(os)), want = new Float32Array(prod(os));
    N.where(c, cs, a, as, b, bs, got, os);
    J.where(c, cs, a, as, b, bs, want, os);
    exact(got, want, `where [${cs}] [${as}] [${bs}]`);
  }
});

// ------------------------------------------------------------------ per-channel kernels

test('native: per-channel moments, affine maps and gradient sums match the reference', { skip }, () => {
  const r = rng(21);
  // [n, c, inner]: NCHW-like, BN1d ([N, C], inner 1), one channel, odd sizes, large (parallel paths).
  const cases: [number, number, number][] = [[3, 2, 5], [5, 3, 1], [1, 1, 7], [2, 7, 13], [64, 16, 1024], [64, 64, 64], [200, 33, 1]];
  for (const [n, c, inner] of cases) {
    const total = n * c * inner;
    const what = `[${n}, ${c}, ${inner}]`;
    // An offset mean makes a naive one-pass variance cancel; the kernels must not.
    const x = rand(r, total, 2.5, 4.5), g = rand(r, total);
    const m = rand(r, c), a = rand(r, c), b = rand(r, c), d = rand(r, c);
    const mean = [new Float32Array(c), new Float32Array(c)], v = [new Float32Array(c), new Float32Array(c)];
    N.channelMoments(x, n, c, inner, mean[0]!, v[0]!);
    J.channelMoments(x, n, c, inner, mean[1]!, v[1]!);
    close(mean[0]!, mean[1]!, `channelMoments mean ${what}`, 1e-6);
    close(v[0]!, v[1]!, `channelMoments variance ${what}`, 1e-4);
    for (const [mm, dd] of [[m, d], [null, d], [m, null], [null, null]] as const) {
      const got = new Float32Array(total), want = new Float32Array(total);
      N.channelAffine(x, mm, a, dd, got, n, c, inner);
      J.channelAffine(x, mm, a, dd, want, n, c, inner);
      close(got, want, `channelAffine ${what} m ${mm !== null} d ${dd !== null}`, 1e-6);
    }
    const sg = [new Float32Array(c), new Float32Array(c)], sgx = [new Float32Array(c), new Float32Array(c)];
    N.channelGradSums(g, x, mean[1]!, n, c, inner, sg[0]!, sgx[0]!);
    J.channelGradSums(g, x, mean[1]!, n, c, inner, sg[1]!, sgx[1]!);
    close(sg[0]!, sg[1]!, `channelGradSums sg ${what}`, 1e-5);
    close(sgx[0]!, sgx[1]!, `channelGradSums sgx ${what}`, 1e-5);
    const got = new Float32Array(total), want = new Float32Array(total);
    N.channelAffineGrad(g, x, m, a, b, d, got, n, c, inner);
    J.channelAffineGrad(g, x, m, a, b, d, want, n, c, inner);
    close(got, want, `channelAffineGrad ${what}`, 1e-6);
  }
  // Sizes are checked: a short buffer throws instead of writing out of bounds.
  assert.throws(() => N.channelAffine(new Float32Array(10), null, new Float32Array(2), null, new Float32Array(9), 1, 2, 5), /shorter/);
  assert.throws(() => N.channelMoments(new Float32Array(10), 1, 2, 5, new Float32Array(1), new Float32Array(2)), /shorter/);
});

// ------------------------------------------------------------------ reductions

function subsets(rank: number): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < 1 << rank; m++) {
    const s: number[] = [];
    for (let d = 0; d < rank; d++) if (m & (1 << d)) s.push(d);
    out.push(s);
  }
  return out;
}

function checkReduce(op: ReduceOp, x: Float32Array, shape: number[], axes: number[]): void {
  const kept = shape.filter((_, d) => !axes.includes(d));
  const got = new Float32Array(prod(kept)), want = new Float32Array(prod(kept));
  N.reduce(op, x, shape, axes, got);
  J.reduce(op, x, shape, axes, want);
  if (op === 'sum') close(got, want, `sum [${shape}] over [${axes}]`, 1e-5);
  else exact(got, want, `${op} [${shape}] over [${axes}]`);
}

test('native: reductions over every axis subset', { skip }, () => {
  const r = rng(5);
  for (const shape of [[2, 3, 4, 5], [3, 1, 7, 1], [1, 1, 1, 1], [5, 2, 1, 9]]) {
    const x = rand(r, prod(shape));
    for (const axes of subsets(shape.length)) for (const op of ['sum', 'max', 'min'] as ReduceOp[]) checkReduce(op, x, shape, axes);
  }
});

test('native: large reductions (parallel paths) and empty ones', { skip }, () => {
  const r = rng(6);
  const cases: [number[], number[]][] = [
    [[64, 16, 33], [0, 2]], [[1000, 37], [1]], [[1000, 37], [0]], [[200_003], [0]], [[3, 100_001], [1]],
    [[100_001, 3], [0]], [[8, 3000, 5], [1]], [[4, 64, 16, 16], [0, 2, 3]], [[4, 64, 16, 16], [1]],
    [[2, 40_000, 2], [0, 2]], [[3, 0, 2], [1]], [[3, 0, 2], [0]], [[0, 4], [1]],
  ];
  for (const [shape, axes] of cases) {
    const x = rand(r, prod(shape), -2, 3);
    for (const op of ['sum', 'max', 'min'] as ReduceOp[]) checkReduce(op, x, shape, axes);
  }
  const withNaN = rand(r, 5000);
  withNaN[1234] = NaN;
  for (const op of ['sum', 'max', 'min'] as ReduceOp[]) {
    checkReduce(op, withNaN, [5000], [0]);
    checkReduce(op, withNaN, [50, 100], [1]);
    checkReduce(op, withNaN, [50, 100], [0]);
  }
});

// ------------------------------------------------------------------ copies

function contiguous(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]!; }
  return s;
}

test('native: copyStrided for permute, slice, expand, pad and flip', { skip }, () => {
  const r = rng(7);
  const src = rand(r, 5 * 7 * 3 * 4);
  const srcShape = [5, 7, 3, 4];
  const ss = contiguous(srcShape);
  const run = (so: number, sst: number[], shape: number[], dstLen: number, dO: number, dst: number[], what: string): void => {
    const got = new Float32Array(dstLen).fill(-9), want = new Float32Array(dstLen).fill(-9);
    N.copyStrided(src, so, sst, shape, got, dO, dst);
    J.copyStrided(src, so, sst, shape, want, dO, dst);
    exact(got, want, what);
  };
  for (const perm of [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [0, 2, 1, 3], [2, 3, 0, 1]]) {
    const shape = perm.map((p) => srcShape[p]!);
    run(0, perm.map((p) => ss[p]!), shape, src.length, 0, contiguous(shape), `permute ${perm}`);
  }
  // slice [1:4, 2:7:2, :, 1:3]
  run(1 * ss[0]! + 2 * ss[1]! + 1, [ss[0]!, 2 * ss[1]!, ss[2]!, 1], [3, 3, 3, 2], 54, 0, contiguous([3, 3, 3, 2]), 'slice');
  // expand [1, 7, 1, 4] -> [6, 7, 5, 4]
  run(0, [0, 4, 0, 1], [6, 7, 5, 4], 6 * 7 * 5 * 4, 0, contiguous([6, 7, 5, 4]), 'expand');
  // pad: the whole source into the middle of a [7, 9, 5, 6] destination
  const dstShape = [7, 9, 5, 6], ds = contiguous(dstShape);
  run(0, ss, srcShape, prod(dstShape), ds[0]! + ds[1]! + ds[2]! + ds[3]!, ds, 'pad');
  // flip the last two axes (negative strides)
  run(2 * ss[2]! + 3, [ss[0]!, ss[1]!, -ss[2]!, -1], srcShape, src.length, 0, ss, 'flip');
  // large, to take the parallel path
  const big = rand(r, 300 * 257);
  const got = new Float32Array(big.length), want = new Float32Array(big.length);
  N.copyStrided(big, 0, [1, 300], [300, 257], got, 0, [257, 1]);
  J.copyStrided(big, 0, [1, 300], [300, 257], want, 0, [257, 1]);
  exact(got, want, 'big transpose');
  assert.throws(() => N.copyStrided(src, 0, [1], [src.length + 1], got, 0, [1]), /out of range/);
});

test('native: gather and scatterAdd (duplicate indices)', { skip }, () => {
  const r = rng(8);
  for (const [m, n] of [[1, 1], [17, 100], [1000, 70_000]] as [number, number][]) {
    const x = rand(r, m);
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = Math.floor(r() * m);
    const got = new Float32Array(n), want = new Float32Array(n);
    N.gather(x, idx, got);
    J.gather(x, idx, want);
    exact(got, want, 'gather');
    const g = rand(r, n);
    const so = new Float32Array(m), sw = new Float32Array(m);
    N.scatterAdd(g, idx, so);
    J.scatterAdd(g, idx, sw);
    close(so, sw, 'scatterAdd', 1e-5);
  }
  assert.throws(() => N.gather(new Float32Array(3), Int32Array.from([3]), new Float32Array(1)), /out of range/);
  assert.throws(() => N.scatterAdd(new Float32Array(1), Int32Array.from([-1]), new Float32Array(3)), /out of range/);
});

// ------------------------------------------------------------------ matmul

test('native: matmul, every transpose combination, batch strides 0, accumulate', { skip }, () => {
  const r = rng(9);
  const sizes: [number, number, number, number][] = [
    [1, 1, 1, 1], [1, 5, 17, 3], [3, 33, 7, 64], [4, 16, 31, 9], [2, 64, 128, 65], [1, 129, 1, 3], [5, 1, 20, 1],
  ];
  for (const [batch, m, k, n] of sizes) {
    for (const transA of [false, true]) for (const transB of [false, true]) {
      for (const [aB, bB] of [[true, true], [false, true], [true, false], [false, false]]) {
        for (const accumulate of [false, true]) {
          const p: MatmulParams = { batch, m, k, n, transA, transB, aBatchStride: aB ? m * k : 0,
            bBatchStride: bB ? k * n : 0, accumulate };
          const a = rand(r, (aB ? batch : 1) * m * k), b = rand(r, (bB ? batch : 1) * k * n);
          const init = rand(r, batch * m * n);
          const got = init.slice(), want = init.slice();
          N.matmul(a, b, got, p);
          J.matmul(a, b, want, p);
          close(got, want, `matmul ${JSON.stringify(p)}`);
        }
      }
    }
  }
});

test('native: matmul with a padded batch stride and k = 0', { skip }, () => {
  const r = rng(10);
  const p: MatmulParams = { batch: 3, m: 4, k: 5, n: 6, transA: false, transB: true, aBatchStride: 23,
    bBatchStride: 31, accumulate: false };
  const a = rand(r, 2 * 23 + 20), b = rand(r, 2 * 31 + 30);
  const got = new Float32Array(72), want = new Float32Array(72);
  N.matmul(a, b, got, p);
  J.matmul(a, b, want, p);
  close(got, want, 'padded strides');
  const z = { ...p, k: 0, aBatchStride: 0, bBatchStride: 0 };
  got.fill(7);
  N.matmul(new Float32Array(0), new Float32Array(0), got, z);
  exact(got, new Float32Array(72), 'k = 0');
});

// ------------------------------------------------------------------ convolution

function convParams(n: number, c: number, h: number, w: number, oc: number, kh: number, kw: number,
  s: [number, number], pad: [number, number], dil: [number, number], groups: number): Conv2dParams {
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / s[0]) + 1;
  const ow = Math.floor((w + 2 * pad[1] - dil[1] * (kw - 1) - 1) / s[1]) + 1;
  return { n, c, h, w, oc, kh, kw, oh, ow, strideH: s[0], strideW: s[1], padH: pad[0], padW: pad[1],
    dilH: dil[0], dilW: dil[1], groups };
}

function checkConv(p: Conv2dParams, r: () => number, what: string): void {
  const x = rand(r, p.n * p.c * p.h * p.w);
  const w = rand(r, p.oc * (p.c / p.groups) * p.kh * p.kw);
  const bias = rand(r, p.oc);
  const gy = rand(r, p.n * p.oc * p.oh * p.ow);
  for (const b of [null, bias]) {
    const got = new Float32Array(gy.length), want = new Float32Array(gy.length);
    N.conv2d(x, w, b, got, p);
    J.conv2d(x, w, b, want, p);
    close(got, want, `conv2d ${what} bias=${b !== null}`);
  }
  const gx = new Float32Array(x.length).fill(5), gxw = new Float32Array(x.length);
  N.conv2dBackwardData(gy, w, gx, p);
  J.conv2dBackwardData(gy, w, gxw, p);
  close(gx, gxw, `conv2dBackwardData ${what}`);
  const gw = new Float32Array(w.length).fill(5), gww = new Float32Array(w.length);
  N.conv2dBackwardWeight(x, gy, gw, p);
  J.conv2dBackwardWeight(x, gy, gww, p);
  close(gw, gww, `conv2dBackwardWeight ${what}`);
}

// Per-sample weight-gradient reductions (the batched Fisher and Hutchinson criteria): the native
// kernels against the reference ones, accumulating onto non-zero values, with and without the plain sum. The tolerance
// is relative to the largest accumulated value, as for the other kernels.
function checkWeightGradMoments(p: Conv2dParams, r: () => number, what: string): void {
  const x = rand(r, p.n * p.c * p.h * p.w);
  const gy = rand(r, p.n * p.oc * p.oh * p.ow);
  const ws = p.oc * (p.c / p.groups) * p.kh * p.kw;
  const s0 = rand(r, ws), q0 = rand(r, ws, 0, 1);
  const s = s0.slice(), q = q0.slice(), sw = s0.slice(), qw = q0.slice();
  N.conv2dWeightGradMoments(x, gy, s, q, p);
  J.conv2dWeightGradMoments(x, gy, sw, qw, p);
  close(s, sw, `conv2dWeightGradMoments sum ${what}`);
  close(q, qw, `conv2dWeightGradMoments squares ${what}`);
  const q2 = q0.slice();
  N.conv2dWeightGradMoments(x, gy, null, q2, p);
  close(q2, qw, `conv2dWeightGradMoments squares without sum ${what}`);
  const z = rand(r, p.n * ws), a0 = rand(r, ws);
  const a = a0.slice(), aw = a0.slice();
  N.conv2dWeightGradProbeDot(x, gy, z, a, p);
  J.conv2dWeightGradProbeDot(x, gy, z, aw, p);
  close(a, aw, `conv2dWeightGradProbeDot ${what}`);
}

test('native: conv2dWeightGradMoments and conv2dWeightGradProbeDot on CIFAR ResNet-18 layer shapes', { skip }, () => {
  const r = rng(12);
  const cases: [string, Conv2dParams][] = [
    ['stem 3->64 32x32', convParams(5, 3, 32, 32, 64, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['layer3 256->256 8x8', convParams(7, 256, 8, 8, 256, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['layer4 downsample 256->512 1x1 s2', convParams(3, 256, 8, 8, 512, 1, 1, [2, 2], [0, 0], [1, 1], 1)],
    ['layer4 512->512 4x4', convParams(9, 512, 4, 4, 512, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
  ];
  for (const [what, p] of cases) checkWeightGradMoments(p, r, what);
});

test('native: conv2d and its adjoints on fixed awkward cases', { skip }, () => {
  const r = rng(11);
  const cases: [string, Conv2dParams][] = [
    ['1x1', convParams(1, 3, 5, 5, 4, 1, 1, [1, 1], [0, 0], [1, 1], 1)],
    ['3x3 pad 1', convParams(2, 16, 8, 8, 32, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['stride 2 odd input', convParams(2, 8, 9, 7, 8, 3, 3, [2, 2], [1, 1], [1, 1], 1)],
    ['stride 2 unused rows', convParams(1, 4, 8, 8, 4, 3, 3, [2, 2], [0, 0], [1, 1], 1)],
    ['1x1 stride 2 shortcut', convParams(3, 16, 8, 8, 32, 1, 1, [2, 2], [0, 0], [1, 1], 1)],
    ['dilation 2', convParams(2, 3, 9, 8, 5, 3, 2, [1, 1], [2, 1], [2, 2], 1)],
    ['groups 2', convParams(2, 4, 5, 5, 6, 3, 3, [1, 2], [1, 0], [1, 1], 2)],
    ['depthwise', convParams(2, 16, 10, 10, 16, 3, 3, [1, 1], [1, 1], [1, 1], 16)],
    ['depthwise stride 2', convParams(1, 32, 9, 9, 32, 3, 3, [2, 2], [1, 1], [1, 1], 32)],
    ['depthwise multiplier 2 dil 2', convParams(2, 2, 8, 7, 4, 3, 3, [1, 1], [2, 2], [2, 2], 2)],
    ['first layer 3->16', convParams(4, 3, 32, 32, 16, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['7x7 stride 2 pad 3', convParams(1, 3, 23, 23, 8, 7, 7, [2, 2], [3, 3], [1, 1], 1)],
    ['batch 1 cifar block', convParams(1, 64, 16, 16, 64, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['asymmetric everything', convParams(3, 6, 11, 6, 9, 2, 3, [2, 1], [1, 2], [2, 1], 3)],
    // The study's ResNet-20 at width 1/4 on 28x28: fewer than 16 output channels run in NHWC.
    ['width 1/4 stem 1->4', convParams(3, 1, 28, 28, 4, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['width 1/4 stage 1 4->4', convParams(3, 4, 28, 28, 4, 3, 3, [1, 1], [1, 1], [1, 1], 1)],
    ['width 1/4 stage 2 4->8 stride 2', convParams(3, 4, 28, 28, 8, 3, 3, [2, 2], [1, 1], [1, 1], 1)],
    ['width 1/4 stage 3 8->16 stride 2', convParams(3, 8, 14, 14, 16, 3, 3, [2, 2], [1, 1], [1, 1], 1)],
    // The 1x1 stride-2 shortcuts at batch 1 and 3, whose NHWC weight gradient corrupted the heap.
    ['width 1/4 shortcut 4->8 1x1 stride 2 batch 1', convParams(1, 4, 28, 28, 8, 1, 1, [2, 2], [0, 0], [1, 1], 1)],
    ['width 1/4 shortcut 4->4 1x1 stride 2 batch 1', convParams(1, 4, 28, 28, 4, 1, 1, [2, 2], [0, 0], [1, 1], 1)],
    ['shortcut 8->8 1x1 stride 2 batch 3', convParams(3, 8, 28, 28, 8, 1, 1, [2, 2], [0, 0], [1, 1], 1)],
  ];
  for (const [what, p] of cases) checkConv(p, r, what);
  for (const [what, p] of cases) checkWeightGradMoments(p, r, what);
});

test('native: conv2d on random configurations', { skip }, () => {
  const r = rng(12);
  for (let t = 0; t < 40; t++) {
    const groups = [1, 1, 2, 3][randInt(r, 0, 3)]!;
    const depthwise = r() < 0.2;
    const c = depthwise ? randInt(r, 1, 8) : groups * randInt(r, 1, 4);
    const g = depthwise ? c : groups;
    const oc = g * randInt(r, 1, 4);
    const kh = randInt(r, 1, 3), kw = randInt(r, 1, 3);
    const dil: [number, number] = [randInt(r, 1, 2), randInt(r, 1, 2)];
    const s: [number, number] = [randInt(r, 1, 2), randInt(r, 1, 2)];
    const pad: [number, number] = [randInt(r, 0, 2), randInt(r, 0, 2)];
    const h = randInt(r, Math.max(1, dil[0] * (kh - 1) + 1 - 2 * pad[0]), 12);
    const w = randInt(r, Math.max(1, dil[1] * (kw - 1) + 1 - 2 * pad[1]), 12);
    const p = convParams(randInt(r, 1, 3), c, h, w, oc, kh, kw, s, pad, dil, g);
    checkConv(p, r, JSON.stringify(p));
  }
});

// ------------------------------------------------------------------ pooling

function poolParams(n: number, c: number, h: number, w: number, k: [number, number], s: [number, number],
  pad: [number, number], dil: [number, number], ceil: boolean, countIncludePad = true, divisorOverride = 0): Pool2dParams {
  const size = (len: number, kk: number, ss: number, pp: number, dd: number): number => {
    const span = len + 2 * pp - dd * (kk - 1) - 1;
    let o = (ceil ? Math.ceil(span / ss) : Math.floor(span / ss)) + 1;
    if (ceil && (o - 1) * ss >= len + pp) o--;
    return o;
  };
  return { n, c, h, w, oh: size(h, k[0], s[0], pad[0], dil[0]), ow: size(w, k[1], s[1], pad[1], dil[1]),
    kh: k[0], kw: k[1], strideH: s[0], strideW: s[1], padH: pad[0], padW: pad[1], dilH: dil[0], dilW: dil[1],
    countIncludePad, divisorOverride };
}

test('native: max pooling values and first-max indices', { skip }, () => {
  const r = rng(13);
  const fixed = [
    poolParams(2, 3, 8, 8, [2, 2], [2, 2], [0, 0], [1, 1], false),
    poolParams(64, 16, 16, 16, [3, 3], [2, 2], [1, 1], [1, 1], false),
    poolParams(1, 2, 7, 9, [3, 2], [2, 1], [1, 1], [2, 1], true),
  ];
  const all = [...fixed];
  for (let t = 0; t < 40; t++) {
    const kh = randInt(r, 1, 3), kw = randInt(r, 1, 3);
    const dil: [number, number] = [randInt(r, 1, 2), randInt(r, 1, 2)];
    const pad: [number, number] = [randInt(r, 0, Math.floor(kh / 2)), randInt(r, 0, Math.floor(kw / 2))];
    const h = randInt(r, dil[0] * (kh - 1) + 1, 9), w = randInt(r, dil[1] * (kw - 1) + 1, 9);
    all.push(poolParams(randInt(r, 1, 2), randInt(r, 1, 3), h, w, [kh, kw], [randInt(r, 1, 3), randInt(r, 1, 3)], pad, dil, r() < 0.5));
  }
  for (const p of all) {
    const x = rand(r, p.n * p.c * p.h * p.w);
    // Repeated values make ties, which must resolve to the first maximum.
    for (let i = 0; i < x.length; i++) if (r() < 0.3) x[i] = 0.5;
    const m = p.n * p.c * p.oh * p.ow;
    const go = new Float32Array(m), wo = new Float32Array(m), gi = new Int32Array(m), wi = new Int32Array(m);
    N.maxPool2d(x, go, gi, p);
    J.maxPool2d(x, wo, wi, p);
    exact(go, wo, `maxPool ${JSON.stringify(p)}`);
    exact(gi, wi, `maxPool idx ${JSON.stringify(p)}`);
  }
  const p = poolParams(1, 1, 4, 4, [2, 2], [2, 2], [0, 0], [1, 1], false);
  const x = Float32Array.from({ length: 16 }, (_, i) => (i === 5 || i === 6 ? NaN : i === 10 ? -Infinity : 1));
  const go = new Float32Array(4), wo = new Float32Array(4), gi = new Int32Array(4), wi = new Int32Array(4);
  N.maxPool2d(x, go, gi, p);
  J.maxPool2d(x, wo, wi, p);
  exact(go, wo, 'maxPool NaN');
  exact(gi, wi, 'maxPool NaN idx');
});

test('native: average pooling and its adjoint, all divisor rules', { skip }, () => {
  const r = rng(14);
  const all: Pool2dParams[] = [
    poolParams(2, 3, 8, 8, [2, 2], [2, 2], [0, 0], [1, 1], false),
    poolParams(64, 16, 16, 16, [3, 3], [2, 2], [1, 1], [1, 1], false),
  ];
  for (let t = 0; t < 40; t++) {
    const kh = randInt(r, 1, 4), kw = randInt(r, 1, 4);
    const pad: [number, number] = [randInt(r, 0, Math.floor(kh / 2)), randInt(r, 0, Math.floor(kw / 2))];
    const h = randInt(r, kh, 9), w = randInt(r, kw, 9);
    all.push(poolParams(randInt(r, 1, 2), randInt(r, 1, 3), h, w, [kh, kw], [randInt(r, 1, 3), randInt(r, 1, 3)],
      pad, [1, 1], r() < 0.5, r() < 0.5, r() < 0.2 ? 5 : 0));
  }
  for (const p of all) {
    const x = rand(r, p.n * p.c * p.h * p.w);
    const m = p.n * p.c * p.oh * p.ow;
    const go = new Float32Array(m), wo = new Float32Array(m);
    N.avgPool2d(x, go, p);
    J.avgPool2d(x, wo, p);
    close(go, wo, `avgPool ${JSON.stringify(p)}`);
    const gy = rand(r, m);
    const gx = new Float32Array(x.length).fill(3), gxw = new Float32Array(x.length);
    N.avgPool2dBackward(gy, gx, p);
    J.avgPool2dBackward(gy, gxw, p);
    close(gx, gxw, `avgPoolBackward ${JSON.stringify(p)}`);
  }
});

test('native: adaptive average pooling and its adjoint', { skip }, () => {
  const r = rng(15);
  const cases: AdaptivePool2dParams[] = [
    { n: 2, c: 3, h: 7, w: 7, oh: 1, ow: 1 }, { n: 1, c: 2, h: 7, w: 5, oh: 3, ow: 2 },
    { n: 2, c: 2, h: 5, w: 5, oh: 5, ow: 5 }, { n: 1, c: 1, h: 3, w: 4, oh: 6, ow: 7 },
    { n: 64, c: 64, h: 8, w: 8, oh: 1, ow: 1 }, { n: 3, c: 5, h: 13, w: 11, oh: 4, ow: 3 },
  ];
  for (const p of cases) {
    const x = rand(r, p.n * p.c * p.h * p.w);
    const m = p.n * p.c * p.oh * p.ow;
    const go = new Float32Array(m), wo = new Float32Array(m);
    N.adaptiveAvgPool2d(x, go, p);
    J.adaptiveAvgPool2d(x, wo, p);
    close(go, wo, `adaptive ${JSON.stringify(p)}`);
    const gy = rand(r, m);
    const gx = new Float32Array(x.length).fill(3), gxw = new Float32Array(x.length);
    N.adaptiveAvgPool2dBackward(gy, gx, p);
    J.adaptiveAvgPool2dBackward(gy, gxw, p);
    close(gx, gxw, `adaptiveBackward ${JSON.stringify(p)}`);
  }
});

// ------------------------------------------------------------------ threads and errors

test('native: one thread gives the same results as the default team', { skip }, () => {
  const r = rng(16);
  const before = N.numThreads();
  const p = convParams(4, 16, 12, 12, 16, 3, 3, [1, 1], [1, 1], [1, 1], 1);
  const x = rand(r, 4 * 16 * 144), w = rand(r, 16 * 16 * 9);
  const y1 = new Float32Array(4 * 16 * 144), yN = new Float32Array(4 * 16 * 144);
  const big = rand(r, 300_000);
  const s1 = new Float32Array(1), sN = new Float32Array(1);
  try {
    N.setNumThreads(1);
    assert.equal(N.numThreads(), 1);
    N.conv2d(x, w, null, y1, p);
    N.reduce('sum', big, [300_000], [0], s1);
  } finally {
    N.setNumThreads(before);
  }
  assert.equal(N.numThreads(), before);
  N.conv2d(x, w, null, yN, p);
  N.reduce('sum', big, [300_000], [0], sN);
  close(y1, yN, 'conv threads', 1e-6);
  close(s1, sN, 'sum threads', 1e-6);
});

test('native: rejects float64 buffers and inconsistent sizes with an exception', { skip }, () => {
  assert.throws(() => N.unary('exp', new Float64Array(3), new Float64Array(3)), /Float32Array/);
  assert.throws(() => N.unary('exp', new Float32Array(3), new Float32Array(2)), RangeError);
  assert.throws(() => N.binary('add', new Float32Array(3), [3], new Float32Array(2), [2], new Float32Array(3), [3]), /broadcast/);
  const p = convParams(1, 1, 3, 3, 1, 2, 2, [1, 1], [0, 0], [1, 1], 1);
  assert.throws(() => N.conv2d(new Float32Array(9), new Float32Array(4), null, new Float32Array(4), { ...p, oh: 3 }), RangeError);
  assert.throws(() => N.conv2d(new Float32Array(8), new Float32Array(4), null, new Float32Array(4), p), RangeError);
  assert.throws(() => N.matmul(new Float32Array(3), new Float32Array(4), new Float32Array(4),
    { batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, aBatchStride: 4, bBatchStride: 4, accumulate: false }), RangeError);
});

test('native: rademacherFill reproduces the reference generator steps and state', { skip }, () => {
  // From 2^18 values the fill is split between threads, each jumping ahead to its first value: the
  // sizes cross that threshold and leave uneven parts, at 1, 2 and 3 threads.
  const before = N.numThreads();
  try {
    for (const threads of [1, 2, 3]) {
      N.setNumThreads(threads);
      for (const n of [0, 1, 7, 100_003, 262_143, 262_144, 3 * 1_048_576 + 5]) {
        const s1 = Uint32Array.of(0x9e3779b9, 1, 0xdeadbeef, 0x80000000), s2 = s1.slice();
        const a = new Float32Array(n), b = new Float32Array(n);
        N.rademacherFill(s1, a);
        J.rademacherFill(s2, b);
        exact(a, b, `rademacherFill n=${n} at ${threads} threads`);
        exact(s1, s2, `rademacherFill state n=${n} at ${threads} threads`);
        // A second fill continues the stream from the state the first one left.
        const c = new Float32Array(Math.min(n, 300_001)), d = new Float32Array(c.length);
        N.rademacherFill(s1, c);
        J.rademacherFill(s2, d);
        exact(c, d, `rademacherFill after n=${n} at ${threads} threads`);
      }
    }
  } finally {
    N.setNumThreads(before);
  }
});

test('native: fmaPeak ends every chain where the reference does, in every thread, and checks its output', { skip }, () => {
  const threads = N.numThreads();
  for (const [iters, scale, shift] of [[0, 1, 0.5], [1, 1, 0.5], [1000, 1, 0.5], [37, 0.5, 1], [12_345, 1, -0.25]] as const) {
    const a = new Float32Array(3), b = new Float32Array(3);
    N.fmaPeak(iters, scale, shift, a);
    J.fmaPeak(iters, scale, shift, b);
    assert.equal(a[0], b[0], `fmaPeak(${iters}, ${scale}, ${shift}) value`);
    // Flops per round per thread: two per lane and chain, at least four lanes of several chains.
    assert.ok(a[1]! >= 2 * 4 * 8 && a[1]! % 8 === 0, `flops per round ${a[1]}`);
    assert.equal(a[2], threads);
  }
  assert.throws(() => N.fmaPeak(1, 1, 0.5, new Float32Array(2)), /out needs 3 values/);
  assert.throws(() => J.fmaPeak(1, 1, 0.5, new Float32Array(2)), /out needs 3 values/);
});
