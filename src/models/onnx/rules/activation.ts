// Activations. The hard ones (Clip, HardSigmoid, HardSwish, LeakyRelu) are composed from pai's
// differentiable ops, so their first and second derivatives come from those ops' rules.

import type { Tensor } from '../../../tensor/tensor.js';
import * as ops from '../../../autograd/ops/index.js';
import type { ImportRule, NodeView } from '../rule.js';
import { asTensor, type RunContext, type Value } from '../value.js';

function act(opType: string, since: number, f: (x: Tensor, n: NodeView, ins: readonly (Value | null)[]) => Tensor): ImportRule {
  return { domain: '', opType, since, run: (ins, n, ctx: RunContext) => [f(asTensor(n.need(ins, 0), ctx), n, ins)] };
}

/** ONNX HardSigmoid: max(0, min(1, alpha x + beta)). */
function hardSigmoid(x: Tensor, alpha: number, beta: number): Tensor {
  return ops.clamp(ops.addScalar(ops.mulScalar(x, alpha), beta), 0, 1);
}

/** Softmax and LogSoftmax from opset 13: one axis (default -1). */
function softmaxLike(opType: string, f: (x: Tensor, axis: number) => Tensor): ImportRule {
  return act(opType, 13, (x, n) => f(x, n.axis(n.int('axis', -1), x.ndim)));
}

export const RULES: ImportRule[] = [
  act('Relu', 13, (x) => ops.relu(x)),
  act('Sigmoid', 13, (x) => ops.sigmoid(x)),
  act('Tanh', 13, (x) => ops.tanh(x)),
  act('Erf', 13, (x) => ops.erf(x)),
  // x for x > 0, alpha x otherwise, as PyTorch's leaky_relu.
  act('LeakyRelu', 6, (x, n) => ops.where(ops.gt(x, 0), x, ops.mulScalar(x, n.float('alpha', 0.01)))),
  // Bounds are inputs from opset 11 (absent = unbounded); ReLU6 exports as Clip(0, 6).
  act('Clip', 13, (x, n, ins) => ops.clamp(x, n.hostScalar(ins, 1, 'min', null), n.hostScalar(ins, 2, 'max', null))),
  act('HardSigmoid', 6, (x, n) => hardSigmoid(x, n.float('alpha', 0.2), n.float('beta', 0.5))),
  act('HardSwish', 14, (x) => ops.mul(x, hardSigmoid(x, 1 / 6, 0.5))),
  softmaxLike('Softmax', ops.softmax),
  softmaxLike('LogSoftmax', ops.logSoftmax),
];
