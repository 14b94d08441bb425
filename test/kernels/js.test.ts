// Tests of the reference backend. Hand-computed cases pin the conventions; independent brute-force
// formulations (written here, index by index) and adjoint identities check the general case.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/tensor/random.js';
import { jsBackend as B } from '../../src/kernels/js/index.js';
import type {
  AdaptivePool2dParams, BinaryOp, Conv2dParams, FloatArray, MatmulParams, Pool2dParams, UnaryOp,
} from '../../src/kernels/interface.js';

// ------------------------------------------------------------------ helpers

/** Uniform [0, 1) draws from pai's seeded generator, so every run sees the same data. */
function rng(seed: number): () => number {
  const g = new Generator(seed, 'kernel-tests');
  return () => g.uniform();
}

function randArr(r: () => number, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

function prod(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

function dot(a: FloatArray, b: FloatArray): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function close(actual: FloatArray | number[], expected: FloatArray | number[], tol = 1e-12, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e)) { assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`); continue; }
    if (a === e) continue;
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

function closeNum(a: number, e: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${what}: ${a} vs ${e}`);
}

function unflatten(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** Flat index into a (possibly lower-rank) operand for an output multi-index, by broadcasting rules. */
function bcastIndex(outIdx: number[], opShape: readonly number[]): number {
  const off = outIdx.length - opShape.length;
  let f = 0;
  for (let d = 0; d < opShape.length; d++) f = f * opShape[d]! + (opShape[d] === 1 ? 0 : outIdx[d + off]!);
  return f;
}

/** A random output shape and an operand shape broadcastable to it (lower rank, 1s). */
function randBroadcastShape(r: () => number, out: number[]): number[] {
  const rank = randInt(r, 0, out.length);
  const s = out.slice(out.length - rank);
  for (let d = 0; d < s.length; d++) if (r() < 0.4) s[d] = 1;
  return s;
}

// ------------------------------------------------------------------ element-wise

test('backend identity', () => {
  assert.equal(B.name, 'js');
  assert.ok(B.supports('float32'));
  assert.ok(B.supports('float64'));
  B.setNumThreads(8);
  assert.equal(B.numThreads(), 1);
});

test('unary: hand-computed values', () => {
  const x = new Float64Array([-2, -0.5, 0, 1.5, NaN]);
  const cases: [UnaryOp, number[]][] = [
    ['neg', [2, 0.5, -0, -1.5, NaN]],
    ['abs', [2, 0.5, 0, 1.5, NaN]],
    ['sign', [-1, -1, 0, 1, 0]],
    ['relu', [0, 0, 0, 1.5, NaN]],
    ['step', [0, 0, 0, 1, 0]],
    ['square', [4, 0.25, 0, 2.25, NaN]],
    ['reciprocal', [-0.5, -2, Infinity, 1 / 1.5, NaN]],
    ['exp', [Math.exp(-2), Math.exp(-0.5), 1, Math.exp(1.5), NaN]],
    ['tanh', [Math.tanh(-2), Math.tanh(-0.5), 0, Math.tanh(1.5), NaN]],
    ['sigmoid', [1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(0.5)), 0.5, 1 / (1 + Math.exp(-1.5)), NaN]],
  ];
  for (const [op, want] of cases) {
    const out = new Float64Array(x.length);
    B.unary(op, x, out);
    close(out, want, 1e-15, op);
  }
  const p = new Float64Array([4, 0.25, 0, -1]);
  const out = new Float64Array(4);
  B.unary('sqrt', p, out); close(out, [2, 0.5, 0, NaN], 0, 'sqrt');
  B.unary('rsqrt', p, out); close(out, [0.5, 2, Infinity, NaN], 0, 'rsqrt');
  B.unary('log', p, out); close(out, [Math.log(4), Math.log(0.25), -Infinity, NaN], 0, 'log');
  // relu maps -0 to +0, sign of -0 is +0.
  const z = new Float64Array([-0]);
  const zo = new Float64Array(1);
  B.unary('relu', z, zo); assert.ok(Object.is(zo[0], 0));
  B.unary('sign', z, zo); assert.ok(Object.is(zo[0], 0));
  // Extreme sigmoid inputs saturate without NaN.
  const big = new Float64Array([-1000, 1000]);
  const bo = new Float64Array(2);
  B.unary('sigmoid', big, bo); close(bo, [0, 1], 0, 'sigmoid saturation');
});

test('unary erf: float64 accuracy against reference values', () => {
  // erf values correctly rounded to double (computed with 40-digit arithmetic).
  const table: [number, number][] = [
    [0.001, 0.0011283787909692365],
    [0.1, 0.1124629160182849],
    [0.25, 0.27632639016823696],
    [0.5, 0.5204998778130465],
    [0.75, 0.7111556336535151],
    [0.999, 0.8422852702064969],
    [1, 0.8427007929497149],
    [1.001, 0.8431154854780762],
    [1.25, 0.9229001282564583],
    [1.5, 0.9661051464753108],
    [2, 0.9953222650189527],
    [2.5, 0.999593047982555],
    [2.9, 0.9999589021219005],
    [3, 0.9999779095030014],
    [3.5, 0.9999992569016276],
    [4, 0.9999999845827421],
    [5, 0.9999999999984626],
    [6, 1],
    [30, 1],
  ];
  const x = new Float64Array(table.length * 2 + 3);
  table.forEach(([v], i) => { x[2 * i] = v; x[2 * i + 1] = -v; });
  x[x.length - 3] = 0; x[x.length - 2] = Infinity; x[x.length - 1] = NaN;
  const out = new Float64Array(x.length);
  B.unary('erf', x, out);
  table.forEach(([v, e], i) => {
    assert.ok(Math.abs(out[2 * i]! - e) <= 1e-15 * e, `erf(${v}) = ${out[2 * i]} vs ${e}`);
    assert.equal(out[2 * i + 1], -out[2 * i]!, `erf is odd at ${v}`);
  });
  assert.equal(out[x.length - 3], 0);
  assert.equal(out[x.length - 2], 1);
  assert.ok(Number.isNaN(out[x.length - 1]!));
  // Monotone across the switch (x = 1) between the series and the continued fraction.
  const fine = new Float64Array(2001);
  for (let i = 0; i < fine.length; i++) fine[i] = 1 + (i - 1000) * 1e-7;
  const fo = new Float64Array(fine.length);
  B.unary('erf', fine, fo);
  for (let i = 1; i < fo.length; i++) assert.ok(fo[i]! >= fo[i - 1]!, `erf not monotone at ${fine[i]}`);
});

