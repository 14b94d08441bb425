// Classification metrics over a stream of batches: loss, top-1, top-5, per-class and macro
// precision / recall / F1, and the confusion matrix. Rates are fractions in [0, 1].
//
// Conventions, fixed so that results are deterministic and match the usual PyTorch / sklearn code:
// - The prediction is the first largest logit (torch.argmax). Top-k counts a sample as correct when
//   its label is among the k largest logits, ties broken by the lower class index: the label is in
//   the top k when fewer than k classes rank ahead of it, where class j ranks ahead of label y if
//   its logit is larger, or equal with j < y. torch.topk leaves the order of ties unspecified; this
//   is the order of a stable descending sort, and it agrees with argmax for k = 1. NaN ranks above
//   every number, as in torch.topk and torch.argmax.
// - Precision of a class never predicted is 0, recall of a class absent from the labels is 0, and
//   F1 is 0 when precision + recall is 0 (sklearn's zero_division=0).
// - Macro averages are unweighted means over the classes that occur in the labels or in the
//   predictions (sklearn's default `labels=None`), not over every class of the model.
// - Loss is the mean cross-entropy over samples (label smoothing 0 unless asked for).

import { z } from 'zod';
import { isModule, type Module } from '../nn/module.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { at } from '../tensor/checked.js';
import { hasRank, shapeN } from '../tensor/shape.js';
import { noGrad } from '../autograd/graph.js';
import { crossEntropy } from '../autograd/ops/loss.js';

/** The scalar metrics: what training history keeps per evaluated epoch. */
export interface MetricSummary {
  /** Samples evaluated. */
  count: number;
  loss: number;
  top1: number;
  top5: number;
  /** Macro averages. */
  precision: number;
  recall: number;
  f1: number;
}

export interface Metrics extends MetricSummary {
  numClasses: number;
  perClass: { precision: number[]; recall: number[]; f1: number[]; support: number[]; predicted: number[] };
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** A batch as the loaders yield it (only x and y are read). */
export interface LabeledBatch { x: Tensor; y: Int32Array | ArrayLike<number> }

/**
 * Where evaluation and training batches come from: a DataLoader (anything with batches(epoch)),
 * a function of the epoch, or a fixed array of batches.
 */
export type BatchSource =
  | {
    /** The batches of one epoch. */
    batches(epoch: number): AsyncIterable<LabeledBatch> | Iterable<LabeledBatch>;
    /** Batches per epoch, when known. */
    readonly length?: number;
  }
  | ((epoch: number) => AsyncIterable<LabeledBatch> | Iterable<LabeledBatch>)
  | readonly LabeledBatch[];

/** The batches of `src` for one epoch. */
export function batchesOf(src: BatchSource, epoch: number): AsyncIterable<LabeledBatch> | Iterable<LabeledBatch> {
  if (Array.isArray(src)) return src as readonly LabeledBatch[];
  if (typeof src === 'function') return (src as (e: number) => AsyncIterable<LabeledBatch> | Iterable<LabeledBatch>)(epoch);
  return (src as { batches(e: number): AsyncIterable<LabeledBatch> | Iterable<LabeledBatch> }).batches(epoch);
}

/** Number of batches per epoch, when the source knows it. */
export function batchCount(src: BatchSource): number | undefined {
  if (Array.isArray(src)) return src.length;
  if (typeof src === 'function') return undefined;
  const n = (src as { length?: unknown }).length;
  return typeof n === 'number' ? n : undefined;
}

/** Whether class j ranks ahead of class y in the tie-broken descending order described above. */
function ahead(vj: number, j: number, vy: number, y: number): boolean {
  if (vy !== vy) return vj !== vj && j < y;
  if (vj !== vj) return true;
  return vj > vy || (vj === vy && j < y);
}

/** How many classes rank ahead of `label` in row `row` of [N, C] logits. */
export function rankOf(logits: ArrayLike<number>, c: number, row: number, label: number): number {
  const base = row * c, vy = logits[base + label];
  if (vy === undefined) throw outsideLogits(row, c, logits.length);
  let r = 0;
  for (let j = 0; j < c; j++) {
    const vj = logits[base + j];
    if (vj === undefined) throw outsideLogits(row, c, logits.length);
    if (j !== label && ahead(vj, j, vy, label)) r++;
  }
  return r;
}

function outsideLogits(row: number, c: number, length: number): RangeError {
  return new RangeError(`metrics: row ${row} of ${c} classes is outside logits of ${length} values`);
}

/** torch.argmax of one row: the first largest value, NaN above all. */
export function argmaxRow(logits: ArrayLike<number>, c: number, row: number): number {
  const base = row * c;
  let best = 0, bv = logits[base];
  if (bv === undefined) throw outsideLogits(row, c, logits.length);
  for (let j = 1; j < c; j++) {
    const v = logits[base + j];
    if (v === undefined) throw outsideLogits(row, c, logits.length);
    if (bv !== bv) break;
    if (v > bv || v !== v) { best = j; bv = v; }
  }
  return best;
}

/** Accumulates metrics over batches of logits; memory is O(C²), independent of the sample count. */
export class MetricAccumulator {
  private readonly confusion: Float64Array;
  private lossSum = 0;
  private n = 0;
  private top1 = 0;
  private top5 = 0;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`metrics: numClasses must be a positive integer, got ${numClasses}`);
    this.confusion = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds a batch: logits [N, C] and labels. `lossSum` is the summed loss of the batch when the
   * caller has it (else no loss is counted for it).
   */
  add(logits: Tensor, labels: ArrayLike<number>, lossSum?: number): void {
    const c = this.numClasses;
    if (!hasRank(logits.shape, 2) || logits.shape[1] !== c) throw new RangeError(`metrics: logits must be [N, ${c}], got [${logits.shape.join(', ')}]`);
    const n = logits.shape[0];
    if (labels.length !== n) throw new RangeError(`metrics: ${labels.length} labels for ${n} rows of logits`);
    const d = logits.data, cm = this.confusion;
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (y === undefined || !Number.isInteger(y) || y < 0 || y >= c) throw new RangeError(`metrics: label ${y} at row ${i} is outside [0, ${c})`);
      const r = rankOf(d, c, i, y);
      if (r < 1) this.top1++;
      if (r < 5) this.top5++;
      const k = y * c + argmaxRow(d, c, i), count = cm[k];
      if (count === undefined) throw new RangeError('internal: metrics: confusion cell outside the matrix');
      cm[k] = count + 1;
    }
    this.n += n;
    if (lossSum !== undefined) this.lossSum += lossSum;
  }

  get count(): number { return this.n; }

  /** The metrics of everything added so far. */
  result(): Metrics {
    const c = this.numClasses, cm = this.confusion;
    // Row t: the samples of true class t, by predicted class.
    const confusion = Array.from({ length: c }, (_, t) => Array.from(cm.subarray(t * c, (t + 1) * c)));
    const support = confusion.map((row) => row.reduce((s, v) => s + v, 0));
    const predicted = Array.from({ length: c }, (_, p) => confusion.reduce((s, row) => s + at(row, p, 'confusion row'), 0));
    const precision: number[] = [], recall: number[] = [], f1: number[] = [];
    let mp = 0, mr = 0, mf = 0, present = 0;
    confusion.forEach((row, k) => {
      const tp = at(row, k, 'confusion row'), pred = at(predicted, k, 'predicted counts'), sup = at(support, k, 'support counts');
      const p = pred > 0 ? tp / pred : 0;
      const r = sup > 0 ? tp / sup : 0;
      const f = p + r > 0 ? 2 * p * r / (p + r) : 0;
      precision.push(p); recall.push(r); f1.push(f);
      if (sup > 0 || pred > 0) { mp += p; mr += r; mf += f; present++; }
    });
    const n = this.n;
    return {
      count: n,
      loss: n > 0 ? this.lossSum / n : 0,
      top1: n > 0 ? this.top1 / n : 0,
      top5: n > 0 ? this.top5 / n : 0,
      precision: present > 0 ? mp / present : 0,
      recall: present > 0 ? mr / present : 0,
      f1: present > 0 ? mf / present : 0,
      numClasses: c,
      perClass: { precision, recall, f1, support, predicted },
      confusion,
    };
  }
}

