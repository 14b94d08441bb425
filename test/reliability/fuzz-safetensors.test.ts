// Fuzzing the safetensors reader: weights, scores and masks all cross through it, so a damaged
// file must be refused with a SafetensorsError naming it, never crash the run with a TypeError or
// a RangeError from a typed-array constructor, and never come back half-parsed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  SafetensorsError, parseSafetensors, readSafetensors, serializeSafetensors, toTensor, type StEntry, type StFile,
} from '../../src/tensor/safetensors.js';
import { byteMutations, checkCoverage, expectClean, fuzzParams, mutate, tally, tempDir, type Tally } from './fuzz.js';

const FILE = 'fuzz/model.safetensors';

/** One tensor of every dtype family, with metadata, in a fixed order. */
function baseFile(): Uint8Array {
  const e = new Map<string, StEntry>();
  e.set('conv.weight', { dtype: 'F32', shape: [2, 1, 2, 2], data: Float32Array.from({ length: 8 }, (_, i) => i * 0.5 - 1) });
  e.set('conv.bias', { dtype: 'F64', shape: [2], data: Float64Array.from([0.25, -3]) });
  e.set('bn.num_batches_tracked', { dtype: 'I64', shape: [], data: BigInt64Array.from([7n]) });
  e.set('half', { dtype: 'F16', shape: [3], data: Uint16Array.from([0x3c00, 0x7c00, 0x7e00]) });
  e.set('bhalf', { dtype: 'BF16', shape: [1, 2], data: Uint16Array.from([0x3f80, 0xff80]) });
  e.set('mask', { dtype: 'BOOL', shape: [4], data: Uint8Array.from([1, 0, 0, 1]) });
  e.set('idx', { dtype: 'I32', shape: [2], data: Int32Array.from([-1, 5]) });
  e.set('small', { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 0, 127]) });
  e.set('empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) });
  return serializeSafetensors(e, { format: 'pt', note: 'fuzz' });
}

const BASE = baseFile();
const HEADER_LEN = Number(new DataView(BASE.buffer).getBigUint64(0, true));
const DATA = BASE.subarray(8 + HEADER_LEN);
const HEADER: Record<string, unknown> = JSON.parse(new TextDecoder().decode(BASE.subarray(8, 8 + HEADER_LEN)));

/** A parse that succeeded must be usable: every entry converts to a Tensor or is refused cleanly. */
function parseAndConvert(buf: Uint8Array, t: Tally): void {
  const f = expectClean(() => parseSafetensors(buf, FILE), [SafetensorsError], FILE, t);
  if (f) checkParsed(f, buf);
}

function checkParsed(f: StFile, buf: Uint8Array): void {
  let bytes = 0;
  for (const [name, e] of f.tensors) {
    bytes += e.data.byteLength;
    expectClean(() => toTensor(e, `${FILE}: tensor ${JSON.stringify(name)}`), [SafetensorsError], FILE);
  }
  // Accepted files are tiled exactly: no byte of the data section is left over or read twice.
  assert.ok(bytes <= buf.length, 'parsed tensors hold more bytes than the file');
}

test('safetensors: random byte mutations anywhere in the file', (t) => {
  const n = tally();
  fc.assert(fc.property(byteMutations(4), (m) => parseAndConvert(mutate(BASE, m), n)), fuzzParams(4000, 1));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('safetensors bytes', n);
});

test('safetensors: byte mutations confined to the length and JSON header', (t) => {
  const n = tally();
  fc.assert(fc.property(byteMutations(3), (m) => parseAndConvert(mutate(BASE, m, 8 + HEADER_LEN), n)), fuzzParams(4000, 2));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});

test('safetensors: header-length field edits', (t) => {
  const n = tally();
  const len = fc.oneof(
    fc.integer({ min: -16, max: 16 }).map((d) => BigInt(Math.max(0, HEADER_LEN + d))),
    fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 100_000_000n, 100_000_001n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  );
  // Edits that also change the body length, so a declared length can land in bounds but off the JSON.
  const tail = fc.integer({ min: -24, max: 24 });
  fc.assert(fc.property(len, tail, (l, d) => {
    let buf = Uint8Array.from(BASE);
    new DataView(buf.buffer).setBigUint64(0, l, true);
    if (d < 0) buf = buf.slice(0, Math.max(0, buf.length + d));
    else if (d > 0) { const b = new Uint8Array(buf.length + d).fill(0x20); b.set(buf); buf = b; }
    parseAndConvert(buf, n);
  }), fuzzParams(2000, 3));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});

// --- JSON-level mutations: well-formed JSON with wrong content -----------------------------------

