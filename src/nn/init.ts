// PyTorch's initialisers, drawn from pai's seeded generator (values differ from torch's RNG, the
// distributions do not). Fan-in of a weight [out, in, *k] is in * prod(k).

import { Tensor } from '../tensor/tensor.js';
import { hasMinRank } from '../tensor/shape.js';
import type { Generator } from '../tensor/random.js';

/** A weight initialisation: PyTorch's default (kaiming_uniform with a = sqrt(5)) or kaiming_normal. */
export type InitScheme = 'default' | 'kaiming_normal';

/** The fan-in of a weight of this shape (input features times the kernel size), as PyTorch computes it. */
export function fanIn(shape: readonly number[]): number {
  if (!hasMinRank(shape, 2)) throw new RangeError(`fan_in needs a weight of rank >= 2, got [${shape.join(', ')}]`);
  return shape.slice(2).reduce((f, k) => f * k, shape[1]);
}

/** The fan-out of a weight of this shape (output features times the kernel size). */
export function fanOut(shape: readonly number[]): number {
  if (!hasMinRank(shape, 1)) throw new RangeError(`fan_out needs a weight of rank >= 1, got [${shape.join(', ')}]`);
  return shape.slice(2).reduce((f, k) => f * k, shape[0]);
}

/** Fills t in place with uniform values in [low, high) from gen; returns t. */
export function uniform_(t: Tensor, low: number, high: number, gen: Generator): Tensor {
  gen.fillUniform(t.data, low, high);
  return t;
}

/** Fills t in place with normal values of the given mean and standard deviation from gen; returns t. */
export function normal_(t: Tensor, mean: number, std: number, gen: Generator): Tensor {
  gen.fillNormal(t.data, mean, std);
  return t;
}

/** torch.nn.init.kaiming_uniform_ with leaky-relu slope a, mode fan_in. */
export function kaimingUniform_(t: Tensor, a: number, gen: Generator): Tensor {
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn(t.shape));
  return uniform_(t, -bound, bound, gen);
}

/** torch.nn.init.kaiming_normal_(mode, nonlinearity='relu'). */
export function kaimingNormal_(t: Tensor, gen: Generator, mode: 'fan_in' | 'fan_out' = 'fan_in'): Tensor {
  const fan = mode === 'fan_in' ? fanIn(t.shape) : fanOut(t.shape);
  return normal_(t, 0, Math.SQRT2 / Math.sqrt(fan), gen);
}

/** torch.nn.init.trunc_normal_ with cut-offs at mean ± 2 std, by rejection. (timm's ViT cuts at ±2 absolute, which never binds at std 0.02, so pai's ViT draws a plain normal.) */
export function truncNormal_(t: Tensor, std: number, gen: Generator): Tensor {
  for (let i = 0; i < t.size; i++) {
    let v: number;
    do v = gen.normal(); while (v < -2 || v > 2);
    t.data[i] = v * std;
  }
  return t;
}

/**
 * Conv and Linear initialisation. 'default' is PyTorch's reset_parameters: weight
 * kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the same bound.
 * 'kaiming_normal' is N(0, 2 / fan_in) for the weight and a zero bias.
 */
export function initWeightBias(weight: Tensor, bias: Tensor | null, scheme: InitScheme, gen: Generator): void {
  if (scheme === 'kaiming_normal') {
    kaimingNormal_(weight, gen);
    bias?.data.fill(0);
    return;
  }
  kaimingUniform_(weight, Math.sqrt(5), gen);
  if (bias) {
    const b = 1 / Math.sqrt(fanIn(weight.shape));
    uniform_(bias, -b, b, gen);
  }
}
