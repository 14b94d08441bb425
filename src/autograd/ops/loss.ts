import { Tensor, allocate } from '../../tensor/tensor.js';
import { shapeStr, ShapeError } from '../../tensor/shape.js';
import { addScalar, mul, mulScalar, neg } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { logSoftmax } from './activation.js';

/** Options of `crossEntropy`: label smoothing and the reduction, as in torch.nn.CrossEntropyLoss. */
export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing: the target puts 1 - ε on the label and ε / C on every class. */
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * PyTorch's F.cross_entropy for logits [N, C] and integer class labels [N] (or a Tensor of class
 * probabilities [N, C]).
 */
export function crossEntropy(logits: Tensor, target: ArrayLike<number> | Tensor, o: CrossEntropyOptions = {}): Tensor {
  if (logits.ndim !== 2) throw new ShapeError(`cross_entropy: logits must be [N, C], got ${shapeStr(logits.shape)}`);
  const [n, c] = logits.shape as [number, number];
  const eps = o.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new RangeError(`cross_entropy: label_smoothing must be in [0, 1], got ${eps}`);
  let q: Tensor;
  if (target instanceof Tensor && target.ndim === 2) {
    if (target.shape[0] !== n || target.shape[1] !== c) throw new ShapeError(`cross_entropy: target ${shapeStr(target.shape)} does not match logits ${shapeStr(logits.shape)}`);
    q = eps > 0 ? addScalar(mulScalar(target, 1 - eps), eps / c) : target;
  } else {
    const labels = target instanceof Tensor ? target.data : target;
    if (labels.length !== n) throw new ShapeError(`cross_entropy: ${labels.length} labels for ${n} rows of logits ${shapeStr(logits.shape)}`);
    const d = allocate(logits.dtype, n * c);
    if (eps > 0) d.fill(eps / c);
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (y === undefined || !Number.isInteger(y) || y < 0 || y >= c) throw new RangeError(`cross_entropy: label ${y} at row ${i} is outside [0, ${c})`);
      const k = i * c + y, q0 = d[k];
      if (q0 === undefined) throw new RangeError('internal: cross_entropy: target row outside its buffer');
      d[k] = q0 + (1 - eps);
    }
    q = new Tensor(d, [n, c]);
  }
  const perRow = neg(sum(mul(q, logSoftmax(logits, 1)), 1));
  const r = o.reduction ?? 'mean';
  return r === 'none' ? perRow : r === 'sum' ? sum(perRow) : mean(perRow);
}