const DTYPE_TEXT = ['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'U16', 'U32', 'U64', 'F8_E4M3', 'C64', 'f32', '', 'F32 ', 'FLOAT'];
const ODD_NUMBERS = [0, 1, -1, 0.5, -0, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MAX_SAFE_INTEGER, 64, 72, 79, 80, 81, 96];
const oddNumber = fc.oneof(fc.constantFrom(...ODD_NUMBERS), fc.integer({ min: -2, max: 200 }));
const anyJson = fc.jsonValue({ maxDepth: 2 });

type JsonEdit =
  | { op: 'dtype'; t: number; v: unknown }
  | { op: 'shape'; t: number; v: unknown }
  | { op: 'offsets'; t: number; v: unknown }
  | { op: 'drop'; t: number; field: string }
  | { op: 'extra'; t: number; field: string; v: unknown }
  | { op: 'rename'; t: number; to: string }
  | { op: 'copy'; t: number; to: string }
  | { op: 'remove'; t: number }
  | { op: 'entry'; t: number; v: unknown }
  | { op: 'metadata'; v: unknown }
  | { op: 'swapOffsets'; t: number; u: number };

const tIdx = fc.nat();
const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ op: fc.constant('dtype' as const), t: tIdx, v: fc.oneof(fc.constantFrom(...DTYPE_TEXT), anyJson) }),
  fc.record({ op: fc.constant('shape' as const), t: tIdx, v: fc.oneof(fc.array(oddNumber, { maxLength: 5 }), anyJson) }),
  fc.record({ op: fc.constant('offsets' as const), t: tIdx, v: fc.oneof(fc.array(oddNumber, { maxLength: 3 }), anyJson) }),
  fc.record({ op: fc.constant('drop' as const), t: tIdx, field: fc.constantFrom('dtype', 'shape', 'data_offsets') }),
  fc.record({ op: fc.constant('extra' as const), t: tIdx, field: fc.constantFrom('offset', '__proto__', 'constructor', 'x'), v: anyJson }),
  fc.record({ op: fc.constant('rename' as const), t: tIdx, to: fc.oneof(fc.constantFrom('__metadata__', '__proto__', '', 'constructor', 'toString'), fc.string({ maxLength: 6 })) }),
  fc.record({ op: fc.constant('copy' as const), t: tIdx, to: fc.string({ maxLength: 6 }) }),
  fc.record({ op: fc.constant('remove' as const), t: tIdx }),
  fc.record({ op: fc.constant('entry' as const), t: tIdx, v: anyJson }),
  fc.record({ op: fc.constant('metadata' as const), v: fc.oneof(anyJson, fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 3 })) }),
  fc.record({ op: fc.constant('swapOffsets' as const), t: tIdx, u: tIdx }),
);

function applyJsonEdits(edits: readonly JsonEdit[]): Record<string, unknown> {
  // A deep copy through JSON keeps "__proto__" keys as own properties, as JSON.parse makes them.
  const h = JSON.parse(JSON.stringify(HEADER)) as Record<string, unknown>;
  const define = (o: Record<string, unknown>, k: string, v: unknown) =>
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const e of edits) {
    const keys = Object.keys(h).filter((k) => k !== '__metadata__');
    if (e.op === 'metadata') { define(h, '__metadata__', e.v); continue; }
    if (keys.length === 0) continue;
    const name = keys[e.t % keys.length]!;
    const entry = h[name];
    const obj = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry as Record<string, unknown> : null;
    switch (e.op) {
      case 'dtype': if (obj) define(obj, 'dtype', e.v); break;
      case 'shape': if (obj) define(obj, 'shape', e.v); break;
      case 'offsets': if (obj) define(obj, 'data_offsets', e.v); break;
      case 'drop': if (obj) delete obj[e.field]; break;
      case 'extra': if (obj) define(obj, e.field, e.v); break;
      case 'rename': delete h[name]; define(h, e.to, entry); break;
      case 'copy': define(h, e.to, JSON.parse(JSON.stringify(entry ?? null))); break;
      case 'remove': delete h[name]; break;
      case 'entry': define(h, name, e.v); break;
      case 'swapOffsets': {
        const other = h[keys[e.u % keys.length]!];
        if (obj && typeof other === 'object' && other !== null && !Array.isArray(other)) {
          const o2 = other as Record<string, unknown>;
          const a = obj['data_offsets'];
          define(obj, 'data_offsets', o2['data_offsets']);
          define(o2, 'data_offsets', a);
        }
        break;
      }
    }
  }
  return h;
}

function assemble(header: unknown, data: Uint8Array, pad: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('safetensors: random JSON header mutations (dtypes, shapes, offsets, names, metadata)', (t) => {
  const n = tally();
  const dataEdit = fc.oneof(fc.constant(0), fc.integer({ min: -16, max: 16 }));
  fc.assert(fc.property(fc.array(jsonEdit, { minLength: 1, maxLength: 4 }), dataEdit, fc.integer({ min: 0, max: 7 }), (edits, d, pad) => {
    const h = applyJsonEdits(edits);
    let data: Uint8Array = DATA;
    if (d < 0) data = DATA.subarray(0, Math.max(0, DATA.length + d));
    else if (d > 0) { data = new Uint8Array(DATA.length + d); data.set(DATA); }
    parseAndConvert(assemble(h, data, pad), n);
  }), fuzzParams(5000, 4));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('safetensors JSON', n);
});

test('safetensors: a whole header of arbitrary JSON', (t) => {
  const n = tally();
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (h) => parseAndConvert(assemble(h, DATA, 0), n)), fuzzParams(1500, 5));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});

test('safetensors: readSafetensors on mutated files names the path', (t) => {
  const dir = tempDir(t, 'pai-fuzz-st-');
  const path = join(dir, 'weights.safetensors');
  const n = tally();
  fc.assert(fc.property(byteMutations(3), (m) => {
    writeFileSync(path, mutate(BASE, m));
    const f = expectClean(() => readSafetensors(path), [SafetensorsError], path, n);
    if (f) for (const [name, e] of f.tensors) expectClean(() => toTensor(e, `${path}: tensor ${name}`), [SafetensorsError], path);
  }), fuzzParams(500, 6));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});
