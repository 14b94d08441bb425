// The training loop for a (pruned) network: per-epoch shuffled batches, PyTorch's optimisers and lr
// schedules, masks enforced by MaskEnforcer alone, evaluation every N epochs, checkpoints, resume,
// a NaN/Inf guard and progress reports.
//
// Model selection uses the validation split only. The paper's released code picks its reported
// checkpoint by test accuracy; pai does not: the test set is evaluated alongside (so the test
// accuracy of the selected epoch is known) but never decides anything. Without a validation split
// there is no selection and "best" is the last epoch.
//
// Resume: the last checkpoint is written after every epoch; a run restarted with the same options
// continues after the last complete epoch and ends with the same weights and history as a run that
// was never interrupted (bit for bit on the reference backend; the native one's threaded
// reductions need not be deterministic). This holds because every input of an epoch is restored or
// recomputed exactly: weights, buffers and optimiser state from the checkpoint, the lr from the
// schedule's closed form, and the batches from the loader, whose order and augmentation are pure
// functions of (seed, epoch, batch). A run killed mid-epoch repeats that epoch from its start.

import { join } from 'node:path';
import { z } from 'zod';
import { isModule, type Module } from '../nn/module.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { defined } from '../tensor/checked.js';
import { shapeMin, shapeN } from '../tensor/shape.js';
import { backward } from '../autograd/graph.js';
import { crossEntropy } from '../autograd/ops/loss.js';
import { createOptimizer, type Optimizer, type OptimizerSpec } from './optim.js';
import { createScheduler, resolveSchedule, type ScheduleSpec, type SchedulerState } from './schedule.js';
import { MaskEnforcer } from '../prune/masking.js';
import { batchCount, batchesOf, evaluate, isBatchSource, rankOf, summarize, type BatchSource, type MetricSummary, type Metrics } from './metrics.js';
import { CheckpointError, latestCheckpoint, loadCheckpoint, saveCheckpoint, type SaveCheckpointOptions } from './checkpoint.js';
import { minSparsityOf, SparseTraining, type SparseExecutionOption } from './sparse-exec.js';

/** What picks the best epoch: a validation metric, or no selection ('last'). */
export type BestBy = 'val_top1' | 'val_top5' | 'val_loss' | 'val_f1' | 'last';

/** What one epoch of training did: lr, training loss and accuracy, evaluations, time. */
export interface EpochRecord {
  /** 1-based: epoch 1 is the first. */
  epoch: number;
  /** The lr used throughout this epoch. */
  lr: number;
  /** Mean training objective over the epoch's samples (with label smoothing when it is on). */
  train_loss: number;
  /** Top-1 accuracy of the training forward passes (train mode, as they ran). */
  train_top1: number;
  /** Present on evaluated epochs when a validation source is given. */
  val?: MetricSummary;
  /** Present on evaluated epochs when a test source is given. */
  test?: MetricSummary;
  /** Wall time of the epoch, its evaluations included. */
  seconds: number;
}

/** The epoch model selection chose, by which metric. */
export interface BestRecord {
  epoch: number;
  by: BestBy;
  /** The selecting metric's value (null when by = 'last'). */
  value: number | null;
  metrics: EpochRecord;
}

/** Progress within training, for progress bars. */
export interface TrainProgress {
  phase: 'train' | 'val' | 'test';
  /** 1-based epoch. */
  epoch: number;
  epochs: number;
  /** Batches done in this phase of this epoch. */
  batch: number;
  /** Batches in this phase, when the source knows. */
  batches?: number;
  /** Optimiser steps taken since the start of training (resumed runs included). */
  step: number;
  /** Mean training loss of this epoch so far. */
  loss: number;
  lr: number;
  /** Training throughput of this epoch so far. */
  imagesPerSec: number;
  /** Estimated seconds until training ends (train and evaluation), when the batch counts are known. */
  etaSeconds?: number;
}