test('unary writes float32 outputs', () => {
  const x = new Float32Array([0.1, -3]);
  const out = new Float32Array(2);
  B.unary('exp', x, out);
  assert.equal(out[0], Math.fround(Math.exp(Math.fround(0.1))));
  assert.equal(out[1], Math.fround(Math.exp(-3)));
});

test('affine and powScalar', () => {
  const x = new Float64Array([-2, -1, 0, 0.5, 3]);
  const out = new Float64Array(5);
  B.affine(x, 2, -1, out);
  close(out, [-5, -3, -1, 0, 5], 0, 'affine');
  for (const p of [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.7, -3]) {
    B.powScalar(x, p, out);
    const want = Array.from(x, (v) => Math.pow(v, p));
    close(out, want, 1e-15, `pow ${p}`);
  }
  // (-inf) ** 0.5 is NaN in PyTorch (sqrt), unlike Math.pow.
  const ni = new Float64Array([-Infinity]);
  const no = new Float64Array(1);
  B.powScalar(ni, 0.5, no);
  assert.ok(Number.isNaN(no[0]!));
});

const BINARY_OPS: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'];

function scalarBinary(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
    case 'pow': return Math.pow(a, b);
    case 'maximum': return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
    case 'minimum': return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
    case 'gt': return a > b ? 1 : 0;
    case 'ge': return a >= b ? 1 : 0;
    case 'lt': return a < b ? 1 : 0;
    case 'le': return a <= b ? 1 : 0;
    case 'eq': return a === b ? 1 : 0;
    case 'ne': return a !== b ? 1 : 0;
  }
}

test('binary: hand-computed values and NaN handling', () => {
  const a = new Float64Array([1, 2, NaN, 4]);
  const b = new Float64Array([2, 2, 1, NaN]);
  const out = new Float64Array(4);
  const s = [4];
  const want: Record<BinaryOp, number[]> = {
    add: [3, 4, NaN, NaN], sub: [-1, 0, NaN, NaN], mul: [2, 4, NaN, NaN], div: [0.5, 1, NaN, NaN],
    pow: [1, 4, NaN, NaN], maximum: [2, 2, NaN, NaN], minimum: [1, 2, NaN, NaN],
    gt: [0, 0, 0, 0], ge: [0, 1, 0, 0], lt: [1, 0, 0, 0], le: [1, 1, 0, 0], eq: [0, 1, 0, 0], ne: [1, 0, 1, 1],
  };
  for (const op of BINARY_OPS) {
    B.binary(op, a, s, b, s, out, s);
    close(out, want[op], 0, op);
  }
  // [2, 1] + [3] -> [2, 3]
  const o2 = new Float64Array(6);
  B.binary('add', new Float64Array([10, 20]), [2, 1], new Float64Array([1, 2, 3]), [3], o2, [2, 3]);
  close(o2, [11, 12, 13, 21, 22, 23], 0, 'outer add');
  // scalar (rank 0) operand
  const o3 = new Float64Array(3);
  B.binary('sub', new Float64Array([5]), [], new Float64Array([1, 2, 3]), [3], o3, [3]);
  close(o3, [4, 3, 2], 0, 'scalar sub');
});

test('binary broadcasting matches a naive index computation', () => {
  const r = rng(11);
  for (let trial = 0; trial < 200; trial++) {
    const rank = randInt(r, 0, 5);
    const outShape = Array.from({ length: rank }, () => randInt(r, 1, 4));
    const aShape = randBroadcastShape(r, outShape);
    const bShape = randBroadcastShape(r, outShape);
    const a = randArr(r, prod(aShape));
    const b = randArr(r, prod(bShape));
    if (r() < 0.3) for (let i = 0; i < b.length; i++) if (r() < 0.3) b[i] = a[bcastIndex(unflatten(i, bShape), aShape) % a.length]!;
    const op = BINARY_OPS[trial % BINARY_OPS.length]!;
    const n = prod(outShape);
    const out = new Float64Array(n);
    B.binary(op, a, aShape, b, bShape, out, outShape);
    const want = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const idx = unflatten(i, outShape);
      want[i] = scalarBinary(op, a[bcastIndex(idx, aShape)]!, b[bcastIndex(idx, bShape)]!);
    }
    close(out, want, 0, `${op} [${aShape}] [${bShape}] -> [${outShape}]`);
  }
});

test('binary rejects incompatible shapes', () => {
  assert.throws(() => B.binary('add', new Float64Array(2), [2], new Float64Array(3), [3], new Float64Array(3), [3]));
});

