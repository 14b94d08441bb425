import { Buffer } from 'node:buffer';
import { backendFor, type Backend } from '../../kernels/index.js';
import { Tensor, allocate } from '../../tensor/tensor.js';
import { noteFresh, takeBuffer } from '../../tensor/pool.js';
import { numel, shapeStr, type Shape } from '../../tensor/shape.js';

/** A tensor, or a number that broadcasts as a 0-d tensor. */
export type TensorLike = Tensor | number;

export function be(t: Tensor): Backend {
  return backendFor(t.dtype);
}

/** A fresh, zero-filled output tensor of the given shape with the dtype of `like`. */
export function empty(like: Tensor, shape: Shape): Tensor {
  return new Tensor(allocate(like.dtype, numel(shape)), shape);
}

// Below this many values a zero fill costs less than a separate allocation path.
const UNINIT_MIN = 1024;

/**
 * A fresh output tensor for a kernel that writes every element: float32 buffers come uninitialised,
 * because a zero fill of every activation-sized output is a full extra pass over memory per op.
 * Never for kernels that accumulate into their output.
 */
export function uninit(like: Tensor, shape: Shape): Tensor {
  const n = numel(shape);
  if (like.dtype !== 'float32' || n < UNINIT_MIN) return new Tensor(allocate(like.dtype, n), shape);
  // A buffer a backward pass gave back (tensor/pool.ts), else new memory.
  const b = takeBuffer(n * 4) ?? Buffer.allocUnsafeSlow(n * 4).buffer;
  noteFresh(b);
  return new Tensor(new Float32Array(b, 0, n), shape);
}

export function checkSameDtype(op: string, ...ts: Tensor[]): void {
  const first = ts[0];
  if (first && ts.some((t) => t.dtype !== first.dtype)) {
    throw new TypeError(`${op}: dtype mismatch: ${ts.map((t) => `${t.dtype} ${shapeStr(t.shape)}`).join(' vs ')}`);
  }
}

export function checkRank(op: string, t: Tensor, ranks: readonly number[], what = 'input'): void {
  if (!ranks.includes(t.ndim)) {
    throw new RangeError(`${op}: ${what} must have rank ${ranks.join(' or ')}, got shape ${shapeStr(t.shape)}`);
  }
}

/** A number operand becomes a 0-d tensor of the other operand's dtype. */
export function lift(x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  const d = allocate(like.dtype, 1);
  d[0] = x;
  return new Tensor(d, []);
}

export function pair(op: string, name: string, v: number | readonly [number, number]): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  for (const x of p) if (!Number.isInteger(x) || x < 0) throw new RangeError(`${op}: ${name} must be non-negative integers, got ${JSON.stringify(v)}`);
  return p;
}
