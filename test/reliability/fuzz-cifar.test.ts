// Fuzzing the CIFAR binary reader: files whose length is not a whole number of records, labels
// out of range, and damaged .tar.gz archives must be refused with a DataError naming the file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import fc from 'fast-check';
import { DataError } from '../../src/data/dataset.js';
import { loadCifar10, loadCifar100, parseCifarRecords } from '../../src/data/readers/cifar.js';
import { byteMutations, checkCoverage, expectClean, fuzzParams, mutate, tally, tempDir, type ByteMutation } from './fuzz.js';

const PIXELS = 3072;

function records(n: number, labelBytes: number, label: (i: number, k: number) => number): Uint8Array {
  const rec = labelBytes + PIXELS;
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < labelBytes; k++) out[i * rec + k] = label(i, k);
    for (let j = 0; j < PIXELS; j++) out[i * rec + labelBytes + j] = (i * 11 + j) & 255;
  }
  return out;
}

const C10 = records(3, 1, (i) => i % 10);
const C100 = records(3, 2, (i, k) => (k === 0 ? i % 20 : (i * 7) % 100));

/** Record-aware edits: a label byte of some record, or whole records added or cut. */
type RecordEdit =
  | { op: 'label'; rec: number; k: number; value: number }
  | { op: 'cut'; bytes: number }
  | { op: 'grow'; bytes: number };

const recordEdit: fc.Arbitrary<RecordEdit> = fc.oneof(
  fc.record({ op: fc.constant('label' as const), rec: fc.nat(), k: fc.nat({ max: 1 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('cut' as const), bytes: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom(PIXELS, PIXELS + 1, PIXELS + 2, 2 * (PIXELS + 1))) }),
  fc.record({ op: fc.constant('grow' as const), bytes: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom(PIXELS, PIXELS + 1, PIXELS + 2)) }),
);

function applyRecordEdits(base: Uint8Array, labelBytes: number, edits: readonly RecordEdit[], muts: readonly ByteMutation[]): Uint8Array {
  let b = Uint8Array.from(base);
  const rec = labelBytes + PIXELS;
  for (const e of edits) {
    if (e.op === 'label') {
      const n = Math.floor(b.length / rec);
      if (n > 0) b[(e.rec % n) * rec + (e.k % labelBytes)] = e.value;
    } else if (e.op === 'cut') {
      b = b.slice(0, Math.max(0, b.length - e.bytes));
    } else {
      const g = new Uint8Array(b.length + e.bytes);
      g.set(b);
      b = g;
    }
  }
  return mutate(b, muts);
}

const edits = fc.array(recordEdit, { minLength: 0, maxLength: 3 });
const noBytes = fc.constant<ByteMutation[]>([]);

test('CIFAR: parseCifarRecords on record-length and label edits plus byte mutations', (t) => {
  const n = tally();
  const variant = fc.constantFrom(
    { base: C10, lb: 1, off: 0, classes: 10 },
    { base: C100, lb: 2, off: 1, classes: 100 },
    { base: C100, lb: 2, off: 0, classes: 20 },
  );
  const muts = fc.oneof(noBytes, byteMutations(3));
  fc.assert(fc.property(variant, edits, muts, (v, e, m) => {
    const bytes = applyRecordEdits(v.base, v.lb, e, m);
    const r = expectClean(() => parseCifarRecords(bytes, 'fuzz/data_batch_1.bin', v.lb, v.off, v.classes), [DataError], 'fuzz/data_batch_1.bin', n);
    if (r) {
      assert.equal(r.pixels.length, r.labels.length * PIXELS);
      for (const l of r.labels) assert.ok(l >= 0 && l < v.classes);
    }
  }), fuzzParams(3000, 21));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('cifar records', n);
});

test('CIFAR: loadCifar10 / loadCifar100 on mutated extracted files', (t) => {
  const dir = tempDir(t, 'pai-fuzz-cifar-');
  const c10 = join(dir, 'cifar-10-batches-bin'), c100 = join(dir, 'cifar-100-binary');
  mkdirSync(c10);
  mkdirSync(c100);
  const n = tally();
  fc.assert(fc.property(fc.boolean(), edits, byteMutations(2), fc.boolean(), (ten, e, m, coarse) => {
    const file = ten ? join(c10, 'test_batch.bin') : join(c100, 'test.bin');
    writeFileSync(file, applyRecordEdits(ten ? C10 : C100, ten ? 1 : 2, e, m));
    const ds = expectClean(() => (ten ? loadCifar10('test', { dataDir: dir }) : loadCifar100('test', { dataDir: dir, coarse })), [DataError], file, n);
    if (ds) for (let i = 0; i < ds.length; i++) assert.ok(ds.get(i).label < ds.numClasses);
  }), fuzzParams(1500, 22));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('cifar files', n);
});

test('CIFAR: corrupt and truncated .tar.gz archives', (t) => {
  const dir = tempDir(t, 'pai-fuzz-cifar-tar-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'cifar-10-batches-bin'), { recursive: true });
  writeFileSync(join(src, 'cifar-10-batches-bin', 'test_batch.bin'), C10);
  const archive = join(dir, 'cifar-10-binary.tar.gz');
  tar.c({ gzip: true, file: archive, cwd: src, sync: true, portable: true, noMtime: true }, ['cifar-10-batches-bin/test_batch.bin']);
  const good = Uint8Array.from(readFileSync(archive));
  rmSync(src, { recursive: true });
  const n = tally();
  fc.assert(fc.property(byteMutations(3), (m) => {
    writeFileSync(archive, mutate(good, m));
    expectClean(() => loadCifar10('test', { dataDir: dir }), [DataError], archive, n);
  }), fuzzParams(600, 23));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});
