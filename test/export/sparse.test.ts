// The sparse artifact and the safetensors round trips: pai -> file -> pai, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSparse, loadSparseIntoModel, readSparse, saveSparse, serializeSparse } from '../../src/export/index.js';
import { createModel } from '../../src/models/index.js';
import { StateDictError } from '../../src/nn/module.js';
import { loadStateDictFile, saveStateDict, stateDictEntries } from '../../src/nn/serialize.js';
import { readSafetensors, writeSafetensors, SafetensorsError, type StEntry } from '../../src/tensor/safetensors.js';
import { batchFor, forward, prunedModel } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pai-export-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function bitsEqual(a: StEntry, b: StEntry): boolean {
  if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function assertSameState(a: Map<string, StEntry>, b: Map<string, StEntry>): void {
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [k, e] of a) assert.ok(bitsEqual(e, b.get(k)!), `${k} differs`);
}

test('safetensors round trip pai -> file -> pai is bit-identical (98%-sparse resnet20, BN counters included)', () => {
  const m = prunedModel('resnet20', { width: 0.25 });
  const p = join(dir, 'r20.safetensors');
  saveStateDict(p, m);
  const back = createModel('resnet20', { width: 0.25, seed: 99 });
  loadStateDictFile(back, p);
  assertSameState(stateDictEntries(m), stateDictEntries(back));
  assert.equal(readSafetensors(p).tensors.get('bn.num_batches_tracked')?.dtype, 'I64');
});

test('importing a state dict with renamed and mis-shaped keys names every mismatch', () => {
  const m = createModel('lenet5');
  const entries = stateDictEntries(m);
  const bad = new Map<string, StEntry>();
  for (const [k, e] of entries) {
    if (k === 'conv1.weight') bad.set('features.conv1.weight', e);       // renamed: missing + unexpected
    else if (k === 'fc2.bias') bad.set(k, { dtype: 'F32', shape: [85], data: new Float32Array(85) }); // mis-shaped
    else if (k === 'fc3.bias') continue;                                 // dropped
    else bad.set(k, e);
  }
  const p = join(dir, 'bad.safetensors');
  writeSafetensors(p, bad);
  assert.throws(() => loadStateDictFile(createModel('lenet5'), p), (e: Error) => {
    assert.ok(e instanceof StateDictError);
    assert.match(e.message, /missing keys: conv1\.weight, fc3\.bias/);
    assert.match(e.message, /unexpected keys: features\.conv1\.weight/);
    assert.match(e.message, /fc2\.bias: file has \[85\], model has \[84\]/);
    assert.ok(e.message.includes(p));
    assert.deepEqual(e.missing, ['conv1.weight', 'fc3.bias']);
    return true;
  });
  // Non-strict loading still refuses a wrong shape, and reports what it skipped.
  bad.set('fc2.bias', entries.get('fc2.bias')!);
  writeSafetensors(p, bad);
  const r = loadStateDictFile(createModel('lenet5'), p, { strict: false });
  assert.deepEqual(r.missing, ['conv1.weight', 'fc3.bias']);
  assert.deepEqual(r.unexpected, ['features.conv1.weight']);
});

test('sparse artifact round trip of a 98%-sparse resnet20: bit-identical weights, same logits, much smaller', () => {
  const m = prunedModel('resnet20', { width: 0.25 });
  const p = join(dir, 'r20.sparse.safetensors');
  const report = saveSparse(p, m, { model: 'resnet20' });
  assert.equal(report.sparseBytes, readFileSync(p).length);
  // At width 1/4 the safetensors header and the dense BN vectors are a large share; width 1 is ~20x.
  assert.ok(report.ratio > 3, `ratio ${report.ratio}`);
  const back = createModel('resnet20', { width: 0.25, seed: 5 });
  const { metadata } = loadSparseIntoModel(back, p);
  assert.equal(metadata['model'], 'resnet20');
  assertSameState(stateDictEntries(m), stateDictEntries(back));
  back.eval();
  const x = batchFor(m, 4);
  assert.deepEqual(forward(back, x).data, forward(m, x).data);
  // Prunable convolutions are stored sparse, BN vectors and the dense head as they are.
  const info = new Map(report.tensors.map((t) => [t.name, t]));
  assert.notEqual(info.get('blocks.3.conv1.weight')!.encoding, 'dense');
  assert.equal(info.get('bn.weight')!.encoding, 'dense');
  assert.equal(info.get('bn.num_batches_tracked')!.dtype, 'I64');
});

