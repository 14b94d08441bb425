// Optimisers with PyTorch's update rules (torch.optim.SGD and torch.optim.AdamW, single-tensor
// path, one parameter group), so that a run here and a run of the paper's PyTorch code follow the
// same trajectory up to float32 rounding. The update loops (updates.ts) read and write the
// parameters' own buffers and allocate nothing: they run once per step over every weight.
//
// Each element's update is computed in float64 (JavaScript's arithmetic) and stored in the
// parameter's dtype; PyTorch rounds to float32 after every elementary op, so the two agree to
// float32 rounding, not bit for bit. State buffers are held in the parameter's dtype, as PyTorch
// holds them.

import { Tensor, allocate } from '../tensor/tensor.js';
import { sameShape, shapeStr } from '../tensor/shape.js';
import type { FloatArray } from '../kernels/interface.js';
import { zip } from '../tensor/checked.js';
import { adamwUpdate, sgdMomentumUpdate, sgdUpdate } from './updates.js';

/** Parameters with their names, in namedParameters() order. */
export type NamedParams = readonly (readonly [string, Tensor])[];

/** Options of SGD, as torch.optim.SGD. */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** Options of AdamW, as torch.optim.AdamW. */
export interface AdamWOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

/** An optimiser by name with its options, as configs and `trainModel` give it. */
export type OptimizerSpec = ({ name: 'sgd' } & SGDOptions) | ({ name: 'adamw' } & AdamWOptions);

/**
 * An optimiser's state for a checkpoint. `buffers` holds copies, keyed `${parameter}.${buffer}`
 * (momentum_buffer; exp_avg, exp_avg_sq, max_exp_avg_sq), PyTorch's state names. `steps` holds
 * AdamW's per-parameter step counts (PyTorch keeps one per parameter: a parameter that had no
 * gradient for a while has taken fewer steps).
 */
export interface OptimizerState {
  name: 'sgd' | 'adamw';
  lr: number;
  hyper: Record<string, number | boolean | number[]>;
  steps: Record<string, number>;
  buffers: Map<string, Tensor>;
}

/** An optimiser over named parameters, with PyTorch's update rules and a state that checkpoints hold. */
export interface Optimizer {
  readonly name: 'sgd' | 'adamw';
  /** The learning rate of the next step; schedulers set it. */
  lr: number;
  readonly params: NamedParams;
  /** One update of every parameter that has a gradient; parameters with `.grad === null` are skipped. */
  step(): void;
  /** Drops every gradient (PyTorch's zero_grad(set_to_none=True)), so no graph or buffer outlives its step. */
  zeroGrad(): void;
  /** A copy of the optimiser's state (buffers, step counts, lr) for a checkpoint. */
  stateDict(): OptimizerState;
  /** Restores buffers and step counts; refuses state for other parameters, shapes or hyperparameters. */
  loadStateDict(s: OptimizerState): void;
}

/** An optimiser spec or state that pai cannot use; the message names the field. */
export class OptimizerError extends Error {
  override name = 'OptimizerError';
}

function checkLr(lr: number, who: string): void {
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new OptimizerError(`${who}: lr must be a finite number >= 0, got ${lr}`);
}

function checkParams(params: NamedParams, who: string): void {
  const seen = new Set<string>();
  for (const [n, p] of params) {
    if (seen.has(n)) throw new OptimizerError(`${who}: parameter ${n} given twice`);
    seen.add(n);
    if (!(p instanceof Tensor)) throw new OptimizerError(`${who}: parameter ${n} is not a Tensor`);
  }
}

function gradOf(name: string, p: Tensor, who: string): FloatArray | null {
  const g = p.grad;
  if (g === null) return null;
  if (g.size !== p.size || g.dtype !== p.dtype) {
    throw new OptimizerError(`${who}: gradient of ${name} is ${shapeStr(g.shape)} ${g.dtype}, parameter is ${shapeStr(p.shape)} ${p.dtype}`);
  }
  return g.data;
}

/** One parameter and its optimiser state. */
interface Slot {
  readonly name: string;
  readonly param: Tensor;
  /** Per buffer name (Base.bufferNames): null until the parameter's first step. */
  readonly buffers: (FloatArray | null)[];
  /** Steps the parameter has taken (counted by AdamW). */
  steps: number;
}

