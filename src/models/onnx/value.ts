// The values that flow through an imported graph. Activations are pai Tensors, so autograd records
// them. Everything else — shapes and the integer arithmetic on them, constants, masks of Equal — is
// a HostTensor: a small array computed on the host and never recorded. A HostTensor meets a Tensor
// only as a constant operand, converted to the activation's dtype (float32, or float64 in checks).

import type { DType } from '../../kernels/interface.js';
import { noGrad } from '../../autograd/graph.js';
import { Tensor, allocate } from '../../tensor/tensor.js';
import { numel, shapeStr } from '../../tensor/shape.js';

export type HostKind = 'float' | 'int' | 'bool';

export class HostTensor {
  constructor(readonly kind: HostKind, readonly shape: readonly number[], readonly data: Float64Array) {
    if (data.length !== numel(shape)) throw new RangeError(`HostTensor: ${data.length} values do not fill shape ${shapeStr(shape)}`);
  }
  static ints(values: readonly number[], shape: readonly number[] = [values.length]): HostTensor {
    return new HostTensor('int', shape, Float64Array.from(values));
  }
}

export type Value = Tensor | HostTensor;

/** An ONNX file pai cannot import: its message names the file, the node or the field. */
export class OnnxImportError extends Error {
  override name = 'OnnxImportError';
}

/** What a rule may ask about the run: the Module's mode and the activations' dtype. */
export interface RunContext {
  training: boolean;
  dtype: DType;
}

export function isHost(v: Value): v is HostTensor {
  return v instanceof HostTensor;
}

/** A value as a Tensor of the run's dtype; host values become constants (no gradient). */
export function asTensor(v: Value, ctx: RunContext): Tensor {
  if (v instanceof Tensor) return v;
  const d = allocate(ctx.dtype, v.data.length);
  d.set(v.data);
  return new Tensor(d, v.shape);
}

/** A value's numbers on the host (a Tensor's are read without recording). */
export function asHost(v: Value, kind: HostKind = 'float'): HostTensor {
  if (v instanceof HostTensor) return v;
  return new HostTensor(kind, v.shape, Float64Array.from(v.data));
}

/**
 * Runs a pai shape op on host values, through float64 tensors and back: the shape ops move values
 * without computing, so integers up to 2^53 come back exact.
 */
export function viaTensor(kind: HostKind, fn: (...ts: Tensor[]) => Tensor, ...vs: HostTensor[]): HostTensor {
  const out = noGrad(() => fn(...vs.map((v) => new Tensor(Float64Array.from(v.data), v.shape))));
  return new HostTensor(kind, out.shape, Float64Array.from(out.data));
}

/** The kind of a result computed from several host values: float if any is float, else int. */
export function joinKind(vs: readonly HostTensor[]): HostKind {
  return vs.some((v) => v.kind === 'float') ? 'float' : vs.every((v) => v.kind === 'bool') ? 'bool' : 'int';
}
