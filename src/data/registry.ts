// The datasets pai knows by name: how to load each split and the constants that go with it.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { checkOptions } from '../tensor/options.js';
import { DataError, type Dataset } from './dataset.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist, loadIdxFolder, loadMnist } from './readers/idx.js';
import { CIFAR10_CLASSES, loadCifar10, loadCifar100 } from './readers/cifar.js';
import { loadTinyImageNet } from './readers/tinyimagenet.js';
import { loadImageNet } from './readers/imagenet.js';

/** The datasets pai knows by name. */
export type DatasetName = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100' | 'tinyimagenet' | 'imagenet' | 'fashion-mnist-subset';
/** A split of a dataset; 'test' and 'val' stand in for each other where a dataset has only one. */
export type Split = 'train' | 'test' | 'val';

/** What pai knows about a named dataset: classes, image shape, normalisation constants, splits. */
export interface DatasetInfo {
  name: DatasetName;
  numClasses: number;
  /** CHW of every image as stored; null where sizes vary (ImageNet). */
  shape: readonly [number, number, number] | null;
  /** Per-channel normalisation constants on [0, 1] pixels. */
  mean: readonly number[];
  std: readonly number[];
  /** The splits it has; 'test' and 'val' are accepted for each other (see loadDataset). */
  splits: readonly ('train' | 'test' | 'val')[];
  classNames?: readonly string[];
}

// Fashion-MNIST's constants are not given by the paper's code; these are the mean and population
// standard deviation of all 47,040,000 pixels/255 of the official training set (recomputed by
// test/data/registry.test.ts whenever the full set is present).
const FMNIST_MEAN = [0.2860406] as const;
const FMNIST_STD = [0.3530242] as const;

const INFO: Readonly<Record<DatasetName, DatasetInfo>> = {
  'fashion-mnist': { name: 'fashion-mnist', numClasses: 10, shape: [1, 28, 28], mean: FMNIST_MEAN, std: FMNIST_STD, splits: ['train', 'test'], classNames: FASHION_MNIST_CLASSES },
  // The subset is normalised like the full set it stands in for.
  'fashion-mnist-subset': { name: 'fashion-mnist-subset', numClasses: 10, shape: [1, 28, 28], mean: FMNIST_MEAN, std: FMNIST_STD, splits: ['train', 'test'], classNames: FASHION_MNIST_CLASSES },
  // The usual MNIST constants (torchvision examples); the paper does not use MNIST.
  mnist: { name: 'mnist', numClasses: 10, shape: [1, 28, 28], mean: [0.1307], std: [0.3081], splits: ['train', 'test'] },
  cifar10: { name: 'cifar10', numClasses: 10, shape: [3, 32, 32], mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010], splits: ['train', 'test'], classNames: CIFAR10_CLASSES },
  cifar100: { name: 'cifar100', numClasses: 100, shape: [3, 32, 32], mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761], splits: ['train', 'test'] },
  tinyimagenet: { name: 'tinyimagenet', numClasses: 200, shape: [3, 64, 64], mean: [0.480, 0.448, 0.397], std: [0.276, 0.269, 0.282], splits: ['train', 'val'] },
  imagenet: { name: 'imagenet', numClasses: 1000, shape: null, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], splits: ['train', 'val'] },
};

/** Every dataset name `loadDataset` accepts. */
export const DATASET_NAMES = Object.freeze(Object.keys(INFO) as DatasetName[]);

/** Whether `name` is a dataset pai knows. */
export function isDatasetName(name: string): name is DatasetName {
  return Object.prototype.hasOwnProperty.call(INFO, name);
}

/** The constants of a named dataset; throws a RangeError listing the known names for an unknown one. */
export function datasetInfo(name: string): DatasetInfo {
  if (!isDatasetName(name)) throw new RangeError(`unknown dataset '${name}' (known: ${DATASET_NAMES.join(', ')})`);
  return INFO[name];
}

/** Options of `loadDataset`. */
export interface LoadOptions {
  dataDir?: string;
  /** CIFAR-100: coarse (20-class) labels instead of fine ones. */
  coarse?: boolean;
  /** Fashion-MNIST: check payload SHA-256 (default true). */
  verify?: boolean;
}

const loadOptionsSchema = z.strictObject({ dataDir: z.string().min(1).optional(), coarse: z.boolean().optional(), verify: z.boolean().optional() });

/**
 * One split of a named dataset. Datasets with a validation set but no labelled test set
 * (TinyImageNet, ImageNet) serve 'val' for 'test', and the others 'test' for 'val', since papers
 * report on whichever held-out split exists.
 */
export function loadDataset(name: DatasetName, split: Split, o: LoadOptions = {}): Dataset {
  checkOptions('loadDataset', loadOptionsSchema, o);
  const info = datasetInfo(name);
  if (split !== 'train' && split !== 'test' && split !== 'val') throw new RangeError(`${name}: unknown split '${String(split)}' (train, test or val)`);
  const held = split === 'train' ? 'train' : info.splits.includes('test') ? 'test' : 'val';
  const base = o.dataDir !== undefined ? { dataDir: o.dataDir } : {};
  switch (name) {
    case 'fashion-mnist': return loadFashionMnist(held as 'train' | 'test', o.verify === undefined ? base : { ...base, verify: o.verify });
    case 'mnist': return loadMnist(held as 'train' | 'test', base);
    case 'cifar10': return loadCifar10(held as 'train' | 'test', base);
    case 'cifar100': return loadCifar100(held as 'train' | 'test', o.coarse === undefined ? base : { ...base, coarse: o.coarse });
    case 'tinyimagenet': return loadTinyImageNet(held as 'train' | 'val', base);
    case 'imagenet': return loadImageNet(held as 'train' | 'val', base);
    case 'fashion-mnist-subset': return loadFashionMnistSubset(held as 'train' | 'test');
  }
}

/** The folder of the Fashion-MNIST subset shipped with pai, found from this module's location. */
export function fashionMnistSubsetDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'data', 'fashion-mnist-subset');
    if (existsSync(join(candidate, 'checksums.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new DataError('the shipped Fashion-MNIST subset (data/fashion-mnist-subset/) is missing from this installation of pai');
}

/** One split of the Fashion-MNIST subset that ships with pai, checked against its checksums. */
export function loadFashionMnistSubset(split: 'train' | 'test'): Dataset {
  const dir = fashionMnistSubsetDir();
  const manifest = join(dir, 'checksums.json');
  let sums: Record<string, string>;
  try {
    sums = (JSON.parse(readFileSync(manifest, 'utf8')) as { sha256: Record<string, string> }).sha256;
    if (typeof sums !== 'object' || sums === null) throw new Error('no "sha256" object');
  } catch (e) {
    throw new DataError(`${manifest}: unreadable (${(e as Error).message})`, { file: manifest, cause: e });
  }
  return loadIdxFolder(dir, split, { name: `fashion-mnist-subset/${split}`, numClasses: 10, classNames: FASHION_MNIST_CLASSES, checksums: sums });
}
