import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadTensorDataset } from '../../src/data/readers/tensorfile.js';
import { writeSafetensors, type StEntry } from '../../src/tensor/safetensors.js';
import { repoRoot, throwsData, tmp, write } from './fixtures.js';

const x = (n: number): StEntry => ({ dtype: 'F32', shape: [n, 1, 2, 2], data: Float32Array.from({ length: n * 4 }, (_, i) => i / 4) });

test('tensorfile: x float32 NCHW with int64 or int32 labels', (t) => {
  const dir = tmp(t);
  const f64 = join(dir, 'a.safetensors');
  writeSafetensors(f64, { x: x(3), y: { dtype: 'I64', shape: [3], data: BigInt64Array.from([2n, 0n, 1n]) } }, { source: 'test' });
  const a = loadTensorDataset(f64);
  assert.deepEqual(a.x.shape, [3, 1, 2, 2]);
  assert.equal(a.x.dtype, 'float32');
  assert.equal(a.x.data[5], 5 / 4);
  assert.deepEqual([...a.y], [2, 0, 1]);
  assert.equal(a.metadata['source'], 'test');
  const f32 = join(dir, 'b.safetensors');
  writeSafetensors(f32, { x: x(2), y: { dtype: 'I32', shape: [2], data: Int32Array.from([7, 3]) } });
  assert.deepEqual([...loadTensorDataset(f32).y], [7, 3]);
  throwsData(() => loadTensorDataset(f32, { numClasses: 5 }), f32, /label 7 at index 0 .* outside 0\.\.4/);
});

test('tensorfile: bad contents name the file', (t) => {
  const dir = tmp(t);
  const f = join(dir, 'bad.safetensors');
  writeSafetensors(f, { x: x(2) });
  throwsData(() => loadTensorDataset(f), f, /no tensor "y" \(tensors: x\)/);
  writeSafetensors(f, { x: x(2), y: { dtype: 'F32', shape: [2], data: Float32Array.from([0, 1]) } });
  throwsData(() => loadTensorDataset(f), f, /"y" is F32, expected I64 or I32/);
  writeSafetensors(f, { x: x(2), y: { dtype: 'I64', shape: [3], data: BigInt64Array.from([0n, 1n, 1n]) } });
  throwsData(() => loadTensorDataset(f), f, /expected \[2\]/);
  writeSafetensors(f, { x: x(2), y: { dtype: 'I64', shape: [2], data: BigInt64Array.from([0n, -1n]) } });
  throwsData(() => loadTensorDataset(f), f, /label -1 at index 1/);
  writeSafetensors(f, { x: { dtype: 'F32', shape: [2, 4], data: new Float32Array(8) }, y: { dtype: 'I32', shape: [2], data: new Int32Array(2) } });
  throwsData(() => loadTensorDataset(f), f, /expected NCHW/);
  writeSafetensors(f, { x: { dtype: 'F64', shape: [1, 1, 1, 1], data: new Float64Array(1) }, y: { dtype: 'I32', shape: [1], data: new Int32Array(1) } });
  throwsData(() => loadTensorDataset(f), f, /"x" is F64, expected F32/);
  writeSafetensors(f, { x: x(2), y: { dtype: 'I32', shape: [2], data: new Int32Array(2) } });
  const bytes = readFileSync(f);
  write(f, bytes.subarray(0, bytes.length - 3));
  throwsData(() => loadTensorDataset(f), f, /./);
  throwsData(() => loadTensorDataset(join(dir, 'missing.safetensors')), join(dir, 'missing.safetensors'), /./);
});

const golden = resolve(repoRoot, '../shared/golden/resnet18_w16_seed0/batch.safetensors');
test('tensorfile: the golden batch written by PyTorch', { skip: existsSync(golden) ? false : `${golden} not present` }, () => {
  const b = loadTensorDataset(golden);
  assert.equal(b.x.shape.length, 4);
  assert.deepEqual(b.x.shape.slice(1), [3, 32, 32]);
  assert.equal(b.y.length, b.x.shape[0]);
  // The README: y = arange(N) % classes.
  assert.equal(b.y[0], 0);
  assert.equal(b.y[1], 1);
});
