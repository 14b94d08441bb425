// Element-wise ops and their vector-Jacobian products, each written with these same ops so that
// the backward pass is differentiable again.

import type { BinaryOp, UnaryOp } from '../../kernels/interface.js';
import { Tensor } from '../../tensor/tensor.js';
import { cast } from '../../tensor/create.js';
import { broadcastShapes, sameShape } from '../../tensor/shape.js';
import { onnxInput, onnxSimple, opFamily, type BinaryInputs, type KernelOp, type KernelSpec, type OnnxCall, type OnnxExportRule, type OpCall, type OpInputs, type OpVjp, type UnaryInputs, piecewiseLinear, bilinear } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { be, checkSameDtype, lift, uninit, type TensorLike } from './util.js';
import { sumTo } from './broadcast.js';

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

type Scalar = { c: number };
type NoAttrs = Record<string, never>;
const NONE: NoAttrs = {};

/** An op on one kernel function of the same name (vjp absent: piecewise constant). */
function unarySpec(op: UnaryOp, vjp?: OpVjp<NoAttrs, UnaryInputs>, onnx?: OnnxExportRule<NoAttrs>): KernelSpec<NoAttrs, UnaryInputs> {
  return { kernel: ([x]) => unaryRaw(op, x), vjp, onnx };
}
function binarySpec(op: BinaryOp, vjp?: OpVjp<NoAttrs, BinaryInputs>, onnx?: OnnxExportRule<NoAttrs>): KernelSpec<NoAttrs, BinaryInputs> {
  return { kernel: ([a, b]) => binaryRaw(op, op, a, b), vjp, onnx };
}
function affineSpec(scale: (c: number) => number, shift: (c: number) => number, vjp: OpVjp<Scalar, UnaryInputs>, onnx: OnnxExportRule<Scalar>): KernelSpec<Scalar, UnaryInputs> {
  return { kernel: ([x], { c }) => affineRaw(x, scale(c), shift(c)), vjp, onnx };
}
const scalarOnnx = (opType: string, scalarFirst = false): OnnxExportRule<Scalar> => (c) => {
  const s = c.emit.scalar(c.attrs.c);
  c.emit.node(opType, scalarFirst ? [s, onnxInput(c, 0)] : [onnxInput(c, 0), s], [], c.out);
};

