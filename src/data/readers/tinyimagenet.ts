// TinyImageNet from the official tiny-imagenet-200 folder. Images are decoded on get(), so loading
// indexes 110,000 paths and reads no pixels. Class indices follow the sorted wnids, as torchvision's
// ImageFolder (the paper's pipeline) numbers them, not the order of wnids.txt.

import { resolve } from 'node:path';
import { DataError } from '../dataset.js';
import { isDir, isFile, isJpegName, listDir, readBytes } from './files.js';
import { JpegFilesDataset } from './jpeg.js';

export type TinyImageNetSplit = 'train' | 'val';

export const TINY_IMAGENET_URL = 'http://cs231n.stanford.edu/tiny-imagenet-200.zip';

export interface TinyImageNetOptions {
  /** Holds tiny-imagenet-200/, or is that folder itself. */
  dataDir?: string;
}

function text(file: string): string {
  return new TextDecoder().decode(readBytes(file));
}

function findRoot(dataDir: string | undefined): string {
  if (dataDir !== undefined) {
    for (const dir of [resolve(dataDir, 'tiny-imagenet-200'), resolve(dataDir)]) {
      if (isFile(`${dir}/wnids.txt`)) return dir;
    }
    if (isDir(resolve(dataDir, 'tiny-imagenet-200'))) {
      const f = resolve(dataDir, 'tiny-imagenet-200', 'wnids.txt');
      throw new DataError(`${f}: file not found (an incomplete extraction of tiny-imagenet-200.zip?)`, { file: f });
    }
  }
  const target = dataDir !== undefined ? resolve(dataDir) : '<data-dir>';
  throw new DataError(
    `TinyImageNet not found. Extract tiny-imagenet-200.zip (from ${TINY_IMAGENET_URL}) into ${target}/ so that ` +
    `${target}/tiny-imagenet-200/wnids.txt exists, or run \`pai data download tinyimagenet\``,
    { file: target },
  );
}

/** Human-readable names from words.txt where it has them, else the wnids. */
function classNames(root: string, wnids: readonly string[]): string[] {
  const file = `${root}/words.txt`;
  if (!isFile(file)) return [...wnids];
  const words = new Map<string, string>();
  for (const line of text(file).split(/\r?\n/)) {
    const tab = line.indexOf('\t');
    if (tab > 0) words.set(line.slice(0, tab), line.slice(tab + 1).trim());
  }
  return wnids.map((w) => words.get(w) ?? w);
}

export function loadTinyImageNet(split: TinyImageNetSplit, o: TinyImageNetOptions = {}): JpegFilesDataset {
  if (split !== 'train' && split !== 'val') {
    throw new RangeError(`TinyImageNet: split must be 'train' or 'val' (the test split has no labels), got '${String(split)}'`);
  }
  const root = findRoot(o.dataDir);
  const wnidsFile = `${root}/wnids.txt`;
  const wnids = [...new Set(text(wnidsFile).split(/\s+/).filter((s) => s !== ''))].sort();
  if (wnids.length === 0) throw new DataError(`${wnidsFile}: no class ids in it`, { file: wnidsFile });
  const index = new Map(wnids.map((w, i) => [w, i] as const));
  const files: string[] = [];
  const labels: number[] = [];

  if (split === 'train') {
    for (const [c, wnid] of wnids.entries()) {
      const dir = `${root}/train/${wnid}/images`;
      for (const f of listDir(dir, `the training images of class ${wnid}`)) {
        if (!isJpegName(f)) continue;
        files.push(`${dir}/${f}`);
        labels.push(c);
      }
    }
  } else {
    const ann = `${root}/val/val_annotations.txt`;
    if (!isFile(ann)) throw new DataError(`${ann}: file not found (the validation labels of TinyImageNet)`, { file: ann });
    const imagesDir = `${root}/val/images`;
    listDir(imagesDir, 'the TinyImageNet validation images');
    const lines = text(ann).split(/\r?\n/);
    for (const [k, line] of lines.entries()) {
      if (line.trim() === '') continue;
      const [name, wnid] = line.split('\t');
      const c = wnid === undefined ? undefined : index.get(wnid.trim());
      if (name === undefined || c === undefined) {
        throw new DataError(`${ann}: line ${k + 1} ("${line.slice(0, 60)}") does not name an image and a class of wnids.txt`, { file: ann });
      }
      files.push(`${imagesDir}/${name.trim()}`);
      labels.push(c);
    }
  }
  if (files.length === 0) throw new DataError(`${root}: no ${split} images found`, { file: root });
  return new JpegFilesDataset(`tinyimagenet/${split}`, files, Int32Array.from(labels), wnids.length, [3, 64, 64], classNames(root, wnids));
}
