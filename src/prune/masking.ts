// The one owner of pruning masks (STYLE: masks live in one owner): validation (every name, shape
// and value), application (pruned weights set to exactly 0) and enforcement during training. The
// pruning pipeline, the trainer and export use it. The trainer calls the enforcer at three points: once before training (zero the pruned weights), after every
// backward (zero the pruned gradients, so momentum and Adam moments of a pruned weight stay zero),
// and after every optimiser step (re-zero the pruned weights, so that nothing an optimiser does,
// weight decay included, can revive one). Pruned weights are therefore exactly 0 after every step.

import { isModule, type Module } from '../nn/module.js';
import { checkArgument, is } from '../tensor/options.js';
import { Tensor } from '../tensor/tensor.js';
import { sameShape, shapeStr } from '../tensor/shape.js';
import type { FloatArray } from '../kernels/interface.js';
import { PruneError, type Masks } from './types.js';

/** A mask that does not fit the model (a PruneError, so the CLI reports it as bad input). */
export class MaskError extends PruneError {
  override name = 'MaskError';
}

interface Entry { name: string; param: Tensor; pruned: Int32Array }

/** Keeps pruned weights at exactly zero during training: zeroes their gradients before a step and their values after it. */
export class MaskEnforcer {
  private readonly entries: Entry[] = [];
  private readonly allParams: Tensor[];
  /** Number of pruned values over all masked parameters. */
  readonly prunedCount: number;
  /** Number of values in the masked parameters. */
  readonly maskedCount: number;

  /**
   * Masks map parameter names to 0/1 tensors of the parameter's shape (1 = keep). Every name,
   * shape and value is checked here, so a bad mask fails before training starts.
   */
  constructor(model: Module, masks: ReadonlyMap<string, Tensor>) {
    const params = new Map(model.namedParameters());
    this.allParams = [...params.values()];
    let pruned = 0, total = 0;
    for (const [name, m] of masks) {
      const p = params.get(name);
      if (!p) throw new MaskError(`mask for ${name}, which the model does not have (its parameters: ${[...params.keys()].slice(0, 8).join(', ')}${params.size > 8 ? ', ...' : ''})`);
      if (!sameShape(p.shape, m.shape)) throw new MaskError(`mask for ${name} has shape ${shapeStr(m.shape)}, the parameter has ${shapeStr(p.shape)}`);
      const md = m.data;
      let z = 0;
      for (let i = 0; i < md.length; i++) {
        const v = md[i];
        if (v === 0) z++;
        else if (v !== 1) throw new MaskError(`mask for ${name} holds ${v} at index ${i}; masks hold only 0 (pruned) and 1 (kept)`);
      }
      const idx = new Int32Array(z);
      for (let i = 0, k = 0; i < md.length; i++) if (md[i] === 0) idx[k++] = i;
      this.entries.push({ name, param: p, pruned: idx });
      pruned += z;
      total += md.length;
    }
    this.prunedCount = pruned;
    this.maskedCount = total;
  }

  /** Zeroes every pruned weight (before training and after every optimiser step). */
  applyToWeights(): void {
    for (const { param, pruned } of this.entries) {
      const d = param.data;
      zeroAt(d, pruned);
    }
  }

  /** After an optimiser step: the pruned weights back to exactly zero. */
  afterStep(): void {
    this.applyToWeights();
  }

  /**
   * Zeroes the pruned entries of every gradient (after backward, before the optimiser step). A
   * gradient buffer can be shared by several leaves (y = a + b hands both the same one); such a
   * gradient is copied before it is written, so masking one parameter never touches another's.
   */
  maskGradients(): void {
    let shared: Map<ArrayBufferLike, number> | null = null;
    for (const e of this.entries) {
      const g = e.param.grad;
      if (g === null || e.pruned.length === 0) continue;
      shared ??= this.gradBufferCounts();
      let d = g.data;
      if ((shared.get(d.buffer) ?? 0) > 1) {
        d = d.slice();
        e.param.grad = new Tensor(d, g.shape);
      }
      zeroAt(d, e.pruned);
    }
  }

  private gradBufferCounts(): Map<ArrayBufferLike, number> {
    const m = new Map<ArrayBufferLike, number>();
    for (const param of this.allParams) {
      const g = param.grad;
      if (g) m.set(g.data.buffer, (m.get(g.data.buffer) ?? 0) + 1);
    }
    return m;
  }

  /** Throws a MaskError naming the first parameter and index where a pruned weight is not exactly 0. */
  check(): void {
    for (const { name, param, pruned } of this.entries) {
      const d = param.data;
      for (let k = 0; k < pruned.length; k++) {
        const i = pruned[k];
        if (i === undefined) throw new RangeError('internal: pruned indices shorter than their length');
        const v = d[i];
        if (v !== 0) throw new MaskError(`pruned weight ${name}[${i}] is ${v}, not 0: the mask was not enforced`);
      }
    }
  }

  /** Kept fraction over the masked parameters (1 when nothing is masked). */
  get density(): number {
    return this.maskedCount === 0 ? 1 : 1 - this.prunedCount / this.maskedCount;
  }
}

/** d[i] = 0 for every index i in idx. */
function zeroAt(d: FloatArray, idx: Int32Array): void {
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    if (i === undefined) throw new RangeError('internal: pruned indices shorter than their length');
    d[i] = 0;
  }
}

/** Sets every pruned weight of `model` to exactly 0, after checking every mask against it. */
export function applyMasks(model: Module, masks: Masks): void {
  checkArgument('applyMasks', 'model', isModule, model);
  checkArgument('applyMasks', 'masks', is.tensorMap, masks);
  new MaskEnforcer(model, masks).applyToWeights();
}
