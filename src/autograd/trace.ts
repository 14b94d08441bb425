// A recording hook for exporters. While `withTrace` runs, every public op reports what it computed
// (its op-table entry, tensor inputs, the attributes that decide its result, and its output).
// Composite ops report after their inner ops have, so the event that last produced a tensor is the
// outermost one: a consumer keeps the outer events and drops the inner ones as unreachable. Outside
// a trace the cost is one null check per op.

import type { Tensor } from '../tensor/tensor.js';
import type { OpDef } from './op.js';

export interface TraceEvent {
  op: OpDef;
  /** Tensor operands in the op's own order; null where an optional operand (a bias) is absent. */
  inputs: (Tensor | null)[];
  attrs: Record<string, unknown>;
  output: Tensor;
}

let active: TraceEvent[] | null = null;

/** Reports an op to the active trace, if any, and returns its output unchanged. */
export function traceOp<A>(op: OpDef<A>, inputs: readonly (Tensor | null)[], attrs: A, output: Tensor): Tensor {
  // An op that returned one of its inputs (a reshape to the same shape, a zero shift) computed
  // nothing; reporting it would make a tensor its own producer.
  if (active !== null && !inputs.includes(output)) active.push({ op, inputs: [...inputs], attrs: attrs as Record<string, unknown>, output });
  return output;
}

export function isTracing(): boolean {
  return active !== null;
}

/** Runs fn (synchronously) and returns its result with the ops it ran, in order. Not reentrant. */
export function withTrace<T>(fn: () => T): { result: T; events: TraceEvent[] } {
  if (active !== null) throw new Error('withTrace: a trace is already running');
  const events: TraceEvent[] = [];
  active = events;
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('withTrace takes a synchronous function');
    return { result, events };
  } finally {
    active = null;
  }
}