// Ties of maximum/minimum send the gradient half to each side, as PyTorch does; `pick` is 1 where
// a wins outright.
function extremeVjp(pick: (a: Tensor, b: Tensor) => Tensor): OpVjp<NoAttrs, BinaryInputs> {
  return (g, { inputs: [a, b] }, n) => {
    const wa = add(pick(a, b), mulScalar(eq(a, b), 0.5));
    return [n[0] ? sumTo(mul(g, wa), a.shape) : null, n[1] ? sumTo(mul(g, rsubScalar(wa, 1)), b.shape) : null];
  };
}

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const ELEMENTWISE_OPS = opFamily({
  add: piecewiseLinear(binarySpec('add', (g, { inputs: [a, b] }, n) => [n[0] ? sumTo(g, a.shape) : null, n[1] ? sumTo(g, b.shape) : null], onnxSimple('Add'))),
  sub: piecewiseLinear(binarySpec('sub', (g, { inputs: [a, b] }, n) => [n[0] ? sumTo(g, a.shape) : null, n[1] ? sumTo(neg(g), b.shape) : null], onnxSimple('Sub'))),
  mul: bilinear(binarySpec('mul', (g, { inputs: [a, b] }, n) => [
    n[0] ? sumTo(mul(g, b), a.shape) : null,
    n[1] ? sumTo(mul(g, a), b.shape) : null,
  ], onnxSimple('Mul'))),
  div: binarySpec('div', (g, { inputs: [a, b] }, n) => [
    n[0] ? sumTo(div(g, b), a.shape) : null,
    // d(a/b)/db = -a/b^2, written without reusing `out` so the second derivative sees b.
    n[1] ? sumTo(neg(div(mul(g, a), mul(b, b))), b.shape) : null,
  ], onnxSimple('Div')),
  pow: binarySpec('pow', (g, { inputs: [a, b] }, n) => [
    n[0] ? sumTo(mul(g, mul(b, pow(a, sub(b, 1)))), a.shape) : null,
    n[1] ? sumTo(mul(g, mul(pow(a, b), log(a))), b.shape) : null,
  ], onnxSimple('Pow')),
  maximum: piecewiseLinear(binarySpec('maximum', extremeVjp(gt), onnxSimple('Max'))),
  minimum: piecewiseLinear(binarySpec('minimum', extremeVjp(lt), onnxSimple('Min'))),
  // Comparisons give 1 or 0: piecewise constant, so they record nothing (their derivative is zero).
  gt: binarySpec('gt'), ge: binarySpec('ge'), lt: binarySpec('lt'), le: binarySpec('le'), eq: binarySpec('eq'), ne: binarySpec('ne'),

  addScalar: piecewiseLinear(affineSpec(() => 1, (c) => c, (g) => [g], scalarOnnx('Add'))),
  mulScalar: piecewiseLinear(affineSpec((c) => c, () => 0, (g, { attrs: { c } }) => [mulScalar(g, c)], scalarOnnx('Mul'))),
  /** c - a */
  rsubScalar: piecewiseLinear(affineSpec(() => -1, (c) => c, (g) => [neg(g)], scalarOnnx('Sub', true))),
  powScalar: {
    kernel: ([a]: UnaryInputs, { p }: { p: number }) => {
      const out = uninit(a, a.shape);
      be(a).powScalar(a.data, p, out.data);
      return out;
    },
    vjp: (g: Tensor, { inputs: [a], attrs: { p } }: OpCall<{ p: number }, UnaryInputs>) => [p === 2 ? mul(g, mulScalar(a, 2)) : mul(g, mulScalar(powScalar(a, p - 1), p))],
    onnx: (c: OnnxCall<{ p: number }>) => {
      const x = onnxInput(c, 0), p = c.attrs.p;
      c.emit.node(p === 2 ? 'Mul' : 'Pow', p === 2 ? [x, x] : [x, c.emit.scalar(p)], [], c.out);
    },
  },

  neg: piecewiseLinear(unarySpec('neg', (g) => [neg(g)], onnxSimple('Neg'))),
  // exp' = exp: reuse the output, which is itself recorded, so the second derivative is right.
  exp: unarySpec('exp', (g, { out }) => [mul(g, out)], onnxSimple('Exp')),
  log: unarySpec('log', (g, { inputs: [x] }) => [div(g, x)], onnxSimple('Log')),
  sqrt: unarySpec('sqrt', (g, { out }) => [div(g, mulScalar(out, 2))], onnxSimple('Sqrt')),
  // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 out^3
  rsqrt: unarySpec('rsqrt', (g, { out }) => [mul(g, mulScalar(powScalar(out, 3), -0.5))],
    (c) => { c.emit.node('Reciprocal', [c.emit.node('Sqrt', [onnxInput(c, 0)])], [], c.out); }),
  square: unarySpec('square', (g, { inputs: [x] }) => [mul(g, mulScalar(x, 2))],
    (c) => { c.emit.node('Mul', [onnxInput(c, 0), onnxInput(c, 0)], [], c.out); }),
  reciprocal: unarySpec('reciprocal', (g, { out }) => [neg(mul(g, square(out)))], onnxSimple('Reciprocal')),
  abs: piecewiseLinear(unarySpec('abs', (g, { inputs: [x] }) => [mul(g, sign(x))], onnxSimple('Abs'))),
  /** sign(x) in {-1, 0, 1}; piecewise constant, so its gradient is zero. */
  sign: unarySpec('sign'),
  /** 1 where x > 0 else 0; the derivative of relu, itself with zero gradient. */
  step: unarySpec('step'),
  // PyTorch's threshold_backward on the result: g where relu(x) != 0 (x > 0, or NaN), else exactly
  // 0 even where g is not finite. One pass, where g * step(x) took two. The mask is piecewise
  // constant, so nothing flows to x through it.
  relu: piecewiseLinear(unarySpec('relu', (g, { out }) => [where(out, g, 0)], onnxSimple('Relu'))),
  tanh: unarySpec('tanh', (g, { out }) => [mul(g, rsubScalar(square(out), 1))], onnxSimple('Tanh')),
  sigmoid: unarySpec('sigmoid', (g, { out }) => [mul(g, mul(out, rsubScalar(out, 1)))], onnxSimple('Sigmoid')),
  erf: unarySpec('erf', (g, { inputs: [x] }) => [mul(g, mulScalar(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)))], onnxSimple('Erf')),

  /** cond != 0 ? a : b, broadcasting all three; cond is an attribute and gets no gradient. */
  where: {
    curvature: 'piecewise-linear',
    kernel: ([A, B]: BinaryInputs, { cond, shape }: WhereAttrs) => {
      const out = uninit(A, shape);
      const C = cond.dtype === A.dtype ? cond : cast(cond, A.dtype);
      be(A).where(C.data, C.shape, A.data, A.shape, B.data, B.shape, out.data, shape);
      return out;
    },
    vjp: (g: Tensor, { inputs: [A, B], attrs: { cond } }: OpCall<WhereAttrs, BinaryInputs>, n: readonly boolean[]) => {
      const zero = lift(0, g);
      return [n[0] ? sumTo(where(cond, g, zero), A.shape) : null, n[1] ? sumTo(where(cond, zero, g), B.shape) : null];
    },
  },
  /** Clamps to [min, max]; the gradient passes where min <= x <= max, as in PyTorch. */
  clamp: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { min, max, mask }: ClampAttrs) => {
      let y = x;
      if (min !== null) { mask.push(ge(x, min)); y = binaryRaw('clamp', 'maximum', y, lift(min, x)); }
      if (max !== null) { mask.push(le(x, max)); y = binaryRaw('clamp', 'minimum', y, lift(max, x)); }
      return y === x ? x.detach() : y;
    },
    vjp: (g: Tensor, { attrs: { mask } }: OpCall<ClampAttrs>) => {
      let m = g;
      for (const k of mask) m = mul(m, k);
      return [m];
    },
  },
});
type WhereAttrs = { cond: Tensor; shape: number[] };
/** `mask` is filled by the kernel: the 0/1 tensors where each bound lets the gradient pass. */
type ClampAttrs = { min: number | null; max: number | null; mask: Tensor[] };

