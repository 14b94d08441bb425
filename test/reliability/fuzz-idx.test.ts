// Fuzzing the IDX reader (MNIST, Fashion-MNIST): damaged headers, dimensions that disagree with
// the length, labels out of range, and corrupt gzip, raw and compressed, must all end in a
// DataError that names the file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DataError } from '../../src/data/dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, loadIdxPair, parseIdx } from '../../src/data/readers/idx.js';
import { sha256 } from '../../src/data/readers/files.js';
import { byteMutations, checkCoverage, expectClean, fuzzParams, mutate, tally, tempDir } from './fuzz.js';

const N = 6, ROWS = 4, COLS = 5, CLASSES = 10;

function idx(magic: number, dims: number[], payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(payload, 4 + 4 * dims.length);
  return out;
}

const IMAGES = idx(IDX_IMAGES_MAGIC, [N, ROWS, COLS], Uint8Array.from({ length: N * ROWS * COLS }, (_, i) => (i * 37) & 255));
const LABELS = idx(IDX_LABELS_MAGIC, [N], Uint8Array.from({ length: N }, (_, i) => (i * 3) % CLASSES));

test('IDX: parseIdx on byte-mutated image and label files', (t) => {
  const n = tally();
  const which = fc.constantFrom('images' as const, 'labels' as const);
  fc.assert(fc.property(which, byteMutations(4), fc.boolean(), (w, m, headerOnly) => {
    const base = w === 'images' ? IMAGES : LABELS;
    const bytes = mutate(base, m, headerOnly ? 16 : 0);
    const r = expectClean(() => parseIdx(bytes, 'fuzz.idx', w === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC), [DataError], 'fuzz.idx', n);
    if (r) assert.equal(r.data.length, r.dims.reduce((a, b) => a * b, 1));
  }), fuzzParams(4000, 11));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('idx bytes', n);
});

const EDGE = [0, 1, 2, 3, 4, 5, 6, 7, 255, 256, 65535, 0x7fffffff, 0x80000000, 0xffffffff];
const dim = fc.oneof(fc.constantFrom(...EDGE), fc.integer({ min: 0, max: 12 }));

test('IDX: magic, dimension and length edits', (t) => {
  const n = tally();
  const magic = fc.oneof(fc.constantFrom(IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, 0x0803, 0x0801, 0x0c03, 0x0d03, 0x0800, 0x0804, 0x080b, 0), fc.nat({ max: 0xffffffff }));
  fc.assert(fc.property(magic, fc.array(dim, { maxLength: 5 }), fc.integer({ min: -20, max: 20 }), (mg, dims, extra) => {
    // The payload length is what the (possibly edited) dimensions ask for, give or take `extra`.
    let want = 1;
    for (const d of dims) want *= d;
    const len = Math.max(0, Math.min(Number.isFinite(want) ? want : 0, 4096) + extra);
    const bytes = idx(mg, dims, new Uint8Array(len).fill(1));
    expectClean(() => parseIdx(bytes, 'edited.idx', IDX_IMAGES_MAGIC), [DataError], 'edited.idx', n);
  }), fuzzParams(3000, 12));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});

test('IDX: loadIdxPair on mutated files, raw and gzip, with and without checksums', (t) => {
  const dir = tempDir(t, 'pai-fuzz-idx-');
  const imgPath = join(dir, 'train-images-idx3-ubyte'), lblPath = join(dir, 'train-labels-idx1-ubyte');
  const n = tally();
  const form = fc.constantFrom('raw' as const, 'gz' as const, 'gz-bytes' as const);
  const sums = { 'train-images-idx3-ubyte': sha256(IMAGES), 'train-labels-idx1-ubyte': sha256(LABELS) };
  // Headers are where lengths live, so half the edits go there.
  const target = fc.constantFrom('images' as const, 'labels' as const, 'both' as const);
  fc.assert(fc.property(target, form, byteMutations(3), fc.boolean(), fc.boolean(), (tg, f, m, headerOnly, verify) => {
    const encode = (base: Uint8Array, hit: boolean): Uint8Array => {
      if (!hit) return f === 'raw' ? base : gzipSync(base);
      if (f === 'raw') return mutate(base, m, headerOnly ? 16 : 0);
      if (f === 'gz') return gzipSync(mutate(base, m, headerOnly ? 16 : 0));
      return mutate(gzipSync(base), m);   // corrupt compressed stream
    };
    const suffix = f === 'raw' ? '' : '.gz';
    const ip = imgPath + suffix, lp = lblPath + suffix;
    writeFileSync(ip, encode(IMAGES, tg !== 'labels'));
    writeFileSync(lp, encode(LABELS, tg !== 'images'));
    const opts = { name: 'fuzz-idx', numClasses: CLASSES, ...(verify ? { checksums: sums } : {}) };
    let err: unknown = null;
    const ds = expectClean(() => {
      try { return loadIdxPair(ip, lp, opts); } catch (e) { err = e; throw e; }
    }, [DataError], dir, n);
    if (err instanceof DataError) assert.ok(err.message.includes(ip) || err.message.includes(lp), err.message);
    if (ds) {
      assert.equal(ds.length, ds.labels().length);
      for (let i = 0; i < ds.length; i++) assert.ok(ds.get(i).label < CLASSES);
    }
  }), fuzzParams(2000, 13));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('idx pair', n);
});

test('IDX: loadIdxPair with consistent but unusual dimensions (zeros, mismatched counts)', (t) => {
  const dir = tempDir(t, 'pai-fuzz-idx-dims-');
  const ip = join(dir, 'train-images-idx3-ubyte'), lp = join(dir, 'train-labels-idx1-ubyte');
  const n = tally();
  const small = fc.integer({ min: 0, max: 6 });
  const imgShape = fc.oneof({ arbitrary: fc.tuple(small, small, small), weight: 3 }, { arbitrary: fc.array(small, { maxLength: 4 }), weight: 1 });
  const lblShape = fc.oneof({ arbitrary: fc.tuple(small), weight: 3 }, { arbitrary: fc.array(small, { maxLength: 2 }), weight: 1 });
  const label = fc.oneof(fc.integer({ min: 0, max: CLASSES - 1 }), fc.integer({ min: 0, max: 255 }));
  fc.assert(fc.property(imgShape, lblShape, label, (imgDims, lblDims, label) => {
    const count = (d: number[]) => d.reduce((a, b) => a * b, 1);
    writeFileSync(ip, idx(IDX_IMAGES_MAGIC, imgDims, new Uint8Array(count(imgDims)).fill(9)));
    writeFileSync(lp, idx(IDX_LABELS_MAGIC, lblDims, new Uint8Array(count(lblDims)).fill(label)));
    const ds = expectClean(() => loadIdxPair(ip, lp, { name: 'fuzz-idx', numClasses: CLASSES }), [DataError], dir, n);
    if (ds) for (let i = 0; i < ds.length; i++) ds.get(i);
  }), fuzzParams(1500, 14));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('idx dims', n);
});