abstract class Base implements Optimizer {
  abstract readonly name: 'sgd' | 'adamw';
  private _lr: number;
  readonly params: NamedParams;
  protected readonly bufferNames: readonly string[];
  /** The parameters in order, each with its state. */
  protected readonly slots: readonly Slot[];

  constructor(params: NamedParams, lr: number, bufferNames: readonly string[]) {
    checkParams(params, this.constructor.name);
    checkLr(lr, this.constructor.name);
    this.params = params.map(([n, p]) => [n, p] as const);
    this._lr = lr;
    this.bufferNames = bufferNames;
    this.slots = this.params.map(([name, param]) => ({ name, param, buffers: bufferNames.map(() => null), steps: 0 }));
  }

  get lr(): number { return this._lr; }
  set lr(v: number) { checkLr(v, this.constructor.name); this._lr = v; }

  abstract step(): void;
  protected abstract hyper(): Record<string, number | boolean | number[]>;
  /** Whether step counts are part of the state (AdamW yes, SGD no, as in PyTorch). */
  protected abstract readonly countsSteps: boolean;

  zeroGrad(): void {
    for (const [, p] of this.params) p.grad = null;
  }

  /** State buffer b of a parameter, allocated (zeros, the parameter's dtype) at its first use. */
  protected buffer(slot: Slot, b: number): FloatArray {
    let s = slot.buffers[b];
    if (!s) {
      s = allocate(slot.param.dtype, slot.param.size);
      slot.buffers[b] = s;
    }
    return s;
  }

  stateDict(): OptimizerState {
    const buffers = new Map<string, Tensor>();
    const steps: Record<string, number> = {};
    for (const slot of this.slots) {
      for (const [b, s] of zip(this.bufferNames, slot.buffers, 'buffer names and buffers')) {
        if (s) buffers.set(`${slot.name}.${b}`, new Tensor(s.slice(), slot.param.shape));
      }
      if (this.countsSteps && slot.steps > 0) steps[slot.name] = slot.steps;
    }
    return { name: this.name, lr: this._lr, hyper: this.hyper(), steps, buffers };
  }

  loadStateDict(s: OptimizerState): void {
    const who = this.constructor.name;
    if (s.name !== this.name) throw new OptimizerError(`${who}: cannot load the state of a ${s.name} optimiser`);
    const mine = this.hyper();
    for (const k of new Set([...Object.keys(mine), ...Object.keys(s.hyper)])) {
      if (JSON.stringify(mine[k]) !== JSON.stringify(s.hyper[k])) {
        throw new OptimizerError(`${who}: saved state has ${k} = ${JSON.stringify(s.hyper[k])}, this optimiser has ${JSON.stringify(mine[k])}`);
      }
    }
    const index = new Map(this.params.map(([n], i) => [n, i]));
    const known = new Set<string>();
    for (const [n] of this.params) for (const b of this.bufferNames) known.add(`${n}.${b}`);
    for (const key of s.buffers.keys()) if (!known.has(key)) throw new OptimizerError(`${who}: saved state has buffer ${key}, which no parameter of this optimiser owns`);
    for (const n of Object.keys(s.steps)) if (!index.has(n)) throw new OptimizerError(`${who}: saved state has a step count for unknown parameter ${n}`);
    // Checked in full before anything is written, so a refused state leaves this optimiser as it was.
    this.params.forEach(([n, p]) => this.bufferNames.forEach((b) => {
      const t = s.buffers.get(`${n}.${b}`);
      if (t && !sameShape(t.shape, p.shape)) throw new OptimizerError(`${who}: saved ${n}.${b} is ${shapeStr(t.shape)}, parameter is ${shapeStr(p.shape)}`);
    }));
    for (const slot of this.slots) {
      this.bufferNames.forEach((b, j) => {
        const t = s.buffers.get(`${slot.name}.${b}`);
        if (!t) { slot.buffers[j] = null; return; }
        const d = allocate(slot.param.dtype, slot.param.size);
        d.set(t.data);
        slot.buffers[j] = d;
      });
      slot.steps = s.steps[slot.name] ?? 0;
    }
    this.lr = s.lr;
  }
}

/**
 * torch.optim.SGD: d = g + wd·p (coupled weight decay); with momentum, buf = d at the first step and
 * buf = μ·buf + (1 − dampening)·d after; d = d + μ·buf (Nesterov) or d = buf; p = p − lr·d.
 */