const E = ELEMENTWISE_OPS;

/** A traced, recorded call of an element-wise entry. */
function apply<A, I extends OpInputs>(op: KernelOp<A, I>, inputs: NoInfer<I>, attrs: A): Tensor {
  return traceOp(op, inputs, attrs, run(op, inputs, attrs));
}

// ---- binary ----

/** a + b with broadcasting. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return addScalar(a as Tensor, b);
  if (typeof a === 'number') return addScalar(b, a);
  return apply(E.add, [a, b], NONE);
}

/** a - b with broadcasting. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return addScalar(a as Tensor, -b);
  if (typeof a === 'number') return addScalar(neg(b), a);
  return apply(E.sub, [a, b], NONE);
}

/** a * b with broadcasting. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return mulScalar(a as Tensor, b);
  if (typeof a === 'number') return mulScalar(b, a);
  return apply(E.mul, [a, b], NONE);
}

/** a / b with broadcasting. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return mulScalar(a as Tensor, 1 / b);
  return apply(E.div, [lift(a, b), b], NONE);
}

/** a ** b. With a number exponent the derivative is p a^(p-1); with a tensor exponent also a^b log a. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') return powScalar(a as Tensor, b);
  return apply(E.pow, [lift(a, b), b], NONE);
}

/** The element-wise maximum of a and b (the gradient goes to a where they tie, as in PyTorch). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return apply(E.maximum, [a, b], NONE);
}

/** The element-wise minimum of a and b. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return apply(E.minimum, [a, b], NONE);
}

// Comparisons: their entries have no vjp, and they are not traced.
/** 1 where a > b, else 0 (not differentiable). */
export function gt(a: TensorLike, b: TensorLike): Tensor { return cmp(E.gt, a, b); }
/** 1 where a >= b, else 0 (not differentiable). */
export function ge(a: TensorLike, b: TensorLike): Tensor { return cmp(E.ge, a, b); }
/** 1 where a < b, else 0 (not differentiable). */
export function lt(a: TensorLike, b: TensorLike): Tensor { return cmp(E.lt, a, b); }
/** 1 where a <= b, else 0 (not differentiable). */
export function le(a: TensorLike, b: TensorLike): Tensor { return cmp(E.le, a, b); }
/** 1 where a == b, else 0 (not differentiable). */
export function eq(a: TensorLike, b: TensorLike): Tensor { return cmp(E.eq, a, b); }
/** 1 where a != b, else 0 (not differentiable). */
export function ne(a: TensorLike, b: TensorLike): Tensor { return cmp(E.ne, a, b); }

