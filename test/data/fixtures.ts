// Small files in the real dataset formats, written into temporary folders by the tests.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { DataError } from '../../src/data/dataset.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { existsSync } from 'node:fs';

/** The repository root (tests run from dist/test/data/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the full Fashion-MNIST is on this machine, or null. */
export function fullFashionMnistDir(): string | null {
  for (const d of ['/usr/share/datasets/fashion-mnist', resolve(repoRoot, '../shared/datasets/fashion-mnist')]) {
    if (existsSync(join(d, 'train-images-idx3-ubyte.gz')) && existsSync(join(d, 't10k-labels-idx1-ubyte.gz'))) return d;
  }
  return null;
}

export function tmp(t: { after: (fn: () => void) => void }, prefix = 'pai-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function write(file: string, bytes: Uint8Array | string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

export function idxBytes(magic: number, dims: number[], payload: Uint8Array): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, payload]);
}

/** n images of rows x cols where pixel j of image i is (i * 7 + j) & 255, labels i % classes. */
export function idxPair(n: number, rows = 28, cols = 28, classes = 10): { images: Buffer; labels: Buffer; pixels: Uint8Array; labelValues: number[] } {
  const pixels = new Uint8Array(n * rows * cols);
  for (let i = 0; i < n; i++) for (let j = 0; j < rows * cols; j++) pixels[i * rows * cols + j] = (i * 7 + j) & 255;
  const labelValues = Array.from({ length: n }, (_, i) => i % classes);
  return {
    images: idxBytes(2051, [n, rows, cols], pixels),
    labels: idxBytes(2049, [n], Uint8Array.from(labelValues)),
    pixels, labelValues,
  };
}

/** Writes a gzip IDX split into dir under the official names. */
export function writeIdxSplit(dir: string, split: 'train' | 'test', n: number): ReturnType<typeof idxPair> {
  const p = idxPair(n);
  const stem = split === 'train' ? 'train' : 't10k';
  write(join(dir, `${stem}-images-idx3-ubyte.gz`), gzipSync(p.images));
  write(join(dir, `${stem}-labels-idx1-ubyte.gz`), gzipSync(p.labels));
  return p;
}

/** CIFAR records: label byte(s) then 3072 pixels; pixel j of record i is (i + j) & 255. */
export function cifarRecords(labels: number[][]): Buffer {
  const lb = labels[0]?.length ?? 1;
  const rec = lb + 3072;
  const out = Buffer.alloc(labels.length * rec);
  labels.forEach((ls, i) => {
    ls.forEach((l, k) => { out[i * rec + k] = l; });
    for (let j = 0; j < 3072; j++) out[i * rec + lb + j] = (i + j) & 255;
  });
  return out;
}

/** A zip archive (deflated entries, folders implied by the paths) in the standard format. */
export function zipBytes(files: Record<string, Uint8Array | string>): Buffer {
  const local: Buffer[] = [], central: Buffer[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const path of Object.keys(files)) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) names.add(parts.slice(0, i).join('/') + '/');
  }
  const entries: [string, Buffer][] = [...[...names].sort().map((n) => [n, Buffer.alloc(0)] as [string, Buffer]),
    ...Object.entries(files).map(([n, d]) => [n, Buffer.from(d)] as [string, Buffer])];
  for (const [name, data] of entries) {
    const dir = name.endsWith('/');
    const body = dir ? Buffer.alloc(0) : deflateRawSync(data);
    const crc = dir ? 0 : crc32(data);
    const nameBuf = Buffer.from(name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0); h.writeUInt16LE(20, 4); h.writeUInt16LE(0, 6); h.writeUInt16LE(dir ? 0 : 8, 8);
    h.writeUInt16LE(0, 10); h.writeUInt16LE(0x21, 12); h.writeUInt32LE(crc, 14); h.writeUInt32LE(body.length, 18);
    h.writeUInt32LE(data.length, 22); h.writeUInt16LE(nameBuf.length, 26); h.writeUInt16LE(0, 28);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt16LE(0, 8); c.writeUInt16LE(dir ? 0 : 8, 10);
    c.writeUInt16LE(0, 12); c.writeUInt16LE(0x21, 14); c.writeUInt32LE(crc, 16); c.writeUInt32LE(body.length, 20); c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(nameBuf.length, 28); c.writeUInt32LE(dir ? 0x10 : 0, 38); c.writeUInt32LE(offset, 42);
    local.push(h, nameBuf, body);
    central.push(c, nameBuf);
    offset += h.length + nameBuf.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, cd, end]);
}

/** A colour JPEG (w x h) whose red channel ramps along x, green is fixed and blue ramps along y. */
export function colourJpeg(w: number, h: number, green = 200): Buffer {
  const d = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = 4 * (y * w + x);
    d[i] = Math.round((x * 255) / Math.max(1, w - 1)); d[i + 1] = green; d[i + 2] = Math.round((y * 255) / Math.max(1, h - 1)); d[i + 3] = 255;
  }
  return jpeg.encode({ width: w, height: h, data: d }, 95).data;
}