/** The scalar part of a Metrics record. */
export function summarize(m: MetricSummary): MetricSummary {
  return { count: m.count, loss: m.loss, top1: m.top1, top5: m.top5, precision: m.precision, recall: m.recall, f1: m.f1 };
}

/** Metrics of hand-given logits and labels (one batch). */
export function computeMetrics(logits: Tensor, labels: ArrayLike<number>, o: { labelSmoothing?: number } = {}): Metrics {
  const acc = new MetricAccumulator(shapeN('metrics', logits.shape, 2, 'logits')[1]);
  const loss = noGrad(() => crossEntropy(logits, labels, { labelSmoothing: o.labelSmoothing ?? 0, reduction: 'sum' }).item());
  acc.add(logits, labels, loss);
  return acc.result();
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Default: the width of the first batch's logits. */
  numClasses?: number;
  /** Label smoothing of the reported loss (default 0: the plain cross-entropy). */
  labelSmoothing?: number;
  /** Passed to a loader's batches(epoch); only matters for loaders that augment or shuffle. */
  epoch?: number;
  /** Called after each batch with (batches done, total when known). */
  onBatch?: (done: number, total: number | undefined) => void;
}

/** A schema accepting any {@link BatchSource}: a loader, a function of the epoch, or an array of batches. */
export const isBatchSource = z.custom<BatchSource>((v) => Array.isArray(v) || typeof v === 'function'
  || (v !== null && typeof v === 'object' && typeof (v as { batches?: unknown }).batches === 'function'),
{ message: 'expected batches: a DataLoader, a function of the epoch, or an array of {x, y}' });

const evaluateOptionsSchema = z.strictObject({
  numClasses: is.positiveInt.optional(),
  labelSmoothing: is.fraction.optional(),
  epoch: is.nonNegativeInt.optional(),
  onBatch: is.func.optional(),
});

/**
 * Runs the model in eval mode without recording gradients over every batch of `src` and returns
 * its metrics. The model's train/eval mode is restored afterwards.
 */
export async function evaluate(model: Module, src: BatchSource, o: EvaluateOptions = {}): Promise<Metrics> {
  checkArgument('evaluate', 'model', isModule, model);
  checkArgument('evaluate', 'batches', isBatchSource, src);
  checkOptions('evaluate', evaluateOptionsSchema, o);
  const wasTraining = model.training;
  model.eval();
  let acc: MetricAccumulator | null = o.numClasses === undefined ? null : new MetricAccumulator(o.numClasses);
  const total = batchCount(src);
  let done = 0;
  try {
    for await (const b of batchesOf(src, o.epoch ?? 0)) {
      const { logits, loss } = noGrad(() => {
        const out = model.forward(b.x);
        return { logits: out, loss: crossEntropy(out, b.y, { labelSmoothing: o.labelSmoothing ?? 0, reduction: 'sum' }).item() };
      });
      acc ??= new MetricAccumulator(shapeN('evaluate', logits.shape, 2, 'logits')[1]);
      acc.add(logits, b.y, loss);
      o.onBatch?.(++done, total);
    }
  } finally {
    model.train(wasTraining);
  }
  if (!acc) throw new RangeError('evaluate: the batch source yielded no batches and numClasses was not given');
  return acc.result();
}