function cmp(op: (typeof E)['gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne'], a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : (b as Tensor);
  return op.kernel([lift(a, like), lift(b, like)], NONE);
}

// ---- scalar fast paths ----

/** a + c for a number c. */
export function addScalar(a: Tensor, c: number): Tensor {
  if (c === 0) return a;
  return apply(E.addScalar, [a], { c });
}

/** a * c for a number c. */
export function mulScalar(a: Tensor, c: number): Tensor {
  return apply(E.mulScalar, [a], { c });
}

/** c - a */
export function rsubScalar(a: Tensor, c: number): Tensor {
  return apply(E.rsubScalar, [a], { c });
}

/** a to the power p for a number p. */
export function powScalar(a: Tensor, p: number): Tensor {
  if (p === 1) return a;
  return apply(E.powScalar, [a], { p });
}

// ---- unary ----

/** -x. */
export function neg(x: Tensor): Tensor { return apply(E.neg, [x], NONE); }
/** e to the x, element-wise. */
export function exp(x: Tensor): Tensor { return apply(E.exp, [x], NONE); }
/** The natural logarithm, element-wise. */
export function log(x: Tensor): Tensor { return apply(E.log, [x], NONE); }
/** The square root, element-wise. */
export function sqrt(x: Tensor): Tensor { return apply(E.sqrt, [x], NONE); }
/** 1 / sqrt(x), element-wise. */
export function rsqrt(x: Tensor): Tensor { return apply(E.rsqrt, [x], NONE); }
/** x squared, element-wise. */
export function square(x: Tensor): Tensor { return apply(E.square, [x], NONE); }
/** 1 / x, element-wise. */
export function reciprocal(x: Tensor): Tensor { return apply(E.reciprocal, [x], NONE); }
/** |x|, element-wise (its derivative at 0 is 0, as PyTorch's). */
export function abs(x: Tensor): Tensor { return apply(E.abs, [x], NONE); }
/** sign(x) in {-1, 0, 1}; piecewise constant, so its gradient is zero. */
export function sign(x: Tensor): Tensor { return E.sign.kernel([x], NONE); }
/** 1 where x > 0 else 0; the derivative of relu, itself with zero gradient. */
export function step(x: Tensor): Tensor { return E.step.kernel([x], NONE); }
/** max(x, 0), element-wise. */
export function relu(x: Tensor): Tensor { return apply(E.relu, [x], NONE); }
/** The hyperbolic tangent, element-wise. */
export function tanh(x: Tensor): Tensor { return apply(E.tanh, [x], NONE); }
/** 1 / (1 + e^-x), element-wise. */
export function sigmoid(x: Tensor): Tensor { return apply(E.sigmoid, [x], NONE); }
/** The error function, element-wise. */
export function erf(x: Tensor): Tensor { return apply(E.erf, [x], NONE); }

/** cond != 0 ? a : b, broadcasting all three; cond gets no gradient. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : cond;
  const A = lift(a, like), B = lift(b, like);
  checkSameDtype('where', A, B);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, A.shape), B.shape);
  return run(E.where, [A, B], { cond, shape });
}

/** Clamps to [min, max]; the gradient passes where min <= x <= max, as in PyTorch. */
export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  return run(E.clamp, [x], { min, max, mask: [] });
}
