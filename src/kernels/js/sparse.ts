// Sparse convolution and linear kernels over a CSR weight (see CsrPattern), the reference for the
// native ones. The convolution is direct: every stored weight (oc, ic, ky, kx) adds value times the
// shifted input plane ic into output plane oc, over the output positions whose tap lies inside the
// image (validRange below, as in conv.ts), so the work is nnz * n * oh * ow and padding costs no
// per-element branch. Sums accumulate in float64 like the dense reference kernels.

import type { Conv2dParams, CsrPattern, FloatArray, SparseLinearParams } from '../interface.js';

/** The output positions o with o * stride - pad + tap * dil inside [0, inSize), as [lo, hi). */
function validRange(outSize: number, inSize: number, stride: number, pad: number, dil: number, tap: number): [number, number] {
  const shift = tap * dil - pad;
  const lo = Math.max(0, Math.ceil(-shift / stride));
  const hi = Math.min(outSize, Math.floor((inSize - 1 - shift) / stride) + 1);
  return [lo, hi];
}

/** Throws unless the pattern is a well-formed CSR of `rows` rows over `cols` columns with `nnz` stored values. */
export function checkCsr(who: string, pt: CsrPattern, rows: number, cols: number, nnz: number): void {
  const { rowPtr, colIdx } = pt;
  if (rowPtr.length !== rows + 1) throw new RangeError(`${who}: rowPtr has ${rowPtr.length} entries, needs rows + 1 = ${rows + 1}`);
  if (rowPtr[0] !== 0) throw new RangeError(`${who}: rowPtr[0] is ${rowPtr[0]}, must be 0`);
  for (let r = 0; r < rows; r++) {
    if (rowPtr[r + 1]! < rowPtr[r]!) throw new RangeError(`${who}: rowPtr decreases at row ${r}`);
  }
  if (rowPtr[rows] !== colIdx.length) throw new RangeError(`${who}: rowPtr ends at ${rowPtr[rows]}, colIdx has ${colIdx.length} entries`);
  if (colIdx.length !== nnz) throw new RangeError(`${who}: ${nnz} values for ${colIdx.length} stored entries`);
  for (let k = 0; k < colIdx.length; k++) {
    const c = colIdx[k]!;
    if (!(c >= 0 && c < cols)) throw new RangeError(`${who}: colIdx[${k}] = ${c} is outside [0, ${cols})`);
  }
}

function checkConv(who: string, p: Conv2dParams, pt: CsrPattern, x: number, nnz: number, y: number): void {
  const { n, c, h, w, oc, kh, kw, oh, ow } = p;
  if (p.groups !== 1) throw new RangeError(`${who}: groups = ${p.groups}; the sparse convolution does groups = 1 only`);
  const eoh = Math.floor((h + 2 * p.padH - p.dilH * (kh - 1) - 1) / p.strideH) + 1;
  const eow = Math.floor((w + 2 * p.padW - p.dilW * (kw - 1) - 1) / p.strideW) + 1;
  if (eoh !== oh || eow !== ow) throw new RangeError(`${who}: output ${oh}x${ow} should be ${eoh}x${eow}`);
  if (x !== n * c * h * w) throw new RangeError(`${who}: input buffer has ${x} elements, needs ${n * c * h * w}`);
  if (y !== n * oc * oh * ow) throw new RangeError(`${who}: output buffer has ${y} elements, needs ${n * oc * oh * ow}`);
  checkCsr(who, pt, oc, c * kh * kw, nnz);
}

/**
 * Walks the output rows every stored entry k of a convolution pattern touches: for each sample and
 * each output row whose tap lies inside the image, f(k, inRow, outRow, lo, hi) where output element
 * outRow + ox pairs with input element inRow + ox * strideW for ox in [lo, hi). The three kernels
 * differ only in what they do with such a pair.
 */
function forEntryRows(pt: CsrPattern, p: Conv2dParams, f: (k: number, inRow: number, outRow: number, lo: number, hi: number) => void): void {
  const { n, c, h, w, oc, kh, kw, oh, ow } = p;
  const taps = kh * kw;
  for (let o = 0; o < oc; o++) {
    for (let k = pt.rowPtr[o]!; k < pt.rowPtr[o + 1]!; k++) {
      const col = pt.colIdx[k]!;
      const ic = Math.floor(col / taps), t = col - ic * taps;
      const ky = Math.floor(t / kw), kx = t - ky * kw;
      const [yLo, yHi] = validRange(oh, h, p.strideH, p.padH, p.dilH, ky);
      const [xLo, xHi] = validRange(ow, w, p.strideW, p.padW, p.dilW, kx);
      for (let b = 0; b < n; b++) {
        const xBase = (b * c + ic) * h * w, yBase = (b * oc + o) * oh * ow;
        for (let oy = yLo; oy < yHi; oy++) {
          f(k, xBase + (oy * p.strideH - p.padH + ky * p.dilH) * w - p.padW + kx * p.dilW, yBase + oy * ow, xLo, xHi);
        }
      }
    }
  }
}

