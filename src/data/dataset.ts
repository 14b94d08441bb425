// The dataset interface every reader implements. Images stay uint8 CHW until a transform turns
// them into float tensors, so a whole CIFAR training set fits in 150 MB and batches are cheap to cut.

import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { at } from '../tensor/checked.js';

/** One image: uint8 pixels in CHW order, its shape and its label. */
export interface Sample { pixels: Uint8Array; shape: readonly [number, number, number]; label: number } // CHW uint8

/** The dataset interface every reader implements: images stay uint8 CHW until a transform turns them into float tensors. */
export interface Dataset {
  readonly name: string;            // e.g. 'fashion-mnist/train'
  readonly length: number;
  readonly numClasses: number;
  readonly shape: readonly [number, number, number] | null;  // CHW when every image has the same size, else null (ImageNet)
  readonly classNames?: readonly string[];
  /** The i-th image and its label (synchronous); throws a DataError naming the file on a bad item. */
  get(i: number): Sample;           // synchronous; throws a DataError naming the file on a bad item
  /** Every label, without decoding the images. */
  labels(): Int32Array;             // all labels, without decoding images
}

/** A schema accepting anything that implements {@link Dataset}, for checking arguments. */
export const isDataset = z.custom<Dataset>((v) => {
  if (v === null || typeof v !== 'object') return false;
  const d = v as Partial<Dataset>;
  return typeof d.get === 'function' && typeof d.labels === 'function' && typeof d.length === 'number' && typeof d.numClasses === 'number';
}, { message: 'expected a Dataset (loadDataset(name, split), InMemoryDataset, SubsetDataset, ...)' });

/** A dataset file that is missing, corrupt or not in the expected format; the message names the file. */
export class DataError extends Error {
  /** The file or folder at fault, when there is one. */
  readonly file: string | undefined;

  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DataError';
    this.file = options.file;
  }
}

/** Throws a RangeError naming the dataset unless i is an index of it. */
export function checkIndex(ds: { readonly name: string; readonly length: number }, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) {
    throw new RangeError(`${ds.name}: index ${i} out of range 0..${ds.length - 1}`);
  }
}

/** Options of `InMemoryDataset`. */
export interface InMemoryOptions {
  /** Defaults to the largest label + 1. */
  numClasses?: number;
  classNames?: readonly string[];
}

/** N images of one shape held in one buffer (N*C*H*W bytes, image-major) with their labels. */
export class InMemoryDataset implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly shape: readonly [number, number, number];
  readonly classNames?: readonly string[];
  /** All pixels, N*C*H*W. Exposed so loaders can cut batches without a per-image call; do not write to it. */
  readonly data: Uint8Array;
  private readonly labelData: Int32Array;

  constructor(name: string, pixels: Uint8Array, labels: Int32Array, shape: readonly [number, number, number], options: InMemoryOptions = {}) {
    checkArgument('InMemoryDataset', 'pixels', z.instanceof(Uint8Array), pixels);
    checkArgument('InMemoryDataset', 'labels', is.int32Array, labels);
    checkOptions('InMemoryDataset', z.strictObject({ numClasses: is.positiveInt.optional(), classNames: z.array(z.string()).readonly().optional() }), options);
    const [c, h, w] = shape;
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0) throw new RangeError(`${name}: bad image shape [${shape.join(', ')}]`);
    }
    const per = c * h * w;
    if (pixels.length !== labels.length * per) {
      throw new RangeError(`${name}: ${pixels.length} pixel bytes do not hold ${labels.length} images of shape [${shape.join(', ')}]`);
    }
    let max = -1;
    labels.forEach((l, i) => {
      if (l < 0) throw new RangeError(`${name}: label ${l} at index ${i} is negative`);
      if (l > max) max = l;
    });
    const numClasses = options.numClasses ?? max + 1;
    if (max >= numClasses) throw new RangeError(`${name}: label ${max} is outside 0..${numClasses - 1}`);
    if (options.classNames && options.classNames.length !== numClasses) {
      throw new RangeError(`${name}: ${options.classNames.length} class names for ${numClasses} classes`);
    }
    this.name = name;
    this.length = labels.length;
    this.numClasses = numClasses;
    this.shape = Object.freeze([c, h, w] as const);
    if (options.classNames) this.classNames = Object.freeze([...options.classNames]);
    this.data = pixels;
    this.labelData = labels;
  }

  get(i: number): Sample {
    checkIndex(this, i);
    const per = this.shape[0] * this.shape[1] * this.shape[2];
    // A copy, so that a transform writing in place can never corrupt the dataset.
    return { pixels: this.data.slice(i * per, (i + 1) * per), shape: this.shape, label: at(this.labelData, i, 'labels') };
  }

  labels(): Int32Array {
    return this.labelData.slice();
  }
}

/** The items of `base` at `indices`, in that order (repeats allowed). */
export class SubsetDataset implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly shape: readonly [number, number, number] | null;
  readonly classNames?: readonly string[];
  readonly base: Dataset;
  readonly indices: Int32Array;

  constructor(base: Dataset, indices: Int32Array, name?: string) {
    checkArgument('SubsetDataset', 'base', isDataset, base);
    checkArgument('SubsetDataset', 'indices', is.int32Array, indices);
    if (name !== undefined) checkArgument('SubsetDataset', 'name', z.string(), name);
    indices.forEach((i, k) => {
      if (i < 0 || i >= base.length) throw new RangeError(`SubsetDataset of ${base.name}: index ${i} at position ${k} out of range 0..${base.length - 1}`);
    });
    this.base = base;
    this.indices = indices.slice();
    this.name = name ?? `${base.name}[${indices.length}]`;
    this.length = indices.length;
    this.numClasses = base.numClasses;
    this.shape = base.shape;
    if (base.classNames) this.classNames = base.classNames;
  }

  get(i: number): Sample {
    checkIndex(this, i);
    return this.base.get(at(this.indices, i, 'subset indices'));
  }

  labels(): Int32Array {
    const all = this.base.labels();
    return Int32Array.from(this.indices, (i) => at(all, i, 'base labels'));
  }
}
