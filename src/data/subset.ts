// The per-class subset that pruning criteria score on, and the stratified train/validation split.
// Both draw from named streams of the generator they are given (not from the generator itself), so
// that taking a subset never shifts the data order, initialisation or any other stream of the run.

import { z } from 'zod';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { at, swap } from '../tensor/checked.js';
import { DataError, SubsetDataset, isDataset, type Dataset } from './dataset.js';
import { DataLoader } from './loader.js';
import type { TransformSpec } from './transforms.js';

/** Options of {@link maskSubset}. */
export interface MaskSubsetOptions {
  /** Images per class (default 10, as in the paper). */
  perClass?: number;
  /** The experiment generator; the draw uses its stream 'mask-subset'. */
  gen: Generator;
}

const maskSubsetSchema = z.strictObject({ perClass: is.positiveInt.optional(), gen: is.generator });

/** Dataset indices of each class, ascending, for labels 0..numClasses-1. */
function byClass(labels: Int32Array, numClasses: number, what: string): number[][] {
  const groups: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((l, i) => {
    if (l < 0 || l >= numClasses) throw new DataError(`${what}: label ${l} at index ${i} is outside 0..${numClasses - 1}`);
    at(groups, l, 'class groups').push(i);
  });
  return groups;
}

/** The first k of a uniformly random permutation of `items` (partial Fisher-Yates, in draw order); shuffles `items`. */
function drawWithoutReplacement(items: number[], k: number, gen: Generator): number[] {
  for (let t = 0; t < k; t++) {
    const j = t + gen.int(items.length - t);
    swap(items, t, j, 'items');
  }
  return items.slice(0, k);
}

/**
 * k = perClass images of every class, drawn without replacement from stream 'mask-subset'.
 * The result lists class 0's images first, then class 1's, ...; within a class, in the order drawn
 * (classes are drawn one after another in ascending order from one stream). A class with fewer than
 * k images is an error, because the criteria assume a balanced subset.
 */
export function maskSubset(dataset: Dataset, options: MaskSubsetOptions): Int32Array {
  checkArgument('maskSubset', 'dataset', isDataset, dataset);
  checkOptions('maskSubset', maskSubsetSchema, options);
  const k = options.perClass ?? 10;
  const groups = byClass(dataset.labels(), dataset.numClasses, dataset.name);
  const gen = options.gen.stream('mask-subset');
  const out = new Int32Array(k * groups.length);
  groups.forEach((members, c) => {
    if (members.length < k) {
      throw new DataError(`${dataset.name}: class ${c} has ${members.length} images, fewer than the ${k} per class the mask subset needs`);
    }
    out.set(drawWithoutReplacement(members, k, gen), c * k);
  });
  return out;
}

/**
 * A seeded split stratified by class: each class contributes round(valFraction * its count) images
 * to validation (Math.round, halves up), chosen uniformly from stream 'train-val-split'. Both halves
 * are returned in ascending index order, so iterating them follows the dataset's own order.
 */
export function stratifiedSplit(labels: Int32Array, valFraction: number, gen: Generator): { train: Int32Array; val: Int32Array } {
  if (!(valFraction >= 0 && valFraction <= 1)) throw new RangeError(`stratifiedSplit: valFraction must be in [0, 1], got ${valFraction}`);
  let max = -1;
  labels.forEach((l, i) => {
    if (l < 0) throw new DataError(`stratifiedSplit: label ${l} at index ${i} is negative`);
    if (l > max) max = l;
  });
  const groups = byClass(labels, max + 1, 'stratifiedSplit');
  const stream = gen.stream('train-val-split');
  const isVal = new Uint8Array(labels.length);
  let nVal = 0;
  for (const members of groups) {
    const m = Math.round(valFraction * members.length);
    for (const i of drawWithoutReplacement(members, m, stream)) isVal[i] = 1;
    nVal += m;
  }
  const train = new Int32Array(labels.length - nVal), val = new Int32Array(nVal);
  let a = 0, b = 0;
  for (let i = 0; i < labels.length; i++) {
    if (isVal[i]) val[b++] = i; else train[a++] = i;
  }
  return { train, val };
}

/** Options of {@link maskSubsetBatch}. */
export interface MaskSubsetBatchOptions extends MaskSubsetOptions {
  /** How images become tensors; use the evaluation transform of the dataset (default: ToTensor only). */
  transform?: TransformSpec;
}

/** The mask subset as one batch: images [N, C, H, W], labels, and the dataset indices drawn. */
export interface MaskSubsetBatch {
  x: Tensor;
  y: Int32Array;
  indices: Int32Array;
}

/**
 * The mask subset of {@link maskSubset}, prepared as one batch of images and labels: the `data`
 * that the pruning criteria score on (`pruneAtInit(model, { data: { x, y }, ... })`).
 */
export function maskSubsetBatch(dataset: Dataset, options: MaskSubsetBatchOptions): MaskSubsetBatch {
  checkArgument('maskSubsetBatch', 'dataset', isDataset, dataset);
  checkOptions('maskSubsetBatch', maskSubsetSchema.extend({ transform: z.object({ steps: z.array(z.unknown()) }).optional() }), options);
  const indices = maskSubset(dataset, { gen: options.gen, ...(options.perClass === undefined ? {} : { perClass: options.perClass }) });
  const loader = new DataLoader(new SubsetDataset(dataset, indices, `${dataset.name} mask subset`), {
    batchSize: indices.length, ...(options.transform ? { transform: options.transform } : {}),
  });
  const b = loader.batchesSync(0).next();
  if (b.done) throw new DataError(`${dataset.name}: the mask subset is empty`);
  return { x: b.value.x, y: b.value.y, indices };
}