test('where broadcasting matches a naive index computation', () => {
  const r = rng(12);
  // hand case: cond [2,1], a [3], b scalar
  const out = new Float64Array(6);
  B.where(new Float64Array([1, 0]), [2, 1], new Float64Array([1, 2, 3]), [3], new Float64Array([-1]), [], out, [2, 3]);
  close(out, [1, 2, 3, -1, -1, -1], 0, 'where hand');
  for (let trial = 0; trial < 150; trial++) {
    const rank = randInt(r, 0, 4);
    const outShape = Array.from({ length: rank }, () => randInt(r, 1, 4));
    const cShape = randBroadcastShape(r, outShape);
    const aShape = randBroadcastShape(r, outShape);
    const bShape = randBroadcastShape(r, outShape);
    const cond = new Float64Array(prod(cShape));
    for (let i = 0; i < cond.length; i++) cond[i] = r() < 0.5 ? 0 : r() < 0.5 ? 1 : -2.5;
    const a = randArr(r, prod(aShape)), b = randArr(r, prod(bShape));
    const n = prod(outShape);
    const o = new Float64Array(n);
    B.where(cond, cShape, a, aShape, b, bShape, o, outShape);
    for (let i = 0; i < n; i++) {
      const idx = unflatten(i, outShape);
      const want = cond[bcastIndex(idx, cShape)] !== 0 ? a[bcastIndex(idx, aShape)] : b[bcastIndex(idx, bShape)];
      assert.equal(o[i], want, `where [${cShape}] [${aShape}] [${bShape}] -> [${outShape}] at ${i}`);
    }
  }
});

// ------------------------------------------------------------------ reduce

test('reduce: hand-computed values', () => {
  const x = new Float64Array([1, 2, 3, 4, 5, 6]); // [2, 3]
  const out2 = new Float64Array(2), out3 = new Float64Array(3), out1 = new Float64Array(1), out6 = new Float64Array(6);
  B.reduce('sum', x, [2, 3], [1], out2); close(out2, [6, 15], 0, 'sum axis 1');
  B.reduce('sum', x, [2, 3], [0], out3); close(out3, [5, 7, 9], 0, 'sum axis 0');
  B.reduce('max', x, [2, 3], [0, 1], out1); close(out1, [6], 0, 'max all');
  B.reduce('min', x, [2, 3], [1], out2); close(out2, [1, 4], 0, 'min axis 1');
  B.reduce('sum', x, [2, 3], [], out6); close(out6, x, 0, 'empty axes copies');
  const nan = new Float64Array([1, NaN, 3, 4]);
  const o = new Float64Array(2);
  B.reduce('max', nan, [2, 2], [1], o); close(o, [NaN, 4], 0, 'max NaN');
  B.reduce('min', nan, [2, 2], [1], o); close(o, [NaN, 3], 0, 'min NaN');
  B.reduce('max', nan, [2, 2], [0], o); close(o, [3, NaN], 0, 'max NaN axis 0');
  // Reducing a size-0 axis: the sum is 0.
  const e = new Float64Array(2);
  e.fill(7);
  B.reduce('sum', new Float64Array(0), [2, 0], [1], e); close(e, [0, 0], 0, 'empty sum');
  assert.throws(() => B.reduce('sum', x, [2, 3], [1, 0], out1));
});

test('reduce over random axes matches a naive computation', () => {
  const r = rng(13);
  for (let trial = 0; trial < 200; trial++) {
    const rank = randInt(r, 1, 5);
    const shape = Array.from({ length: rank }, () => randInt(r, 1, 4));
    const axes: number[] = [];
    for (let d = 0; d < rank; d++) if (r() < 0.5) axes.push(d);
    const op = (['sum', 'max', 'min'] as const)[trial % 3]!;
    const x = randArr(r, prod(shape));
    const kept = shape.filter((_, d) => !axes.includes(d));
    const want = new Float64Array(prod(kept)).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
    for (let i = 0; i < x.length; i++) {
      const idx = unflatten(i, shape);
      let o = 0;
      for (let d = 0; d < rank; d++) if (!axes.includes(d)) o = o * shape[d]! + idx[d]!;
      want[o] = op === 'sum' ? want[o]! + x[i]! : op === 'max' ? Math.max(want[o]!, x[i]!) : Math.min(want[o]!, x[i]!);
    }
    const out = new Float64Array(want.length);
    B.reduce(op, x, shape, axes, out);
    close(out, want, 1e-14, `${op} [${shape}] axes [${axes}]`);
  }
});

test('reduce sums float32 in double precision', () => {
  const n = 1 << 20;
  const x = new Float32Array(n).fill(0.1);
  const out = new Float32Array(1);
  B.reduce('sum', x, [n], [0], out);
  assert.equal(out[0], Math.fround(n * Math.fround(0.1)));
});

// ------------------------------------------------------------------ copy

test('copyStrided: permute, broadcast read, slice into padded destination', () => {
  // transpose [2, 3] -> [3, 2]
  const x = new Float64Array([1, 2, 3, 4, 5, 6]);
  const t = new Float64Array(6);
  B.copyStrided(x, 0, [1, 3], [3, 2], t, 0, [2, 1]);
  close(t, [1, 4, 2, 5, 3, 6], 0, 'transpose');
  // expand [3] -> [2, 3]
  const e = new Float64Array(6);
  B.copyStrided(new Float64Array([7, 8, 9]), 0, [0, 1], [2, 3], e, 0, [3, 1]);
  close(e, [7, 8, 9, 7, 8, 9], 0, 'expand');
  // x[:, 1:] into the interior of a zero [4, 4]
  const d = new Float64Array(16);
  B.copyStrided(x, 1, [3, 1], [2, 2], d, 5, [4, 1]);
  close(d, [0, 0, 0, 0, 0, 2, 3, 0, 0, 5, 6, 0, 0, 0, 0, 0], 0, 'slice/pad');
});

