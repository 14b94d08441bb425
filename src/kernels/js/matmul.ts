// Batched matrix product. Each output row is accumulated in a float64 scratch row over k in order
// (i-p-j loop, so the inner loop walks b and the scratch contiguously when b is not transposed), and
// rounded into `out` once. Zero entries of a are not skipped: 0 * NaN must still give NaN.

import type { FloatArray, MatmulParams } from '../interface.js';

export function matmul(a: FloatArray, b: FloatArray, out: FloatArray, p: MatmulParams): void {
  const { batch, m, k, n, transA, transB, aBatchStride, bBatchStride, accumulate } = p;
  if (out.length < batch * m * n) throw new Error(`matmul: out has ${out.length} elements, needs ${batch * m * n}`);
  if (batch > 0 && m * k > 0 && a.length < (batch - 1) * aBatchStride + m * k) throw new Error('matmul: a too small');
  if (batch > 0 && k * n > 0 && b.length < (batch - 1) * bBatchStride + k * n) throw new Error('matmul: b too small');
  const row = new Float64Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const aOff = bi * aBatchStride;
    const bOff = bi * bBatchStride;
    const oOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let q = 0; q < k; q++) {
        const av = transA ? a[aOff + q * m + i]! : a[aOff + i * k + q]!;
        if (transB) {
          // b stored n x k: element (q, j) sits at j * k + q.
          for (let j = 0, bj = bOff + q; j < n; j++, bj += k) row[j] = row[j]! + av * b[bj]!;
        } else {
          for (let j = 0, bj = bOff + q * n; j < n; j++, bj++) row[j] = row[j]! + av * b[bj]!;
        }
      }
      const o = oOff + i * n;
      if (accumulate) for (let j = 0; j < n; j++) out[o + j] = out[o + j]! + row[j]!;
      else for (let j = 0; j < n; j++) out[o + j] = row[j]!;
    }
  }
}
