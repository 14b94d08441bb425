// The sparse layer ops: gradients and second derivatives in float64 against finite differences
// (the vjps are built from the ops themselves, so double backward must be exact), and equality
// with the dense op on the masked weight: values, input and bias gradients, and the weight
// gradient at the kept entries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import * as F from '../../src/autograd/index.js';
import { grad } from '../../src/autograd/graph.js';
import { checkOp as check } from '../helpers/opcheck.js';

const gen = new Generator(7, 'sparse-grad');
const f64 = { dtype: 'float64' as const, requiresGrad: true };
const r = (...shape: number[]): Tensor => randn(shape, gen, f64);

function mask(shape: number[], density: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = gen.uniform() < density ? 1 : 0;
  d.fill(0, 0, n / shape[0]!); // the first row empty
  return new Tensor(d, shape);
}

function close(a: ArrayLike<number>, e: ArrayLike<number>, what: string, tol = 1e-12): void {
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) assert.ok(Math.abs(a[i]! - e[i]!) <= tol * (1 + Math.abs(e[i]!)), `${what}[${i}]: ${a[i]} vs ${e[i]}`);
}

const convCases: { name: string; x: number[]; w: number[]; o: F.Conv2dOptions }[] = [
  { name: '3x3 pad 1', x: [2, 3, 5, 4], w: [4, 3, 3, 3], o: { padding: 1 } },
  { name: 'stride 2 dilation 2', x: [1, 2, 7, 6], w: [3, 2, 2, 3], o: { stride: 2, dilation: 2, padding: [1, 0] } },
  { name: '1x1 stride 2', x: [2, 3, 5, 5], w: [2, 3, 1, 1], o: { stride: 2 } },
];

test('sparseConv2d: gradients and Hessian-vector products (float64)', () => {
  for (const c of convCases) {
    const pt = F.sparsePatternFromMask(mask(c.w, 0.5));
    check(`sparseConv2d ${c.name}`, (x, v, b) => F.sparseConv2d(x!, v!, pt, b!, c.o), [r(...c.x), r(pt.nnz), r(c.w[0]!)]);
  }
});

test('sparseLinear: gradients and Hessian-vector products, 2-d and 3-d inputs (float64)', () => {
  const pt = F.sparsePatternFromMask(mask([5, 7], 0.4));
  check('sparseLinear 2-d', (x, v, b) => F.sparseLinear(x!, v!, pt, b!), [r(3, 7), r(pt.nnz), r(5)]);
  check('sparseLinear 3-d', (x, v) => F.sparseLinear(x!, v!, pt), [r(2, 3, 7), r(pt.nnz)]);
});

test('the sparse ops equal the dense ops on the masked weight, gradients included', () => {
  const cases: { name: string; x: number[]; w: number[]; dense: (x: Tensor, w: Tensor, b: Tensor) => Tensor; sparse: (x: Tensor, v: Tensor, pt: F.SparsePattern, b: Tensor) => Tensor }[] = [
    ...convCases.map((c) => ({
      name: `conv ${c.name}`, x: c.x, w: c.w,
      dense: (x: Tensor, w: Tensor, b: Tensor) => F.conv2d(x, w, b, c.o),
      sparse: (x: Tensor, v: Tensor, pt: F.SparsePattern, b: Tensor) => F.sparseConv2d(x, v, pt, b, c.o),
    })),
    { name: 'linear', x: [4, 9], w: [6, 9], dense: (x, w, b) => F.linear(x, w, b), sparse: (x, v, pt, b) => F.sparseLinear(x, v, pt, b) },
  ];
  for (const c of cases) {
    const m = mask(c.w, 0.3);
    const pt = F.sparsePatternFromMask(m);
    const w = r(...c.w);
    for (let i = 0; i < w.size; i++) w.data[i] = w.data[i]! * m.data[i]!;
    const v = F.gatherSparseValues(w, pt);
    v.requiresGrad = true;
    const x = r(...c.x), b = r(c.w[0]!);
    const yd = c.dense(x, w, b), ys = c.sparse(x, v, pt, b);
    close(ys.data, yd.data, `${c.name}: forward`);
    const u = randn(yd.shape, gen, { dtype: 'float64' });
    const [gxd, gwd, gbd] = grad(F.sum(F.mul(c.dense(x, w, b), u)), [x, w, b]);
    const [gxs, gvs, gbs] = grad(F.sum(F.mul(c.sparse(x, v, pt, b), u)), [x, v, b]);
    close(gxs!.data, gxd!.data, `${c.name}: input gradient`);
    close(gbs!.data, gbd!.data, `${c.name}: bias gradient`);
    close(gvs!.data, F.gatherSparseValues(gwd!, pt).data, `${c.name}: weight gradient at the kept entries`);
    close(F.scatterSparseValues(v, pt).data, w.data, `${c.name}: scatter of the values is the masked weight`);
  }
});

test('sparse ops refuse mismatched values, patterns and groups with the shapes named', () => {
  const pt = F.sparsePatternFromMask(mask([4, 3, 3, 3], 0.5));
  const x = r(1, 3, 5, 5);
  assert.throws(() => F.sparseConv2d(x, r(pt.nnz + 1), pt), /one entry per kept weight/);
  assert.throws(() => F.sparseConv2d(r(1, 2, 5, 5), r(pt.nnz), pt), /input channels/);
  assert.throws(() => F.sparseConv2d(x, r(pt.nnz), pt, null, { groups: 3 } as F.Conv2dOptions), /groups/);
  assert.throws(() => F.sparseLinear(r(2, 4), r(pt.nnz), pt), /not a 2-d/);
});