test('copyStrided matches a naive index computation on random permutations', () => {
  const r = rng(14);
  for (let trial = 0; trial < 100; trial++) {
    const rank = randInt(r, 1, 5);
    const shape = Array.from({ length: rank }, () => randInt(r, 1, 4));
    const perm = Array.from({ length: rank }, (_, i) => i);
    for (let i = rank - 1; i > 0; i--) { const j = randInt(r, 0, i); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
    const x = randArr(r, prod(shape) + 3);
    const srcOffset = randInt(r, 0, 3);
    const xStrides = shape.map((_, d) => prod(shape.slice(d + 1)));
    const outShape = perm.map((p) => shape[p]!);
    const srcStrides = perm.map((p) => (shape[p] === 1 && r() < 0.5 ? 0 : xStrides[p]!));
    const dstStrides = outShape.map((_, d) => prod(outShape.slice(d + 1)));
    const out = new Float64Array(prod(outShape));
    B.copyStrided(x, srcOffset, srcStrides, outShape, out, 0, dstStrides);
    for (let i = 0; i < out.length; i++) {
      const idx = unflatten(i, outShape);
      let s = srcOffset;
      for (let d = 0; d < rank; d++) s += idx[d]! * srcStrides[d]!;
      assert.equal(out[i], x[s], `copy [${shape}] perm [${perm}] at ${i}`);
    }
  }
});

test('gather and scatterAdd: values and adjointness', () => {
  const x = new Float64Array([10, 20, 30]);
  const idx = new Int32Array([2, 0, 2, 1]);
  const g = new Float64Array(4);
  B.gather(x, idx, g);
  close(g, [30, 10, 30, 20], 0, 'gather');
  const s = new Float64Array(3);
  B.scatterAdd(new Float64Array([1, 2, 3, 4]), idx, s);
  close(s, [2, 4, 4], 0, 'scatterAdd duplicates add');
  const r = rng(15);
  for (let trial = 0; trial < 20; trial++) {
    const m = randInt(r, 1, 30), n = randInt(r, 0, 50);
    const ix = new Int32Array(n);
    for (let i = 0; i < n; i++) ix[i] = randInt(r, 0, m - 1);
    const xv = randArr(r, m), gy = randArr(r, n);
    const gx = new Float64Array(m), y = new Float64Array(n);
    B.gather(xv, ix, y);
    B.scatterAdd(gy, ix, gx);
    closeNum(dot(y, gy), dot(xv, gx), 1e-13, 'gather/scatterAdd adjoint');
  }
  assert.throws(() => B.gather(x, new Int32Array([3]), new Float64Array(1)));
});

// ------------------------------------------------------------------ matmul

test('matmul: hand case', () => {
  const a = new Float64Array([1, 2, 3, 4, 5, 6]); // 2x3
  const b = new Float64Array([7, 8, 9, 10, 11, 12]); // 3x2
  const out = new Float64Array(4);
  const p: MatmulParams = { batch: 1, m: 2, k: 3, n: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false };
  B.matmul(a, b, out, p);
  close(out, [58, 64, 139, 154], 0, 'matmul');
  B.matmul(a, b, out, { ...p, accumulate: true });
  close(out, [116, 128, 278, 308], 0, 'matmul accumulate');
  // 0 * NaN is NaN
  const bn = b.slice(); bn[0] = NaN;
  B.matmul(new Float64Array([0, 0, 0, 0, 0, 0]), bn, out, p);
  assert.ok(Number.isNaN(out[0]!) && out[1] === 0);
});

test('matmul matches a naive product for all transposes, broadcast batches, accumulate', () => {
  const r = rng(16);
  for (let trial = 0; trial < 60; trial++) {
    const batch = randInt(r, 1, 3), m = randInt(r, 1, 6), k = randInt(r, 1, 6), n = randInt(r, 1, 6);
    const transA = r() < 0.5, transB = r() < 0.5, accumulate = r() < 0.3;
    const aBatchStride = r() < 0.3 ? 0 : m * k, bBatchStride = r() < 0.3 ? 0 : k * n;
    const a = randArr(r, aBatchStride === 0 ? m * k : batch * m * k);
    const b = randArr(r, bBatchStride === 0 ? k * n : batch * k * n);
    const out = randArr(r, batch * m * n);
    const want = accumulate ? out.slice() : new Float64Array(out.length);
    for (let bi = 0; bi < batch; bi++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) {
            const av = transA ? a[bi * aBatchStride + q * m + i]! : a[bi * aBatchStride + i * k + q]!;
            const bv = transB ? b[bi * bBatchStride + j * k + q]! : b[bi * bBatchStride + q * n + j]!;
            s += av * bv;
          }
          want[bi * m * n + i * n + j] = want[bi * m * n + i * n + j]! + s;
        }
      }
    }
    B.matmul(a, b, out, { batch, m, k, n, transA, transB, aBatchStride, bBatchStride, accumulate });
    close(out, want, 1e-13, `matmul b${batch} ${m}x${k}x${n} tA=${transA} tB=${transB}`);
  }
});

// ------------------------------------------------------------------ conv

function convParams(n: number, c: number, h: number, w: number, oc: number, kh: number, kw: number,
  stride: [number, number], pad: [number, number], dil: [number, number], groups: number): Conv2dParams {
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1]) + 1;
  return { n, c, h, w, oc, kh, kw, oh, ow, strideH: stride[0], strideW: stride[1], padH: pad[0], padW: pad[1],
    dilH: dil[0], dilW: dil[1], groups };
}

/** conv2d straight from its definition, one output element at a time. */
function naiveConv(x: FloatArray, w: FloatArray, bias: FloatArray | null, p: Conv2dParams): Float64Array {
  const out = new Float64Array(p.n * p.oc * p.oh * p.ow);
  const cpg = p.c / p.groups, ocpg = p.oc / p.groups;
  for (let b = 0; b < p.n; b++) for (let o = 0; o < p.oc; o++) for (let y = 0; y < p.oh; y++) for (let xo = 0; xo < p.ow; xo++) {
    let s = bias ? bias[o]! : 0;
    const g = Math.floor(o / ocpg);
    for (let ci = 0; ci < cpg; ci++) for (let i = 0; i < p.kh; i++) for (let j = 0; j < p.kw; j++) {
      const iy = y * p.strideH - p.padH + i * p.dilH, ix = xo * p.strideW - p.padW + j * p.dilW;
      if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
      s += w[((o * cpg + ci) * p.kh + i) * p.kw + j]! * x[((b * p.c + g * cpg + ci) * p.h + iy) * p.w + ix]!;
    }
    out[((b * p.oc + o) * p.oh + y) * p.ow + xo] = s;
  }
  return out;
}