/** Options of `trainModel`. */
export interface TrainOptions {
  /** Training batches: a DataLoader with shuffle on (its batches(epoch) orders each epoch). */
  train: BatchSource;
  /** Validation split: the only thing model selection looks at. */
  val?: BatchSource;
  /** Test set: evaluated and reported, never used for selection. */
  test?: BatchSource;
  epochs: number;
  optimizer: OptimizerSpec;
  /** Default: constant lr. */
  schedule?: ScheduleSpec;
  labelSmoothing?: number;
  masks?: ReadonlyMap<string, Tensor> | null;
  /** Evaluate every N epochs (and always after the last one). Default 1. */
  evalEvery?: number;
  /** Where `last/` and `best/` checkpoints go; none are written without it. */
  checkpointDir?: string;
  /** Continue from the last complete checkpoint in checkpointDir (default true). */
  resume?: boolean;
  /** Default 'val_top1'; with no validation source there is no selection (as 'last'). */
  bestBy?: BestBy;
  /** Recorded in checkpoints; the loaders own the actual random streams. */
  seed?: number;
  /** After each epoch, once its checkpoint is saved. */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** After every training step and evaluation batch. */
  progress?: (p: TrainProgress) => void;
  /** Stops training between steps with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Run the pruned Conv2d / Linear layers whose mask prunes at least `minSparsity` (true: 0.9)
   * with sparse kernels (see ./sparse-exec.ts). Training takes the same steps as masked dense
   * training up to float rounding; checkpoints and the returned model are in the dense form.
   * Without masks it does nothing.
   */
  sparseExecution?: SparseExecutionOption;
}

/** What `trainModel` returns. */
export interface TrainResult {
  history: EpochRecord[];
  best: BestRecord;
  last: EpochRecord;
  /** Full metrics (per class, confusion matrix) of the final evaluation. */
  lastMetrics: { val?: Metrics; test?: Metrics };
  /** Sum of the epochs' wall times, over all resumed sessions. */
  trainSeconds: number;
  /** Optimiser steps taken in total. */
  steps: number;
  /** Epochs already done in the checkpoint this run resumed from; null for a fresh run. */
  resumedFrom: number | null;
}

/** Training stopped: a non-finite loss or gradient. */
export class TrainingError extends Error {
  override name = 'TrainingError';
  constructor(
    message: string,
    /** 1-based epoch. */
    readonly epoch: number,
    /** 1-based global step (the step that failed). */
    readonly step: number,
    /** 0-based batch index within the epoch (as LoaderError counts). */
    readonly batch: number,
    /** First parameter whose gradient is non-finite, in namedParameters() order. */
    readonly parameter: string | null,
  ) {
    super(message);
  }
}

/** What the `last` checkpoint's trainer.json holds. */
export interface TrainerState {
  format: 'pai-trainer/1';
  epochsDone: number;
  epochs: number;
  step: number;
  scheduler: SchedulerState;
  settings: { optimizer: OptimizerSpec; schedule: ScheduleSpec; labelSmoothing: number; bestBy: BestBy; evalEvery: number };
  history: EpochRecord[];
  best: BestRecord | null;
  lastMetrics: { val?: Metrics; test?: Metrics };
  rng: { seed: number | null; note: string };
}

/** What the `best` checkpoint's trainer.json holds. */
export interface BestState {
  format: 'pai-best/1';
  best: BestRecord;
  metrics: { val?: Metrics; test?: Metrics };
}

const RNG_NOTE = 'batch order and augmentation are pure functions of (seed, epoch, batch), so a resume recomputes them; no generator state is saved';

/** 'last/' and 'best/' under a checkpoint directory. */
export function checkpointPaths(dir: string): { last: string; best: string } {
  return { last: join(dir, 'last'), best: join(dir, 'best') };
}

/** Finite check without allocation: v - v is NaN for NaN and ±Infinity only. */
function firstNonFinite(d: ArrayLike<number>): number {
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v === undefined) throw new RangeError('internal: a gradient holds fewer values than its length');
    if (v - v !== 0) return i;
  }
  return -1;
}

function selects(by: BestBy, r: EpochRecord): number | null {
  if (by === 'last' || !r.val) return null;
  switch (by) {
    case 'val_top1': return r.val.top1;
    case 'val_top5': return r.val.top5;
    case 'val_f1': return r.val.f1;
    case 'val_loss': return r.val.loss;
  }
}

