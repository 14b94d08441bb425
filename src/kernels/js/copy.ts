// Data movement: strided copies (expand, permute, slice, pad, concat are all one of these) and the
// index gather / scatter-add pair, each the adjoint of the other.

import type { FloatArray } from '../interface.js';
import { coalesce, forEachRow } from './elementwise.js';

export function copyStrided(src: FloatArray, srcOffset: number, srcStrides: readonly number[],
  shape: readonly number[], dst: FloatArray, dstOffset: number, dstStrides: readonly number[]): void {
  if (srcStrides.length !== shape.length || dstStrides.length !== shape.length) {
    throw new Error(`copyStrided: strides [${srcStrides}] / [${dstStrides}] do not match shape [${shape}]`);
  }
  const layout = coalesce(shape, [srcStrides, dstStrides]);
  const r = layout.shape.length - 1;
  const ss = layout.strides[0]![r]!, ds = layout.strides[1]![r]!;
  forEachRow(layout, [srcOffset, dstOffset], (off, len) => {
    let is = off[0]!, id = off[1]!;
    for (let i = 0; i < len; i++, is += ss, id += ds) dst[id] = src[is]!;
  });
}

export function gather(x: FloatArray, idx: Int32Array, out: FloatArray): void {
  const n = idx.length;
  if (out.length !== n) throw new Error(`gather: out has ${out.length} elements, idx has ${n}`);
  const m = x.length;
  for (let i = 0; i < n; i++) {
    const j = idx[i]!;
    if (j < 0 || j >= m) throw new Error(`gather: index ${j} out of range [0, ${m})`);
    out[i] = x[j]!;
  }
}

export function scatterAdd(g: FloatArray, idx: Int32Array, out: FloatArray): void {
  const n = idx.length;
  if (g.length !== n) throw new Error(`scatterAdd: g has ${g.length} elements, idx has ${n}`);
  const m = out.length;
  for (let i = 0; i < n; i++) {
    const j = idx[i]!;
    if (j < 0 || j >= m) throw new Error(`scatterAdd: index ${j} out of range [0, ${m})`);
    out[j] = out[j]! + g[i]!;
  }
}