test('conv2d: hand case', () => {
  // 1x1x3x3 input, one 2x2 kernel of ones, padding 0: sums of 2x2 blocks, plus bias 0.5.
  const x = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const w = new Float64Array([1, 1, 1, 1]);
  const p = convParams(1, 1, 3, 3, 1, 2, 2, [1, 1], [0, 0], [1, 1], 1);
  const out = new Float64Array(4);
  B.conv2d(x, w, new Float64Array([0.5]), out, p);
  close(out, [12.5, 16.5, 24.5, 28.5], 0, 'conv hand');
  // cross-correlation, not convolution: kernel [1, 0; 0, 0] picks the top-left tap
  B.conv2d(x, new Float64Array([1, 0, 0, 0]), null, out, p);
  close(out, [1, 2, 4, 5], 0, 'conv is cross-correlation');
});

const CONV_CASES: { name: string; n: number; c: number; h: number; w: number; oc: number; kh: number; kw: number;
  s: [number, number]; p: [number, number]; d: [number, number]; g: number }[] = [
  { name: 'plain 3x3 pad 1', n: 2, c: 3, h: 5, w: 6, oc: 4, kh: 3, kw: 3, s: [1, 1], p: [1, 1], d: [1, 1], g: 1 },
  { name: 'stride 2 odd size', n: 1, c: 2, h: 7, w: 5, oc: 3, kh: 3, kw: 3, s: [2, 2], p: [1, 1], d: [1, 1], g: 1 },
  { name: 'dilation 2', n: 2, c: 2, h: 9, w: 8, oc: 2, kh: 3, kw: 2, s: [1, 1], p: [2, 1], d: [2, 2], g: 1 },
  { name: 'groups 2', n: 2, c: 4, h: 5, w: 5, oc: 6, kh: 3, kw: 3, s: [1, 2], p: [1, 0], d: [1, 1], g: 2 },
  { name: 'depthwise stride 2', n: 1, c: 3, h: 6, w: 7, oc: 3, kh: 3, kw: 3, s: [2, 2], p: [1, 1], d: [1, 1], g: 3 },
  { name: 'depthwise multiplier 2 dil 2', n: 2, c: 2, h: 8, w: 7, oc: 4, kh: 3, kw: 3, s: [1, 1], p: [2, 2], d: [2, 2], g: 2 },
  { name: '1x1 stride 2', n: 3, c: 3, h: 5, w: 5, oc: 2, kh: 1, kw: 1, s: [2, 2], p: [0, 0], d: [1, 1], g: 1 },
  { name: 'asymmetric kernel, big pad', n: 1, c: 1, h: 3, w: 4, oc: 2, kh: 2, kw: 5, s: [3, 1], p: [2, 3], d: [1, 2], g: 1 },
  { name: 'stride larger than kernel', n: 1, c: 2, h: 9, w: 9, oc: 2, kh: 2, kw: 2, s: [3, 4], p: [0, 1], d: [1, 1], g: 1 },
];

test('conv2d matches the definition; backward kernels are its adjoints', () => {
  const r = rng(17);
  for (const cc of CONV_CASES) {
    const p = convParams(cc.n, cc.c, cc.h, cc.w, cc.oc, cc.kh, cc.kw, cc.s, cc.p, cc.d, cc.g);
    const x = randArr(r, cc.n * cc.c * cc.h * cc.w);
    const w = randArr(r, cc.oc * (cc.c / cc.g) * cc.kh * cc.kw);
    const bias = randArr(r, cc.oc);
    const y = new Float64Array(cc.n * cc.oc * p.oh * p.ow);
    B.conv2d(x, w, bias, y, p);
    close(y, naiveConv(x, w, bias, p), 1e-13, `conv2d ${cc.name}`);
    B.conv2d(x, w, null, y, p);
    close(y, naiveConv(x, w, null, p), 1e-13, `conv2d ${cc.name} no bias`);

    const gy = randArr(r, y.length);
    const gx = new Float64Array(x.length).fill(123); // must be overwritten
    const gw = new Float64Array(w.length).fill(-7);
    B.conv2dBackwardData(gy, w, gx, p);
    B.conv2dBackwardWeight(x, gy, gw, p);
    const lhs = dot(y, gy);
    closeNum(dot(x, gx), lhs, 1e-12, `<x, bwdData> ${cc.name}`);
    closeNum(dot(w, gw), lhs, 1e-12, `<w, bwdWeight> ${cc.name}`);
    // Full-matrix adjointness: each basis input gives the matching column.
    const e = new Float64Array(x.length);
    const ye = new Float64Array(y.length);
    for (let i = 0; i < x.length; i += Math.max(1, Math.floor(x.length / 17))) {
      e.fill(0); e[i] = 1;
      B.conv2d(e, w, null, ye, p);
      closeNum(gx[i]!, dot(ye, gy), 1e-12, `bwdData[${i}] ${cc.name}`);
    }
    const ew = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) {
      ew.fill(0); ew[i] = 1;
      B.conv2d(x, ew, null, ye, p);
      closeNum(gw[i]!, dot(ye, gy), 1e-12, `bwdWeight[${i}] ${cc.name}`);
    }
  }
});

test('conv2d on float32 buffers agrees with float64', () => {
  const r = rng(18);
  const p = convParams(2, 4, 6, 5, 4, 3, 3, [2, 1], [1, 1], [1, 1], 2);
  const x = randArr(r, 2 * 4 * 6 * 5), w = randArr(r, 4 * 2 * 9);
  const y64 = new Float64Array(2 * 4 * p.oh * p.ow), y32 = new Float32Array(y64.length);
  B.conv2d(x, w, null, y64, p);
  B.conv2d(Float32Array.from(x), Float32Array.from(w), null, y32, p);
  close(y32, y64, 1e-5, 'conv f32');
});