/**
 * A baseline grayscale (one-component) JPEG of 8x8 blocks, every block flat at 128 + delta
 * (|delta| in 8..15). jpeg-js only writes colour JPEGs, so this one is assembled marker by marker.
 */
export function grayJpeg(blocksX: number, blocksY: number, delta = 10): Buffer {
  const seg = (marker: number, body: number[]): number[] => [0xff, marker, ((body.length + 2) >> 8) & 255, (body.length + 2) & 255, ...body];
  const w = blocksX * 8, h = blocksY * 8;
  // Quantiser 8 for the DC term, so a coefficient of delta shifts every pixel by exactly delta.
  const dqt = seg(0xdb, [0x00, 8, ...new Array(63).fill(1)]);
  const sof = seg(0xc0, [8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0]);
  // DC table: category 0 -> '00', category 4 -> '01' (an all-ones code is not allowed). AC table: end-of-block -> '0'.
  const dht = seg(0xc4, [0x00, 0, 2, ...new Array(14).fill(0), 0, 4, 0x10, 1, ...new Array(15).fill(0), 0x00]);
  const sos = seg(0xda, [1, 1, 0x00, 0, 63, 0]);
  const bits: number[] = [];
  const mag = Math.abs(delta);
  if (mag < 8 || mag > 15) throw new RangeError('grayJpeg: |delta| must be in 8..15');
  const code = delta >= 0 ? delta : delta + 15; // negative values are stored as delta + 2^4 - 1
  bits.push(0, 1, (code >> 3) & 1, (code >> 2) & 1, (code >> 1) & 1, code & 1, 0); // first block: DC diff delta, EOB
  for (let b = 1; b < blocksX * blocksY; b++) bits.push(0, 0, 0); // later blocks: DC diff 0, EOB
  while (bits.length % 8 !== 0) bits.push(1);
  const scan: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    let v = 0;
    for (let k = 0; k < 8; k++) v = (v << 1) | bits[i + k]!;
    scan.push(v);
    if (v === 0xff) scan.push(0);
  }
  return Buffer.from([0xff, 0xd8, ...dqt, ...sof, ...dht, ...sos, ...scan, 0xff, 0xd9]);
}

/**
 * A miniature tiny-imagenet-200 folder: wnids.txt lists n09 before n01 (the loader sorts), two
 * training images per class (the second of n01 grayscale), and three annotated validation images.
 * Returns the files as a map of relative path -> bytes.
 */
let tinyCache: Record<string, Buffer> | null = null;
export function tinyImageNetFiles(): Record<string, Buffer> {
  // jpeg-js encodes slowly; the files are the same for every test.
  if (tinyCache) return tinyCache;
  const f: Record<string, Buffer> = {};
  tinyCache = f;
  const r = 'tiny-imagenet-200';
  f[`${r}/wnids.txt`] = Buffer.from('n09999999\nn01443537\n');
  f[`${r}/words.txt`] = Buffer.from('n01443537\tgoldfish, Carassius auratus\nn09999999\tsomething\nn00000001\tunused\n');
  f[`${r}/train/n01443537/images/n01443537_0.JPEG`] = colourJpeg(64, 64, 10);
  f[`${r}/train/n01443537/images/n01443537_1.JPEG`] = grayJpeg(8, 8, 10);
  f[`${r}/train/n01443537/n01443537_boxes.txt`] = Buffer.from('n01443537_0.JPEG\t0\t0\t10\t10\n');
  f[`${r}/train/n09999999/images/n09999999_0.JPEG`] = colourJpeg(64, 64, 100);
  f[`${r}/train/n09999999/images/n09999999_1.JPEG`] = colourJpeg(64, 64, 150);
  f[`${r}/val/images/val_0.JPEG`] = colourJpeg(64, 64, 20);
  f[`${r}/val/images/val_1.JPEG`] = colourJpeg(64, 64, 30);
  f[`${r}/val/images/val_2.JPEG`] = colourJpeg(64, 64, 40);
  f[`${r}/val/val_annotations.txt`] = Buffer.from('val_0.JPEG\tn09999999\t0\t0\t1\t1\nval_1.JPEG\tn01443537\t0\t0\t1\t1\nval_2.JPEG\tn09999999\t0\t0\t1\t1\n');
  return f;
}

export function writeTree(dir: string, files: Record<string, Uint8Array>): void {
  for (const [p, b] of Object.entries(files)) write(join(dir, p), b);
}

/** Asserts a DataError whose message names the file and matches the problem. */
export function throwsData(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message does not name ${file}: ${e.message}`);
    assert.match(e.message, problem);
    return true;
  });
}
