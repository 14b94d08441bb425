// The reference sparse kernels against the dense reference kernels with the masked weight, in
// float64: forward (+ bias), input gradient, and the weight gradient at the kept entries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend as J } from '../../src/kernels/js/index.js';
import { convCases, linearCases, randomCsr, rng } from './sparse-cases.js';

function randF64(r: () => number, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * r() - 1;
  return a;
}

function near(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= 1e-12 * (1 + Math.abs(b[i]!)))) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

/** The CSR values of a dense weight (row-major order of the kept entries). */
function valuesOf(dense: Float64Array, mask: Float64Array): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) out.push(dense[i]!);
  return Float64Array.from(out);
}

test('sparse conv2d kernels equal the dense ones with the masked weight (float64)', () => {
  const r = rng(1);
  for (const { name, p, density } of convCases(11, 24)) {
    const cols = p.c * p.kh * p.kw;
    const { pattern, mask } = randomCsr(r, p.oc, cols, density);
    const w = randF64(r, p.oc * cols).map((v, i) => v * mask[i]!);
    const v = valuesOf(w, mask);
    const x = randF64(r, p.n * p.c * p.h * p.w), gy = randF64(r, p.n * p.oc * p.oh * p.ow), bias = randF64(r, p.oc);
    const yd = new Float64Array(gy.length), ys = new Float64Array(gy.length);
    J.conv2d(x, w, bias, yd, p);
    J.sparseConv2d(x, v, pattern, bias, ys, p);
    near(ys, yd, `${name}: forward`);
    const gxd = new Float64Array(x.length), gxs = new Float64Array(x.length).fill(7);
    J.conv2dBackwardData(gy, w, gxd, p);
    J.sparseConv2dBackwardData(gy, v, pattern, gxs, p);
    near(gxs, gxd, `${name}: input gradient`);
    const gwd = new Float64Array(w.length), gvs = new Float64Array(v.length);
    J.conv2dBackwardWeight(x, gy, gwd, p);
    J.sparseConv2dBackwardWeight(x, gy, pattern, gvs, p);
    near(gvs, valuesOf(gwd, mask), `${name}: weight gradient`);
  }
});

test('sparse linear kernels equal the dense product with the masked weight (float64)', () => {
  const r = rng(2);
  for (const { name, p, density } of linearCases(12, 12)) {
    const { pattern, mask } = randomCsr(r, p.outF, p.inF, density);
    const w = randF64(r, p.outF * p.inF).map((v, i) => v * mask[i]!);
    const v = valuesOf(w, mask);
    const x = randF64(r, p.n * p.inF), gy = randF64(r, p.n * p.outF), bias = randF64(r, p.outF);
    const yd = new Float64Array(p.n * p.outF), ys = new Float64Array(p.n * p.outF);
    J.matmul(x, w, yd, { batch: 1, m: p.n, k: p.inF, n: p.outF, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, accumulate: false });
    for (let b = 0; b < p.n; b++) for (let o = 0; o < p.outF; o++) yd[b * p.outF + o]! += bias[o]!;
    J.sparseLinear(x, v, pattern, bias, ys, p);
    near(ys, yd, `${name}: forward`);
    const gxd = new Float64Array(x.length), gxs = new Float64Array(x.length);
    J.matmul(gy, w, gxd, { batch: 1, m: p.n, k: p.outF, n: p.inF, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false });
    J.sparseLinearBackwardData(gy, v, pattern, gxs, p);
    near(gxs, gxd, `${name}: input gradient`);
    const gwd = new Float64Array(w.length), gvs = new Float64Array(v.length);
    J.matmul(gy, x, gwd, { batch: 1, m: p.outF, k: p.n, n: p.inF, transA: true, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false });
    J.sparseLinearBackwardWeight(x, gy, pattern, gvs, p);
    near(gvs, valuesOf(gwd, mask), `${name}: weight gradient`);
  }
});

test('sparse kernels refuse malformed patterns, groups and buffer sizes with the field named', () => {
  const p = { n: 1, c: 2, h: 4, w: 4, oc: 2, kh: 3, kw: 3, oh: 4, ow: 4, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1 };
  const x = new Float64Array(32), y = new Float64Array(32);
  const ok = { rowPtr: Int32Array.from([0, 1, 2]), colIdx: Int32Array.from([0, 17]) };
  J.sparseConv2d(x, new Float64Array(2), ok, null, y, p);
  assert.throws(() => J.sparseConv2d(x, new Float64Array(2), { rowPtr: Int32Array.from([0, 1, 2]), colIdx: Int32Array.from([0, 18]) }, null, y, p), /colIdx\[1\] = 18/);
  assert.throws(() => J.sparseConv2d(x, new Float64Array(2), { rowPtr: Int32Array.from([0, 2, 1]), colIdx: Int32Array.from([0, 1]) }, null, y, p), /rowPtr decreases/);
  assert.throws(() => J.sparseConv2d(x, new Float64Array(3), ok, null, y, p), /3 values for 2 stored entries/);
  assert.throws(() => J.sparseConv2d(x, new Float64Array(2), ok, null, y, { ...p, groups: 2 }), /groups = 1/);
  assert.throws(() => J.sparseConv2d(new Float64Array(31), new Float64Array(2), ok, null, y, p), /input buffer/);
});