test('conv2d rejects a wrong output size', () => {
  const p = convParams(1, 1, 3, 3, 1, 2, 2, [1, 1], [0, 0], [1, 1], 1);
  assert.throws(() => B.conv2d(new Float64Array(9), new Float64Array(4), null, new Float64Array(4), { ...p, oh: 3 }));
});

// ------------------------------------------------------------------ pooling

function poolParams(n: number, c: number, h: number, w: number, k: [number, number], s: [number, number],
  pad: [number, number], dil: [number, number], opts: { ceil?: boolean; countIncludePad?: boolean; divisorOverride?: number } = {}): Pool2dParams {
  const size = (len: number, kk: number, ss: number, pp: number, dd: number): number => {
    const span = len + 2 * pp - dd * (kk - 1) - 1;
    let o = (opts.ceil ? Math.ceil(span / ss) : Math.floor(span / ss)) + 1;
    // PyTorch's ceil-mode rule: the last window must start inside the input or left padding.
    if (opts.ceil && (o - 1) * ss >= len + pp) o--;
    return o;
  };
  return { n, c, h, w, oh: size(h, k[0], s[0], pad[0], dil[0]), ow: size(w, k[1], s[1], pad[1], dil[1]),
    kh: k[0], kw: k[1], strideH: s[0], strideW: s[1], padH: pad[0], padW: pad[1], dilH: dil[0], dilW: dil[1],
    countIncludePad: opts.countIncludePad ?? true, divisorOverride: opts.divisorOverride ?? 0 };
}

test('maxPool2d: hand case, ties pick the first, padding never wins', () => {
  const x = new Float64Array([
    1, 5, 2, 0,
    3, 5, 1, 1,
    -1, -2, -3, -4,
    -5, -6, -7, -4,
  ]);
  const p = poolParams(1, 1, 4, 4, [2, 2], [2, 2], [0, 0], [1, 1]);
  const out = new Float64Array(4), idx = new Int32Array(4);
  B.maxPool2d(x, out, idx, p);
  close(out, [5, 2, -1, -3], 0, 'maxpool values');
  assert.deepEqual(Array.from(idx), [1, 2, 8, 10]);
  // 3x3 stride 1 pad 1 on an all-negative plane: padding (implicit -inf) never wins.
  const neg = new Float64Array([-3, -2, -9, -8]);
  const p2 = poolParams(1, 1, 2, 2, [3, 3], [1, 1], [1, 1], [1, 1]);
  const o2 = new Float64Array(4), i2 = new Int32Array(4);
  B.maxPool2d(neg, o2, i2, p2);
  close(o2, [-2, -2, -2, -2], 0, 'maxpool padded');
  assert.deepEqual(Array.from(i2), [1, 1, 1, 1]);
  // NaN wins.
  const xn = new Float64Array([1, NaN, 3, 4]);
  const on = new Float64Array(1), inn = new Int32Array(1);
  B.maxPool2d(xn, on, inn, poolParams(1, 1, 2, 2, [2, 2], [2, 2], [0, 0], [1, 1]));
  assert.ok(Number.isNaN(on[0]!)); assert.equal(inn[0], 1);
  // Indices are global flat indices into x (second plane starts at 4).
  const x2 = new Float64Array([0, 1, 2, 3, 7, 6, 5, 4]);
  const o3 = new Float64Array(2), i3 = new Int32Array(2);
  B.maxPool2d(x2, o3, i3, poolParams(1, 2, 2, 2, [2, 2], [2, 2], [0, 0], [1, 1]));
  assert.deepEqual(Array.from(i3), [3, 4]);
});

test('maxPool2d matches brute force on random configurations', () => {
  const r = rng(19);
  for (let trial = 0; trial < 60; trial++) {
    const kh = randInt(r, 1, 3), kw = randInt(r, 1, 3);
    const dil: [number, number] = [randInt(r, 1, 2), randInt(r, 1, 2)];
    const pad: [number, number] = [randInt(r, 0, Math.floor(kh / 2)), randInt(r, 0, Math.floor(kw / 2))];
    const s: [number, number] = [randInt(r, 1, 3), randInt(r, 1, 3)];
    const h = randInt(r, dil[0] * (kh - 1) + 1, 8), w = randInt(r, dil[1] * (kw - 1) + 1, 8);
    const p = poolParams(randInt(r, 1, 2), randInt(r, 1, 3), h, w, [kh, kw], s, pad, dil, { ceil: r() < 0.5 });
    const x = randArr(r, p.n * p.c * h * w);
    // Quantise to force ties.
    for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]! * 3);
    const out = new Float64Array(p.n * p.c * p.oh * p.ow), idx = new Int32Array(out.length);
    B.maxPool2d(x, out, idx, p);
    for (let pl = 0; pl < p.n * p.c; pl++) for (let oy = 0; oy < p.oh; oy++) for (let ox = 0; ox < p.ow; ox++) {
      let best = -Infinity, bi = -1;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const iy = oy * s[0] - pad[0] + i * dil[0], ix = ox * s[1] - pad[1] + j * dil[1];
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        const f = (pl * h + iy) * w + ix;
        if (x[f]! > best) { best = x[f]!; bi = f; }
      }
      const o = (pl * p.oh + oy) * p.ow + ox;
      assert.equal(out[o], best, `maxpool value trial ${trial}`);
      assert.equal(idx[o], bi, `maxpool index trial ${trial}`);
      assert.equal(x[idx[o]!], out[o], 'index points at the max');
    }
  }
});

