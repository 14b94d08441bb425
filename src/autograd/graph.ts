// Define-by-run reverse mode. An op run while grad mode is on and with an input that requires a
// gradient records a Node (tape.ts): its op-table entry, its inputs and what its vector-Jacobian
// product reads. Vector-Jacobian products are written with the differentiable ops themselves, so
// running them with grad mode on (createGraph) records the backward pass as a graph of its own, and
// second derivatives come out exact.

import { Tensor } from '../tensor/tensor.js';
import { fullLike, zerosLike } from '../tensor/create.js';
import { sameShape, shapeStr } from '../tensor/shape.js';
import { at, zip } from '../tensor/checked.js';
import { enableGrad, withGradMode, type Node } from './tape.js';
import { applyPerSampleRule, perSampleActive } from './per-sample.js';
import { giveBuffer, isFresh, poolEnabled, withFreshTracking } from '../tensor/pool.js';
import { add, mul } from './ops/elementwise.js';
import { sumAll } from './ops/broadcast.js';

export { enableGrad, isGradEnabled, noGrad, record, Node } from './tape.js';

/** Options of `grad`. */
export interface GradOptions {
  /** Gradients of the outputs (default: ones, only allowed for one-element outputs). */
  gradOutputs?: readonly (Tensor | null)[] | Tensor;
  /** Record the backward pass so its results can be differentiated again. */
  createGraph?: boolean;
  /** Keep the graph for another backward pass (default: createGraph). */
  retainGraph?: boolean;
  /** Return zeros for inputs that the outputs do not depend on instead of throwing. */
  allowUnused?: boolean;
}

/**
 * Gradients of the sum of `outputs` (weighted by gradOutputs) with respect to `inputs`.
 * Like torch.autograd.grad.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  const outs = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  const wanted = new Set(inputs);
  for (const t of inputs) {
    if (!t.requiresGrad) throw new Error(`grad: an input (shape ${shapeStr(t.shape)}) does not require a gradient`);
  }
  const result = runBackward(outs, opts, wanted);
  return inputs.map((t, i) => {
    const g = result.get(t);
    if (g) return g;
    if (opts.allowUnused) return zerosOf(t);
    throw new Error(`grad: input ${i} (shape ${shapeStr(t.shape)}) was not used to compute the outputs; pass allowUnused to get zeros`);
  });
}

/** Accumulates the gradient of `output` into the `.grad` of every leaf that requires one. */
export function backward(output: Tensor, opts: Omit<GradOptions, 'allowUnused'> & { gradOutput?: Tensor } = {}): void {
  const o: GradOptions = { ...opts };
  if (opts.gradOutput) o.gradOutputs = [opts.gradOutput];
  const result = runBackward([output], o, null);
  withGradMode(Boolean(opts.createGraph), () => {
    for (const [t, g] of result) {
      t.grad = t.grad ? addGrad(t.grad, g) : (opts.createGraph ? g : g.detach());
    }
  });
}

/**
 * The Hessian-vector product of the scalar f() with respect to params, in the directions v (one
 * tensor per parameter): two reverse passes, the first recorded.
 */
export function hvp(f: () => Tensor, params: readonly Tensor[], v: readonly Tensor[], opts: { createGraph?: boolean } = {}): Tensor[] {
  if (v.length !== params.length) throw new Error(`hvp: ${params.length} parameters but ${v.length} directions`);
  const y = enableGrad(f);
  const g = grad(y, params, { createGraph: true, allowUnused: true });
  let dot: Tensor | null = null;
  enableGrad(() => {
    for (const [i, [gi, vi]] of zip(g, v, 'hvp gradients and directions').entries()) {
      if (!sameShape(gi.shape, vi.shape)) {
        throw new Error(`hvp: direction ${i} has shape ${shapeStr(vi.shape)}, parameter has ${shapeStr(at(params, i, 'hvp parameters').shape)}`);
      }
      const term = sumAll(mul(gi, vi));
      dot = dot ? add(dot, term) : term;
    }
  });
  if (!dot || !(dot as Tensor).requiresGrad) return params.map(zerosOf);
  return grad(dot, params, { allowUnused: true, createGraph: opts.createGraph ?? false });
}

function zerosOf(t: Tensor): Tensor {
  return zerosLike(t);
}

function addGrad(a: Tensor, b: Tensor): Tensor {
  return add(a, b);
}

