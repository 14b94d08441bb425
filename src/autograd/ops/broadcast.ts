// The three ops broadcasting is made of, each the others' adjoint: reshape (shares the buffer),
// expand (a strided copy) and sum over axes; sumTo, the adjoint of a broadcast, is built from sum
// and reshape. They sit apart so that every other op family can use them without import circles.

import { Tensor } from '../../tensor/tensor.js';
import { at } from '../../tensor/checked.js';
import { normAxes, numel, sameShape, shapeStr, stridesOf, ShapeError, type Shape } from '../../tensor/shape.js';
import { onnxInput, opFamily, type OpCall, type OnnxCall, type UnaryInputs } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { be, uninit } from './util.js';

type ShapeAttrs = { shape: number[] };
/** The attributes of a sum over axes. */
export type SumAttrs = { axes: number[]; keepdim: boolean };

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const BROADCAST_OPS = opFamily({
  reshape: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { shape }: ShapeAttrs) => new Tensor(x.data, shape),
    vjp: (g: Tensor, { inputs: [x] }: OpCall<ShapeAttrs, UnaryInputs>) => [reshape(g, x.shape)],
    // A reshape of a registered parameter stands for the same parameter (linear's weight).
    perSample: { inputs: [0] },
    onnx: (c: OnnxCall<ShapeAttrs>) => { c.emit.node('Reshape', [onnxInput(c, 0), c.emit.shape(c.output.shape, c.outFactors, true)], [], c.out); },
  },
  expand: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { shape }: ShapeAttrs) => {
      const lead = shape.length - x.ndim;
      const xs = stridesOf(x.shape);
      const src = shape.map((d, i) => {
        if (i < lead) return 0;
        const xd = at(x.shape, i - lead, 'expand input axes');
        if (xd === d) return at(xs, i - lead, 'expand input strides');
        if (xd === 1) return 0;
        throw new ShapeError(`expand: cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
      });
      const out = uninit(x, shape);
      be(x).copyStrided(x.data, 0, src, shape, out.data, 0, stridesOf(shape));
      return out;
    },
    vjp: (g: Tensor, { inputs: [x] }: OpCall<ShapeAttrs, UnaryInputs>) => [sumTo(g, x.shape)],
    onnx: (c: OnnxCall<ShapeAttrs>) => { c.emit.node('Expand', [onnxInput(c, 0), c.emit.shape(c.output.shape, c.outFactors, false)], [], c.out); },
  },
  sum: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { axes, keepdim }: SumAttrs) => reduceRaw('sum', x, axes, keepdim),
    vjp: (g: Tensor, { inputs: [x], attrs: { axes } }: OpCall<SumAttrs, UnaryInputs>) => [expand(reshape(g, keptShape(x.shape, axes, true)), x.shape)],
    onnx: (c: OnnxCall<SumAttrs>) => onnxReduce(c, 'ReduceSum'),
  },
});

/** The same values in another shape of the same size (-1 infers one axis). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape(x, shape);
  if (sameShape(s, x.shape)) return x;
  const attrs = { shape: s };
  return traceOp(BROADCAST_OPS.reshape, [x], attrs, run(BROADCAST_OPS.reshape, [x], attrs));
}

function inferShape(x: Tensor, shape: readonly number[]): number[] {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0) {
    if (s.indexOf(-1, free + 1) >= 0) throw new ShapeError(`reshape: more than one -1 in ${shapeStr(shape)}`);
    const rest = numel(s.filter((_, i) => i !== free));
    if (rest === 0 || x.size % rest !== 0) throw new ShapeError(`reshape: cannot reshape ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
    s[free] = x.size / rest;
  }
  if (numel(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`reshape: cannot reshape ${shapeStr(x.shape)} (${x.size} values) to ${shapeStr(shape)}`);
  }
  return s;
}

/** Broadcasts to `shape` (PyTorch's expand, materialised). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(x.shape, shape)) return x;
  if (shape.length < x.ndim) throw new ShapeError(`expand: cannot expand ${shapeStr(x.shape)} to fewer dimensions ${shapeStr(shape)}`);
  const attrs = { shape: [...shape] };
  return traceOp(BROADCAST_OPS.expand, [x], attrs, run(BROADCAST_OPS.expand, [x], attrs));
}

/** The shape left by reducing `axes` (kept as 1 with keepdim). */
export function keptShape(shape: Shape, axes: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

/** The reduction kernel into a fresh output (not recorded). */
export function reduceRaw(op: 'sum' | 'max' | 'min', x: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  const out = uninit(x, keptShape(x.shape, axes, keepdim));
  be(x).reduce(op, x.data, x.shape, axes, out.data);
  return out;
}

/** The ONNX rule of a reduction over `axes`. */
/** @internal The ONNX rule of the reductions: one Reduce* node over the call's axes. */
export function onnxReduce(c: OnnxCall<SumAttrs>, opType: string): void {
  const keep = { name: 'keepdims', int: c.attrs.keepdim ? 1 : 0 };
  // ReduceSum takes its axes as an input from opset 13, the other reductions from opset 18.
  if (opType === 'ReduceSum' || c.opset >= 18) c.emit.node(opType, [onnxInput(c, 0), c.emit.constI64(c.attrs.axes)], [keep], c.out);
  else c.emit.node(opType, [onnxInput(c, 0)], [{ name: 'axes', ints: c.attrs.axes }, keep], c.out);
}

/** The sum over `axes` (all when not given), keeping them as size 1 with keepdim. */
export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const attrs = { axes: normAxes('sum', axes, x.ndim), keepdim };
  return traceOp(BROADCAST_OPS.sum, [x], attrs, run(BROADCAST_OPS.sum, [x], attrs));
}

/** The sum of every element, as a 0-d tensor. */
export function sumAll(x: Tensor): Tensor {
  return sum(x);
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