test('avgPool2d: hand cases for the divisor rules', () => {
  const ones = new Float64Array(9).fill(1);
  // k2 s2 p1 on 3x3: windows [-1,1) and [1,3) per axis.
  const p = poolParams(1, 1, 3, 3, [2, 2], [2, 2], [1, 1], [1, 1]);
  const out = new Float64Array(4);
  B.avgPool2d(ones, out, p);
  close(out, [0.25, 0.5, 0.5, 1], 0, 'count_include_pad');
  B.avgPool2d(ones, out, { ...p, countIncludePad: false });
  close(out, [1, 1, 1, 1], 0, 'exclude pad');
  B.avgPool2d(ones, out, { ...p, divisorOverride: 2 });
  close(out, [0.5, 1, 1, 2], 0, 'divisor override');
  // Ceil mode: k3 s2 p0 on 4x4 gives a last window [2, 5) clipped to size + pad = 4, so the
  // count-include-pad divisor is 2, not 3.
  const x = new Float64Array(16);
  for (let i = 0; i < 16; i++) x[i] = i;
  const pc = poolParams(1, 1, 4, 4, [3, 3], [2, 2], [0, 0], [1, 1], { ceil: true });
  assert.equal(pc.oh, 2);
  const oc = new Float64Array(4);
  B.avgPool2d(x, oc, pc);
  close(oc, [5, 6.5, 11, 12.5], 1e-15, 'ceil mode');
  // Ceil mode with padding: k2 s2 p1 on 4x4 -> 3 windows [-1,1), [1,3), [3,5) clipped at 5 = size+pad.
  const pp = poolParams(1, 1, 4, 4, [2, 2], [2, 2], [1, 1], [1, 1], { ceil: true });
  assert.equal(pp.oh, 3);
  const op = new Float64Array(9);
  B.avgPool2d(new Float64Array(16).fill(1), op, pp);
  close(op, [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25], 0, 'ceil mode with pad');
});

/** avgPool2d by enumerating every window tap, with PyTorch's divisor rules spelled out separately. */
function naiveAvgPool(x: FloatArray, p: Pool2dParams): Float64Array {
  const out = new Float64Array(p.n * p.c * p.oh * p.ow);
  for (let pl = 0; pl < p.n * p.c; pl++) for (let oy = 0; oy < p.oh; oy++) for (let ox = 0; ox < p.ow; ox++) {
    let s = 0, inside = 0, inPadded = 0;
    for (let i = 0; i < p.kh; i++) for (let j = 0; j < p.kw; j++) {
      const iy = oy * p.strideH - p.padH + i, ix = ox * p.strideW - p.padW + j;
      if (iy < p.h + p.padH && ix < p.w + p.padW) inPadded++;
      if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
      inside++;
      s += x[(pl * p.h + iy) * p.w + ix]!;
    }
    const div = p.divisorOverride > 0 ? p.divisorOverride : p.countIncludePad ? inPadded : inside;
    out[(pl * p.oh + oy) * p.ow + ox] = inside === 0 ? 0 : s / div;
  }
  return out;
}

test('avgPool2d matches brute force; avgPool2dBackward is its adjoint', () => {
  const r = rng(20);
  for (let trial = 0; trial < 80; trial++) {
    const kh = randInt(r, 1, 4), kw = randInt(r, 1, 4);
    const pad: [number, number] = [randInt(r, 0, Math.floor(kh / 2)), randInt(r, 0, Math.floor(kw / 2))];
    const s: [number, number] = [randInt(r, 1, 3), randInt(r, 1, 3)];
    const h = randInt(r, kh, 9), w = randInt(r, kw, 9);
    const p = poolParams(randInt(r, 1, 2), randInt(r, 1, 3), h, w, [kh, kw], s, pad, [1, 1], {
      ceil: r() < 0.5, countIncludePad: r() < 0.5, divisorOverride: r() < 0.2 ? randInt(r, 1, 5) : 0 });
    const x = randArr(r, p.n * p.c * h * w);
    const out = new Float64Array(p.n * p.c * p.oh * p.ow);
    B.avgPool2d(x, out, p);
    close(out, naiveAvgPool(x, p), 1e-14, `avgpool trial ${trial}`);
    const gy = randArr(r, out.length);
    const gx = new Float64Array(x.length).fill(9);
    B.avgPool2dBackward(gy, gx, p);
    closeNum(dot(x, gx), dot(out, gy), 1e-13, `avgpool adjoint trial ${trial}`);
  }
});

test('adaptiveAvgPool2d: hand case, brute force and adjoint', () => {
  // h = 5 -> 3: rows [0,2), [1,4), [3,5); w = 2 -> 1: [0, 2).
  const x = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // [1,1,5,2]
  const p: AdaptivePool2dParams = { n: 1, c: 1, h: 5, w: 2, oh: 3, ow: 1 };
  const out = new Float64Array(3);
  B.adaptiveAvgPool2d(x, out, p);
  close(out, [2.5, 5.5, 8.5], 1e-15, 'adaptive hand');
  const r = rng(21);
  for (let trial = 0; trial < 60; trial++) {
    const q: AdaptivePool2dParams = { n: randInt(r, 1, 2), c: randInt(r, 1, 3), h: randInt(r, 1, 9), w: randInt(r, 1, 9),
      oh: randInt(r, 1, 7), ow: randInt(r, 1, 7) };
    const xv = randArr(r, q.n * q.c * q.h * q.w);
    const o = new Float64Array(q.n * q.c * q.oh * q.ow);
    B.adaptiveAvgPool2d(xv, o, q);
    const want = new Float64Array(o.length);
    for (let pl = 0; pl < q.n * q.c; pl++) for (let i = 0; i < q.oh; i++) for (let j = 0; j < q.ow; j++) {
      // Window membership tested per input cell with real-valued bounds.
      let s = 0, cnt = 0;
      for (let iy = 0; iy < q.h; iy++) for (let ix = 0; ix < q.w; ix++) {
        const rowIn = iy >= Math.floor((i * q.h) / q.oh) && iy < Math.ceil(((i + 1) * q.h) / q.oh);
        const colIn = ix >= Math.floor((j * q.w) / q.ow) && ix < Math.ceil(((j + 1) * q.w) / q.ow);
        if (rowIn && colIn) { s += xv[(pl * q.h + iy) * q.w + ix]!; cnt++; }
      }
      want[(pl * q.oh + i) * q.ow + j] = s / cnt;
    }
    close(o, want, 1e-14, `adaptive trial ${trial}`);
    const gy = randArr(r, o.length);
    const gx = new Float64Array(xv.length).fill(5);
    B.adaptiveAvgPool2dBackward(gy, gx, q);
    closeNum(dot(xv, gx), dot(o, gy), 1e-13, `adaptive adjoint trial ${trial}`);
  }
});

