// The per-element loops of the criteria: per-batch quantities added in place into parameter-sized
// buffers, the columns of the Gauss-Newton factor, element-wise maps of tensors of one size into
// scores, and the in-place scalings and sums over them. They run once per mask batch, sample, class
// or probe over every parameter, so they are plain indexed loops; each read is checked in the loop
// itself (`if (v === undefined)`), which the compiler proves false for an index inside the array,
// so the checks cost nothing where a shared helper call per element would.

import type { FloatArray } from '../kernels/interface.js';
import { zerosLike } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';

function shorter(op: string): RangeError {
  return new RangeError(`internal: ${op}: a buffer is shorter than the one it is combined with`);
}

/** a += d. */
export function addInto(a: FloatArray, d: FloatArray): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = d[i];
    if (x === undefined || y === undefined) throw shorter('addInto');
    a[i] = x + y;
  }
}

/** a += scale * d. */
export function addScaledInto(a: FloatArray, d: FloatArray, scale: number): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = d[i];
    if (x === undefined || y === undefined) throw shorter('addScaledInto');
    a[i] = x + scale * y;
  }
}

/** m += d and f += d ⊙ d: the running sums of the gradient and of its square. */
export function addMomentsInto(m: FloatArray, f: FloatArray, d: FloatArray): void {
  for (let j = 0; j < d.length; j++) {
    const v = d[j], mj = m[j], fj = f[j];
    if (v === undefined || mj === undefined || fj === undefined) throw shorter('addMomentsInto');
    m[j] = mj + v;
    f[j] = fj + v * v;
  }
}

/** a += (d ⊙ d) / n. */
export function addSquaresInto(a: FloatArray, d: FloatArray, n: number): void {
  for (let j = 0; j < a.length; j++) {
    const x = a[j], v = d[j];
    if (x === undefined || v === undefined) throw shorter('addSquaresInto');
    a[j] = x + (v * v) / n;
  }
}

/** a += z ⊙ d. */
export function addProductInto(a: FloatArray, z: FloatArray, d: FloatArray): void {
  for (let j = 0; j < a.length; j++) {
    const x = a[j], y = z[j], v = d[j];
    if (x === undefined || y === undefined || v === undefined) throw shorter('addProductInto');
    a[j] = x + y * v;
  }
}

/**
 * Row r of column c of the Gauss-Newton factor for softmax probabilities p [rows, C] and
 * temperature T: cot[r, j] = √p[r, c] (δ_jc − p[r, j]) / T. Returns false, writing nothing, when
 * p[r, c] is 0 (the column is zero there).
 */
export function factorColumn(p: FloatArray, cot: FloatArray, r: number, c: number, C: number, T: number): boolean {
  const pc = p[r * C + c];
  if (pc === undefined || c >= C) throw new RangeError(`internal: factorColumn: column ${c} of row ${r} is outside the ${C}-column probabilities`);
  const sc = Math.sqrt(pc);
  if (sc === 0) return false;
  for (let j = 0; j < C; j++) {
    const pj = p[r * C + j];
    if (pj === undefined) throw shorter('factorColumn');
    cot[r * C + j] = (sc * ((j === c ? 1 : 0) - pj)) / T;
  }
  return true;
}

/** f of each value of `like`, into a fresh tensor shaped like it. */
export function mapScores(like: Tensor, f: (v: number) => number): Tensor {
  const out = zerosLike(like);
  const d = like.data, o = out.data;
  for (let i = 0; i < o.length; i++) {
    const v = d[i];
    if (v === undefined) throw shorter('mapScores');
    o[i] = f(v);
  }
  return out;
}

/** f of the values of `like` and `b` at each index, into a fresh tensor shaped like `like`. */
export function mapScores2(like: Tensor, b: Tensor, f: (v: number, w: number) => number): Tensor {
  const out = zerosLike(like);
  const d = like.data, e = b.data, o = out.data;
  for (let i = 0; i < o.length; i++) {
    const v = d[i], w = e[i];
    if (v === undefined || w === undefined) throw shorter('mapScores2');
    o[i] = f(v, w);
  }
  return out;
}

/** f of the values of `like`, `b` and `c` at each index, into a fresh tensor shaped like `like`. */
export function mapScores3(like: Tensor, b: Tensor, c: Tensor, f: (v: number, w: number, x: number) => number): Tensor {
  const out = zerosLike(like);
  const d = like.data, e = b.data, g = c.data, o = out.data;
  for (let i = 0; i < o.length; i++) {
    const v = d[i], w = e[i], x = g[i];
    if (v === undefined || w === undefined || x === undefined) throw shorter('mapScores3');
    o[i] = f(v, w, x);
  }
  return out;
}

/** a /= by, in place. */
export function divideInPlace(a: FloatArray, by: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v === undefined) throw shorter('divideInPlace');
    a[i] = v / by;
  }
}

/** a = |a|, in place. */
export function absInPlace(a: FloatArray): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v === undefined) throw shorter('absInPlace');
    a[i] = Math.abs(v);
  }
}

/** `from` plus the values of `a`, added one by one in index order. */
export function total(a: FloatArray, from = 0): number {
  let s = from;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v === undefined) throw shorter('total');
    s += v;
  }
  return s;
}

/** The index of the first value that is not finite (NaN or ±Infinity), or -1. */
export function firstNonFinite(a: FloatArray): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v === undefined) throw shorter('firstNonFinite');
    if (v - v !== 0) return i;
  }
  return -1;
}
