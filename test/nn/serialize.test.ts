// State dicts through safetensors files: PyTorch's layout (I64 counters), a bit-identical round
// trip, and load errors that name the file and the keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveStateDict, loadStateDictFile } from '../../src/nn/serialize.js';
import { StateDictError } from '../../src/nn/module.js';
import { readSafetensors, writeSafetensors, fromTensor, SafetensorsError, type StEntry } from '../../src/tensor/safetensors.js';
import { createModel } from '../../src/models/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad } from '../../src/autograd/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pai-serialize-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('saveStateDict -> loadStateDictFile: every tensor bit-identical, counters as I64', () => {
  const a = createModel('resnet18', { width: 1 / 16, seed: 1 });
  // Non-trivial running statistics and counters.
  noGrad(() => a.train().forward(randn([4, 3, 32, 32], new Generator(2))));
  const path = join(dir, 'a.safetensors');
  saveStateDict(path, a, { arch: 'resnet18' });
  const file = readSafetensors(path);
  assert.equal(file.metadata['arch'], 'resnet18');
  assert.deepEqual([...file.tensors.keys()], [...a.stateDict().keys()]);
  assert.equal(file.tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');
  assert.deepEqual(file.tensors.get('bn1.num_batches_tracked')!.shape, []);
  assert.equal((file.tensors.get('bn1.num_batches_tracked')!.data as BigInt64Array)[0], 1n);
  assert.equal(file.tensors.get('conv1.weight')!.dtype, 'F32');

  const b = createModel('resnet18', { width: 1 / 16, seed: 9 });
  const r = loadStateDictFile(b, path);
  assert.deepEqual(r.missing, []);
  assert.equal(r.metadata['arch'], 'resnet18');
  const sb = b.stateDict();
  for (const [k, t] of a.stateDict()) assert.ok(bytesOf(t.data).equals(bytesOf(sb.get(k)!.data)), k);
  // And the file written again from the loaded model is the same file.
  const path2 = join(dir, 'b.safetensors');
  saveStateDict(path2, b, { arch: 'resnet18' });
  assert.ok(readFileSync(path).equals(readFileSync(path2)));
});

test('float64 modules save as F64 and load back exactly', () => {
  const a = createModel('lenet5', { seed: 3 }).to('float64');
  const path = join(dir, 'f64.safetensors');
  saveStateDict(path, a);
  assert.equal(readSafetensors(path).tensors.get('conv1.weight')!.dtype, 'F64');
  const b = createModel('lenet5', { seed: 4 }).to('float64');
  loadStateDictFile(b, path);
  assert.deepEqual(Array.from(b.stateDict().get('fc1.weight')!.data), Array.from(a.stateDict().get('fc1.weight')!.data));
});

test('loadStateDictFile names the file and every bad key', () => {
  const m = createModel('resnet20', { width: 1 / 8 });
  const entries = new Map<string, StEntry>();
  for (const [k, t] of m.stateDict()) if (k !== 'fc.bias' && k !== 'bn.num_batches_tracked') entries.set(k, fromTensor(t));
  entries.set('fc.weight', { dtype: 'F32', shape: [10, 3], data: new Float32Array(30) });
  entries.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
  const path = join(dir, 'bad.safetensors');
  writeSafetensors(path, entries);
  assert.throws(() => loadStateDictFile(m, path), (e: unknown) => {
    assert.ok(e instanceof StateDictError);
    for (const s of [path, 'fc.bias', 'bn.num_batches_tracked', 'extra.weight', 'fc.weight: file has [10, 3], model has [10, 8]']) assert.ok(e.message.includes(s), `${s} in ${e.message}`);
    return true;
  });
  // Non-strict still refuses the wrong shape.
  assert.throws(() => loadStateDictFile(m, path, { strict: false }), /fc\.weight/);
});

test('loadStateDictFile refuses a corrupt file with a SafetensorsError naming it', () => {
  const path = join(dir, 'corrupt.safetensors');
  writeFileSync(path, Buffer.from([1, 2, 3]));
  assert.throws(() => loadStateDictFile(createModel('lenet5'), path), (e: unknown) => e instanceof SafetensorsError && e.message.includes(path));
  assert.throws(() => loadStateDictFile(createModel('lenet5'), join(dir, 'absent.safetensors')), SafetensorsError);
});