test('per-channel kernels match a naive computation over [n, c, inner]', () => {
  const r = rng(77);
  for (const [n, c, inner] of [[3, 2, 5], [4, 3, 1], [1, 1, 6], [2, 5, 7]] as [number, number, number][]) {
    const total = n * c * inner;
    const x = randArr(r, total), g = randArr(r, total);
    const m = randArr(r, c), a = randArr(r, c), b = randArr(r, c), d = randArr(r, c);
    const chan = (i: number): number => Math.floor(i / inner) % c;
    const mean = new Float64Array(c), v = new Float64Array(c);
    B.channelMoments(x, n, c, inner, mean, v);
    for (let ch = 0; ch < c; ch++) {
      const vals = Array.from(x).filter((_, i) => chan(i) === ch);
      const mu = vals.reduce((s, t) => s + t, 0) / vals.length;
      closeNum(mean[ch]!, mu, 1e-14, `mean[${ch}]`);
      closeNum(v[ch]!, vals.reduce((s, t) => s + (t - mu) ** 2, 0) / vals.length, 1e-14, `var[${ch}]`);
    }
    const out = new Float64Array(total);
    B.channelAffine(x, m, a, d, out, n, c, inner);
    close(out, Array.from(x, (t, i) => (t - m[chan(i)]!) * a[chan(i)]! + d[chan(i)]!), 1e-15, 'channelAffine');
    B.channelAffine(x, null, a, null, out, n, c, inner);
    close(out, Array.from(x, (t, i) => t * a[chan(i)]!), 1e-15, 'channelAffine without m, d');
    const sg = new Float64Array(c), sgx = new Float64Array(c);
    B.channelGradSums(g, x, m, n, c, inner, sg, sgx);
    for (let ch = 0; ch < c; ch++) {
      let s1 = 0, s2 = 0;
      for (let i = 0; i < total; i++) if (chan(i) === ch) { s1 += g[i]!; s2 += g[i]! * (x[i]! - m[ch]!); }
      closeNum(sg[ch]!, s1, 1e-13, `sg[${ch}]`);
      closeNum(sgx[ch]!, s2, 1e-13, `sgx[${ch}]`);
    }
    B.channelAffineGrad(g, x, m, a, b, d, out, n, c, inner);
    close(out, Array.from(x, (t, i) => g[i]! * a[chan(i)]! + (t - m[chan(i)]!) * b[chan(i)]! + d[chan(i)]!), 1e-15, 'channelAffineGrad');
  }
  assert.throws(() => B.channelAffine(new Float64Array(10), null, new Float64Array(2), null, new Float64Array(9), 1, 2, 5), /elements/);
});

test('conv2dWeightGradMoments and conv2dWeightGradProbeDot reduce the per-sample weight gradients', () => {
  const r = rng(23);
  for (const cc of CONV_CASES) {
    const p = convParams(cc.n, cc.c, cc.h, cc.w, cc.oc, cc.kh, cc.kw, cc.s, cc.p, cc.d, cc.g);
    const xs = cc.c * cc.h * cc.w, ys = cc.oc * p.oh * p.ow, ws = cc.oc * (cc.c / cc.g) * cc.kh * cc.kw;
    const x = randArr(r, cc.n * xs), gy = randArr(r, cc.n * ys);
    const s0 = randArr(r, ws), q0 = randArr(r, ws);
    const wantS = s0.slice(), wantQ = q0.slice();
    const g = new Float64Array(ws);
    for (let n = 0; n < cc.n; n++) {
      B.conv2dBackwardWeight(x.subarray(n * xs, (n + 1) * xs), gy.subarray(n * ys, (n + 1) * ys), g, { ...p, n: 1 });
      for (let i = 0; i < ws; i++) { wantS[i] = wantS[i]! + g[i]!; wantQ[i] = wantQ[i]! + g[i]! * g[i]!; }
    }
    const s = s0.slice(), q = q0.slice();
    B.conv2dWeightGradMoments(x, gy, s, q, p);
    close(s, wantS, 1e-12, `sum ${cc.name}`);
    close(q, wantQ, 1e-12, `squares ${cc.name}`);
    const q2 = q0.slice();
    B.conv2dWeightGradMoments(x, gy, null, q2, p);
    close(q2, wantQ, 1e-12, `squares without sum ${cc.name}`);
    const z = randArr(r, cc.n * ws), a = randArr(r, ws);
    const wantA = a.slice();
    for (let n = 0; n < cc.n; n++) {
      B.conv2dBackwardWeight(x.subarray(n * xs, (n + 1) * xs), gy.subarray(n * ys, (n + 1) * ys), g, { ...p, n: 1 });
      for (let i = 0; i < ws; i++) wantA[i] = wantA[i]! + z[n * ws + i]! * g[i]!;
    }
    B.conv2dWeightGradProbeDot(x, gy, z, a, p);
    close(a, wantA, 1e-12, `probe dot ${cc.name}`);
  }
});

test('Generator.fillRademacher draws what rademacher() draws value by value, and leaves the same state', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const g = new Generator(3, 'rademacher-test'), h = new Generator(3, 'rademacher-test');
    const a = dtype === 'float32' ? new Float32Array(10_007) : new Float64Array(10_007);
    g.fillRademacher(a);
    for (let i = 0; i < a.length; i++) assert.equal(a[i], h.rademacher(), `${dtype} value ${i}`);
    assert.equal(g.nextU32(), h.nextU32(), `${dtype} state`);
  }
});
