// Ops that move values without computing: permute, slice, pad and concat copy through one
// strided-copy kernel (reshape and expand, which broadcasting needs, sit in broadcast.ts). Each
// one's gradient is another of them (permute <-> inverse permute, slice <-> pad, concat <-> slices).

import type { Tensor } from '../../tensor/tensor.js';
import { normAxis, numel, stridesOf, ShapeError, shapeStr, type Shape } from '../../tensor/shape.js';
import { at, isNonEmpty, zip } from '../../tensor/checked.js';
import { onnxInput, onnxOperand, opFamily, OnnxRuleError, type OnnxCall, type OpCall, type UnaryInputs } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { be, checkSameDtype, empty, uninit } from './util.js';
import { reshape } from './broadcast.js';

export { expand, reshape } from './broadcast.js';

type PermAttrs = { perm: number[] };
type SliceAttrs = { ranges: [number, number][] };
type PadAttrs = { pads: readonly (readonly [number, number])[]; value: number };
type ConcatAttrs = { axis: number; starts: number[] };
/** concat's inputs: one tensor or more. */
type ConcatInputs = readonly [Tensor, ...Tensor[]];

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const SHAPE_OPS = opFamily({
  permute: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { perm }: PermAttrs) => {
      const xs = stridesOf(x.shape);
      const shape = perm.map((a) => at(x.shape, a, 'permute axes'));
      const out = uninit(x, shape);
      be(x).copyStrided(x.data, 0, perm.map((a) => at(xs, a, 'permute strides')), shape, out.data, 0, stridesOf(shape));
      return out;
    },
    vjp: (g: Tensor, { attrs: { perm } }: OpCall<PermAttrs, UnaryInputs>) => {
      const inv = new Array<number>(perm.length);
      perm.forEach((a, i) => { inv[a] = i; });
      return [permute(g, inv)];
    },
    onnx: (c: OnnxCall<PermAttrs>) => { c.emit.node('Transpose', [onnxInput(c, 0)], [{ name: 'perm', ints: c.attrs.perm }], c.out); },
  },
  slice: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { ranges }: SliceAttrs) => {
      const shape = ranges.map(([s, e]) => e - s);
      const xs = stridesOf(x.shape);
      let off = 0;
      for (const [[s], stride] of zip(ranges, xs, 'slice ranges')) off += s * stride;
      const out = uninit(x, shape);
      be(x).copyStrided(x.data, off, xs, shape, out.data, 0, stridesOf(shape));
      return out;
    },
    vjp: (g: Tensor, { inputs: [x], attrs: { ranges } }: OpCall<SliceAttrs, UnaryInputs>) => [padAxes(g, zip(ranges, x.shape, 'slice ranges').map(([[s, e], d]) => [s, d - e]))],
    onnx: (c: OnnxCall<SliceAttrs>) => {
      const x = onnxOperand(c, 0);
      const f = c.inFactors[0];
      if (!f) throw new OnnxRuleError('operand 0 is missing');
      const starts: number[] = [], ends: number[] = [], axes: number[] = [];
      c.attrs.ranges.forEach(([s, e], i) => {
        if (s === 0 && e === x.shape[i]) return;
        if (f[i] !== 0) throw new OnnxRuleError(`slice along axis ${i}, a batch dimension, cannot be exported for a dynamic batch size`);
        starts.push(s); ends.push(e); axes.push(i);
      });
      c.emit.node('Slice', [onnxInput(c, 0), c.emit.constI64(starts), c.emit.constI64(ends), c.emit.constI64(axes)], [], c.out);
    },
  },
  pad: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { pads, value }: PadAttrs) => {
      const shape = zip(x.shape, pads, 'pad widths').map(([d, [a, b]]) => d + a + b);
      const out = empty(x, shape);
      if (value !== 0) out.data.fill(value);
      const os = stridesOf(shape);
      let off = 0;
      for (const [[a], stride] of zip(pads, os, 'pad widths')) off += a * stride;
      be(x).copyStrided(x.data, 0, stridesOf(x.shape), x.shape, out.data, off, os);
      return out;
    },
    vjp: (g: Tensor, { inputs: [x], attrs: { pads } }: OpCall<PadAttrs, UnaryInputs>) => [sliceAxes(g, zip(pads, x.shape, 'pad widths').map(([[a], d]) => [a, a + d]))],
    onnx: (c: OnnxCall<PadAttrs>) => {
      const { pads, value } = c.attrs;
      c.emit.node('Pad', [onnxInput(c, 0), c.emit.constI64([...pads.map(([a]) => a), ...pads.map(([, e]) => e)]), c.emit.scalar(value)], [], c.out);
    },
  },
  concat: {
    curvature: 'piecewise-linear',
    kernel: (xs: ConcatInputs, { axis: a, starts }: ConcatAttrs) => {
      const first = xs[0];
      const shape = [...first.shape];
      shape[a] = xs.reduce((s, t) => s + at(t.shape, a, 'concat axis'), 0);
      const out = uninit(first, shape);
      const os = stridesOf(shape);
      const stride = at(os, a, 'concat axis');
      let offset = 0;
      for (const t of xs) {
        starts.push(offset);
        be(t).copyStrided(t.data, 0, stridesOf(t.shape), t.shape, out.data, offset * stride, os);
        offset += at(t.shape, a, 'concat axis');
      }
      return out;
    },
    vjp: (g: Tensor, { inputs, attrs: { axis: a, starts } }: OpCall<ConcatAttrs, ConcatInputs>, n: readonly boolean[]) =>
      inputs.map((t, i) => {
        if (!n[i]) return null;
        const s = at(starts, i, 'concat starts');
        return slice(g, a, s, s + at(t.shape, a, 'concat axis'));
      }),
    onnx: (c: OnnxCall<ConcatAttrs>) => { c.emit.node('Concat', c.names.map((_, k) => onnxInput(c, k)), [{ name: 'axis', int: c.attrs.axis }], c.out); },
  },
});

