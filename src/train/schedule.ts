// Learning-rate schedules stepped once per epoch, as PyTorch's are: constructing a scheduler sets
// the optimiser's lr to that of epoch 0, and `step()` after each epoch moves it to the next. Every
// schedule here is a closed form lr(e) of the 0-based epoch index, so the state for a resume is the
// epoch counter alone, and a resumed run sets exactly the lr an uninterrupted one would.

import { defined } from '../tensor/checked.js';

/** A learning-rate schedule by name with its options (each with an optional linear warm-up). */
export type ScheduleSpec =
  | { name: 'constant'; warmupEpochs?: number; warmupStartFactor?: number }
  /** PyTorch's default gamma is 0.1; the paper uses milestones [80, 120] with gamma 0.2. */
  | { name: 'multistep'; milestones: readonly number[]; gamma?: number; warmupEpochs?: number; warmupStartFactor?: number }
  /** tMax defaults to the training epochs after warm-up; etaMin to 0. */
  | { name: 'cosine'; tMax?: number; etaMin?: number; warmupEpochs?: number; warmupStartFactor?: number };

/** A schedule's state for a checkpoint. */
export interface SchedulerState {
  /** PyTorch's last_epoch: the index of the epoch whose lr is set. */
  lastEpoch: number;
  baseLr: number;
}

/** A schedule spec pai cannot use; the message names the field. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Anything with a settable learning rate (an Optimizer). */
export interface HasLr { lr: number }

/** A per-epoch learning-rate schedule that sets the optimiser's lr, as torch.optim.lr_scheduler. */
export abstract class LRScheduler {
  readonly baseLr: number;
  private _lastEpoch = 0;

  constructor(readonly optimizer: HasLr, baseLr?: number) {
    this.baseLr = baseLr ?? optimizer.lr;
    if (!(this.baseLr >= 0) || !Number.isFinite(this.baseLr)) throw new ScheduleError(`scheduler: base lr must be a finite number >= 0, got ${this.baseLr}`);
  }

  /** The lr of 0-based epoch e. */
  abstract lrAt(epoch: number): number;

  get lastEpoch(): number { return this._lastEpoch; }
  get lr(): number { return this.lrAt(this._lastEpoch); }

  /** Call after each epoch (PyTorch's scheduler.step()). */
  step(): void {
    this._lastEpoch++;
    this.optimizer.lr = this.lr;
  }

  /** The schedule's state for a checkpoint. */
  stateDict(): SchedulerState {
    return { lastEpoch: this._lastEpoch, baseLr: this.baseLr };
  }

  /** Restores a state written by stateDict. */
  loadStateDict(s: SchedulerState): void {
    if (!Number.isInteger(s.lastEpoch) || s.lastEpoch < 0) throw new ScheduleError(`scheduler: saved lastEpoch must be a non-negative integer, got ${s.lastEpoch}`);
    if (s.baseLr !== this.baseLr) throw new ScheduleError(`scheduler: saved base lr ${s.baseLr} differs from this scheduler's ${this.baseLr}`);
    this._lastEpoch = s.lastEpoch;
    this.optimizer.lr = this.lr;
  }

  /** Subclasses call this last in their constructor: PyTorch sets epoch 0's lr at construction. */
  protected start(): void {
    this.optimizer.lr = this.lrAt(0);
  }
}

function checkEpoch(e: number): void {
  if (!Number.isInteger(e) || e < 0) throw new ScheduleError(`lr schedule: epoch must be a non-negative integer, got ${e}`);
}

/** The base learning rate throughout (after the warm-up, if any). */
export class ConstantSchedule extends LRScheduler {
  constructor(optimizer: HasLr, baseLr?: number) {
    super(optimizer, baseLr);
    this.start();
  }
  lrAt(e: number): number { checkEpoch(e); return this.baseLr; }
}

