// Element-wise arithmetic with ONNX's (NumPy) broadcasting, which pai's ops share. On host values
// (shape arithmetic) the same ops run on float64 copies; integer division truncates as ONNX says.

import { Tensor } from '../../../tensor/tensor.js';
import * as ops from '../../../autograd/ops/index.js';
import { isNonEmpty } from '../../../tensor/checked.js';
import type { ImportRule } from '../rule.js';
import { HostTensor, asTensor, isHost, joinKind, viaTensor, type RunContext, type Value } from '../value.js';
import type { TensorLike } from '../../../autograd/ops/index.js';

type Binary = (a: Tensor, b: Tensor) => Tensor;
type Arith = (a: TensorLike, b: TensorLike) => Tensor;

/** A scalar host operand stays a number, which pai lifts to the activation's dtype. */
function operand(v: Value, ctx: RunContext): TensorLike {
  const s = isHost(v) && v.data.length === 1 && v.shape.length === 0 ? v.data[0] : undefined;
  return s !== undefined ? s : asTensor(v, ctx);
}

function binary(opType: string, since: number, f: Arith, host?: (r: HostTensor) => HostTensor): ImportRule {
  return {
    domain: '', opType, since,
    run: (ins, n, ctx) => {
      const a = n.need(ins, 0), b = n.need(ins, 1);
      if (isHost(a) && isHost(b)) {
        const r = viaTensor(joinKind([a, b]), f, a, b);
        return [host ? host(r) : r];
      }
      return [f(operand(a, ctx), operand(b, ctx))];
    },
  };
}

const truncInts = (r: HostTensor): HostTensor => (r.kind === 'int' ? new HostTensor('int', r.shape, r.data.map(Math.trunc)) : r);

function unary(opType: string, since: number, f: (x: Tensor) => Tensor, hostFn?: (x: number) => number): ImportRule {
  return {
    domain: '', opType, since,
    run: (ins, n, ctx) => {
      const x = n.need(ins, 0);
      if (isHost(x) && hostFn) return [new HostTensor(x.kind === 'bool' ? 'int' : x.kind, x.shape, x.data.map(hostFn))];
      return [f(asTensor(x, ctx))];
    },
  };
}

/** Pow with a constant scalar exponent uses powScalar, whose derivative needs no log of the base. */
const pow: ImportRule = {
  domain: '', opType: 'Pow', since: 13,
  run: (ins, n, ctx) => {
    const a = n.need(ins, 0), b = n.need(ins, 1);
    if (isHost(a) && isHost(b)) return [viaTensor(joinKind([a, b]), (x, y) => ops.pow(x, y), a, b)];
    const p = isHost(b) && b.data.length === 1 ? b.data[0] : undefined;
    if (p !== undefined) return [ops.powScalar(asTensor(a, ctx), p)];
    return [ops.pow(asTensor(a, ctx), asTensor(b, ctx))];
  },
};

/** Variadic Max / Min. */
function extremum(opType: string, f: Binary): ImportRule {
  return {
    domain: '', opType, since: 13,
    run: (ins, n, ctx) => {
      const vs = ins.filter((v): v is Value => v !== null);
      if (!isNonEmpty(vs)) throw n.error('no inputs');
      if (vs.every(isHost)) return [vs.slice(1).reduce((acc: HostTensor, v) => viaTensor(joinKind([acc, v as HostTensor]), f, acc, v as HostTensor), vs[0] as HostTensor)];
      return [vs.slice(1).reduce((acc: Tensor, v) => f(acc, asTensor(v, ctx)), asTensor(vs[0], ctx))];
    },
  };
}

const equal: ImportRule = {
  domain: '', opType: 'Equal', since: 13,
  run: (ins, n, ctx) => {
    const a = n.need(ins, 0), b = n.need(ins, 1);
    if (isHost(a) && isHost(b)) return [viaTensor('bool', (x, y) => ops.eq(x, y), a, b)];
    return [ops.eq(asTensor(a, ctx), asTensor(b, ctx))];
  },
};

const where: ImportRule = {
  domain: '', opType: 'Where', since: 9,
  run: (ins, n, ctx) => {
    const c = n.need(ins, 0), a = n.need(ins, 1), b = n.need(ins, 2);
    if (isHost(c) && isHost(a) && isHost(b)) return [viaTensor(joinKind([a, b]), (x, y, z) => ops.where(x, y, z), c, a, b)];
    return [ops.where(asTensor(c, ctx), asTensor(a, ctx), asTensor(b, ctx))];
  },
};

export const RULES: ImportRule[] = [
  binary('Add', 13, ops.add),
  binary('Sub', 13, ops.sub),
  binary('Mul', 13, ops.mul),
  binary('Div', 13, ops.div, truncInts),
  pow,
  extremum('Max', ops.maximum),
  extremum('Min', ops.minimum),
  equal,
  where,
  unary('Sqrt', 13, ops.sqrt, Math.sqrt),
  unary('Neg', 13, ops.neg, (x) => -x),
  unary('Abs', 13, ops.abs, Math.abs),
  unary('Exp', 13, ops.exp, Math.exp),
  unary('Log', 13, ops.log, Math.log),
  unary('Reciprocal', 13, ops.reciprocal, (x) => 1 / x),
];
