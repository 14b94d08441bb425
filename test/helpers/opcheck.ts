// The check every differentiable op gets in float64: first derivatives against finite differences,
// Hessian-vector products, and Hessian-vector products of square ∘ op (so that an op whose own
// second derivative vanishes still has its backward code differentiated again).
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/tensor/tensor.js';
import { square } from '../../src/autograd/index.js';
import { gradcheck, hvpcheck } from '../../src/autograd/gradcheck.js';

export type Fn = (...xs: Tensor[]) => Tensor;

/** gradcheck(f), hvpcheck(f) and hvpcheck(square o f). */
export function checkOp(name: string, f: Fn, inputs: Tensor[]): void {
  const g = gradcheck(f, inputs);
  assert.ok(g.ok, `${name}: gradient: ${g.worst}`);
  const h = hvpcheck(f, inputs);
  assert.ok(h.ok, `${name}: hvp: ${h.worst}`);
  const h2 = hvpcheck((...xs) => square(f(...xs)), inputs, { seed: 1 });
  assert.ok(h2.ok, `${name}: hvp of square: ${h2.worst}`);
}
