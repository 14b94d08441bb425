// The one seam between pai's ops and compute. Everything above this file speaks in shapes and
// tensors; everything below speaks in flat, contiguous, row-major buffers. A backend only computes:
// it never allocates outputs (the caller passes them, zero-filled where a kernel accumulates) and it
// never records gradients. Both backends implement the same semantics; the reference backend is the
// definition, the native one is tested against it.

export type { AdaptivePool2dParams, Conv2dParams, CsrPattern, DType, FloatArray, MatmulParams, Pool2dParams, SparseLinearParams } from './params.js';
export { BINARY_OPS, REDUCE_OPS, UNARY_OPS, type BinaryOp, type Kernels, type ReduceOp, type UnaryOp } from './seam.gen.js';
import type { DType } from './params.js';
import type { Kernels } from './seam.gen.js';

/**
 * A backend: the kernels (declared once in declarations.mjs, from which seam.gen.ts is generated)
 * and its settings.
 */
export interface Backend extends Kernels {
  readonly name: 'js' | 'native';
  /** Whether this backend computes in the given dtype; the native one only does float32. */
  supports(dtype: DType): boolean;
  /** Sets the number of threads this backend computes with. */
  setNumThreads(n: number): void;
  /** The number of threads this backend computes with. */
  numThreads(): number;
}