export function sparseConv2d(x: FloatArray, values: FloatArray, pt: CsrPattern, bias: FloatArray | null, out: FloatArray, p: Conv2dParams): void {
  checkConv('sparseConv2d', p, pt, x.length, values.length, out.length);
  if (bias !== null && bias.length !== p.oc) throw new RangeError(`sparseConv2d: bias has ${bias.length} elements, needs ${p.oc}`);
  const { n, oc, oh, ow, strideW } = p;
  const acc = new Float64Array(n * oc * oh * ow);
  if (bias !== null) for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) acc.fill(bias[o]!, (b * oc + o) * oh * ow, (b * oc + o + 1) * oh * ow);
  forEntryRows(pt, p, (k, inRow, outRow, lo, hi) => {
    const v = values[k]!;
    for (let ox = lo; ox < hi; ox++) acc[outRow + ox]! += v * x[inRow + ox * strideW]!;
  });
  out.set(acc);
}

export function sparseConv2dBackwardData(gy: FloatArray, values: FloatArray, pt: CsrPattern, gx: FloatArray, p: Conv2dParams): void {
  checkConv('sparseConv2dBackwardData', p, pt, gx.length, values.length, gy.length);
  const { n, c, h, w, strideW } = p;
  const acc = new Float64Array(n * c * h * w);
  forEntryRows(pt, p, (k, inRow, outRow, lo, hi) => {
    const v = values[k]!;
    for (let ox = lo; ox < hi; ox++) acc[inRow + ox * strideW]! += v * gy[outRow + ox]!;
  });
  gx.set(acc);
}

export function sparseConv2dBackwardWeight(x: FloatArray, gy: FloatArray, pt: CsrPattern, gv: FloatArray, p: Conv2dParams): void {
  checkConv('sparseConv2dBackwardWeight', p, pt, x.length, gv.length, gy.length);
  const { strideW } = p;
  // One float64 sum per stored entry, accumulated in the same order as a per-entry running sum.
  const acc = new Float64Array(gv.length);
  forEntryRows(pt, p, (k, inRow, outRow, lo, hi) => {
    for (let ox = lo; ox < hi; ox++) acc[k]! += gy[outRow + ox]! * x[inRow + ox * strideW]!;
  });
  gv.set(acc);
}

function checkLinear(who: string, p: SparseLinearParams, pt: CsrPattern, x: number, nnz: number, y: number): void {
  if (x !== p.n * p.inF) throw new RangeError(`${who}: input buffer has ${x} elements, needs n * inF = ${p.n * p.inF}`);
  if (y !== p.n * p.outF) throw new RangeError(`${who}: output buffer has ${y} elements, needs n * outF = ${p.n * p.outF}`);
  checkCsr(who, pt, p.outF, p.inF, nnz);
}

export function sparseLinear(x: FloatArray, values: FloatArray, pt: CsrPattern, bias: FloatArray | null, out: FloatArray, p: SparseLinearParams): void {
  checkLinear('sparseLinear', p, pt, x.length, values.length, out.length);
  if (bias !== null && bias.length !== p.outF) throw new RangeError(`sparseLinear: bias has ${bias.length} elements, needs ${p.outF}`);
  const { n, inF, outF } = p;
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < outF; o++) {
      let s = bias === null ? 0 : bias[o]!;
      for (let k = pt.rowPtr[o]!; k < pt.rowPtr[o + 1]!; k++) s += values[k]! * x[b * inF + pt.colIdx[k]!]!;
      out[b * outF + o] = s;
    }
  }
}

export function sparseLinearBackwardData(gy: FloatArray, values: FloatArray, pt: CsrPattern, gx: FloatArray, p: SparseLinearParams): void {
  checkLinear('sparseLinearBackwardData', p, pt, gx.length, values.length, gy.length);
  const { n, inF, outF } = p;
  const acc = new Float64Array(inF);
  for (let b = 0; b < n; b++) {
    acc.fill(0);
    for (let o = 0; o < outF; o++) {
      const g = gy[b * outF + o]!;
      for (let k = pt.rowPtr[o]!; k < pt.rowPtr[o + 1]!; k++) acc[pt.colIdx[k]!]! += values[k]! * g;
    }
    for (let i = 0; i < inF; i++) gx[b * inF + i] = acc[i]!;
  }
}

export function sparseLinearBackwardWeight(x: FloatArray, gy: FloatArray, pt: CsrPattern, gv: FloatArray, p: SparseLinearParams): void {
  checkLinear('sparseLinearBackwardWeight', p, pt, x.length, gv.length, gy.length);
  const { n, inF, outF } = p;
  for (let o = 0; o < outF; o++) {
    for (let k = pt.rowPtr[o]!; k < pt.rowPtr[o + 1]!; k++) {
      const i = pt.colIdx[k]!;
      let s = 0;
      for (let b = 0; b < n; b++) s += gy[b * outF + o]! * x[b * inF + i]!;
      gv[k] = s;
    }
  }
}
