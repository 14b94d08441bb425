// The one seam between pai's ops and compute. Everything above this file speaks in shapes and
// tensors; everything below speaks in flat, contiguous, row-major buffers. A backend only computes:
// it never allocates outputs (the caller passes them, zero-filled where a kernel accumulates) and it
// never records gradients. Both backends implement the same semantics; the reference backend is the
// definition, the native one is tested against it.

/** The flat storage of a tensor: float32 or float64 values. */
export type FloatArray = Float32Array | Float64Array;
/** The element type of a tensor. */
export type DType = 'float32' | 'float64';

/** Element-wise unary functions. `step` is 1 where x > 0 else 0 (the derivative of relu). */
export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sign' | 'relu' | 'step'
  | 'tanh' | 'sigmoid' | 'erf' | 'square' | 'reciprocal';

/** Element-wise binary functions with NumPy/PyTorch broadcasting. Comparisons give 1 or 0. */
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

/** A reduction a kernel can compute along axes. */
export type ReduceOp = 'sum' | 'max' | 'min';

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

/** The kernel interface every backend implements: raw compute on flat buffers, where TypeScript meets native code. */
export interface Backend {
  readonly name: 'js' | 'native';
  /** Whether this backend computes in the given dtype; the native one only does float32. */
  supports(dtype: DType): boolean;
  /** Sets the number of threads this backend computes with. */
  setNumThreads(n: number): void;
  /** The number of threads this backend computes with. */
  numThreads(): number;

  /** Applies a unary op element-wise: out[i] = op(x[i]). */
  unary(op: UnaryOp, x: FloatArray, out: FloatArray): void;
  /** out = x * scale + shift element-wise (scale, shift scalars). */
  affine(x: FloatArray, scale: number, shift: number, out: FloatArray): void;
  /** out = x ** p element-wise for a scalar exponent. */
  powScalar(x: FloatArray, p: number, out: FloatArray): void;
  /** Shapes are the operands' own; each broadcasts to outShape (same rank after left-padding with 1). */
  binary(op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[],
    out: FloatArray, outShape: readonly number[]): void;
  /** out = cond != 0 ? a : b, all three broadcasting to outShape. */
  where(cond: FloatArray, condShape: readonly number[], a: FloatArray, aShape: readonly number[],
    b: FloatArray, bShape: readonly number[], out: FloatArray, outShape: readonly number[]): void;
  /**
   * Reduce x (shape `shape`) over the sorted, distinct `axes`; out holds the remaining axes in order
   * (the size of out is the product of the kept dimensions). An empty reduction gives 0 for sum.
   */
  reduce(op: ReduceOp, x: FloatArray, shape: readonly number[], axes: readonly number[], out: FloatArray): void;
  /**
   * General strided copy: for every index i of `shape`,
   * dst[dstOffset + Σ i_d dstStrides_d] = src[srcOffset + Σ i_d srcStrides_d]. Strides may be 0
   * (broadcast reads). Used for expand, permute, slice, pad and concat.
   */
  copyStrided(src: FloatArray, srcOffset: number, srcStrides: readonly number[], shape: readonly number[],
    dst: FloatArray, dstOffset: number, dstStrides: readonly number[]): void;
  /** out[i] = x[idx[i]]. */
  gather(x: FloatArray, idx: Int32Array, out: FloatArray): void;
  /** out[idx[i]] += g[i]; the caller zero-fills out. */
  scatterAdd(g: FloatArray, idx: Int32Array, out: FloatArray): void;

  /** Batched matrix product out = a · b (with the transposes and batch strides of `p`). */
  matmul(a: FloatArray, b: FloatArray, out: FloatArray, p: MatmulParams): void;

  // Per-channel kernels for normalisation layers. Each views its operands as [n, c, inner] (NCHW
  // with inner = H W, or [N, C] with inner = 1) and its per-channel vectors as [c]. They replace the
  // chains of broadcasting element-wise passes that batch norm otherwise costs; sums accumulate in
  // float64 as `reduce` does.
  /** mean[c] and the biased variance variance[c] of x over the n and inner axes. */
  channelMoments(x: FloatArray, n: number, c: number, inner: number, mean: FloatArray, variance: FloatArray): void;
  /** out = (x - m[c]) a[c] + d[c]; a null m or d counts as zeros. */
  channelAffine(x: FloatArray, m: FloatArray | null, a: FloatArray, d: FloatArray | null, out: FloatArray,
    n: number, c: number, inner: number): void;
  /** sg[c] = Σ g and sgx[c] = Σ g (x - m[c]) over the n and inner axes. */
  channelGradSums(g: FloatArray, x: FloatArray, m: FloatArray, n: number, c: number, inner: number,
    sg: FloatArray, sgx: FloatArray): void;
  /** out = g a[c] + (x - m[c]) b[c] + d[c]. */
  channelAffineGrad(g: FloatArray, x: FloatArray, m: FloatArray, a: FloatArray, b: FloatArray, d: FloatArray,
    out: FloatArray, n: number, c: number, inner: number): void;

