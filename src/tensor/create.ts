// Tensor creation. Every random tensor takes an explicit Generator, so nothing in pai draws from a
// hidden global state.

import type { DType } from '../kernels/interface.js';
import { Tensor, allocate } from './tensor.js';
import { numel, type Shape } from './shape.js';
import type { Generator } from './random.js';

/** Options of the tensor creation functions. */
export interface CreateOptions { dtype?: DType; requiresGrad?: boolean }

function finish(t: Tensor, o?: CreateOptions): Tensor {
  if (o?.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor of the given shape filled with 0. */
export function zeros(shape: Shape, o?: CreateOptions): Tensor {
  return finish(new Tensor(allocate(o?.dtype ?? 'float32', numel(shape)), shape), o);
}

/** A tensor of the given shape filled with `value`. */
export function full(shape: Shape, value: number, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  d.fill(value);
  return finish(new Tensor(d, shape), o);
}

/** A tensor of the given shape filled with 1. */
export function ones(shape: Shape, o?: CreateOptions): Tensor {
  return full(shape, 1, o);
}

/** A 0-d tensor holding `value`. */
export function scalar(value: number, o?: CreateOptions): Tensor {
  return full([], value, o);
}

/** From nested arrays or a flat list with an explicit shape. */
export function tensor(values: ArrayLike<number> | NestedArray, shape?: Shape, o?: CreateOptions): Tensor {
  let flat: number[];
  let inferred: number[];
  if (Array.isArray(values)) {
    inferred = inferShape(values as NestedArray);
    flat = (values as unknown[]).flat(Infinity) as number[];
  } else {
    flat = Array.from(values as ArrayLike<number>);
    inferred = [flat.length];
  }
  const d = allocate(o?.dtype ?? 'float32', flat.length);
  d.set(flat);
  return finish(new Tensor(d, shape ?? inferred), o);
}

/** A number or nested arrays of numbers, as `tensor()` accepts them. */
export type NestedArray = number | NestedArray[];

function inferShape(v: NestedArray): number[] {
  const s: number[] = [];
  let cur: NestedArray = v;
  while (Array.isArray(cur)) {
    s.push(cur.length);
    cur = cur[0] as NestedArray;
  }
  return s;
}

/** The 1-d tensor [0, 1, ..., n - 1]. */
export function arange(n: number, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', n);
  for (let i = 0; i < n; i++) d[i] = i;
  return finish(new Tensor(d, [n]), o);
}

/** Standard normal values drawn from `gen`. */
export function randn(shape: Shape, gen: Generator, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  gen.fillNormal(d);
  return finish(new Tensor(d, shape), o);
}

/** Uniform values in [low, high) (default [0, 1)) drawn from `gen`. */
export function rand(shape: Shape, gen: Generator, o?: CreateOptions & { low?: number; high?: number }): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  gen.fillUniform(d, o?.low ?? 0, o?.high ?? 1);
  return finish(new Tensor(d, shape), o);
}

/** Random signs (+1 or -1 with equal probability) drawn from `gen`: Hutchinson's probes. */
export function rademacher(shape: Shape, gen: Generator, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  gen.fillRademacher(d);
  return finish(new Tensor(d, shape), o);
}

/** A tensor of the same shape and dtype as `like`. */
export function zerosLike(like: Tensor): Tensor {
  return new Tensor(allocate(like.dtype, like.size), like.shape);
}

/** A tensor of the shape and dtype of `like` filled with `value`. */
export function fullLike(like: Tensor, value: number): Tensor {
  const d = allocate(like.dtype, like.size);
  d.fill(value);
  return new Tensor(d, like.shape);
}

/** Converts values to another dtype (a copy, cut from the graph). */
export function cast(t: Tensor, dtype: DType): Tensor {
  const d = allocate(dtype, t.size);
  d.set(t.data);
  return new Tensor(d, t.shape);
}
