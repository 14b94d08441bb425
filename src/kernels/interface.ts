// The one seam between pai's ops and compute. Everything above this file speaks in shapes and
// tensors; everything below speaks in flat, contiguous, row-major buffers. A backend only computes:
// it never allocates outputs (the caller passes them, zero-filled where a kernel accumulates) and it
// never records gradients. Both backends implement the same semantics; the reference backend is the
// definition, the native one is tested against it.

export type FloatArray = Float32Array | Float64Array;
export type DType = 'float32' | 'float64';

/** Element-wise unary functions. `step` is 1 where x > 0 else 0 (the derivative of relu). */
export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sign' | 'relu' | 'step'
  | 'tanh' | 'sigmoid' | 'erf' | 'square' | 'reciprocal';

/** Element-wise binary functions with NumPy/PyTorch broadcasting. Comparisons give 1 or 0. */
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

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

export interface Backend {
  readonly name: 'js' | 'native';
  /** Whether this backend computes in the given dtype; the native one only does float32. */
  supports(dtype: DType): boolean;
  setNumThreads(n: number): void;
  numThreads(): number;

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

  /** Max pooling; idx receives the flat index into x of each output's maximum (first one on ties). */
  maxPool2d(x: FloatArray, out: FloatArray, idx: Int32Array, p: Pool2dParams): void;
  avgPool2d(x: FloatArray, out: FloatArray, p: Pool2dParams): void;
  /** The adjoint of avgPool2d. Overwrites gx. */
  avgPool2dBackward(gy: FloatArray, gx: FloatArray, p: Pool2dParams): void;
  adaptiveAvgPool2d(x: FloatArray, out: FloatArray, p: AdaptivePool2dParams): void;
  /** The adjoint of adaptiveAvgPool2d. Overwrites gx. */
  adaptiveAvgPool2dBackward(gy: FloatArray, gx: FloatArray, p: AdaptivePool2dParams): void;
}