function runBackward(outs: readonly Tensor[], opts: GradOptions, wanted: Set<Tensor> | null): Map<Tensor, Tensor> {
  const createGraph = Boolean(opts.createGraph);
  const retain = opts.retainGraph ?? createGraph;
  const gos = opts.gradOutputs === undefined ? [] : (opts.gradOutputs instanceof Tensor ? [opts.gradOutputs] : opts.gradOutputs);
  const grads = new Map<Tensor, Tensor>();
  outs.forEach((o, i) => {
    if (!o.requiresGrad) throw new Error(`grad: output ${i} (shape ${shapeStr(o.shape)}) does not require a gradient; nothing recorded it`);
    let g = gos[i] ?? null;
    if (g === null) {
      if (o.size !== 1) throw new Error(`grad: output ${i} has shape ${shapeStr(o.shape)}; gradOutputs is required for non-scalar outputs`);
      g = fullLike(o, 1);
    } else if (!sameShape(g.shape, o.shape)) {
      throw new Error(`grad: gradOutput ${i} has shape ${shapeStr(g.shape)}, output has ${shapeStr(o.shape)}`);
    }
    const prev = grads.get(o);
    grads.set(o, prev ? withGradMode(createGraph, () => addGrad(prev, g)) : g);
  });

  const order = topoOrder(outs);
  const leaves = new Map<Tensor, Tensor>();
  // A pass that records nothing gives the buffers of its dead intermediate gradients back for
  // reuse (tensor/pool.ts); a recorded one cannot, as its gradients are saved in the graph it
  // records, nor can one whose gradients a per-sample rule reads.
  const refs = createGraph || perSampleActive() || !poolEnabled() ? null : new GradRefs();
  const pass = (): void => withGradMode(createGraph, () => {
    for (const t of order) {
      const g = grads.get(t);
      if (!g) continue;
      const isWanted = wanted ? wanted.has(t) : t.gradFn === null;
      if (isWanted) {
        leaves.set(t, g);
        refs?.keep(g);
      }
      const node = t.gradFn as Node | null;
      if (!node) continue;
      const call = node.call;
      if (!call) {
        throw new Error(`grad: the graph through ${node.name} was already freed by an earlier backward pass; pass retainGraph: true to the first one`);
      }
      const needs = node.inputs.map((x) => x.requiresGrad);
      // record() attaches a node only for an entry with a vjp.
      if (!node.op.vjp) throw new Error(`internal: ${node.name} was recorded without a vjp`);
      const gin = node.op.vjp(g, call, applyPerSampleRule(node.op, call, g, needs));
      if (!retain) node.call = null;
      node.inputs.forEach((x, i) => {
        const gi = gin[i];
        if (!needs[i] || !gi) return;
        if (!sameShape(gi.shape, x.shape)) {
          throw new Error(`internal: ${node.name} returned a gradient of shape ${shapeStr(gi.shape)} for an input of shape ${shapeStr(x.shape)}`);
        }
        refs?.hold(gi);
        const prev = grads.get(x);
        if (!prev) {
          grads.set(x, gi);
          return;
        }
        const sum = addGrad(prev, gi);
        refs?.hold(sum);
        grads.set(x, sum);
        refs?.drop(prev);
        refs?.drop(gi);
      });
      // Intermediate gradients are no longer needed once propagated.
      if (!(wanted && wanted.has(t))) {
        grads.delete(t);
        refs?.drop(g);
      }
    }
  });
  if (refs) withFreshTracking(pass);
  else pass();
  return leaves;
}

/**
 * The references the gradient map of one backward pass holds to each buffer. A buffer made during
 * the pass (a kernel output, possibly shared by views such as a reshaped gradient) is dead once
 * the map holds it no more and it is not a result: it then goes back to the pool.
 */
class GradRefs {
  private readonly count = new Map<ArrayBufferLike, number>();
  private readonly kept = new Set<ArrayBufferLike>();
  hold(t: Tensor): void {
    const b = t.data.buffer;
    this.count.set(b, (this.count.get(b) ?? 0) + 1);
  }
  /** A result of the pass: never given back. */
  keep(t: Tensor): void {
    this.kept.add(t.data.buffer);
  }
  drop(t: Tensor): void {
    const b = t.data.buffer;
    const n = (this.count.get(b) ?? 0) - 1;
    if (n > 0) { this.count.set(b, n); return; }
    this.count.delete(b);
    if (!this.kept.has(b) && isFresh(b)) giveBuffer(b);
  }
}

/** Tensors reachable from the outputs, each after every tensor that consumes it. */
function topoOrder(outs: readonly Tensor[]): Tensor[] {
  const visited = new Set<Tensor>();
  const post: Tensor[] = [];
  const stack: { t: Tensor; i: number }[] = [];
  for (const o of outs) {
    if (visited.has(o)) continue;
    visited.add(o);
    stack.push({ t: o, i: 0 });
    for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
      const inputs = top.t.gradFn ? top.t.gradFn.inputs : [];
      const x = inputs[top.i];
      if (x !== undefined) {
        top.i++;
        if (x.requiresGrad && !visited.has(x)) {
          visited.add(x);
          stack.push({ t: x, i: 0 });
        }
      } else {
        post.push(top.t);
        stack.pop();
      }
    }
  }
  return post.reverse();
}
