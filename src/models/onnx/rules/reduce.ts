// Reductions. Until opset 17 ReduceMean/Max/Min take their axes as an attribute, from opset 18 as
// an input (ReduceSum from 13); absent axes reduce everything unless noop_with_empty_axes.

import type { Tensor } from '../../../tensor/tensor.js';
import * as ops from '../../../autograd/ops/index.js';
import type { ImportRule, NodeView } from '../rule.js';
import { asTensor, type Value } from '../value.js';

type Reduce = (x: Tensor, axes: number[], keepdim: boolean) => Tensor;

function reduction(opType: string, since: number, axesFromInput: boolean, f: Reduce): ImportRule {
  return {
    domain: '', opType, since,
    run: (ins: readonly (Value | null)[], n: NodeView, ctx) => {
      const x = asTensor(n.need(ins, 0, 'data'), ctx);
      const given = axesFromInput ? (ins[1] ? n.hostInts(ins, 1, 'axes') : undefined) : n.ints('axes');
      const keep = n.int('keepdims', 1) !== 0;
      if ((!given || given.length === 0) && n.int('noop_with_empty_axes', 0) !== 0) return [x];
      const axes = given && given.length > 0 ? given.map((a) => n.axis(a, x.ndim)) : x.shape.map((_, i) => i);
      return [f(x, axes, keep)];
    },
  };
}

const FAMILY: [string, Reduce, number][] = [
  ['ReduceMean', (x, a, k) => ops.mean(x, a, k), 18],
  ['ReduceMax', (x, a, k) => ops.max(x, a, k), 18],
  ['ReduceMin', (x, a, k) => ops.min(x, a, k), 18],
  ['ReduceSum', (x, a, k) => ops.sum(x, a, k), 13],
];

export const RULES: ImportRule[] = FAMILY.flatMap(([op, f, inputFrom]) =>
  inputFrom === 13 ? [reduction(op, 13, true, f)] : [reduction(op, 13, false, f), reduction(op, inputFrom, true, f)]);
