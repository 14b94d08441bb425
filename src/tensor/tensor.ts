// An n-d tensor: a shape, a dtype and one contiguous row-major buffer. Ops never mutate their
// inputs; the only in-place writes are the ones PyTorch also does outside autograd (optimiser
// updates, running statistics, masks), and they go through `data` explicitly.

import type { DType, FloatArray } from '../kernels/interface.js';
import { numel, shapeStr, checkShape, type Shape } from './shape.js';

/**
 * What autograd records for a tensor produced by a differentiable op. Declared here so a tensor can
 * point at its producer without the tensor layer depending on autograd.
 */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor[];
}

/** Zeroed storage for `n` values of `dtype`. */
export function allocate(dtype: DType, n: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** The dtype of a storage array. */
export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** An n-d float tensor: a shape and contiguous row-major storage, plus the autograd fields (requiresGrad, grad, the node that made it). */
export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly data: FloatArray;
  /** True for leaves that gradients are wanted for, and for every result computed from one. */
  requiresGrad = false;
  /** The op that produced this tensor, when recorded by autograd. */
  gradFn: GradFn | null = null;
  /** Accumulated by `backward()` on leaves. */
  grad: Tensor | null = null;

  constructor(data: FloatArray, shape: Shape) {
    checkShape('Tensor', shape);
    if (data.length !== numel(shape)) {
      throw new RangeError(`Tensor: ${data.length} values do not fill shape ${shapeStr(shape)} (${numel(shape)} values)`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtypeOf(data);
  }

  get size(): number { return this.data.length; }
  get ndim(): number { return this.shape.length; }
  get isLeaf(): boolean { return this.gradFn === null; }

  /** Marks a leaf as a variable whose gradient is wanted (returns this, for chaining). */
  requireGrad(flag = true): this {
    if (this.gradFn !== null && !flag) throw new Error('requireGrad(false) on a non-leaf tensor: use detach()');
    this.requiresGrad = flag;
    return this;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    const v = this.data[0];
    if (this.data.length !== 1 || v === undefined) throw new RangeError(`item(): tensor of shape ${shapeStr(this.shape)} has ${this.data.length} values`);
    return v;
  }

  /** A tensor sharing this one's values, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A copy with its own buffer, cut from the graph. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** The values as a plain array, in storage order. */
  toArray(): number[] {
    return Array.from(this.data);
  }

  /** The shape and the first values, for logs. */
  toString(): string {
    const head = Array.from(this.data.subarray(0, 8), (v) => +v.toPrecision(5)).join(', ');
    return `Tensor(${shapeStr(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''}) [${head}${this.size > 8 ? ', ...' : ''}]`;
  }
}
