// Reductions walk x once in memory order and fold each element into its output slot, found through
// strides that are 0 along the reduced axes. Sums accumulate in float64 whatever the buffer type,
// so a float32 sum is rounded once, at the end.

import type { FloatArray, ReduceOp } from '../interface.js';
import { coalesce, contiguousStrides, forEachRow, numel } from './elementwise.js';

export function reduce(op: ReduceOp, x: FloatArray, shape: readonly number[], axes: readonly number[],
  out: FloatArray): void {
  const rank = shape.length;
  if (x.length !== numel(shape)) throw new Error(`reduce: x has ${x.length} elements, shape [${shape}]`);
  const reduced = new Array<boolean>(rank).fill(false);
  let prev = -1;
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= rank || a <= prev) {
      throw new Error(`reduce: axes [${axes}] must be sorted, distinct and within rank ${rank}`);
    }
    reduced[a] = true;
    prev = a;
  }
  const keptShape: number[] = [];
  for (let d = 0; d < rank; d++) if (!reduced[d]) keptShape.push(shape[d]!);
  const outSize = numel(keptShape);
  if (out.length !== outSize) throw new Error(`reduce: out has ${out.length} elements, needs ${outSize}`);

  if (axes.length === 0) {
    for (let i = 0; i < outSize; i++) out[i] = x[i]!;
    return;
  }

  // Empty reductions give the identity: 0, and -inf / +inf for max / min (PyTorch raises there).
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  const acc = new Float64Array(outSize).fill(init);

  const keptStrides = contiguousStrides(keptShape);
  const accStrides = new Array<number>(rank);
  for (let d = 0, j = 0; d < rank; d++) accStrides[d] = reduced[d] ? 0 : keptStrides[j++]!;
  const layout = coalesce(shape, [contiguousStrides(shape), accStrides]);
  const r = layout.shape.length - 1;
  const sx = layout.strides[0]![r]!, sacc = layout.strides[1]![r]!;

  forEachRow(layout, [0, 0], (off, len) => {
    let ix = off[0]!, ia = off[1]!;
    if (op === 'sum') {
      if (sacc === 0) {
        let s = acc[ia]!;
        for (let i = 0; i < len; i++, ix += sx) s += x[ix]!;
        acc[ia] = s;
      } else {
        for (let i = 0; i < len; i++, ix += sx, ia += sacc) acc[ia] = acc[ia]! + x[ix]!;
      }
    } else if (op === 'max') {
      // NaN wins and then stays: `v > m` is false once m is NaN, and `v !== v` only admits NaN.
      for (let i = 0; i < len; i++, ix += sx, ia += sacc) {
        const v = x[ix]!, m = acc[ia]!;
        if (v > m || v !== v) acc[ia] = v;
      }
    } else if (op === 'min') {
      for (let i = 0; i < len; i++, ix += sx, ia += sacc) {
        const v = x[ix]!, m = acc[ia]!;
        if (v < m || v !== v) acc[ia] = v;
      }
    } else {
      throw new Error(`unknown reduce op ${op as string}`);
    }
  });
  for (let i = 0; i < outSize; i++) out[i] = acc[i]!;
}
