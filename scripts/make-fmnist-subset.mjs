#!/usr/bin/env node
// Writes data/fashion-mnist-subset/: the first N training and M test images of each class of the real
// Fashion-MNIST, in file order, as gzip IDX files, plus checksums.json with the SHA-256 of each
// uncompressed payload. Deterministic, so running it again reproduces the shipped files byte for
// byte. 500/100 per class rather than 1,000/200: the larger subset compresses to 5.1 MB, this one
// to 2.6 MB.
//
//   node scripts/make-fmnist-subset.mjs [--train 500] [--test 100] [--src DIR]

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const perClass = { train: Number(opt('train', '500')), test: Number(opt('test', '100')) };
const candidates = [opt('src', ''), '/usr/share/datasets/fashion-mnist', resolve(root, '../shared/datasets/fashion-mnist')].filter(Boolean);
const src = candidates.find((d) => existsSync(join(d, 'train-images-idx3-ubyte.gz')));
if (!src) {
  console.error(`Fashion-MNIST not found in ${candidates.join(', ')}`);
  process.exit(1);
}
const out = join(root, 'data', 'fashion-mnist-subset');
mkdirSync(out, { recursive: true });

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const u32 = (b, o) => b.readUInt32BE(o);

function idx(magic, dims, payload) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, payload]);
}

const checksums = {};
for (const [split, stem] of [['train', 'train'], ['test', 't10k']]) {
  const images = gunzipSync(readFileSync(join(src, `${stem}-images-idx3-ubyte.gz`)));
  const labels = gunzipSync(readFileSync(join(src, `${stem}-labels-idx1-ubyte.gz`)));
  if (u32(images, 0) !== 2051 || u32(labels, 0) !== 2049) throw new Error(`bad magic in ${src}`);
  const n = u32(labels, 4), rows = u32(images, 8), cols = u32(images, 12), px = rows * cols;
  const taken = new Array(10).fill(0);
  const keep = [];
  for (let i = 0; i < n; i++) {
    const l = labels[8 + i];
    if (taken[l] < perClass[split]) { taken[l]++; keep.push(i); }
  }
  const img = Buffer.alloc(keep.length * px), lab = Buffer.alloc(keep.length);
  keep.forEach((i, k) => {
    images.copy(img, k * px, 16 + i * px, 16 + (i + 1) * px);
    lab[k] = labels[8 + i];
  });
  const files = [
    [`${stem}-images-idx3-ubyte`, idx(2051, [keep.length, rows, cols], img)],
    [`${stem}-labels-idx1-ubyte`, idx(2049, [keep.length], lab)],
  ];
  for (const [name, payload] of files) {
    // mtime 0 in the gzip header (zlib writes none) keeps the output reproducible.
    writeFileSync(join(out, `${name}.gz`), gzipSync(payload, { level: 9 }));
    checksums[name] = sha256(payload);
  }
  console.log(`${split}: ${keep.length} images (${perClass[split]} per class)`);
}
writeFileSync(join(out, 'checksums.json'), JSON.stringify({
  source: 'Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist), MIT licence',
  selection: 'first images of each class in file order',
  perClass,
  sha256: checksums,
}, null, 2) + '\n');
