// Gemm and MatMul. A Gemm that is a linear layer (alpha = beta = 1, B transposed, a vector bias)
// runs as pai's linear, whose per-sample rule the Fisher criteria use; other forms compose mm.

import * as ops from '../../../autograd/ops/index.js';
import type { ImportRule } from '../rule.js';
import { asTensor } from '../value.js';

const gemm: ImportRule = {
  domain: '', opType: 'Gemm', since: 13,
  run: (ins, n, ctx) => {
    const a = asTensor(n.need(ins, 0, 'A'), ctx), b = asTensor(n.need(ins, 1, 'B'), ctx);
    const c = ins[2] ? asTensor(ins[2], ctx) : null;
    const alpha = n.float('alpha', 1), beta = n.float('beta', 1), transA = n.int('transA', 0) !== 0, transB = n.int('transB', 0) !== 0;
    if (a.ndim !== 2 || b.ndim !== 2) throw n.error(`A and B must be matrices, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
    if (alpha === 1 && beta === 1 && !transA && transB && (!c || c.ndim === 1)) return [ops.linear(a, b, c)];
    let y = ops.matmul(transA ? ops.transpose(a) : a, transB ? ops.transpose(b) : b);
    if (alpha !== 1) y = ops.mulScalar(y, alpha);
    if (c) y = ops.add(y, beta === 1 ? c : ops.mulScalar(c, beta));
    return [y];
  },
};

const matmul: ImportRule = {
  domain: '', opType: 'MatMul', since: 13,
  run: (ins, n, ctx) => [ops.matmul(asTensor(n.need(ins, 0), ctx), asTensor(n.need(ins, 1), ctx))],
};

export const RULES: ImportRule[] = [gemm, matmul];
