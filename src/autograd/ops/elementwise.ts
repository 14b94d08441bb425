// Element-wise ops and their vector-Jacobian products, each written with these same ops so that
// the backward pass is differentiable again.

import type { BinaryOp, UnaryOp } from '../../kernels/interface.js';
import { Tensor } from '../../tensor/tensor.js';
import { cast } from '../../tensor/create.js';
import { broadcastShapes, sameShape } from '../../tensor/shape.js';
import { record } from '../graph.js';
import { traceOp } from '../trace.js';
import { be, checkSameDtype, lift, uninit, type TensorLike } from './util.js';
import { sumTo } from './reduce.js';

function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  const out = uninit(x, x.shape);
  be(x).unary(op, x.data, out.data);
  return out;
}

function binaryRaw(name: string, op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkSameDtype(name, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(name, a.shape, b.shape);
  const out = uninit(a, shape);
  be(a).binary(op, a.data, a.shape, b.data, b.shape, out.data, shape);
  return out;
}

function affineRaw(x: Tensor, scale: number, shift: number): Tensor {
  const out = uninit(x, x.shape);
  be(x).affine(x.data, scale, shift, out.data);
  return out;
}

// ---- binary ----

/** a + b with broadcasting. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return addScalar(a as Tensor, b);
  if (typeof a === 'number') return addScalar(b, a);
  const out = binaryRaw('add', 'add', a, b);
  traceOp('add', [a, b], {}, out);
  return record('add', out, [a, b], (g, n) => [n[0] ? sumTo(g, a.shape) : null, n[1] ? sumTo(g, b.shape) : null]);
}

/** a - b with broadcasting. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return addScalar(a as Tensor, -b);
  if (typeof a === 'number') return addScalar(neg(b), a);
  const out = binaryRaw('sub', 'sub', a, b);
  traceOp('sub', [a, b], {}, out);
  return record('sub', out, [a, b], (g, n) => [n[0] ? sumTo(g, a.shape) : null, n[1] ? sumTo(neg(g), b.shape) : null]);
}

/** a * b with broadcasting. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return mulScalar(a as Tensor, b);
  if (typeof a === 'number') return mulScalar(b, a);
  const out = binaryRaw('mul', 'mul', a, b);
  traceOp('mul', [a, b], {}, out);
  return record('mul', out, [a, b], (g, n) => [
    n[0] ? sumTo(mul(g, b), a.shape) : null,
    n[1] ? sumTo(mul(g, a), b.shape) : null,
  ]);
}

/** a / b with broadcasting. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return mulScalar(a as Tensor, 1 / b);
  const A = lift(a, b);
  const out = binaryRaw('div', 'div', A, b);
  traceOp('div', [A, b], {}, out);
  return record('div', out, [A, b], (g, n) => [
    n[0] ? sumTo(div(g, b), A.shape) : null,
    // d(a/b)/db = -a/b^2, written without reusing `out` so the second derivative sees b.
    n[1] ? sumTo(neg(div(mul(g, A), mul(b, b))), b.shape) : null,
  ]);
}

/** a ** b. With a number exponent the derivative is p a^(p-1); with a tensor exponent also a^b log a. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return powScalar(a as Tensor, b);
  const A = lift(a, b);
  const out = binaryRaw('pow', 'pow', A, b);
  traceOp('pow', [A, b], {}, out);
  return record('pow', out, [A, b], (g, n) => [
    n[0] ? sumTo(mul(g, mul(b, pow(A, sub(b, 1)))), A.shape) : null,
    n[1] ? sumTo(mul(g, mul(pow(A, b), log(A))), b.shape) : null,
  ]);
}

/** The element-wise maximum of a and b (the gradient goes to a where they tie, as in PyTorch). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  // Ties send the gradient half to each side, as PyTorch does.
  const out = binaryRaw('maximum', 'maximum', a, b);
  traceOp('maximum', [a, b], {}, out);
  return record('maximum', out, [a, b], (g, n) => {
    const gtm = gt(a, b), eqm = eq(a, b);
    const wa = add(gtm, mulScalar(eqm, 0.5));
    return [n[0] ? sumTo(mul(g, wa), a.shape) : null, n[1] ? sumTo(mul(g, rsubScalar(wa, 1)), b.shape) : null];
  });
}

/** The element-wise minimum of a and b. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw('minimum', 'minimum', a, b);
  traceOp('minimum', [a, b], {}, out);
  return record('minimum', out, [a, b], (g, n) => {
    const ltm = lt(a, b), eqm = eq(a, b);
    const wa = add(ltm, mulScalar(eqm, 0.5));
    return [n[0] ? sumTo(mul(g, wa), a.shape) : null, n[1] ? sumTo(mul(g, rsubScalar(wa, 1)), b.shape) : null];
  });
}

// Comparisons: piecewise constant, so they record nothing (their derivative is zero).
/** 1 where a > b, else 0 (not differentiable). */
export const gt = (a: TensorLike, b: TensorLike): Tensor => cmp('gt', a, b);
/** 1 where a >= b, else 0 (not differentiable). */
export const ge = (a: TensorLike, b: TensorLike): Tensor => cmp('ge', a, b);
/** 1 where a < b, else 0 (not differentiable). */
export const lt = (a: TensorLike, b: TensorLike): Tensor => cmp('lt', a, b);
/** 1 where a <= b, else 0 (not differentiable). */
export const le = (a: TensorLike, b: TensorLike): Tensor => cmp('le', a, b);
/** 1 where a == b, else 0 (not differentiable). */
export const eq = (a: TensorLike, b: TensorLike): Tensor => cmp('eq', a, b);
/** 1 where a != b, else 0 (not differentiable). */
export const ne = (a: TensorLike, b: TensorLike): Tensor => cmp('ne', a, b);

function cmp(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : (b as Tensor);
  return binaryRaw(op, op, lift(a, like), lift(b, like));
}

// ---- scalar fast paths ----

/** a + c for a number c. */
export function addScalar(a: Tensor, c: number): Tensor {
  if (c === 0) return a;
  return traceOp('addScalar', [a], { c }, record('addScalar', affineRaw(a, 1, c), [a], (g) => [g]));
}

/** a * c for a number c. */
export function mulScalar(a: Tensor, c: number): Tensor {
  return traceOp('mulScalar', [a], { c }, record('mulScalar', affineRaw(a, c, 0), [a], (g) => [mulScalar(g, c)]));
}

/** c - a */
export function rsubScalar(a: Tensor, c: number): Tensor {
  return traceOp('rsubScalar', [a], { c }, record('rsubScalar', affineRaw(a, -1, c), [a], (g) => [neg(g)]));
}

/** a to the power p for a number p. */
export function powScalar(a: Tensor, p: number): Tensor {
  if (p === 1) return a;
  const out = uninit(a, a.shape);
  be(a).powScalar(a.data, p, out.data);
  traceOp('powScalar', [a], { p }, out);
  return record('powScalar', out, [a], (g) => [p === 2 ? mul(g, mulScalar(a, 2)) : mul(g, mulScalar(powScalar(a, p - 1), p))]);
}

// ---- unary ----

/** -x. */
export function neg(x: Tensor): Tensor {
  return traceOp('neg', [x], {}, record('neg', unaryRaw('neg', x), [x], (g) => [neg(g)]));
}

/** e to the x, element-wise. */
export function exp(x: Tensor): Tensor {
  const out = unaryRaw('exp', x);
  traceOp('exp', [x], {}, out);
  // exp' = exp: reuse the output, which is itself recorded, so the second derivative is right.
  return record('exp', out, [x], (g) => [mul(g, out)]);
}

/** The natural logarithm, element-wise. */
export function log(x: Tensor): Tensor {
  return traceOp('log', [x], {}, record('log', unaryRaw('log', x), [x], (g) => [div(g, x)]));
}

/** The square root, element-wise. */
export function sqrt(x: Tensor): Tensor {
  const out = unaryRaw('sqrt', x);
  traceOp('sqrt', [x], {}, out);
  return record('sqrt', out, [x], (g) => [div(g, mulScalar(out, 2))]);
}

/** 1 / sqrt(x), element-wise. */
export function rsqrt(x: Tensor): Tensor {
  const out = unaryRaw('rsqrt', x);
  traceOp('rsqrt', [x], {}, out);
  // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 out^3
  return record('rsqrt', out, [x], (g) => [mul(g, mulScalar(powScalar(out, 3), -0.5))]);
}

/** x squared, element-wise. */
export function square(x: Tensor): Tensor {
  return traceOp('square', [x], {}, record('square', unaryRaw('square', x), [x], (g) => [mul(g, mulScalar(x, 2))]));
}

/** 1 / x, element-wise. */
export function reciprocal(x: Tensor): Tensor {
  const out = unaryRaw('reciprocal', x);
  traceOp('reciprocal', [x], {}, out);
  return record('reciprocal', out, [x], (g) => [neg(mul(g, square(out)))]);
}

/** |x|, element-wise (gradient sign(x), 0 at 0 as in PyTorch). */
export function abs(x: Tensor): Tensor {
  return traceOp('abs', [x], {}, record('abs', unaryRaw('abs', x), [x], (g) => [mul(g, sign(x))]));
}

/** sign(x) in {-1, 0, 1}; piecewise constant, so its gradient is zero. */
export function sign(x: Tensor): Tensor {
  return unaryRaw('sign', x);
}

/** 1 where x > 0 else 0; the derivative of relu, itself with zero gradient. */
export function step(x: Tensor): Tensor {
  return unaryRaw('step', x);
}

/** max(x, 0), element-wise. */
export function relu(x: Tensor): Tensor {
  const out = unaryRaw('relu', x);
  traceOp('relu', [x], {}, out);
  // PyTorch's threshold_backward on the result: g where relu(x) != 0 (x > 0, or NaN), else exactly
  // 0 even where g is not finite. One pass, where g * step(x) took two. The mask is piecewise
  // constant, so nothing flows to x through it.
  return record('relu', out, [x], (g) => [where(out, g, 0)]);
}

/** The hyperbolic tangent, element-wise. */
export function tanh(x: Tensor): Tensor {
  const out = unaryRaw('tanh', x);
  traceOp('tanh', [x], {}, out);
  return record('tanh', out, [x], (g) => [mul(g, rsubScalar(square(out), 1))]);
}

/** 1 / (1 + e^-x), element-wise. */
export function sigmoid(x: Tensor): Tensor {
  const out = unaryRaw('sigmoid', x);
  traceOp('sigmoid', [x], {}, out);
  return record('sigmoid', out, [x], (g) => [mul(g, mul(out, rsubScalar(out, 1)))]);
}

/** The error function, element-wise (for the exact GELU). */
export function erf(x: Tensor): Tensor {
  const c = 2 / Math.sqrt(Math.PI);
  return traceOp('erf', [x], {}, record('erf', unaryRaw('erf', x), [x], (g) => [mul(g, mulScalar(exp(neg(square(x))), c))]));
}

/** cond != 0 ? a : b, broadcasting all three; cond gets no gradient. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : cond;
  const A = lift(a, like), B = lift(b, like);
  checkSameDtype('where', A, B);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, A.shape), B.shape);
  const out = uninit(A, shape);
  const C = cond.dtype === A.dtype ? cond : cast(cond, A.dtype);
  be(A).where(C.data, C.shape, A.data, A.shape, B.data, B.shape, out.data, shape);
  return record('where', out, [A, B], (g, n) => {
    const zero = lift(0, g);
    return [n[0] ? sumTo(where(cond, g, zero), A.shape) : null, n[1] ? sumTo(where(cond, zero, g), B.shape) : null];
  });
}

/** Clamps to [min, max]; the gradient passes where min <= x <= max, as in PyTorch. */
export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  const mask: Tensor[] = [];
  let y = x;
  if (min !== null) { mask.push(ge(x, min)); y = binaryRaw('clamp', 'maximum', y, lift(min, x)); }
  if (max !== null) { mask.push(le(x, max)); y = binaryRaw('clamp', 'minimum', y, lift(max, x)); }
  if (y === x) y = x.detach();
  return record('clamp', y, [x], (g) => {
    let m = g;
    for (const k of mask) m = mul(m, k);
    return [m];
  });
}