function better(by: BestBy, v: number, than: number): boolean {
  return by === 'val_loss' ? v < than : v > than;
}

function sameMasks(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): string | null {
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k), y = b.get(k);
    if (!x || !y) return `${k} is masked in only one of them`;
    if (x.size !== y.size) return `${k} has a different shape`;
    for (let i = 0; i < x.size; i++) if ((x.data[i] === 0) !== (y.data[i] === 0)) return `${k} differs at index ${i}`;
  }
  return null;
}

// The optimiser and schedule specs are checked field by field by createOptimizer and resolveSchedule.
const trainOptionsSchema = z.strictObject({
  train: isBatchSource,
  val: isBatchSource.optional(),
  test: isBatchSource.optional(),
  epochs: is.positiveInt,
  optimizer: z.looseObject({ name: z.enum(['sgd', 'adamw']) }),
  schedule: z.looseObject({ name: z.enum(['constant', 'multistep', 'cosine']) }).optional(),
  labelSmoothing: is.fraction.optional(),
  masks: is.tensorMap.nullable().optional(),
  evalEvery: is.positiveInt.optional(),
  checkpointDir: z.string().min(1).optional(),
  resume: z.boolean().optional(),
  bestBy: z.enum(['val_top1', 'val_top5', 'val_loss', 'val_f1', 'last']).optional(),
  seed: z.number().int().optional(),
  onEpoch: is.func.optional(),
  progress: is.func.optional(),
  signal: is.signal.optional(),
  sparseExecution: z.union([z.boolean(), z.looseObject({})]).optional(),
});

/**
 * Trains `model` in place. It ends holding the last epoch's weights; the best epoch's weights are
 * in `<checkpointDir>/best` when a checkpoint directory is given.
 */
/** What a run carries from epoch to epoch, and what a resume restores. */
interface Progress {
  history: EpochRecord[];
  best: BestRecord | null;
  lastMetrics: TrainerState['lastMetrics'];
  /** Optimiser steps taken so far. */
  step: number;
  /** Epochs already done (the first epoch to run, 0-based). */
  start: number;
  resumedFrom: number | null;
  masks: ReadonlyMap<string, Tensor> | null;
}

/**
 * The latest `last` checkpoint under the run's directory, loaded into the model, the optimiser and
 * the scheduler after checking that it was trained with the same settings and masks; or a fresh start.
 */
function resume(model: Module, opts: TrainOptions, optimizer: Optimizer, scheduler: ReturnType<typeof createScheduler>,
  settings: TrainerState['settings'], paths: { last: string } | null, masks: ReadonlyMap<string, Tensor> | null): Progress {
  const fresh: Progress = { history: [], best: null, lastMetrics: {}, step: 0, start: 0, resumedFrom: null, masks };
  const found = paths && (opts.resume ?? true) ? latestCheckpoint(paths.last) : null;
  if (!found) return fresh;
  const c = loadCheckpoint<TrainerState>(found);
  const t = c.trainer;
  if (t.format !== 'pai-trainer/1') throw new CheckpointError(`${found}/trainer.json: format ${JSON.stringify(t.format)}, expected pai-trainer/1`);
  for (const k of ['schedule', 'labelSmoothing', 'bestBy'] as const) {
    if (JSON.stringify(t.settings[k]) !== JSON.stringify(settings[k])) {
      throw new CheckpointError(`cannot resume from ${found}: it was trained with ${k} = ${JSON.stringify(t.settings[k])}, this run asks for ${JSON.stringify(settings[k])} (use another checkpoint directory, or resume: false)`);
    }
  }
  if (masks && c.masks) {
    const diff = sameMasks(masks, c.masks);
    if (diff) throw new CheckpointError(`cannot resume from ${found}: its masks differ from the ones given (${diff})`);
  } else if (masks && !c.masks) {
    throw new CheckpointError(`cannot resume from ${found}: it was trained without masks, this run has masks`);
  }
  model.loadStateDict(c.modelState, { source: join(found, 'model.safetensors') });
  if (!c.optimizer) throw new CheckpointError(`${found}: no optimizer state; it cannot be resumed`);
  optimizer.loadStateDict(c.optimizer);
  scheduler.loadStateDict(t.scheduler);
  return {
    history: t.history, best: t.best, lastMetrics: t.lastMetrics ?? {}, step: t.step, start: t.epochsDone, resumedFrom: t.epochsDone,
    masks: c.masks && c.masks.size > 0 ? c.masks : null,
  };
}