  /** out = conv2d(x, w) (+ bias[oc] when given). */
  conv2d(x: FloatArray, w: FloatArray, bias: FloatArray | null, out: FloatArray, p: Conv2dParams): void;
  /** gx = the gradient of conv2d with respect to its input for output gradient gy (a transposed convolution). Overwrites gx. */
  conv2dBackwardData(gy: FloatArray, w: FloatArray, gx: FloatArray, p: Conv2dParams): void;
  /** gw = the gradient of conv2d with respect to its weight. Overwrites gw. */
  conv2dBackwardWeight(x: FloatArray, gy: FloatArray, gw: FloatArray, p: Conv2dParams): void;
  /**
   * Moments of the per-sample weight gradients: with G_n the weight gradient of conv2d for sample n
   * alone (conv2dBackwardWeight at batch 1), adds Σ_n G_n into `sum` (skipped when null) and Σ_n G_n²
   * into `sumSq`. Accumulates: the caller initialises both.
   */
  conv2dWeightGradMoments(x: FloatArray, gy: FloatArray, sum: FloatArray | null, sumSq: FloatArray, p: Conv2dParams): void;
  /**
   * The probe contraction of the per-sample weight gradients: with G_n as above and z [n, ...weight
   * shape] one probe per sample, adds Σ_n z_n ⊙ G_n into `acc`.
   */
  conv2dWeightGradProbeDot(x: FloatArray, gy: FloatArray, z: FloatArray, acc: FloatArray, p: Conv2dParams): void;

  /**
   * Rademacher values from an xoshiro128** state [s0, s1, s2, s3] (src/tensor/random.ts), advanced
   * in place by one step per value: out[i] = 1 when bit 0 of draw i is 0, else -1.
   */
  rademacherFill(state: Uint32Array, out: FloatArray): void;

  // Sparse layers (see CsrPattern). `values` holds one weight per stored entry, in pattern order.
  // The convolutions take Conv2dParams with groups = 1 only (a grouped pruned convolution stays on
  // the dense path); the dense weight shape they stand for is [oc, c, kh, kw].
  /** out = conv2d(x, W) (+ bias[oc]) for the sparse weight W. Overwrites out. */
  sparseConv2d(x: FloatArray, values: FloatArray, pattern: CsrPattern, bias: FloatArray | null, out: FloatArray,
    p: Conv2dParams): void;
  /** gx = the input gradient of sparseConv2d for output gradient gy (the transposed sparse convolution). Overwrites gx. */
  sparseConv2dBackwardData(gy: FloatArray, values: FloatArray, pattern: CsrPattern, gx: FloatArray, p: Conv2dParams): void;
  /**
   * gv = the weight gradient of conv2d evaluated at the pattern's entries only (a sampled
   * dense-dense product): gv[k] = Σ_n,oy,ox gy[n, oc, oy, ox] x[n, ic, iy, ix] for entry k = (oc, ic, ky, kx).
   * Overwrites gv (one value per stored entry).
   */
  sparseConv2dBackwardWeight(x: FloatArray, gy: FloatArray, pattern: CsrPattern, gv: FloatArray, p: Conv2dParams): void;
  /** out [n, outF] = x [n, inF] Wᵀ (+ bias[outF]) for the sparse weight W [outF, inF]. Overwrites out. */
  sparseLinear(x: FloatArray, values: FloatArray, pattern: CsrPattern, bias: FloatArray | null, out: FloatArray,
    p: SparseLinearParams): void;
  /** gx [n, inF] = gy [n, outF] W. Overwrites gx. */
  sparseLinearBackwardData(gy: FloatArray, values: FloatArray, pattern: CsrPattern, gx: FloatArray, p: SparseLinearParams): void;
  /** gv[k] = Σ_n gy[n, o] x[n, i] for entry k = (o, i): the weight gradient at the stored entries. Overwrites gv. */
  sparseLinearBackwardWeight(x: FloatArray, gy: FloatArray, pattern: CsrPattern, gv: FloatArray, p: SparseLinearParams): void;

  /** Max pooling; idx receives the flat index into x of each output's maximum (first one on ties). */
  maxPool2d(x: FloatArray, out: FloatArray, idx: Int32Array, p: Pool2dParams): void;
  /** 2-d average pooling of an NCHW input. */
  avgPool2d(x: FloatArray, out: FloatArray, p: Pool2dParams): void;
  /** The adjoint of avgPool2d. Overwrites gx. */
  avgPool2dBackward(gy: FloatArray, gx: FloatArray, p: Pool2dParams): void;
  /** 2-d adaptive average pooling of an NCHW input to the output size of `p`. */
  adaptiveAvgPool2d(x: FloatArray, out: FloatArray, p: AdaptivePool2dParams): void;
  /** The adjoint of adaptiveAvgPool2d. Overwrites gx. */
  adaptiveAvgPool2dBackward(gy: FloatArray, gx: FloatArray, p: AdaptivePool2dParams): void;
}
