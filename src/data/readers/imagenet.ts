// ILSVRC-2012 in the usual ImageFolder layout (<root>/train/<wnid>/*.JPEG, <root>/val/<wnid>/*.JPEG).
// Only the paths are indexed; each get() reads and decodes one file, since the training set (about
// 140 GB decoded) can never be held in memory. Images keep their own sizes (shape null): resizing
// and cropping are transforms.

import { resolve } from 'node:path';
import { DataError } from '../dataset.js';
import { isDir, isJpegName, listDir } from './files.js';
import { JpegFilesDataset } from './jpeg.js';

export type ImageNetSplit = 'train' | 'val';

export interface ImageNetOptions {
  /** Holds imagenet/<split>/, or <split>/ itself. */
  dataDir?: string;
}

export function loadImageNet(split: ImageNetSplit, o: ImageNetOptions = {}): JpegFilesDataset {
  if (split !== 'train' && split !== 'val') throw new RangeError(`ImageNet: split must be 'train' or 'val', got '${String(split)}'`);
  const candidates = o.dataDir !== undefined ? [resolve(o.dataDir, 'imagenet'), resolve(o.dataDir)] : [];
  const root = candidates.find((d) => isDir(`${d}/${split}`));
  if (root === undefined) {
    const target = o.dataDir !== undefined ? resolve(o.dataDir, 'imagenet') : '<data-dir>/imagenet';
    throw new DataError(
      `ImageNet ${split} split not found: pai cannot download ILSVRC-2012 (it needs an account at image-net.org). ` +
      `Place it as ${target}/${split}/<wnid>/*.JPEG (validation images sorted into class folders too). ` +
      `Looked in: ${candidates.map((d) => `${d}/${split}`).join(', ') || '(no folder: pass a data dir)'}`,
      { file: target },
    );
  }
  const dir = `${root}/${split}`;
  const wnids = listDir(dir, 'one folder per class').filter((w) => isDir(`${dir}/${w}`));
  if (wnids.length === 0) throw new DataError(`${dir}: no class folders in it (expected ${dir}/<wnid>/*.JPEG)`, { file: dir });
  const files: string[] = [];
  const labels: number[] = [];
  for (const [c, wnid] of wnids.entries()) {
    for (const f of listDir(`${dir}/${wnid}`, `the images of class ${wnid}`)) {
      if (!isJpegName(f)) continue;
      files.push(`${dir}/${wnid}/${f}`);
      labels.push(c);
    }
  }
  if (files.length === 0) throw new DataError(`${dir}: no .JPEG files in its class folders`, { file: dir });
  return new JpegFilesDataset(`imagenet/${split}`, files, Int32Array.from(labels), wnids.length, null, wnids);
}