function f32(values: number[], shape = [values.length]): StEntry {
  return { dtype: 'F32', shape, data: Float32Array.from(values) };
}

test('sparse encodings: each one chosen where smallest, and every value (-0, NaN payloads) kept bit for bit', () => {
  const n = 200_000;
  const every = (step: number, len = n): number[] => Array.from({ length: len }, (_, i) => (i % step === 0 ? 1 + i : 0));
  const nanBits = new Float32Array(new Uint32Array([0x7fc00123]).buffer)[0]!;
  const state = new Map<string, StEntry>([
    ['dense', f32(Array.from({ length: 1000 }, (_, i) => i + 1))],
    ['bitmap', f32(every(3))],                          // dense-ish: a bitmap beats per-value indices
    ['delta8', f32(every(50))],                         // gaps < 255: one byte each
    ['delta8_escaped', f32(every(300, 3000))],          // gaps > 255: escapes, still one byte wide
    ['delta16', f32([...every(70_000, 140_001)])],      // few values, huge gaps
    ['empty', f32(new Array(4096).fill(0), [64, 64])],  // a fully pruned layer
    ['specials', f32(Array.from({ length: 1000 }, (_, i) => ({ 1: -0, 2: nanBits, 20: Infinity, 999: -1e-45 } as Record<number, number>)[i] ?? 0))],
    ['counter', { dtype: 'I64', shape: [], data: new BigInt64Array([7n]) }],
  ]);
  const { infos } = encodeSparse(state);
  assert.equal(infos.get('dense')!.encoding, 'dense');
  assert.equal(infos.get('bitmap')!.encoding, 'bitmap');
  assert.deepEqual([infos.get('delta8')!.encoding, infos.get('delta8')!.width], ['delta', 1]);
  assert.deepEqual([infos.get('delta8_escaped')!.encoding, infos.get('delta8_escaped')!.width], ['delta', 1]);
  assert.equal(infos.get('delta16')!.encoding, 'delta');
  assert.equal(infos.get('empty')!.stored, 0);
  assert.equal(infos.get('specials')!.stored, 4);
  assert.equal(infos.get('counter')!.encoding, 'dense');
  const p = join(dir, 'crafted.safetensors');
  writeFileSync(p, serializeSparse(state).bytes);
  assertSameState(state, readSparse(p).entries);
});

test('a damaged sparse artifact is refused with a SafetensorsError that says what is wrong', () => {
  const state = new Map<string, StEntry>([['w', f32([0, 0, 3, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])]]);
  const { entries, infos } = encodeSparse(state);
  const meta = (sparse: object): Record<string, string> => ({ pai_sparse: JSON.stringify({ format: 'pai-sparse/1', sparse }) });
  const p = join(dir, 'damaged.safetensors');
  const expectBad = (re: RegExp): void => assert.throws(() => readSparse(p), (e: Error) => e instanceof SafetensorsError && re.test(e.message));
  // An index pointing past the end.
  const idx = entries.get('w::index')!;
  const far = new Map(entries);
  far.set('w::index', { ...idx, data: Uint8Array.from(idx.data as Uint8Array, (v, i) => (i === 2 ? 250 : v)) });
  writeSafetensors(p, far, meta(Object.fromEntries(infos)));
  expectBad(/points past/);
  writeSafetensors(p, entries, meta({ w: { ...infos.get('w')!, stored: 2 } }));
  expectBad(/values, the header says 2/);
  writeSafetensors(p, entries, { pai_sparse: JSON.stringify({ format: 'other/9', sparse: {} }) });
  expectBad(/format/);
  writeSafetensors(p, entries, {});
  expectBad(/not a pai sparse artifact/);
});
