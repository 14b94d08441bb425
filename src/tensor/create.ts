// Tensor creation. Every random tensor takes an explicit Generator, so nothing in pai draws from a
// hidden global state.

import type { DType } from '../kernels/interface.js';
import { Tensor, allocate } from './tensor.js';
import { numel, type Shape } from './shape.js';
import type { Generator } from './random.js';

export interface CreateOptions { dtype?: DType; requiresGrad?: boolean }

function finish(t: Tensor, o?: CreateOptions): Tensor {
  if (o?.requiresGrad) t.requiresGrad = true;
  return t;
}

export function zeros(shape: Shape, o?: CreateOptions): Tensor {
  return finish(new Tensor(allocate(o?.dtype ?? 'float32', numel(shape)), shape), o);
}

export function full(shape: Shape, value: number, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  d.fill(value);
  return finish(new Tensor(d, shape), o);
}

export function ones(shape: Shape, o?: CreateOptions): Tensor {
  return full(shape, 1, o);
}

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
  for (let i = 0; i < flat.length; i++) d[i] = flat[i]!;
  return finish(new Tensor(d, shape ?? inferred), o);
}

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

export function arange(n: number, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', n);
  for (let i = 0; i < n; i++) d[i] = i;
  return finish(new Tensor(d, [n]), o);
}

export function randn(shape: Shape, gen: Generator, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  gen.fillNormal(d);
  return finish(new Tensor(d, shape), o);
}

export function rand(shape: Shape, gen: Generator, o?: CreateOptions & { low?: number; high?: number }): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  gen.fillUniform(d, o?.low ?? 0, o?.high ?? 1);
  return finish(new Tensor(d, shape), o);
}

export function rademacher(shape: Shape, gen: Generator, o?: CreateOptions): Tensor {
  const d = allocate(o?.dtype ?? 'float32', numel(shape));
  gen.fillRademacher(d);
  return finish(new Tensor(d, shape), o);
}

/** A tensor of the same shape and dtype as `like`. */
export function zerosLike(like: Tensor): Tensor {
  return new Tensor(allocate(like.dtype, like.size), like.shape);
}

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
