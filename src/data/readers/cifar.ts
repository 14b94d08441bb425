// CIFAR-10 and CIFAR-100 from the official binary versions, either extracted or straight from the
// .tar.gz (read with node-tar, synchronously, keeping only the wanted members in memory).

import { resolve } from 'node:path';
import * as tar from 'tar';
import { DataError, InMemoryDataset } from '../dataset.js';
import { isDir, isFile, readBytes } from './files.js';
import { at } from '../../tensor/checked.js';

export type CifarSplit = 'train' | 'test';

export const CIFAR10_CLASSES = Object.freeze([
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
]);

const PIXELS = 3 * 32 * 32;

interface CifarFormat {
  title: string;
  folder: string;                       // the folder inside the archive and under a data dir
  archive: string;
  url: string;
  download: string;
  files: (split: CifarSplit) => string[];
  labelBytes: number;                   // bytes before the pixels in a record
  labelOffset: number;                  // which of them is the label used
  numClasses: number;
}

const CIFAR10: CifarFormat = {
  title: 'CIFAR-10', folder: 'cifar-10-batches-bin', archive: 'cifar-10-binary.tar.gz',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', download: 'cifar10',
  files: (s) => (s === 'train' ? [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`) : ['test_batch.bin']),
  labelBytes: 1, labelOffset: 0, numClasses: 10,
};

function cifar100(coarse: boolean): CifarFormat {
  return {
    title: 'CIFAR-100', folder: 'cifar-100-binary', archive: 'cifar-100-binary.tar.gz',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', download: 'cifar100',
    files: (s) => [s === 'train' ? 'train.bin' : 'test.bin'],
    labelBytes: 2, labelOffset: coarse ? 0 : 1, numClasses: coarse ? 20 : 100,
  };
}

export interface CifarOptions {
  /** Holds cifar-10-batches-bin/ (or cifar-100-binary/), the batch files themselves, or the .tar.gz. */
  dataDir?: string;
  /** CIFAR-100 only: the 20 coarse labels instead of the 100 fine ones (the default). */
  coarse?: boolean;
}

/** Parses concatenated records (label bytes, then 3072 pixel bytes in CHW order) of one file. */
export function parseCifarRecords(bytes: Uint8Array, file: string, labelBytes: number, labelOffset: number, numClasses: number):
  { pixels: Uint8Array; labels: Int32Array } {
  const rec = labelBytes + PIXELS;
  if (bytes.length === 0) throw new DataError(`${file}: empty file`, { file });
  if (bytes.length % rec !== 0) {
    throw new DataError(`${file}: length ${bytes.length} is not a multiple of the ${rec}-byte record (truncated or not a ${labelBytes === 1 ? 'CIFAR-10' : 'CIFAR-100'} binary file)`, { file });
  }
  const n = bytes.length / rec;
  const pixels = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = at(bytes, i * rec + labelOffset, 'record label');
    if (l >= numClasses) throw new DataError(`${file}: record ${i} has label ${l}, outside 0..${numClasses - 1}`, { file });
    labels[i] = l;
    pixels.set(bytes.subarray(i * rec + labelBytes, (i + 1) * rec), i * PIXELS);
  }
  return { pixels, labels };
}

/** The named members of a .tar.gz, found anywhere in it by their base name under `folder`, in the order of `names`. */
export function readTarMembers(archive: string, folder: string, names: readonly string[]): { name: string; bytes: Uint8Array }[] {
  const wanted = new Set(names.map((n) => `${folder}/${n}`));
  const found = new Map<string, Uint8Array>();
  try {
    tar.t({
      file: archive,
      sync: true,
      strict: true,
      onReadEntry(entry) {
        const p = entry.path.replace(/^\.\//, '');
        if (!wanted.has(p)) return;
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => { found.set(p.slice(folder.length + 1), Buffer.concat(chunks)); });
      },
    });
  } catch (e) {
    throw new DataError(`${archive}: corrupt or truncated archive (${(e as Error).message})`, { file: archive, cause: e });
  }
  return names.map((name) => {
    const bytes = found.get(name);
    if (!bytes) throw new DataError(`${archive}: no member ${folder}/${name} (truncated, or not the official ${folder} archive)`, { file: archive });
    return { name, bytes };
  });
}

function loadCifar(fmt: CifarFormat, split: CifarSplit, o: CifarOptions, name: string, classNames?: readonly string[]): InMemoryDataset {
  const files = fmt.files(split);
  const tried: string[] = [];
  let parts: { file: string; bytes: Uint8Array }[] | null = null;
  if (o.dataDir !== undefined) {
    const dataDir = resolve(o.dataDir);
    for (const dir of [resolve(dataDir, fmt.folder), dataDir]) {
      tried.push(`${dir}/`);
      if (files.every((f) => isFile(`${dir}/${f}`))) {
        parts = files.map((f) => ({ file: `${dir}/${f}`, bytes: readBytes(`${dir}/${f}`) }));
        break;
      }
    }
    const archive = resolve(dataDir, fmt.archive);
    tried.push(archive);
    if (!parts && isFile(archive)) {
      parts = readTarMembers(archive, fmt.folder, files).map(({ name, bytes }) => ({ file: `${archive}:${fmt.folder}/${name}`, bytes }));
    }
    if (!parts && isDir(resolve(dataDir, fmt.folder))) {
      const missing = files.filter((f) => !isFile(resolve(dataDir, fmt.folder, f)));
      throw new DataError(`${resolve(dataDir, fmt.folder)}: missing ${missing.join(', ')} (an incomplete extraction of ${fmt.archive}?)`, { file: resolve(dataDir, fmt.folder) });
    }
  }
  if (!parts) {
    const target = o.dataDir !== undefined ? resolve(o.dataDir) : '<data-dir>';
    throw new DataError(
      `${fmt.title} ${split} split not found. Place ${fmt.archive} (from ${fmt.url}) in ${target}/, or extract it there so that ` +
      `${target}/${fmt.folder}/${files[0]} exists, or run \`pai data download ${fmt.download}\`. Looked in: ${tried.join(', ') || '(no folder: pass a data dir)'}`,
      { file: target },
    );
  }
  const decoded = parts.map((p) => parseCifarRecords(p.bytes, p.file, fmt.labelBytes, fmt.labelOffset, fmt.numClasses));
  const n = decoded.reduce((s, d) => s + d.labels.length, 0);
  const pixels = new Uint8Array(n * PIXELS), labels = new Int32Array(n);
  let at = 0;
  for (const d of decoded) {
    pixels.set(d.pixels, at * PIXELS);
    labels.set(d.labels, at);
    at += d.labels.length;
  }
  const opts = classNames && classNames.length === fmt.numClasses ? { numClasses: fmt.numClasses, classNames } : { numClasses: fmt.numClasses };
  return new InMemoryDataset(name, pixels, labels, [3, 32, 32], opts);
}

export function loadCifar10(split: CifarSplit, o: CifarOptions = {}): InMemoryDataset {
  return loadCifar(CIFAR10, split, o, `cifar10/${split}`, CIFAR10_CLASSES);
}

export function loadCifar100(split: CifarSplit, o: CifarOptions = {}): InMemoryDataset {
  const coarse = o.coarse === true;
  const fmt = cifar100(coarse);
  const names = o.dataDir !== undefined ? cifar100Names(resolve(o.dataDir, fmt.folder), coarse) : undefined;
  return loadCifar(fmt, split, o, `cifar100/${split}${coarse ? '-coarse' : ''}`, names);
}

/** Class names from the label-name file shipped in the extracted folder, when it is there. */
function cifar100Names(dir: string, coarse: boolean): string[] | undefined {
  const file = `${dir}/${coarse ? 'coarse' : 'fine'}_label_names.txt`;
  if (!isFile(file)) return undefined;
  const names = new TextDecoder().decode(readBytes(file)).split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
  return names;
}
