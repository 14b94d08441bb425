import { Tensor } from '../../tensor/tensor.js';
import { normAxis } from '../../tensor/shape.js';
import { noGrad } from '../tape.js';
import { traceOp } from '../trace.js';
import { onnxInput, opFamily, type OnnxCall } from '../op.js';
import { add, addScalar, erf, exp, log, mul, mulScalar, powScalar, sub, tanh, div } from './elementwise.js';
import { max, sum } from './reduce.js';

// Composites of element-wise ops and reductions: their parts record, so the entries only trace.
const axisOnnx = (opType: string) => (c: OnnxCall<{ axis: number }>): void => {
  c.emit.node(opType, [onnxInput(c, 0)], [{ name: 'axis', int: c.attrs.axis }], c.out);
};

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const ACTIVATION_OPS = opFamily({
  softmax: { onnx: axisOnnx('Softmax') },
  logSoftmax: { onnx: axisOnnx('LogSoftmax') },
  gelu: {
    onnx: (c: OnnxCall<{ approximate: 'none' | 'tanh' }>) => {
      const x = onnxInput(c, 0);
      const approx = c.attrs.approximate;
      const e = c.emit;
      if (c.opset >= 20) { e.node('Gelu', [x], [{ name: 'approximate', string: approx }], c.out); return; }
      // Written as pai computes it, operation for operation, so the results agree to rounding.
      const half = e.node('Mul', [x, e.scalar(0.5)]);
      let inner: string;
      if (approx === 'tanh') {
        const cube = e.node('Mul', [e.scalar(0.044715), e.node('Pow', [x, e.scalar(3)])]);
        inner = e.node('Tanh', [e.node('Mul', [e.node('Add', [x, cube]), e.scalar(Math.sqrt(2 / Math.PI))])]);
      } else {
        inner = e.node('Erf', [e.node('Mul', [x, e.scalar(Math.SQRT1_2)])]);
      }
      e.node('Mul', [half, e.node('Add', [inner, e.scalar(1)])], [], c.out);
    },
  },
});

// The max subtracted for stability is a constant (softmax is shift-invariant), so it is taken
// outside autograd; the result and all its derivatives are unchanged.
function stableShift(x: Tensor, axis: number): Tensor {
  return noGrad(() => max(x, axis, true));
}

/** Softmax along `axis` (the last by default). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('softmax', axis, x.ndim);
  const e = exp(sub(x, stableShift(x, a)));
  return traceOp(ACTIVATION_OPS.softmax, [x], { axis: a }, div(e, sum(e, a, true)));
}

/** Log-softmax along `axis` (the last by default), computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('log_softmax', axis, x.ndim);
  const z = sub(x, stableShift(x, a));
  return traceOp(ACTIVATION_OPS.logSoftmax, [x], { axis: a }, sub(z, log(sum(exp(z), a, true))));
}

/** GELU: x Φ(x) exactly (erf form), or PyTorch's tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate === 'tanh') {
    const inner = mulScalar(add(x, mulScalar(powScalar(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return traceOp(ACTIVATION_OPS.gelu, [x], { approximate }, mul(mulScalar(x, 0.5), addScalar(tanh(inner), 1)));
  }
  return traceOp(ACTIVATION_OPS.gelu, [x], { approximate }, mul(mulScalar(x, 0.5), addScalar(erf(mulScalar(x, Math.SQRT1_2)), 1)));
}
