// Reductions over axes. The gradient of a sum broadcasts back; the gradient of a max goes to the
// entries equal to the maximum, shared evenly between ties (PyTorch's amax).

import { Tensor } from '../../tensor/tensor.js';
import { normAxes, sameShape, shapeStr, numel, type Shape } from '../../tensor/shape.js';
import { record } from '../graph.js';
import { traceOp } from '../trace.js';
import { be, uninit } from './util.js';
import { expand, reshape } from './shape.js';
import { div, eq, mul, mulScalar, square, sub } from './elementwise.js';

function keptShape(shape: Shape, axes: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

function reduceRaw(op: 'sum' | 'max' | 'min', x: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  const out = uninit(x, keptShape(x.shape, axes, keepdim));
  be(x).reduce(op, x.data, x.shape, axes, out.data);
  return out;
}

/** The sum over `axes` (all when not given), keeping them as size 1 with keepdim. */
export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('sum', axes, x.ndim);
  const out = reduceRaw('sum', x, ax, keepdim);
  traceOp('sum', [x], { axes: ax, keepdim }, out);
  return record('sum', out, [x], (g) => [expand(reshape(g, keptShape(x.shape, ax, true)), x.shape)]);
}

/** The sum of every element, as a 0-d tensor. */
export function sumAll(x: Tensor): Tensor {
  return sum(x);
}

/** The mean over `axes` (all when not given), keeping them as size 1 with keepdim. */
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('mean', axes, x.ndim);
  let n = 1;
  for (const a of ax) n *= x.shape[a]!;
  return mulScalar(sum(x, ax, keepdim), 1 / n);
}

function extreme(op: 'max' | 'min', x: Tensor, axes: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  const ax = normAxes(op, axes, x.ndim);
  for (const a of ax) if (x.shape[a] === 0) throw new RangeError(`${op}: cannot reduce an empty axis ${a} of shape ${shapeStr(x.shape)}`);
  const out = reduceRaw(op, x, ax, keepdim);
  traceOp(op, [x], { axes: ax, keepdim }, out);
  return record(op, out, [x], (g) => {
    const ks = keptShape(x.shape, ax, true);
    const hit = eq(x, expand(reshape(out.detach(), ks), x.shape));
    const count = reduceRaw('sum', hit, ax, true);
    return [mul(expand(reshape(g, ks), x.shape), div(hit, count))];
  });
}

/** The maximum over `axes` (all when not given); the gradient goes to the first maximum. */
export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extreme('max', x, axes, keepdim);
}

/** The minimum over `axes` (all when not given); the gradient goes to the first minimum. */
export function min(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extreme('min', x, axes, keepdim);
}

/** Variance over axes; unbiased (divisor n - 1) by default, as torch.var. */
export function variance(x: Tensor, axes?: number | readonly number[], opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
  const ax = normAxes('var', axes, x.ndim);
  let n = 1;
  for (const a of ax) n *= x.shape[a]!;
  const unbiased = opts.unbiased ?? true;
  const d = sub(x, mean(x, ax, true));
  return mulScalar(sum(square(d), ax, opts.keepdim ?? false), 1 / (unbiased ? n - 1 : n));
}

/** Sums a broadcast gradient back to `shape` (the adjoint of expand). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  if (lead < 0) throw new Error(`sumTo: cannot reduce ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length > 0 ? sum(g, axes) : g;
  return numel(s.shape) === numel(shape) && !sameShape(s.shape, shape) ? reshape(s, shape) : s;
}
