// What every criterion sees: the model (scored in eval mode), its parameters in named_parameters
// order, the mask data in file order, and seeded streams for anything random.

import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/create.js';
import type { Generator } from '../tensor/random.js';
import { shapeMin, shapeStr } from '../tensor/shape.js';
import { zip } from '../tensor/checked.js';
import type { Module } from '../nn/module.js';
import { crossEntropy, mulScalar, sliceAxes } from '../autograd/ops/index.js';
import { PruneError, type Scores, type Semantics } from './types.js';
import { addScaledInto } from './loops.js';

/** Mask data: images [N, C, H, W] and integer labels, used in order. */
export interface MaskData { x: Tensor; y: Int32Array }

/** What every criterion sees: the model, its parameters in order, the mask data, the seeded streams and the scoring settings. */
export interface ScoreContext {
  model: Module;
  names: string[];
  params: Tensor[];
  data: MaskData | null;
  /** Mask batch size (1 reproduces the paper's per-sample loop). */
  batchSize: number;
  semantics: Semantics;
  /**
   * The prunable parameters (names). Criteria that couple parameters (GraSP's Hg) take their
   * quantities over this set only, as the published methods do; the rest score every parameter.
   */
  prunable: ReadonlySet<string>;
  /** Named streams: 'probes' for Hutchinson, 'random' for random scores. */
  gen: Generator;
  /** Input shape [C, H, W] for data-free criteria. */
  inputShape: readonly number[];
  /** Called after each mask batch (or iteration) with done and total counts. */
  progress?: (done: number, total: number) => void;
  /**
   * Samples per internal forward/backward pass where a criterion can compute its per-mask-batch
   * quantities for many mask batches at once (per-sample gradients as a backward-pass extension).
   * It changes the speed and the float rounding, never the estimator. 1 forces the per-batch loops.
   */
  computeBatch?: number;
  /** Where one-time notes go (a batched path refusing and falling back); default stderr. */
  note?: (message: string) => void;
  /** Quantities shared with other scorings (a QuantityMemo, memo.ts); none: every quantity is computed. */
  memo?: QuantitySource;
}

/** Where a quantity may already be computed: QuantityMemo (memo.ts) is the one there is. */
export interface QuantitySource {
  /** The value of `compute()` for this context under `key`, computed only when the source lacks it. */
  value(ctx: ScoreContext, key: string, compute: () => Tensor[]): Tensor[];
}

export const DEFAULT_COMPUTE_BATCH = 32;

const noted = new Set<string>();

/** Writes `message` to stderr once per process (per distinct text). */
export function sayOnce(message: string): void {
  if (noted.has(message)) return;
  noted.add(message);
  process.stderr.write(`pai: ${message}\n`);
}

/** Passes `message` to ctx.note, or says it once per process on stderr. */
export function noteOnce(ctx: ScoreContext, message: string): void {
  if (ctx.note) ctx.note(message);
  else sayOnce(message);
}

export function makeContext(model: Module, o: Omit<ScoreContext, 'model' | 'names' | 'params'>): ScoreContext {
  const np = model.namedParameters();
  if (o.data) {
    const n = sampleCount(o.data);
    if (o.data.y.length !== n) throw new PruneError(`mask data has ${n} images but ${o.data.y.length} labels`);
    if (n === 0) throw new PruneError('mask data is empty');
  }
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new PruneError(`mask batch size must be a positive integer, got ${o.batchSize}`);
  if (o.computeBatch !== undefined && (!Number.isInteger(o.computeBatch) || o.computeBatch < 1)) throw new PruneError(`compute batch must be a positive integer, got ${o.computeBatch}`);
  return { model, names: np.map(([n]) => n), params: np.map(([, t]) => t), ...o };
}

/** The same context over a subset of the parameters (in their named_parameters order). */
export function restrictTo(ctx: ScoreContext, names: ReadonlySet<string>): ScoreContext {
  const keep = zip(ctx.names, ctx.params, 'parameter names and tensors').filter(([n]) => names.has(n));
  return { ...ctx, names: keep.map(([n]) => n), params: keep.map(([, p]) => p) };
}

/** The number of images of the mask data (its first axis). */
export function sampleCount(data: MaskData): number {
  return shapeMin('mask data', data.x.shape, 1, 'images')[0];
}

export function requireData(ctx: ScoreContext, criterion: string): MaskData {
  if (!ctx.data) throw new PruneError(`criterion ${criterion} needs mask data (images and labels)`);
  return ctx.data;
}

/** Mask batches in file order; the last one may be smaller. */
export function* maskBatches(data: MaskData, batchSize: number): IterableIterator<{ x: Tensor; y: Int32Array; index: number; count: number }> {
  const n = sampleCount(data);
  const count = Math.ceil(n / batchSize);
  for (let b = 0; b < count; b++) {
    const s = b * batchSize, e = Math.min(n, s + batchSize);
    const x = count === 1 ? data.x : sliceAxes(data.x, data.x.shape.map((d, i) => (i === 0 ? [s, e] : null)));
    yield { x, y: data.y.subarray(s, e), index: b, count };
  }
}

/** Mean cross-entropy of the logits divided by the temperature T, as the paper's criteria use it. */
export function temperedLoss(model: Module, x: Tensor, y: Int32Array, T: number): Tensor {
  const out = model.forward(x);
  if (out.ndim !== 2) throw new PruneError(`model output must be [N, classes], got ${shapeStr(out.shape)}`);
  return crossEntropy(T === 1 ? out : mulScalar(out, 1 / T), y);
}

export function zeroScores(ctx: ScoreContext): Tensor[] {
  return ctx.params.map((p) => zerosLike(p));
}

export function toScores(ctx: ScoreContext, values: Tensor[]): Scores {
  return new Map(zip(ctx.names, values, 'parameter names and their scores'));
}

/** acc += v (in place, outside autograd). */
export function accumulate(acc: Tensor, v: Tensor, scale = 1): void {
  addScaledInto(acc.data, v.data, scale);
}
