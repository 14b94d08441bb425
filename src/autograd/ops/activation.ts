import { Tensor } from '../../tensor/tensor.js';
import { normAxis } from '../../tensor/shape.js';
import { noGrad } from '../graph.js';
import { traceOp } from '../trace.js';
import { add, addScalar, erf, exp, log, mul, mulScalar, powScalar, sub, tanh, div } from './elementwise.js';
import { max, sum } from './reduce.js';

// The max subtracted for stability is a constant (softmax is shift-invariant), so it is taken
// outside autograd; the result and all its derivatives are unchanged.
function stableShift(x: Tensor, axis: number): Tensor {
  return noGrad(() => max(x, axis, true));
}

/** Softmax along `axis` (the last by default). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('softmax', axis, x.ndim);
  const e = exp(sub(x, stableShift(x, a)));
  return traceOp('softmax', [x], { axis: a }, div(e, sum(e, a, true)));
}

/** Log-softmax along `axis` (the last by default), computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('log_softmax', axis, x.ndim);
  const z = sub(x, stableShift(x, a));
  return traceOp('logSoftmax', [x], { axis: a }, sub(z, log(sum(exp(z), a, true))));
}

/** GELU: x Φ(x) exactly (erf form), or PyTorch's tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate === 'tanh') {
    const inner = mulScalar(add(x, mulScalar(powScalar(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return traceOp('gelu', [x], { approximate }, mul(mulScalar(x, 0.5), addScalar(tanh(inner), 1)));
  }
  return traceOp('gelu', [x], { approximate }, mul(mulScalar(x, 0.5), addScalar(erf(mulScalar(x, Math.SQRT1_2)), 1)));
}
