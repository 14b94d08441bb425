// The tape: grad mode and the recording of op calls. An op run while grad mode is on and with an
// input that requires a gradient records a Node: its op-table entry, its inputs and what its vjp
// needs (the call). The backward pass (graph.ts) reads the vjp from the entry.

import type { GradFn, Tensor } from '../tensor/tensor.js';
import type { KernelOp, OpCall, OpDef, OpInputs } from './op.js';

export class Node implements GradFn {
  readonly op: OpDef;
  readonly inputs: readonly Tensor[];
  /** What the vjp reads; null once a backward pass that does not retain the graph has used it. */
  call: OpCall | null;
  constructor(op: OpDef, inputs: readonly Tensor[], call: OpCall) {
    this.op = op;
    this.inputs = inputs;
    this.call = call;
  }
  get name(): string {
    return this.op.name;
  }
}

let gradEnabled = true;

/** Whether ops record the graph (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording (PyTorch's torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with recording on, also inside `noGrad` (PyTorch's torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function withGradMode<T>(mode: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = mode;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad/enableGrad take synchronous functions');
    return r;
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Attaches a node of `op` to `out` when grad mode is on and some input requires a gradient.
 * `attrs` is what the op's vjp reads besides the inputs and the output.
 */
export function record<A, I extends OpInputs>(op: OpDef<A, I>, out: Tensor, inputs: NoInfer<I>, attrs: A): Tensor {
  if (!gradEnabled || op.vjp === undefined) return out;
  let any = false;
  for (const t of inputs) if (t.requiresGrad) { any = true; break; }
  if (!any) return out;
  out.requiresGrad = true;
  out.gradFn = new Node(op, inputs, { inputs, out, attrs: attrs as Record<string, unknown> });
  return out;
}

/** Runs the op's kernel on the inputs (typed as the entry states them) and records the call. */
export function run<A, I extends OpInputs>(op: KernelOp<A, I>, inputs: NoInfer<I>, attrs: A): Tensor {
  return record(op, op.kernel(inputs, attrs), inputs, attrs);
}