/** How masks are kept: the enforcer over the dense masked layers, and sparse execution where asked. */
interface Masking {
  enforcer: MaskEnforcer | null;
  sparse: SparseTraining | null;
  /** The optimiser that steps (the sparse one over sparse layers). */
  active: Optimizer;
  params: [string, Tensor][];
}

/**
 * Applies the masks and sets up their enforcement. With sparse execution the model holds sparse
 * layers from here on and the returned optimiser steps them; the dense form comes back for every
 * checkpoint and for good when training ends (the caller's `finally`).
 */
function setUpMasking(model: Module, masks: ReadonlyMap<string, Tensor> | null, opts: TrainOptions, optimizer: Optimizer): Masking {
  let enforcer = masks ? new MaskEnforcer(model, masks) : null;
  enforcer?.applyToWeights();
  if (!masks || !opts.sparseExecution) return { enforcer, sparse: null, active: optimizer, params: model.namedParameters() };
  const sparse = new SparseTraining(model, masks, minSparsityOf(opts.sparseExecution), optimizer, opts.optimizer);
  // The sparse layers have no pruned entries left to enforce; the other masked layers still do.
  const rest = new Map([...masks].filter(([k]) => !sparse.sparseParameters.includes(k)));
  enforcer = rest.size > 0 ? new MaskEnforcer(model, rest) : null;
  return { enforcer, sparse, active: sparse.optimizer, params: model.namedParameters() };
}

/** The first parameter whose gradient holds a NaN or Inf, and where, or null. */
function nonFiniteGradient(params: readonly [string, Tensor][]): { name: string; index: number } | null {
  for (const [name, p] of params) {
    if (p.grad === null) continue;
    const i = firstNonFinite(p.grad.data);
    if (i >= 0) return { name, index: i };
  }
  return null;
}

/**
 * One optimiser step on a batch: forward, loss, backward, the non-finite guard, masked update. Its
 * graph, logits and loss are locals, so they are unreachable as soon as it returns: nothing of a
 * step outlives it (progress callbacks and the next batch's preparation included).
 */
function trainStep(model: Module, m: Masking, labelSmoothing: number, x: Tensor, y: ArrayLike<number>,
  at: { epoch: number; step: number; batch: number; batches: number | undefined }): { loss: number; correct: number; n: number } {
  const n = shapeMin('trainModel', x.shape, 1, 'batch')[0];
  const logits = model.forward(x);
  const loss = crossEntropy(logits, y, { labelSmoothing });
  backward(loss);
  const lv = loss.item();
  const bad = nonFiniteGradient(m.params);
  if (!Number.isFinite(lv) || bad !== null) {
    m.active.zeroGrad();
    const where = `at epoch ${at.epoch}, step ${at.step} (batch ${at.batch + 1}${at.batches ? `/${at.batches}` : ''})`;
    // A finite loss got here through a non-finite gradient.
    const msg = Number.isFinite(lv) && bad !== null
      ? `non-finite gradient in ${bad.name} (index ${bad.index}) ${where}; training stopped before the update (check the lr, the inputs and that layer's weights)`
      : `loss is ${lv} ${where}${bad !== null ? `; first non-finite gradient: ${bad.name} (index ${bad.index})` : ''}; training stopped before the update (check the lr and the inputs)`;
    throw new TrainingError(msg, at.epoch, at.step, at.batch, bad?.name ?? null);
  }
  m.enforcer?.maskGradients();
  m.active.step();
  m.enforcer?.afterStep();
  m.active.zeroGrad();
  const c = shapeN('trainModel', logits.shape, 2, 'logits')[1], d = logits.data;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const label = y[i];
    if (label === undefined) throw new RangeError(`trainModel: ${y.length} labels for a batch of ${n}`);
    if (rankOf(d, c, i, label) === 0) correct++;
  }
  return { loss: lv, correct, n };
}

