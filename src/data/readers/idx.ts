// Fashion-MNIST and MNIST from their IDX files (gzip or not). Header, dimensions, length and label
// range are all checked, so a truncated download or a swapped file is caught at load time rather
// than as garbage in training.

import { resolve } from 'node:path';
import { DataError, InMemoryDataset } from '../dataset.js';
import { findGzOrPlain, readMaybeGzip, sha256 } from './files.js';
import { at } from '../../tensor/checked.js';

export type IdxSplit = 'train' | 'test';

/** SHA-256 of the uncompressed files: Debian recompresses the .gz files, so the payload is what is pinned. */
export const FASHION_MNIST_SHA256: Readonly<Record<string, string>> = Object.freeze({
  'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
});

export const FASHION_MNIST_CLASSES = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);

export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const IDX_LABELS_MAGIC = 2049;
export const IDX_IMAGES_MAGIC = 2051;

/** The file stems of a split, as the official distribution names them. */
export function idxFileNames(split: IdxSplit): { images: string; labels: string } {
  const p = split === 'train' ? 'train' : 't10k';
  return { images: `${p}-images-idx3-ubyte`, labels: `${p}-labels-idx1-ubyte` };
}

/** Parses an unsigned-byte IDX payload, checking magic and that the dimensions match the length exactly. */
export function parseIdx(bytes: Uint8Array, file: string, expectedMagic: number): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw new DataError(`${file}: ${bytes.length} bytes, too short for an IDX header`, { file });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    const kind = expectedMagic === IDX_LABELS_MAGIC ? 'an IDX label file' : expectedMagic === IDX_IMAGES_MAGIC ? 'an IDX image file' : 'this IDX file';
    throw new DataError(`${file}: wrong magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}), expected ${expectedMagic} for ${kind}`, { file });
  }
  const ndim = view.getUint8(3);
  const header = 4 + 4 * ndim;
  if (bytes.length < header) throw new DataError(`${file}: truncated IDX header (${bytes.length} bytes, header needs ${header})`, { file });
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    dims.push(n);
    count *= n;
  }
  const expected = header + count;
  if (bytes.length < expected) {
    throw new DataError(`${file}: truncated: dimensions [${dims.join(', ')}] need ${expected} bytes, the file holds ${bytes.length}`, { file });
  }
  if (bytes.length > expected) {
    throw new DataError(`${file}: ${bytes.length - expected} unexpected trailing bytes after the [${dims.join(', ')}] payload`, { file });
  }
  return { dims, data: bytes.subarray(header) };
}

export interface IdxPairOptions {
  name: string;
  numClasses: number;
  classNames?: readonly string[];
  /** SHA-256 of the uncompressed payload by file stem; stems absent from it are not checked. */
  checksums?: Readonly<Record<string, string>>;
}

function verify(payload: Uint8Array, file: string, stem: string, checksums: Readonly<Record<string, string>> | undefined): void {
  const want = checksums?.[stem];
  if (want === undefined) return;
  const got = sha256(payload);
  if (got !== want) {
    throw new DataError(`${file}: SHA-256 of the uncompressed data is ${got}, expected ${want} (corrupt, truncated or a different file; download it again, or skip the check with verify: false)`, { file });
  }
}

/** An images + labels IDX pair as a dataset of [1, rows, cols] images. */
export function loadIdxPair(imagesFile: string, labelsFile: string, o: IdxPairOptions): InMemoryDataset {
  const imagesStem = stemOf(imagesFile), labelsStem = stemOf(labelsFile);
  const imgBytes = readMaybeGzip(imagesFile);
  verify(imgBytes, imagesFile, imagesStem, o.checksums);
  const lblBytes = readMaybeGzip(labelsFile);
  verify(lblBytes, labelsFile, labelsStem, o.checksums);

  const images = parseIdx(imgBytes, imagesFile, IDX_IMAGES_MAGIC);
  if (images.dims.length !== 3) throw new DataError(`${imagesFile}: ${images.dims.length} dimensions, expected 3 (count, rows, cols)`, { file: imagesFile });
  const labels = parseIdx(lblBytes, labelsFile, IDX_LABELS_MAGIC);
  if (labels.dims.length !== 1) throw new DataError(`${labelsFile}: ${labels.dims.length} dimensions, expected 1`, { file: labelsFile });
  const [n, rows, cols] = images.dims as [number, number, number];
  // Zero-sized images pass the length check (no bytes needed) but are not images.
  if (rows === 0 || cols === 0) throw new DataError(`${imagesFile}: images of ${rows}x${cols} pixels`, { file: imagesFile });
  if (labels.dims[0] !== n) {
    throw new DataError(`${labelsFile}: ${labels.dims[0]} labels for the ${n} images of ${imagesFile}`, { file: labelsFile });
  }
  const lab = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = at(labels.data, i, 'IDX labels');
    if (l >= o.numClasses) throw new DataError(`${labelsFile}: label ${l} at index ${i} is outside 0..${o.numClasses - 1}`, { file: labelsFile });
    lab[i] = l;
  }
  // Own the pixels in a fresh buffer rather than a view that keeps the whole decompressed file alive.
  const px = images.data.slice();
  const opts = o.classNames ? { numClasses: o.numClasses, classNames: o.classNames } : { numClasses: o.numClasses };
  return new InMemoryDataset(o.name, px, lab, [1, rows, cols], opts);
}