/** torch.optim.lr_scheduler.MultiStepLR: lr(e) = base · gamma^(number of milestones ≤ e). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: readonly number[];
  constructor(optimizer: HasLr, milestones: readonly number[], readonly gamma = 0.1, baseLr?: number) {
    super(optimizer, baseLr);
    for (const m of milestones) if (!Number.isInteger(m) || m < 0) throw new ScheduleError(`MultiStepLR: milestones must be non-negative integers, got ${JSON.stringify(milestones)}`);
    if (!(gamma >= 0) || !Number.isFinite(gamma)) throw new ScheduleError(`MultiStepLR: gamma must be a finite number >= 0, got ${gamma}`);
    // PyTorch counts a repeated milestone twice (it keeps a Counter); so does this.
    this.milestones = Object.freeze([...milestones].sort((a, b) => a - b));
    this.start();
  }
  lrAt(e: number): number {
    checkEpoch(e);
    let k = 0;
    for (const m of this.milestones) if (m <= e) k++;
    return this.baseLr * this.gamma ** k;
  }
}

/**
 * torch.optim.lr_scheduler.CosineAnnealingLR in its closed form:
 * lr(e) = etaMin + (base − etaMin)·(1 + cos(π·e/tMax))/2. PyTorch's step() uses a recursive form
 * that equals this up to float rounding; past tMax both continue along the cosine.
 */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: HasLr, readonly tMax: number, readonly etaMin = 0, baseLr?: number) {
    super(optimizer, baseLr);
    if (!Number.isInteger(tMax) || tMax < 1) throw new ScheduleError(`CosineAnnealingLR: tMax must be a positive integer, got ${tMax}`);
    if (!(etaMin >= 0) || !Number.isFinite(etaMin)) throw new ScheduleError(`CosineAnnealingLR: etaMin must be a finite number >= 0, got ${etaMin}`);
    this.start();
  }
  lrAt(e: number): number {
    checkEpoch(e);
    return this.etaMin + (this.baseLr - this.etaMin) * (1 + Math.cos(Math.PI * e / this.tMax)) / 2;
  }
}

/**
 * Linear warm-up before another schedule, as PyTorch's SequentialLR([LinearLR(start_factor,
 * total_iters=W), inner], milestones=[W]): lr(e) = base·(s + (1 − s)·e/W) for e < W, then
 * inner.lrAt(e − W): the inner schedule counts its epochs from the end of warm-up. The start factor
 * defaults to LinearLR's 1/3.
 */
export class LinearWarmup extends LRScheduler {
  constructor(optimizer: HasLr, readonly inner: LRScheduler, readonly warmupEpochs: number, readonly startFactor = 1 / 3) {
    super(optimizer, inner.baseLr);
    if (!Number.isInteger(warmupEpochs) || warmupEpochs < 1) throw new ScheduleError(`warm-up: warmupEpochs must be a positive integer, got ${warmupEpochs}`);
    if (!(startFactor > 0 && startFactor <= 1)) throw new ScheduleError(`warm-up: warmupStartFactor must lie in (0, 1], got ${startFactor}`);
    this.start();
  }
  lrAt(e: number): number {
    checkEpoch(e);
    const w = this.warmupEpochs;
    if (e < w) return this.baseLr * (this.startFactor + (1 - this.startFactor) * e / w);
    return this.inner.lrAt(e - w);
  }
}

/**
 * The spec with every default decided for a run of `epochs` epochs (cosine's tMax): what a
 * checkpoint records, so a resume can refuse a different schedule.
 */
export function resolveSchedule(spec: ScheduleSpec, epochs: number): ScheduleSpec {
  const w = spec.warmupEpochs ?? 0;
  const warm = w > 0 ? { warmupEpochs: w, warmupStartFactor: spec.warmupStartFactor ?? 1 / 3 } : {};
  switch (spec.name) {
    case 'constant': return { name: 'constant', ...warm };
    case 'multistep': return { name: 'multistep', milestones: [...spec.milestones], gamma: spec.gamma ?? 0.1, ...warm };
    case 'cosine': return { name: 'cosine', tMax: spec.tMax ?? Math.max(1, epochs - w), etaMin: spec.etaMin ?? 0, ...warm };
    default: throw new ScheduleError(`unknown lr schedule ${JSON.stringify((spec as { name: unknown }).name)}: use "constant", "multistep" or "cosine"`);
  }
}

/** A scheduler for `spec`, taking the optimiser's current lr as the base lr and setting epoch 0's. */
export function createScheduler(optimizer: HasLr, spec: ScheduleSpec, epochs: number): LRScheduler {
  const r = resolveSchedule(spec, epochs);
  const base = optimizer.lr;
  let s: LRScheduler;
  switch (r.name) {
    case 'constant': s = new ConstantSchedule(optimizer, base); break;
    case 'multistep': s = new MultiStepLR(optimizer, r.milestones, r.gamma, base); break;
    case 'cosine': s = new CosineAnnealingLR(optimizer, defined(r.tMax, 'resolved cosine tMax'), r.etaMin, base); break;
  }
  if (r.warmupEpochs) s = new LinearWarmup(optimizer, s, r.warmupEpochs, r.warmupStartFactor);
  return s;
}
