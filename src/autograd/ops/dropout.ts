import { Tensor, allocate } from '../../tensor/tensor.js';
import type { Generator } from '../../tensor/random.js';
import { mul } from './elementwise.js';

/** Inverted dropout: zeroes each value with probability p and scales the rest by 1 / (1 - p). */
export function dropout(x: Tensor, p: number, training: boolean, gen: Generator): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const m = allocate(x.dtype, x.size);
  if (p < 1) {
    const keep = 1 / (1 - p);
    for (let i = 0; i < m.length; i++) m[i] = gen.uniform() >= p ? keep : 0;
  }
  return mul(x, new Tensor(m, x.shape));
}