/** Batch counts of the sources (undefined where a source does not know its length). */
interface Counts { train: number | undefined; val: number | undefined; test: number | undefined }

/** Running estimates for the ETA: seconds per training batch and per evaluation. */
interface Pace { secPerTrainBatch: number; evalSeconds: number }

/** Evaluations still due from epoch index e on (the last epoch always evaluates). */
function remainingEvals(opts: TrainOptions, e: number, epochs: number, evalEvery: number): number {
  if (!opts.val && !opts.test) return 0;
  let k = 0;
  for (let x = e; x < epochs; x++) if ((x + 1) % evalEvery === 0 || x === epochs - 1) k++;
  return k;
}

/** One pass over the training source; returns the epoch's record without evaluation. */
async function trainEpoch(model: Module, m: Masking, opts: TrainOptions, run: Progress, e: number, lr: number,
  counts: Counts, pace: Pace, evalEvery: number): Promise<EpochRecord> {
  const epochs = opts.epochs, epochNo = e + 1;
  const t0 = performance.now();
  model.train();
  let lossSum = 0, seen = 0, correct = 0, b = 0;
  for await (const batch of batchesOf(opts.train, e)) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('training aborted');
    run.step++;
    const r = trainStep(model, m, opts.labelSmoothing ?? 0, batch.x, batch.y, { epoch: epochNo, step: run.step, batch: b, batches: counts.train });
    lossSum += r.loss * r.n;
    seen += r.n;
    correct += r.correct;
    b++;
    if (opts.progress) {
      const elapsed = (performance.now() - t0) / 1000;
      pace.secPerTrainBatch = elapsed / b;
      const p: TrainProgress = { phase: 'train', epoch: epochNo, epochs, batch: b, step: run.step, loss: lossSum / seen, lr, imagesPerSec: elapsed > 0 ? seen / elapsed : 0 };
      if (counts.train !== undefined) {
        p.batches = counts.train;
        p.etaSeconds = pace.secPerTrainBatch * ((counts.train - b) + counts.train * (epochs - epochNo)) + pace.evalSeconds * remainingEvals(opts, e, epochs, evalEvery);
      }
      opts.progress(p);
    }
  }
  if (seen === 0) throw new RangeError(`trainModel: the training source yielded no batches in epoch ${epochNo}`);
  m.enforcer?.check();
  return { epoch: epochNo, lr, train_loss: lossSum / seen, train_top1: correct / seen, seconds: (performance.now() - t0) / 1000 };
}

/** Validation and test metrics of the epoch into `record` and `run.lastMetrics`. */
async function evaluateEpoch(model: Module, opts: TrainOptions, run: Progress, e: number, record: EpochRecord, counts: Counts, pace: Pace): Promise<void> {
  const te = performance.now();
  run.lastMetrics = {};
  const epochNo = e + 1;
  const progress = opts.progress;
  const on = async (phase: 'val' | 'test', src: BatchSource, total: number | undefined): Promise<Metrics> =>
    evaluate(model, src, {
      epoch: e,
      ...(progress ? {
        onBatch: (done: number) => progress({ phase, epoch: epochNo, epochs: opts.epochs, batch: done, ...(total === undefined ? {} : { batches: total }), step: run.step, loss: record.train_loss, lr: record.lr, imagesPerSec: 0 }),
      } : {}),
    });
  if (opts.val) { run.lastMetrics.val = await on('val', opts.val, counts.val); record.val = summarize(run.lastMetrics.val); }
  if (opts.test) { run.lastMetrics.test = await on('test', opts.test, counts.test); record.test = summarize(run.lastMetrics.test); }
  pace.evalSeconds = (performance.now() - te) / 1000;
}

