// The native sparse kernels against the reference ones (float32) on random shapes: odd sizes,
// stride 2, padding, dilation, batch 1, empty rows and fully empty weights; 1e-4 of the
// reference output's largest magnitude. Skips, saying why, when the addon is not built.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend as J } from '../../src/kernels/js/index.js';
import { loadNativeBackend } from '../../src/kernels/native/index.js';
import type { Backend } from '../../src/kernels/interface.js';
import { convCases, linearCases, randomCsr, rng } from './sparse-cases.js';

const loaded = loadNativeBackend();
const skip = loaded.backend ? false : `native backend not available: ${loaded.reason}`;
const N = loaded.backend as Backend;

function rand(r: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * r() - 1;
  return a;
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  const bound = tol * Math.max(scale, 1e-30);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= bound)) assert.fail(`${what}[${i}]: got ${actual[i]}, want ${expected[i]} (bound ${bound})`);
  }
}

test('native sparse conv2d, its input gradient and weight gradient match the reference', { skip }, () => {
  const r = rng(3);
  // Both native paths (image planes, batch-inner) on every case, then the automatic choice.
  const paths = ['planes', 'batch', 'auto'] as const;
  for (const [threads, path] of [1, 2].flatMap((t) => paths.map((q) => [t, q] as const))) {
    N.setNumThreads(threads);
    if (path === 'auto') delete process.env['PAI_SPARSE_PATH'];
    else process.env['PAI_SPARSE_PATH'] = path;
    for (const { name: caseName, p, density } of convCases(21, 40)) {
      const name = `${caseName} [${path}]`;
      const { pattern } = randomCsr(r, p.oc, p.c * p.kh * p.kw, density);
      const nnz = pattern.colIdx.length;
      const v = rand(r, nnz), bias = rand(r, p.oc);
      const x = rand(r, p.n * p.c * p.h * p.w), gy = rand(r, p.n * p.oc * p.oh * p.ow);
      for (const b of [bias, null]) {
        const ye = new Float32Array(gy.length), ya = new Float32Array(gy.length).fill(Number.NaN);
        J.sparseConv2d(x, v, pattern, b, ye, p);
        N.sparseConv2d(x, v, pattern, b, ya, p);
        close(ya, ye, `${name} (${threads} threads): forward${b ? ' + bias' : ''}`);
      }
      const gxe = new Float32Array(x.length), gxa = new Float32Array(x.length).fill(Number.NaN);
      J.sparseConv2dBackwardData(gy, v, pattern, gxe, p);
      N.sparseConv2dBackwardData(gy, v, pattern, gxa, p);
      close(gxa, gxe, `${name} (${threads} threads): input gradient`);
      const gve = new Float32Array(nnz), gva = new Float32Array(nnz).fill(Number.NaN);
      J.sparseConv2dBackwardWeight(x, gy, pattern, gve, p);
      N.sparseConv2dBackwardWeight(x, gy, pattern, gva, p);
      close(gva, gve, `${name} (${threads} threads): weight gradient`);
    }
  }
  N.setNumThreads(2);
  delete process.env['PAI_SPARSE_PATH'];
});

test('native sparse linear kernels match the reference', { skip }, () => {
  const r = rng(4);
  for (const { name, p, density } of linearCases(22, 30)) {
    const { pattern } = randomCsr(r, p.outF, p.inF, density);
    const nnz = pattern.colIdx.length;
    const v = rand(r, nnz), bias = rand(r, p.outF);
    const x = rand(r, p.n * p.inF), gy = rand(r, p.n * p.outF);
    for (const b of [bias, null]) {
      const ye = new Float32Array(gy.length), ya = new Float32Array(gy.length).fill(Number.NaN);
      J.sparseLinear(x, v, pattern, b, ye, p);
      N.sparseLinear(x, v, pattern, b, ya, p);
      close(ya, ye, `${name}: forward${b ? ' + bias' : ''}`);
    }
    const gxe = new Float32Array(x.length), gxa = new Float32Array(x.length).fill(Number.NaN);
    J.sparseLinearBackwardData(gy, v, pattern, gxe, p);
    N.sparseLinearBackwardData(gy, v, pattern, gxa, p);
    close(gxa, gxe, `${name}: input gradient`);
    const gve = new Float32Array(nnz), gva = new Float32Array(nnz).fill(Number.NaN);
    J.sparseLinearBackwardWeight(x, gy, pattern, gve, p);
    N.sparseLinearBackwardWeight(x, gy, pattern, gva, p);
    close(gva, gve, `${name}: weight gradient`);
  }
});

test('native sparse kernels refuse bad patterns instead of writing out of bounds', { skip }, () => {
  const p = { n: 1, c: 2, h: 4, w: 4, oc: 2, kh: 3, kw: 3, oh: 4, ow: 4, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1 };
  const x = new Float32Array(32), y = new Float32Array(32);
  assert.throws(() => N.sparseConv2d(x, new Float32Array(2), { rowPtr: Int32Array.from([0, 1, 2]), colIdx: Int32Array.from([0, 18]) }, null, y, p), /colIdx\[1\] = 18/);
  assert.throws(() => N.sparseConv2d(x, new Float32Array(2), { rowPtr: Int32Array.from([0, 2, 1]), colIdx: Int32Array.from([0, 1]) }, null, y, p), /rowPtr decreases/);
  assert.throws(() => N.sparseConv2d(x, new Float32Array(2), { rowPtr: Int32Array.from([0, 1, 2]), colIdx: Int32Array.from([0, 1]) }, null, y, { ...p, groups: 2 }), /groups/);
  assert.throws(() => N.sparseLinear(new Float32Array(6), new Float32Array(1), { rowPtr: Int32Array.from([0, 1]), colIdx: Int32Array.from([3]) }, null, new Float32Array(2), { n: 2, inF: 3, outF: 1 }), /outside/);
});
