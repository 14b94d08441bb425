// Ops that move values without computing: reshape shares the buffer; expand, permute, slice, pad
// and concat copy through one strided-copy kernel. Each one's gradient is another of them
// (expand <-> sum, permute <-> inverse permute, slice <-> pad, concat <-> slices).

import { Tensor } from '../../tensor/tensor.js';
import { normAxis, numel, sameShape, shapeStr, stridesOf, ShapeError, type Shape } from '../../tensor/shape.js';
import { record } from '../graph.js';
import { traceOp } from '../trace.js';
import { be, checkSameDtype, empty, uninit } from './util.js';
import { sumTo } from './reduce.js';

/** The same values in another shape of the same size (-1 infers one axis). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape(x, shape);
  if (sameShape(s, x.shape)) return x;
  const out = traceOp('reshape', [x], { shape: s }, new Tensor(x.data, s));
  return record('reshape', out, [x], (g) => [reshape(g, x.shape)]);
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

/** Broadcasts to `shape` (PyTorch's expand, materialised). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const lead = shape.length - x.ndim;
  if (lead < 0) throw new ShapeError(`expand: cannot expand ${shapeStr(x.shape)} to fewer dimensions ${shapeStr(shape)}`);
  const xs = stridesOf(x.shape);
  const src = shape.map((d, i) => {
    if (i < lead) return 0;
    const xd = x.shape[i - lead]!;
    if (xd === d) return xs[i - lead]!;
    if (xd === 1) return 0;
    throw new ShapeError(`expand: cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
  });
  const out = uninit(x, shape);
  be(x).copyStrided(x.data, 0, src, shape, out.data, 0, stridesOf(shape));
  traceOp('expand', [x], { shape: [...shape] }, out);
  return record('expand', out, [x], (g) => [sumTo(g, x.shape)]);
}

/** Reorders the axes: axis i of the result is axis perm[i] of x. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.ndim || new Set(perm.map((p) => normAxis('permute', p, x.ndim))).size !== x.ndim) {
    throw new ShapeError(`permute: ${JSON.stringify(perm)} is not a permutation of the axes of ${shapeStr(x.shape)}`);
  }
  const p = perm.map((a) => normAxis('permute', a, x.ndim));
  if (p.every((a, i) => a === i)) return x;
  const xs = stridesOf(x.shape);
  const shape = p.map((a) => x.shape[a]!);
  const out = uninit(x, shape);
  be(x).copyStrided(x.data, 0, p.map((a) => xs[a]!), shape, out.data, 0, stridesOf(shape));
  traceOp('permute', [x], { perm: p }, out);
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => { inv[a] = i; });
  return record('permute', out, [x], (g) => [permute(g, inv)]);
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
  const r = ranges.map((rg, i) => {
    const d = x.shape[i]!;
    if (rg === null) return [0, d] as [number, number];
    const s = rg[0] < 0 ? rg[0] + d : rg[0];
    const e = rg[1] < 0 ? rg[1] + d : Math.min(rg[1], d);
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e < s || s > d) {
      throw new ShapeError(`slice: range [${rg[0]}, ${rg[1]}) is invalid for axis ${i} of shape ${shapeStr(x.shape)}`);
    }
    return [s, e] as [number, number];
  });
  if (r.every(([s, e], i) => s === 0 && e === x.shape[i])) return x;
  const shape = r.map(([s, e]) => e - s);
  const xs = stridesOf(x.shape);
  let off = 0;
  r.forEach(([s], i) => { off += s * xs[i]!; });
  const out = uninit(x, shape);
  be(x).copyStrided(x.data, off, xs, shape, out.data, 0, stridesOf(shape));
  traceOp('slice', [x], { ranges: r }, out);
  return record('slice', out, [x], (g) => [padAxes(g, r.map(([s, e], i) => [s, x.shape[i]! - e]))]);
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
  const shape = x.shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  const out = empty(x, shape);
  if (value !== 0) out.data.fill(value);
  const os = stridesOf(shape);
  let off = 0;
  pads.forEach(([a], i) => { off += a * os[i]!; });
  be(x).copyStrided(x.data, 0, stridesOf(x.shape), x.shape, out.data, off, os);
  traceOp('pad', [x], { pads, value }, out);
  return record('pad', out, [x], (g) => [sliceAxes(g, pads.map(([a], i) => [a, a + x.shape[i]!]))]);
}

/** PyTorch's F.pad order: pairs for the last axis first ([left, right, top, bottom, ...]). */
export function pad(x: Tensor, widths: readonly number[], value = 0): Tensor {
  if (widths.length % 2 !== 0 || widths.length / 2 > x.ndim) throw new ShapeError(`pad: bad padding ${JSON.stringify(widths)} for shape ${shapeStr(x.shape)}`);
  const pads: [number, number][] = x.shape.map(() => [0, 0]);
  for (let k = 0; k < widths.length / 2; k++) pads[x.ndim - 1 - k] = [widths[2 * k]!, widths[2 * k + 1]!];
  return padAxes(x, pads, value);
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no tensors');
  const first = xs[0]!;
  checkSameDtype('concat', ...xs);
  const a = normAxis('concat', axis, first.ndim);
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: shapes ${xs.map((u) => shapeStr(u.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a]!, 0);
  const out = uninit(first, shape);
  const os = stridesOf(shape);
  let at = 0;
  const starts: number[] = [];
  for (const t of xs) {
    starts.push(at);
    be(t).copyStrided(t.data, 0, stridesOf(t.shape), t.shape, out.data, at * os[a]!, os);
    at += t.shape[a]!;
  }
  traceOp('concat', xs, { axis: a }, out);
  return record('concat', out, xs, (g, n) => xs.map((t, i) => (n[i] ? slice(g, a, starts[i]!, starts[i]! + t.shape[a]!) : null)));
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  return concat(xs.map((t) => unsqueeze(t, axis)), axis);
}

export type { Shape };
