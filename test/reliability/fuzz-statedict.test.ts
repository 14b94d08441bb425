// Fuzzing state-dict loading: files from another model, with other dtypes, shapes or names, or
// with damaged bytes, must either load into a model that is then fully usable (it saves again) or
// be refused with a StateDictError or SafetensorsError naming the file, leaving the model as it was.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Module, StateDictError } from '../../src/nn/module.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '../../src/nn/layers.js';
import { loadStateDictFile, saveStateDict } from '../../src/nn/serialize.js';
import { SafetensorsError, readSafetensors, serializeSafetensors, type StDtype, type StEntry } from '../../src/tensor/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { createModel } from '../../src/models/registry.js';
import { byteMutations, checkCoverage, expectClean, fuzzParams, mutate, tally, tempDir } from './fuzz.js';

/** Conv, BN (with its int64 counter) and Linear: every kind of entry a real state dict has. */
function smallNet(seed: number): Module {
  const gen = new Generator(seed, 'init');
  return new Sequential(new Conv2d(1, 2, 3, { gen }), new BatchNorm2d(2), new ReLU(), new Flatten(), new Linear(8, 3, { gen }));
}

function snapshot(m: Module): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, t] of m.stateDict()) out.set(k, Buffer.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
  return out;
}

function sameState(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || Buffer.compare(v, b.get(k)!) !== 0) return false;
  return true;
}

const DTYPES: StDtype[] = ['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

/** Values re-encoded in another dtype (rounded or clamped the way a careless converter would). */
function recode(e: StEntry, to: StDtype, odd: number): StEntry {
  const vals = Array.from(e.data as ArrayLike<number | bigint>, (v) => Number(v));
  const n = vals.length;
  switch (to) {
    case 'F32': return { dtype: to, shape: e.shape, data: Float32Array.from(vals) };
    case 'F64': return { dtype: to, shape: e.shape, data: Float64Array.from(vals) };
    case 'F16': case 'BF16': return { dtype: to, shape: e.shape, data: Uint16Array.from({ length: n }, (_, i) => (i * 4099 + odd) & 0xffff) };
    case 'I64': return { dtype: to, shape: e.shape, data: BigInt64Array.from(vals, (v, i) => (i === 0 && odd % 7 === 0 ? 2n ** 60n : BigInt(Math.trunc(v * 10)))) };
    case 'I32': return { dtype: to, shape: e.shape, data: Int32Array.from(vals, (v) => Math.trunc(v * 10)) };
    case 'I16': return { dtype: to, shape: e.shape, data: Int16Array.from(vals, (v) => Math.trunc(v * 10)) };
    case 'I8': return { dtype: to, shape: e.shape, data: Int8Array.from(vals, (v) => Math.trunc(v * 10)) };
    case 'U8': return { dtype: to, shape: e.shape, data: Uint8Array.from(vals, (v) => Math.abs(Math.trunc(v * 10)) & 255) };
    case 'BOOL': return { dtype: to, shape: e.shape, data: Uint8Array.from(vals, (v) => (v > 0 ? 1 : 0)) };
  }
}

function resized(e: StEntry, shape: number[]): StEntry {
  const n = shape.reduce((a, b) => a * b, 1);
  const Ctor = e.data.constructor as new (n: number) => StEntry['data'];
  const data = new Ctor(n);
  const m = Math.min(n, e.data.length);
  for (let i = 0; i < m; i++) (data as unknown as unknown[])[i] = (e.data as unknown as unknown[])[i];
  return { dtype: e.dtype, shape, data };
}

type Edit =
  | { op: 'dtype'; k: number; to: StDtype; odd: number }
  | { op: 'reshape'; k: number; how: 'flat' | 'unsqueeze' | 'squeeze' | 'transpose' }
  | { op: 'resize'; k: number; shape: number[] }
  | { op: 'rename'; k: number; to: string }
  | { op: 'prefix'; prefix: string }
  | { op: 'drop'; k: number }
  | { op: 'extra'; name: string }
  | { op: 'swap'; k: number; j: number }
  | { op: 'value'; k: number; v: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('dtype' as const), k: fc.nat(), to: fc.constantFrom(...DTYPES), odd: fc.nat({ max: 1000 }) }),
  fc.record({ op: fc.constant('reshape' as const), k: fc.nat(), how: fc.constantFrom('flat' as const, 'unsqueeze' as const, 'squeeze' as const, 'transpose' as const) }),
  fc.record({ op: fc.constant('resize' as const), k: fc.nat(), shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }) }),
  fc.record({ op: fc.constant('rename' as const), k: fc.nat(), to: fc.oneof(fc.constantFrom('0.weight', '1.running_var', '4.bias', 'weight', '', '__proto__', '1.num_batches_tracked'), fc.string({ maxLength: 8 })) }),
  fc.record({ op: fc.constant('prefix' as const), prefix: fc.constantFrom('module.', 'model.', '_orig_mod.') }),
  fc.record({ op: fc.constant('drop' as const), k: fc.nat() }),
  fc.record({ op: fc.constant('extra' as const), name: fc.constantFrom('5.weight', '0.weight_orig', '1.extra', 'fc.bias') }),
  fc.record({ op: fc.constant('swap' as const), k: fc.nat(), j: fc.nat() }),
  fc.record({ op: fc.constant('value' as const), k: fc.nat(), v: fc.constantFrom(NaN, Infinity, -Infinity, 1e30, 2.5, -0) }),
);