/** Whether this epoch is the new best under `bestBy` (or the last one when selecting the last). */
function newBest(bestBy: BestBy, run: Progress, record: EpochRecord, last: boolean): BestRecord | null {
  const v = selects(bestBy, record);
  if (v !== null && (run.best === null || run.best.value === null || better(bestBy, v, run.best.value))) return { epoch: record.epoch, by: bestBy, value: v, metrics: record };
  if (bestBy === 'last' && last) return { epoch: record.epoch, by: bestBy, value: null, metrics: record };
  return null;
}

/**
 * Trains `model` (SGD or AdamW, a learning-rate schedule, masks kept exactly), evaluating every
 * `evalEvery` epochs, choosing the best epoch on the validation set, writing and resuming checkpoints.
 */
export async function trainModel(model: Module, opts: TrainOptions): Promise<TrainResult> {
  checkArgument('trainModel', 'model', isModule, model);
  checkOptions('trainModel', trainOptionsSchema, opts);
  const epochs = opts.epochs;
  const evalEvery = opts.evalEvery ?? 1;
  const labelSmoothing = opts.labelSmoothing ?? 0;
  const bestBy: BestBy = opts.val ? (opts.bestBy ?? 'val_top1') : 'last';
  const schedule = resolveSchedule(opts.schedule ?? { name: 'constant' }, epochs);
  const settings: TrainerState['settings'] = { optimizer: opts.optimizer, schedule, labelSmoothing, bestBy, evalEvery };
  const paths = opts.checkpointDir ? checkpointPaths(opts.checkpointDir) : null;

  const optimizer: Optimizer = createOptimizer(model.namedParameters(), opts.optimizer);
  const scheduler = createScheduler(optimizer, schedule, epochs);
  const run = resume(model, opts, optimizer, scheduler, settings, paths, opts.masks && opts.masks.size > 0 ? opts.masks : null);
  const m = setUpMasking(model, run.masks, opts, optimizer);
  const save = <T>(dir: string, c: SaveCheckpointOptions<T>): void => {
    m.sparse?.toDense();
    try {
      saveCheckpoint<T>(dir, c);
    } finally {
      m.sparse?.toSparse();
    }
  };
  try {
    const counts: Counts = { train: batchCount(opts.train), val: opts.val ? batchCount(opts.val) : undefined, test: opts.test ? batchCount(opts.test) : undefined };
    const pace: Pace = { secPerTrainBatch: 0, evalSeconds: 0 };
    for (let e = run.start; e < epochs; e++) {
      const lr = optimizer.lr;
      m.active.lr = lr;
      const t0 = performance.now();
      const record = await trainEpoch(model, m, opts, run, e, lr, counts, pace, evalEvery);
      if ((e + 1) % evalEvery === 0 || e === epochs - 1) await evaluateEpoch(model, opts, run, e, record, counts, pace);
      record.seconds = (performance.now() - t0) / 1000;
      run.history.push(record);

      const best = newBest(bestBy, run, record, e === epochs - 1);
      if (best) {
        run.best = best;
        if (paths) save<BestState>(paths.best, { model, masks: run.masks, trainer: { format: 'pai-best/1', best, metrics: run.lastMetrics } });
      }
      scheduler.step();
      if (paths) {
        const state: TrainerState = {
          format: 'pai-trainer/1', epochsDone: e + 1, epochs, step: run.step, scheduler: scheduler.stateDict(), settings,
          history: run.history, best: run.best, lastMetrics: run.lastMetrics, rng: { seed: opts.seed ?? null, note: RNG_NOTE },
        };
        save<TrainerState>(paths.last, { model, masks: run.masks, optimizer, trainer: state });
      }
      await opts.onEpoch?.(record);
    }
  } finally {
    m.sparse?.toDense();
  }

  const last = defined(run.history.at(-1), 'the record of the last epoch');
  // A validation source that was never evaluated leaves nothing to select on.
  const best = run.best ?? { epoch: last.epoch, by: bestBy, value: null, metrics: last };
  return {
    history: run.history, best, last, lastMetrics: run.lastMetrics, steps: run.step, resumedFrom: run.resumedFrom,
    trainSeconds: run.history.reduce((acc, r) => acc + r.seconds, 0),
  };
}
