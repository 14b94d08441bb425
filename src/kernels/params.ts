// The data types that cross the kernel seam: buffers and the parameter records of the kernels.
// The kernels themselves are declared in declarations.mjs (see seam.gen.ts).

/** The flat storage of a tensor: float32 or float64 values. */
export type FloatArray = Float32Array | Float64Array;
/** The element type of a tensor. */
export type DType = 'float32' | 'float64';

/**
 * A 2-d convolution, PyTorch's `conv2d` (cross-correlation), NCHW input, OIHW weight
 * [oc, c / groups, kh, kw], output [n, oc, oh, ow] with
 * oh = floor((h + 2 padH - dilH (kh - 1) - 1) / strideH) + 1 (likewise ow).
 */
export interface Conv2dParams {
  n: number; c: number; h: number; w: number;
  oc: number; kh: number; kw: number; oh: number; ow: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilH: number; dilW: number;
  groups: number;
}

/**
 * Window pooling over NCHW planes, PyTorch's semantics. Windows start at o * stride - pad and span
 * k taps spaced by dil (max pooling only). Padding never wins a max. For average pooling the divisor
 * is the window clipped to [−pad, size + pad) when countIncludePad (PyTorch's default), else the
 * window clipped to the input; `divisorOverride`, when > 0, replaces it.
 */
export interface Pool2dParams {
  n: number; c: number; h: number; w: number; oh: number; ow: number;
  kh: number; kw: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilH: number; dilW: number;
  countIncludePad: boolean;
  divisorOverride: number;
}

/**
 * Adaptive average pooling: output cell (i, j) averages input rows [floor(i h / oh), ceil((i + 1) h / oh))
 * and columns [floor(j w / ow), ceil((j + 1) w / ow)).
 */
export interface AdaptivePool2dParams {
  n: number; c: number; h: number; w: number; oh: number; ow: number;
}

/**
 * Batched matrix product. For b in [0, batch): out[b] (m x n) = op(a[b]) (m x k) @ op(b[b]) (k x n),
 * where op transposes when the flag is set (a stored as k x m, b stored as n x k). Matrix b of a
 * batch starts at b * aBatchStride in `a` (0 broadcasts one matrix over the batch), likewise `b`;
 * `out` is contiguous [batch, m, n]. When `accumulate` is set the product is added to `out`.
 */
export interface MatmulParams {
  batch: number; m: number; k: number; n: number;
  transA: boolean; transB: boolean;
  aBatchStride: number; bBatchStride: number;
  accumulate: boolean;
}

/**
 * A pruned weight in compressed sparse row form, one row per output channel (or output feature).
 * The columns of a row are the flattened (ic, ky, kx) index (ic * kh + ky) * kw + kx of an OIHW
 * convolution weight [oc, c, kh, kw], or the input feature of a linear weight [out, in]. Row r holds
 * the entries rowPtr[r] .. rowPtr[r + 1] - 1 of colIdx (and of the values that travel beside it).
 * rowPtr has rows + 1 entries, starts at 0 and never decreases; columns need not be sorted (a
 * repeated column adds up). Kernels check all of this, since a bad index would be a wild write.
 */
export interface CsrPattern {
  rowPtr: Int32Array;
  colIdx: Int32Array;
}

/** A linear layer y [n, outF] = x [n, inF] Wᵀ (+ bias) with W [outF, inF]. */
export interface SparseLinearParams {
  n: number; inF: number; outF: number;
}