function stemOf(file: string): string {
  return (file.split(/[\\/]/).pop() ?? file).replace(/\.gz$/, '');
}

export interface IdxLoadOptions {
  /** Looked in first, both as is and with the dataset's folder name appended. */
  dataDir?: string;
  /** Check the SHA-256 of the payloads (default true); off for files that are subsets of the official ones. */
  verify?: boolean;
}

interface IdxSource {
  title: string;
  folder: string;          // the folder name under a data dir
  extraDirs: string[];     // system locations tried after dataDir
  url: string;
  download: string;        // the `pai data download` name, when there is one
}

function findSplit(src: IdxSource, split: IdxSplit, dataDir: string | undefined): { images: string; labels: string } {
  const names = idxFileNames(split);
  const tried: string[] = [];
  const dirs = dataDir !== undefined ? [resolve(dataDir, src.folder), resolve(dataDir)] : [];
  dirs.push(...src.extraDirs);
  for (const dir of dirs) {
    tried.push(dir);
    const images = findGzOrPlain(dir, `${names.images}.gz`);
    const labels = findGzOrPlain(dir, `${names.labels}.gz`);
    if (images && labels) return { images, labels };
  }
  const target = dataDir !== undefined ? resolve(dataDir, src.folder) : `<data-dir>/${src.folder}`;
  throw new DataError(
    `${src.title} ${split} split not found. Place ${names.images}.gz and ${names.labels}.gz (from ${src.url}) in ${target}/` +
    `${src.download ? `, or run \`pai data download ${src.download}\`` : ''}. Looked in: ${tried.join(', ') || '(no folder: pass a data dir)'}`,
    { file: target },
  );
}

/** Fashion-MNIST from dataDir (or dataDir/fashion-mnist), then Debian's /usr/share/datasets/fashion-mnist. */
export function loadFashionMnist(split: IdxSplit, o: IdxLoadOptions = {}): InMemoryDataset {
  const src: IdxSource = {
    title: 'Fashion-MNIST', folder: 'fashion-mnist', extraDirs: [DEBIAN_FASHION_MNIST_DIR],
    url: 'https://github.com/zalandoresearch/fashion-mnist', download: 'fashion-mnist',
  };
  const files = findSplit(src, split, o.dataDir);
  const opts: IdxPairOptions = { name: `fashion-mnist/${split}`, numClasses: 10, classNames: FASHION_MNIST_CLASSES };
  if (o.verify !== false) opts.checksums = FASHION_MNIST_SHA256;
  return loadIdxPair(files.images, files.labels, opts);
}

/** MNIST from dataDir (or dataDir/mnist). No checksums are pinned for it. */
export function loadMnist(split: IdxSplit, o: IdxLoadOptions = {}): InMemoryDataset {
  const src: IdxSource = {
    title: 'MNIST', folder: 'mnist', extraDirs: [], url: 'http://yann.lecun.com/exdb/mnist/', download: '',
  };
  const files = findSplit(src, split, o.dataDir);
  return loadIdxPair(files.images, files.labels, {
    name: `mnist/${split}`, numClasses: 10, classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
}

/** An IDX pair of a split in one folder, with optional pinned checksums (the shipped subset uses this). */
export function loadIdxFolder(dir: string, split: IdxSplit, o: IdxPairOptions): InMemoryDataset {
  const names = idxFileNames(split);
  const images = findGzOrPlain(dir, `${names.images}.gz`);
  const labels = findGzOrPlain(dir, `${names.labels}.gz`);
  if (!images || !labels) {
    throw new DataError(`${dir}: missing ${!images ? `${names.images}.gz` : `${names.labels}.gz`} for the ${split} split of ${o.name}`, { file: dir });
  }
  return loadIdxPair(images, labels, o);
}
