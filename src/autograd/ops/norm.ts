// Normalisation layers, composed from differentiable ops so that their second derivatives are
// exact without hand-written double-backward formulas.

import { Tensor } from '../../tensor/tensor.js';
import { shapeStr, ShapeError } from '../../tensor/shape.js';
import { noGrad } from '../graph.js';

import { add, addScalar, mul, mulScalar, rsqrt, square, sub } from './elementwise.js';
import { mean } from './reduce.js';
import { reshape } from './shape.js';

export interface BatchNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Train mode normalises with batch statistics and updates the running ones. */
  training: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * PyTorch's F.batch_norm over axis 1 of [N, C, *]. In training the running statistics are updated
 * in place (outside autograd) with the unbiased batch variance:
 * running = (1 - momentum) running + momentum batch.
 */
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  if (x.ndim < 2) throw new ShapeError(`batch_norm: input must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const c = x.shape[1]!;
  const eps = o.eps ?? 1e-5, momentum = o.momentum ?? 0.1;
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  for (const [name, t] of [['weight', o.weight], ['bias', o.bias], ['running_mean', o.runningMean], ['running_var', o.runningVar]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new ShapeError(`batch_norm: ${name} ${shapeStr(t.shape)} does not match ${c} channels of input ${shapeStr(x.shape)}`);
  }
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const count = x.size / c;
  let y: Tensor;
  if (o.training) {
    if (count <= 1) throw new ShapeError(`batch_norm: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`);
    const mu = mean(x, axes, true);
    const d = sub(x, mu);
    const v = mean(square(d), axes, true);
    y = mul(d, rsqrt(addScalar(v, eps)));
    if (o.runningMean && o.runningVar) {
      const rm = o.runningMean, rv = o.runningVar;
      noGrad(() => {
        const unbiased = count / (count - 1);
        for (let i = 0; i < c; i++) {
          rm.data[i] = (1 - momentum) * rm.data[i]! + momentum * mu.data[i]!;
          rv.data[i] = (1 - momentum) * rv.data[i]! + momentum * v.data[i]! * unbiased;
        }
      });
    }
  } else {
    if (!o.runningMean || !o.runningVar) throw new Error('batch_norm: eval mode needs running_mean and running_var');
    // Fold the statistics into one scale and shift: two passes over x instead of four.
    let scale = rsqrt(addScalar(o.runningVar, eps));
    if (o.weight) scale = mul(scale, o.weight);
    let shift = mul(o.runningMean, scale);
    shift = o.bias ? sub(o.bias, shift) : mulScalar(shift, -1);
    return add(mul(x, reshape(scale, bshape)), reshape(shift, bshape));
  }
  if (o.weight) y = mul(y, reshape(o.weight, bshape));
  if (o.bias) y = add(y, reshape(o.bias, bshape));
  return y;
}

/** PyTorch's F.layer_norm over the trailing `normalizedShape` axes (biased variance). */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError(`layer_norm: input ${shapeStr(x.shape)} does not end in normalized shape ${shapeStr(normalizedShape)}`);
  }
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const d = sub(x, mean(x, axes, true));
  let y = mul(d, rsqrt(addScalar(mean(square(d), axes, true), eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}