function applyEdits(base: Map<string, StEntry>, edits: readonly Edit[]): Map<string, StEntry> {
  let m = new Map(base);
  for (const e of edits) {
    const keys = [...m.keys()];
    if (e.op === 'prefix') { m = new Map([...m].map(([k, v]) => [e.prefix + k, v])); continue; }
    if (e.op === 'extra') { m.set(e.name, { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }); continue; }
    if (keys.length === 0) continue;
    const k = keys[e.k % keys.length]!;
    const v = m.get(k)!;
    switch (e.op) {
      case 'dtype': m.set(k, recode(v, e.to, e.odd)); break;
      case 'reshape': {
        const s = v.shape;
        const shape = e.how === 'flat' ? [s.reduce((a, b) => a * b, 1)]
          : e.how === 'unsqueeze' ? [1, ...s]
            : e.how === 'squeeze' ? s.filter((d) => d !== 1)
              : s.length >= 2 ? [s[1]!, s[0]!, ...s.slice(2)] : s;
        m.set(k, { ...v, shape });
        break;
      }
      case 'resize': m.set(k, resized(v, e.shape)); break;
      case 'rename': m.delete(k); m.set(e.to, v); break;
      case 'drop': m.delete(k); break;
      case 'swap': { const j = keys[e.j % keys.length]!; const w = m.get(j)!; m.set(k, w); m.set(j, v); break; }
      case 'value': {
        if (v.data.length === 0) break;
        const d = v.data.slice() as StEntry['data'];
        if (d instanceof BigInt64Array) d[0] = Number.isFinite(e.v) ? BigInt(Math.trunc(e.v)) : 0n;
        else (d as Float32Array)[0] = e.v;
        m.set(k, { ...v, data: d });
        break;
      }
    }
  }
  return m;
}

function checkLoad(model: Module, path: string, strict: boolean, n: ReturnType<typeof tally>, copyPath: string): void {
  const before = snapshot(model);
  const r = expectClean(() => loadStateDictFile(model, path, { strict }), [StateDictError, SafetensorsError], path, n);
  if (!r) {
    assert.ok(sameState(before, snapshot(model)), 'a refused load changed the model');
    return;
  }
  // A model that loaded must be usable: in particular it must save again.
  expectClean(() => saveStateDict(copyPath, model), [], copyPath);
}

test('state dict files: wrong dtypes, shapes and names (loadStateDictFile)', (t) => {
  const dir = tempDir(t, 'pai-fuzz-sd-');
  const path = join(dir, 'model.safetensors'), copy = join(dir, 'copy.safetensors');
  saveStateDict(path, smallNet(1));
  const base = readSafetensors(path).tensors;
  const n = tally();
  fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.boolean(), (edits, strict) => {
    let bytes: Uint8Array;
    try {
      bytes = serializeSafetensors(applyEdits(base, edits));
    } catch (e) {
      // The writer refuses what it cannot represent (a name reused by an edit, say); nothing to load.
      if (e instanceof SafetensorsError) return;
      throw e;
    }
    writeFileSync(path, bytes);
    checkLoad(smallNet(2), path, strict, n, copy);
  }), fuzzParams(3000, 41));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('state dict edits', n);
});

test('state dict files: byte mutations of a saved resnet20', (t) => {
  const dir = tempDir(t, 'pai-fuzz-sd-bytes-');
  const path = join(dir, 'resnet20.safetensors'), copy = join(dir, 'copy.safetensors');
  const model = createModel('resnet20', { width: 0.25, seed: 3 });
  saveStateDict(path, model);
  const good = Uint8Array.from(readFileSync(path));
  const target = createModel('resnet20', { width: 0.25, seed: 4 });
  const n = tally();
  fc.assert(fc.property(byteMutations(3), fc.boolean(), (m, headerOnly) => {
    writeFileSync(path, mutate(good, m, headerOnly ? 8 + Number(new DataView(good.buffer).getBigUint64(0, true)) : 0));
    checkLoad(target, path, true, n, copy);
  }), fuzzParams(1000, 42));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('state dict bytes', n);
});

test('Module.loadStateDict: mutated in-memory state dicts name their source', (t) => {
  const base = new Map([...smallNet(5).stateDict()].map(([k, v]) => [k, v] as const));
  const n = tally();
  const shapeEdit = fc.record({ k: fc.nat(), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }) });
  fc.assert(fc.property(fc.array(edit, { maxLength: 2 }), fc.option(shapeEdit), fc.boolean(), fc.boolean(), (edits, se, strict, f64) => {
    const sd = new Map<string, Tensor>();
    const entries = applyEdits(new Map([...base].map(([k, v]) => [k, { dtype: 'F32' as StDtype, shape: [...v.shape], data: Float32Array.from(v.data) }])),
      edits.filter((e) => e.op !== 'dtype'));
    for (const [k, e] of entries) sd.set(k, new Tensor(f64 ? Float64Array.from(e.data as Float32Array) : e.data as Float32Array, e.shape));
    if (se) {
      const keys = [...sd.keys()];
      if (keys.length) {
        const k = keys[se.k % keys.length]!;
        const size = se.shape.reduce((a, b) => a * b, 1);
        sd.set(k, new Tensor(new Float32Array(size), se.shape));
      }
    }
    const model = smallNet(6);
    const before = snapshot(model);
    const r = expectClean(() => model.loadStateDict(sd, { strict, source: 'mem://fuzz' }), [StateDictError], 'mem://fuzz', n);
    if (!r) assert.ok(sameState(before, snapshot(model)), 'a refused load changed the model');
  }), fuzzParams(2000, 43));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('loadStateDict', n);
});
