// Normalisation. BatchNormalization follows the Module's mode, not the node's training_mode: eval
// normalises with the running statistics, train with the batch's and updates the running buffers
// in place. ONNX's momentum weighs the old value (running = m running + (1 - m) batch), PyTorch's
// the new one, so pai's momentum is 1 - m.

import * as ops from '../../../autograd/ops/index.js';
import { Tensor } from '../../../tensor/tensor.js';
import type { ImportRule } from '../rule.js';
import { asTensor } from '../value.js';

/** The decimal a float32 attribute was written from (0.9 rather than 0.8999999761581421). */
export function float32Decimal(v: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === Math.fround(v)) return d;
  }
  return v;
}

const batchNorm: ImportRule = {
  domain: '', opType: 'BatchNormalization', since: 9, stateful: true,
  run: (ins, n, ctx) => {
    const x = asTensor(n.need(ins, 0, 'X'), ctx);
    const input = (k: number, what: string): Tensor => asTensor(n.need(ins, k, what), ctx);
    const scale = input(1, 'scale'), bias = input(2, 'B'), mean = input(3, 'input_mean'), variance = input(4, 'input_var');
    const momentum = Number((1 - float32Decimal(n.float('momentum', 0.9))).toPrecision(12));
    const y = ops.batchNorm(x, { weight: scale, bias, runningMean: mean, runningVar: variance, training: ctx.training, momentum, eps: float32Decimal(n.float('epsilon', 1e-5)) });
    // In training mode ONNX also outputs the updated running statistics.
    return [y, mean, variance];
  },
};

const layerNorm: ImportRule = {
  domain: '', opType: 'LayerNormalization', since: 17,
  run: (ins, n, ctx) => {
    const x = asTensor(n.need(ins, 0, 'X'), ctx);
    if (n.node.outputs.slice(1).some((o) => o !== '')) throw n.error('the Mean and InvStdDev outputs are not supported');
    const axis = n.axis(n.int('axis', -1), x.ndim);
    const scale: Tensor = asTensor(n.need(ins, 1, 'Scale'), ctx);
    const bias = ins[2] ? asTensor(ins[2], ctx) : null;
    return [ops.layerNorm(x, x.shape.slice(axis), scale, bias, float32Decimal(n.float('epsilon', 1e-5)))];
  },
};

export const RULES: ImportRule[] = [batchNorm, layerNorm];