/** Flattens axes start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const a = normAxis('flatten', start, x.ndim), b = normAxis('flatten', end, x.ndim);
  const s = [...x.shape.slice(0, a), numel(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)];
  return reshape(x, s);
}

/** Inserts an axis of size 1 at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.ndim + 1 : axis;
  if (a < 0 || a > x.ndim) throw new ShapeError(`unsqueeze: axis ${axis} out of range for shape ${shapeStr(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes the axis `axis` of size 1, or every size-1 axis when not given. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** Reorders the axes: axis i of the result is axis perm[i] of x. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.ndim || new Set(perm.map((p) => normAxis('permute', p, x.ndim))).size !== x.ndim) {
    throw new ShapeError(`permute: ${JSON.stringify(perm)} is not a permutation of the axes of ${shapeStr(x.shape)}`);
  }
  const p = perm.map((a) => normAxis('permute', a, x.ndim));
  if (p.every((a, i) => a === i)) return x;
  const attrs = { perm: p };
  return traceOp(SHAPE_OPS.permute, [x], attrs, run(SHAPE_OPS.permute, [x], attrs));
}

/** Swaps two axes (by default the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const p = Array.from({ length: x.ndim }, (_, i) => i);
  const i = normAxis('transpose', a, x.ndim), j = normAxis('transpose', b, x.ndim);
  p[i] = j; p[j] = i;
  return permute(x, p);
}

/** Takes [start, end) along each axis (null = whole axis). */
export function sliceAxes(x: Tensor, ranges: readonly ([number, number] | null)[]): Tensor {
  if (ranges.length !== x.ndim) throw new ShapeError(`slice: ${ranges.length} ranges for a tensor of shape ${shapeStr(x.shape)}`);
  const r = zip(ranges, x.shape, 'slice ranges').map(([rg, d], i) => {
    if (rg === null) return [0, d] as [number, number];
    const s = rg[0] < 0 ? rg[0] + d : rg[0];
    const e = rg[1] < 0 ? rg[1] + d : Math.min(rg[1], d);
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e < s || s > d) {
      throw new ShapeError(`slice: range [${rg[0]}, ${rg[1]}) is invalid for axis ${i} of shape ${shapeStr(x.shape)}`);
    }
    return [s, e] as [number, number];
  });
  if (r.every(([s, e], i) => s === 0 && e === x.shape[i])) return x;
  const attrs = { ranges: r };
  return traceOp(SHAPE_OPS.slice, [x], attrs, run(SHAPE_OPS.slice, [x], attrs));
}

/** x[..., start:end, ...] along one axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis('slice', axis, x.ndim);
  return sliceAxes(x, x.shape.map((_, i) => (i === a ? [start, end] : null)));
}

/** Pads each axis with [before, after] entries of `value` (non-negative widths). */
export function padAxes(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (pads.length !== x.ndim) throw new ShapeError(`pad: ${pads.length} pad pairs for a tensor of shape ${shapeStr(x.shape)}`);
  for (const [a, b] of pads) if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0) throw new ShapeError(`pad: widths must be non-negative integers, got ${JSON.stringify(pads)}`);
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  const attrs = { pads, value };
  return traceOp(SHAPE_OPS.pad, [x], attrs, run(SHAPE_OPS.pad, [x], attrs));
}

/** PyTorch's F.pad order: pairs for the last axis first ([left, right, top, bottom, ...]). */
export function pad(x: Tensor, widths: readonly number[], value = 0): Tensor {
  if (widths.length % 2 !== 0 || widths.length / 2 > x.ndim) throw new ShapeError(`pad: bad padding ${JSON.stringify(widths)} for shape ${shapeStr(x.shape)}`);
  const pads: [number, number][] = x.shape.map(() => [0, 0]);
  for (let k = 0; k < widths.length / 2; k++) pads[x.ndim - 1 - k] = [at(widths, 2 * k, 'pad widths'), at(widths, 2 * k + 1, 'pad widths')];
  return padAxes(x, pads, value);
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!isNonEmpty(xs)) throw new ShapeError('concat: no tensors');
  const first = xs[0];
  checkSameDtype('concat', ...xs);
  const a = normAxis('concat', axis, first.ndim);
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: shapes ${xs.map((u) => shapeStr(u.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const attrs = { axis: a, starts: [] as number[] };
  return traceOp(SHAPE_OPS.concat, xs, attrs, run(SHAPE_OPS.concat, xs, attrs));
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  return concat(xs.map((t) => unsqueeze(t, axis)), axis);
}

export type { Shape };
