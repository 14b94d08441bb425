// Fuzzing tensor datasets (x NCHW float32, y int64 labels in one safetensors file): wrong dtypes,
// shapes, names and label values, and damaged bytes, must end in a DataError naming the file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DataError } from '../../src/data/dataset.js';
import { loadTensorDataset } from '../../src/data/readers/tensorfile.js';
import { serializeSafetensors, type StDtype, type StEntry } from '../../src/tensor/safetensors.js';
import { byteMutations, checkCoverage, expectClean, fuzzParams, mutate, tally, tempDir } from './fuzz.js';

const X: StEntry = { dtype: 'F32', shape: [3, 1, 2, 2], data: Float32Array.from({ length: 12 }, (_, i) => i / 12) };
const Y: StEntry = { dtype: 'I64', shape: [3], data: BigInt64Array.from([0n, 2n, 1n]) };

const label = fc.oneof(
  fc.integer({ min: -3, max: 12 }).map(BigInt),
  fc.constantFrom(2n ** 31n - 1n, 2n ** 31n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n),
);

/** Mostly the valid value, so every combination of a few wrong fields gets tried. */
function usually<T>(good: T, ...bad: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(good), weight: 3 }, { arbitrary: fc.constantFrom(...bad), weight: 1 });
}

const spec = fc.record({
  xName: usually('x', 'X', 'images'),
  yName: usually('y', 'labels'),
  xDtype: usually<StDtype>('F32', 'F64', 'F16', 'U8'),
  yDtype: fc.oneof(fc.constantFrom<StDtype>('I64', 'I32'), fc.constantFrom<StDtype>('F32', 'U8', 'I16')),
  xShape: usually<number[]>([3, 1, 2, 2], [3, 4], [1, 3, 2, 2], [3, 1, 4, 1], [0, 1, 2, 2]),
  yShape: usually<number[]>([3], [1, 3], [2], []),
  labels: fc.array(fc.oneof({ arbitrary: fc.integer({ min: 0, max: 9 }).map(BigInt), weight: 6 }, { arbitrary: label, weight: 1 }), { minLength: 3, maxLength: 3 }),
  numClasses: fc.option(fc.integer({ min: 1, max: 10 })),
});

function typed(dtype: StDtype, values: readonly number[]): StEntry['data'] {
  switch (dtype) {
    case 'F32': return Float32Array.from(values);
    case 'F64': return Float64Array.from(values);
    case 'F16': case 'BF16': return Uint16Array.from(values, () => 0x3c00);
    case 'I64': return BigInt64Array.from(values, (v) => BigInt(v));
    case 'I32': return Int32Array.from(values);
    case 'I16': return Int16Array.from(values);
    case 'I8': return Int8Array.from(values);
    case 'U8': case 'BOOL': return Uint8Array.from(values, (v) => v & 1);
  }
}

test('tensor datasets: wrong names, dtypes, shapes and label values', (t) => {
  const dir = tempDir(t, 'pai-fuzz-tf-');
  const path = join(dir, 'batch.safetensors');
  const n = tally();
  fc.assert(fc.property(spec, (s) => {
    const xCount = s.xShape.reduce((a, b) => a * b, 1), yCount = s.yShape.reduce((a, b) => a * b, 1);
    const x: StEntry = { dtype: s.xDtype, shape: s.xShape, data: typed(s.xDtype, Array.from({ length: xCount }, (_, i) => i / 8)) };
    const yData = s.yDtype === 'I64'
      ? BigInt64Array.from({ length: yCount }, (_, i) => s.labels[i % 3]!)
      : typed(s.yDtype, Array.from({ length: yCount }, (_, i) => Number(BigInt.asIntN(32, s.labels[i % 3]!))));
    const y: StEntry = { dtype: s.yDtype, shape: s.yShape, data: yData };
    writeFileSync(path, serializeSafetensors(new Map([[s.xName, x], [s.yName, y]])));
    const o = s.numClasses === null ? {} : { numClasses: s.numClasses };
    const ds = expectClean(() => loadTensorDataset(path, o), [DataError], path, n);
    if (ds) {
      assert.equal(ds.x.shape[0], ds.y.length);
      for (const l of ds.y) assert.ok(l >= 0 && (s.numClasses === null || l < s.numClasses), `label ${l}`);
    }
  }), fuzzParams(2000, 51));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('tensor dataset edits', n);
});

test('tensor datasets: byte mutations', (t) => {
  const dir = tempDir(t, 'pai-fuzz-tf-bytes-');
  const path = join(dir, 'batch.safetensors');
  const good = serializeSafetensors(new Map([['x', X], ['y', Y]]));
  const n = tally();
  fc.assert(fc.property(byteMutations(3), (m) => {
    writeFileSync(path, mutate(good, m));
    expectClean(() => loadTensorDataset(path, { numClasses: 10 }), [DataError], path, n);
  }), fuzzParams(1500, 52));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('tensor dataset bytes', n);
});