export class SGD extends Base {
  readonly name = 'sgd' as const;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  protected readonly countsSteps = false;

  constructor(params: NamedParams, o: SGDOptions) {
    super(params, o.lr, ['momentum_buffer']);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    for (const k of ['momentum', 'dampening', 'weightDecay'] as const) {
      if (!(this[k] >= 0) || !Number.isFinite(this[k])) throw new OptimizerError(`SGD: ${k} must be a finite number >= 0, got ${this[k]}`);
    }
    // PyTorch refuses the same combination: Nesterov needs momentum and no dampening.
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new OptimizerError('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
  }

  protected hyper(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  /** One update of every parameter that has a gradient, with torch.optim.SGD's rule. */
  step(): void {
    const lr = this.lr, mu = this.momentum, damp = 1 - this.dampening, wd = this.weightDecay, nesterov = this.nesterov;
    for (const slot of this.slots) {
      const g = gradOf(slot.name, slot.param, 'SGD');
      if (g === null) continue;
      if (mu === 0) {
        sgdUpdate(slot.param.data, g, lr, wd);
        continue;
      }
      const first = slot.buffers[0] === null;
      sgdMomentumUpdate(slot.param.data, g, this.buffer(slot, 0), first, lr, mu, damp, wd, nesterov);
    }
  }
}

/**
 * torch.optim.AdamW (decoupled weight decay): t = t + 1; p = p·(1 − lr·wd); m = lerp(m, g, 1 − β1);
 * v = β2·v + (1 − β2)·g²; with AMSGrad v̂max = max(v̂max, v) replaces v below;
 * denom = sqrt(v)/sqrt(1 − β2^t) + eps; p = p − (lr/(1 − β1^t))·m/denom. PyTorch's order of
 * operations is kept, so the rounding of bias corrections and eps matches its formula.
 */
export class AdamW extends Base {
  readonly name = 'adamw' as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  protected readonly countsSteps = true;

  constructor(params: NamedParams, o: AdamWOptions = {}) {
    super(params, o.lr ?? 1e-3, o.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq']);
    const [b1, b2] = o.betas ?? [0.9, 0.999];
    this.beta1 = b1; this.beta2 = b2;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 1e-2;
    this.amsgrad = o.amsgrad ?? false;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new OptimizerError(`AdamW: betas must lie in [0, 1), got [${b1}, ${b2}]`);
    if (!(this.eps >= 0) || !Number.isFinite(this.eps)) throw new OptimizerError(`AdamW: eps must be a finite number >= 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0) || !Number.isFinite(this.weightDecay)) throw new OptimizerError(`AdamW: weightDecay must be a finite number >= 0, got ${this.weightDecay}`);
  }

  protected hyper(): Record<string, number | boolean | number[]> {
    return { betas: [this.beta1, this.beta2], eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad };
  }

  /** One update of every parameter that has a gradient, with torch.optim.AdamW's rule. */
  step(): void {
    const lr = this.lr, b1 = this.beta1, b2 = this.beta2, eps = this.eps, ams = this.amsgrad;
    const decay = 1 - lr * this.weightDecay, w1 = 1 - b1, w2 = 1 - b2;
    for (const slot of this.slots) {
      const g = gradOf(slot.name, slot.param, 'AdamW');
      if (g === null) continue;
      const m = this.buffer(slot, 0), v = this.buffer(slot, 1);
      const vmax = ams ? this.buffer(slot, 2) : null;
      const t = ++slot.steps;
      const bc1 = 1 - b1 ** t, bc2sqrt = Math.sqrt(1 - b2 ** t);
      adamwUpdate(slot.param.data, g, m, v, vmax, { decay, w1, b2, w2, stepSize: lr / bc1, bc2sqrt, eps });
    }
  }
}

/** The optimiser of `spec` over `params`; the spec's fields are checked. */
export function createOptimizer(params: NamedParams, spec: OptimizerSpec): Optimizer {
  switch (spec.name) {
    case 'sgd': return new SGD(params, spec);
    case 'adamw': return new AdamW(params, spec);
    default: throw new OptimizerError(`unknown optimiser ${JSON.stringify((spec as { name: unknown }).name)}: use "sgd" or "adamw"`);
  }
}
