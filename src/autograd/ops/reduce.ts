// Reductions over axes. The gradient of a sum broadcasts back (sum itself sits with reshape and
// expand in broadcast.ts); the gradient of a max goes to the entries equal to the maximum, shared
// evenly between ties (PyTorch's amax).

import type { Tensor } from '../../tensor/tensor.js';
import { normAxes, shapeStr } from '../../tensor/shape.js';
import { at } from '../../tensor/checked.js';
import { opFamily, type KernelSpec, type OnnxCall, type OpCall, type UnaryInputs, piecewiseLinear } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { expand, keptShape, onnxReduce, reduceRaw, reshape, sum } from './broadcast.js';
import { div, eq, mul, mulScalar, square, sub } from './elementwise.js';

export { sum, sumAll, sumTo } from './broadcast.js';

type ReduceAttrs = { axes: number[]; keepdim: boolean };

function extremeSpec(op: 'max' | 'min', opType: string): KernelSpec<ReduceAttrs, UnaryInputs> {
  return {
    kernel: ([x], { axes, keepdim }) => reduceRaw(op, x, axes, keepdim),
    vjp: (g: Tensor, { inputs: [x], out, attrs: { axes } }: OpCall<ReduceAttrs, UnaryInputs>) => {
      const ks = keptShape(x.shape, axes, true);
      const hit = eq(x, expand(reshape(out.detach(), ks), x.shape));
      const count = reduceRaw('sum', hit, axes, true);
      return [mul(expand(reshape(g, ks), x.shape), div(hit, count))];
    },
    onnx: (c: OnnxCall<ReduceAttrs>) => onnxReduce(c, opType),
  };
}

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const REDUCE_OPS = opFamily({
  max: piecewiseLinear(extremeSpec('max', 'ReduceMax')),
  min: piecewiseLinear(extremeSpec('min', 'ReduceMin')),
});

/** The mean over `axes` (all when not given), keeping them as size 1 with keepdim. */
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('mean', axes, x.ndim);
  let n = 1;
  for (const a of ax) n *= at(x.shape, a, 'reduced axes');
  return mulScalar(sum(x, ax, keepdim), 1 / n);
}

function extreme(op: 'max' | 'min', x: Tensor, axes: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  const ax = normAxes(op, axes, x.ndim);
  for (const a of ax) if (x.shape[a] === 0) throw new RangeError(`${op}: cannot reduce an empty axis ${a} of shape ${shapeStr(x.shape)}`);
  const attrs = { axes: ax, keepdim };
  return traceOp(REDUCE_OPS[op], [x], attrs, run(REDUCE_OPS[op], [x], attrs));
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
  for (const a of ax) n *= at(x.shape, a, 'reduced axes');
  const unbiased = opts.unbiased ?? true;
  const d = sub(x, mean(x, ax, true));
  return mulScalar(sum(square(d), ax, opts.keepdim ?? false), 1 / (unbiased ? n - 1 : n));
}
