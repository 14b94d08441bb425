import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SafetensorsError, fromTensor, loadTensors, parseSafetensors, readSafetensors, saveTensors,
  serializeSafetensors, toTensor, writeSafetensors, type StDtype, type StEntry,
} from '../../src/tensor/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';

// Compiled to dist/test/tensor; the repo root is three levels up and the golden data sits beside it.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const goldenDir = resolve(repoRoot, '../shared/golden/tiny_resnet18_w32_seed0');
const goldenSkip = existsSync(join(goldenDir, 'model.safetensors')) ? false : `golden data not found at ${goldenDir}`;

function bytesOf(a: StEntry['data']): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'pai-st-'));
}

/** A file assembled by hand, so corrupt headers and data can be written exactly. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), declared?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function refuses(buf: Uint8Array, problem: RegExp): void {
  assert.throws(() => parseSafetensors(buf, 'bad.safetensors'), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
    assert.match(e.message, /bad\.safetensors/);
    assert.match(e.message, problem);
    return true;
  });
}

function f32Bits(...bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function f64Bits(...bits: bigint[]): Float64Array {
  return new Float64Array(new BigUint64Array(bits).buffer);
}

function everyDtype(): Map<string, StEntry> {
  const m = new Map<string, StEntry>();
  // NaNs with distinct payloads and signs, -0, infinities, a subnormal: must survive bit for bit.
  m.set('f32', { dtype: 'F32', shape: [2, 4], data: f32Bits(0x7fc00001, 0xffa5a5a5, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x3f800000, 0x7f800001) });
  m.set('f64', { dtype: 'F64', shape: [5], data: f64Bits(0x7ff8000000000123n, 0xfff0000000000001n, 0x8000000000000000n, 1n, 0x3ff0000000000000n) });
  m.set('f16', { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0x7e01, 0x8000]) });
  m.set('bf16', { dtype: 'BF16', shape: [1, 3], data: new Uint16Array([0x3f80, 0xffc1, 0x0001]) });
  m.set('i64', { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 7n]) });
  m.set('i32', { dtype: 'I32', shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) });
  m.set('i16', { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) });
  m.set('i8', { dtype: 'I8', shape: [3], data: new Int8Array([-128, 0, 127]) });
  m.set('u8', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) });
  m.set('bool', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) });
  m.set('scalar_f32', { dtype: 'F32', shape: [], data: new Float32Array([-0]) });
  m.set('scalar_i64', { dtype: 'I64', shape: [], data: new BigInt64Array([42n]) });
  m.set('empty_f64', { dtype: 'F64', shape: [0], data: new Float64Array(0) });
  m.set('empty_i8', { dtype: 'I8', shape: [3, 0, 2], data: new Int8Array(0) });
  m.set('odd_u8', { dtype: 'U8', shape: [1], data: new Uint8Array([9]) }); // leaves what follows unaligned
  m.set('after_odd', { dtype: 'F64', shape: [1], data: f64Bits(0x7ff4000000000000n) });
  return m;
}

test('round trip of every dtype is bit-identical, empty and 0-d tensors included', () => {
  const src = everyDtype();
  const buf = serializeSafetensors(src);
  const back = parseSafetensors(buf, 'mem');
  assert.deepEqual([...back.tensors.keys()], [...src.keys()]);
  for (const [name, e] of src) {
    const got = back.tensors.get(name)!;
    assert.equal(got.dtype, e.dtype, name);
    assert.deepEqual(got.shape, e.shape, name);
    assert.equal(got.data.constructor, e.data.constructor, name);
    assert.deepEqual(bytesOf(got.data), bytesOf(e.data), name);
  }
  assert.ok(Object.is((back.tensors.get('scalar_f32')!.data as Float32Array)[0], -0));
  assert.deepEqual(back.metadata, {});
});

test('layout: little-endian data, header padded with spaces to 8 bytes, tensors packed in order', () => {
  const buf = serializeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) }, b: { dtype: 'U8', shape: [1], data: new Uint8Array([5]) } });
  const n = Number(new DataView(buf.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = new TextDecoder().decode(buf.subarray(8, 8 + n));
  assert.match(header, /^\{.*\} *$/);
  assert.deepEqual(JSON.parse(header), {
    a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    b: { dtype: 'U8', shape: [1], data_offsets: [4, 5] },
  });
  assert.deepEqual([...buf.subarray(8 + n)], [0x00, 0x00, 0x80, 0x3f, 5]);
});

test('metadata round trips, including awkward keys', () => {
  const meta: Record<string, string> = { format: 'pt', 'ünïcode ✓': 'ß\n"quoted"', empty: '' };
  Object.defineProperty(meta, '__proto__', { value: 'not a prototype', enumerable: true });
  const buf = serializeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array([2]) } }, meta);
  const back = parseSafetensors(buf).metadata;
  assert.deepEqual(Object.entries(back), Object.entries(meta));
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
});

test('a file written by pai re-serializes to identical bytes', () => {
  const buf = serializeSafetensors(everyDtype(), { note: 'x' });
  const f = parseSafetensors(buf);
  assert.deepEqual(serializeSafetensors(f.tensors, f.metadata), buf);
});

test('golden PyTorch model.safetensors: names, shapes, I64 num_batches_tracked', { skip: goldenSkip }, () => {
  const path = join(goldenDir, 'model.safetensors');
  const meta = JSON.parse(readFileSync(join(goldenDir, 'meta.json'), 'utf8')) as { params: { name: string; shape: number[] }[] };
  const f = readSafetensors(path);
  assert.ok(meta.params.length > 10);
  for (const p of meta.params) {
    const e = f.tensors.get(p.name);
    assert.ok(e, `missing ${p.name}`);
    assert.equal(e.dtype, 'F32', p.name);
    assert.deepEqual(e.shape, p.shape, p.name);
  }
  assert.deepEqual(f.tensors.get('conv1.weight')!.shape, [2, 3, 3, 3]);
  const nbt = [...f.tensors].filter(([k]) => k.endsWith('.num_batches_tracked'));
  assert.ok(nbt.length > 0);
  for (const [k, e] of nbt) {
    assert.equal(e.dtype, 'I64', k);
    assert.deepEqual(e.shape, [], k);
    assert.ok(e.data instanceof BigInt64Array && e.data.length === 1, k);
    assert.equal(toTensor(e, k).item(), Number(e.data[0]), k);
  }
  // Freshly initialised BatchNorm: running_var is all ones.
  const rv = toTensor(f.tensors.get('bn1.running_var')!);
  assert.deepEqual(rv.toArray(), [1, 1]);
  // A plain PyTorch file lays data out in header order, so pai reproduces it byte for byte.
  assert.deepEqual(serializeSafetensors(f.tensors, f.metadata), new Uint8Array(readFileSync(path)));
  const loaded = loadTensors(path);
  assert.equal(loaded.get('conv1.weight')!.dtype, 'float32');
  assert.deepEqual(loaded.get('conv1.weight')!.shape, [2, 3, 3, 3]);
});

test('corrupt files are refused with a message naming the file and the problem', () => {
  const good = serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }, b: { dtype: 'I64', shape: [], data: new BigInt64Array([3n]) } });
  parseSafetensors(good);
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));

  refuses(new Uint8Array(0), /shorter than the 8-byte/);
  refuses(good.subarray(0, 5), /shorter than the 8-byte/);
  for (const cut of [8, 9, 8 + Math.floor(n / 2), 8 + n - 1]) refuses(good.subarray(0, cut), /header length \d+ runs past the end/);
  for (const cut of [8 + n, 8 + n + 1, good.length - 1]) refuses(good.subarray(0, cut), /beyond the \d+-byte data section/);
  refuses(build({}, new Uint8Array(0), 1000), /runs past the end/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  refuses(huge, /exceeds the 100000000-byte limit/);
  new DataView(huge.buffer).setBigUint64(0, 100_000_001n, true);
  refuses(huge, /exceeds the 100000000-byte limit/);

  refuses(build('{"a": '), /not valid JSON/);
  refuses(build('  {}'), /does not start with '\{'/);
  refuses(build('[1, 2]'), /does not start with '\{'/);
  refuses(build('{} x'), /not valid JSON/);
  const badUtf8 = build('{"a":1}');
  badUtf8[10] = 0xff;
  refuses(badUtf8, /not valid UTF-8/);

  const d4 = new Uint8Array(4);
  refuses(build({ a: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, d4), /unknown or unsupported dtype .*F8_E4M3/);
  refuses(build({ a: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, d4), /unknown or unsupported dtype/);
  refuses(build({ a: { shape: [1], data_offsets: [0, 4] } }, d4), /missing dtype/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, d4), /unexpected field "extra"/);
  refuses(build({ a: [] }, d4), /entry must be an object/);
  refuses(build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, d4), /non-negative integers, got number -1/);
  refuses(build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, d4), /non-negative integers, got number 1.5/);
  refuses(build({ a: { dtype: 'F32', shape: ['1'], data_offsets: [0, 4] } }, d4), /non-negative integers/);
  refuses(build({ a: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }, d4), /shape must be an array/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, d4), /end beyond the 4-byte data section/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, d4), /data_offsets must be \[begin, end\]/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, d4), /two non-negative integers/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, d4), /two non-negative integers/);
  refuses(build({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, d4), /begin 4 is after end 0/);
  refuses(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, d4), /size mismatch: shape \[2\] of F32 needs 8 bytes/);
  refuses(build({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 4] } }, d4), /size mismatch/);
  refuses(build({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } }, d4), /size mismatch/);

  const d8 = new Uint8Array(8);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, d8), /"a" \[0, 4\] and "b" \[2, 6\] overlap/);
  refuses(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), /overlap/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), /hole in the data section: bytes \[0, 4\)/);
  refuses(build({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, b: { dtype: 'U8', shape: [1], data_offsets: [2, 3] } }, new Uint8Array(3)), /hole .*\[1, 2\)/);
  refuses(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, d8), /4 trailing bytes belong to no tensor/);
  refuses(build({}, d4), /trailing bytes/);
  refuses(build({ a: { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([2])), /BOOL value 2/);

  refuses(build({ __metadata__: { k: 1 } }), /__metadata__ value for "k" must be a string, got number 1/);
  refuses(build({ __metadata__: { k: null } }), /must be a string, got null/);
  refuses(build({ __metadata__: ['x'] }), /__metadata__ must be an object/);
  refuses(build({ __metadata__: 'x' }), /__metadata__ must be an object/);
});

test('the header is validated before data is touched; zero-length tensors may sit at any boundary', () => {
  const f = parseSafetensors(build({
    e0: { dtype: 'F64', shape: [0, 3], data_offsets: [0, 0] },
    a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
    e1: { dtype: 'I32', shape: [0], data_offsets: [2, 2] },
    s: { dtype: 'I16', shape: [], data_offsets: [2, 4] },
    e2: { dtype: 'BOOL', shape: [0], data_offsets: [4, 4] },
  }, new Uint8Array([1, 2, 0xfe, 0xff])));
  assert.deepEqual([...f.tensors.keys()], ['e0', 'a', 'e1', 's', 'e2']);
  assert.equal((f.tensors.get('s')!.data as Int16Array)[0], -2);
  // Tensors come back in data order even when the header lists them otherwise.
  const g = parseSafetensors(build({
    z: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
    '1': { dtype: 'U8', shape: [1], data_offsets: [1, 2] },
    a: { dtype: 'U8', shape: [1], data_offsets: [2, 3] },
  }, new Uint8Array([7, 8, 9])));
  assert.deepEqual([...g.tensors].map(([k, e]) => [k, e.data[0]]), [['z', 7], ['1', 8], ['a', 9]]);
});

test('serialize refuses inconsistent entries', () => {
  const bad = (t: Record<string, unknown>, m: RegExp, meta?: Record<string, unknown>) =>
    assert.throws(() => serializeSafetensors(t as Record<string, StEntry>, meta as Record<string, string>), (e: unknown) => e instanceof SafetensorsError && m.test(e.message));
  bad({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }, /holds 3 values but data has 2/);
  bad({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }, /F32 data must be a Float32Array, got Float64Array/);
  bad({ a: { dtype: 'F16', shape: [2], data: new Float32Array(2) } }, /must be a Uint16Array/);
  bad({ a: { dtype: 'X', shape: [2], data: new Float32Array(2) } }, /unsupported dtype/);
  bad({ a: { dtype: 'F32', shape: [-2], data: new Float32Array(2) } }, /non-negative integers/);
  bad({ a: { dtype: 'BOOL', shape: [1], data: new Uint8Array([3]) } }, /BOOL data must be 0 or 1/);
  bad({ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } }, /reserved/);
  bad({ '\ud800': { dtype: 'F32', shape: [], data: new Float32Array(1) } }, /well-formed/);
  bad({}, /metadata value for "k" must be a string/, { k: 5 });
});

test('toTensor: float dtypes map directly, half precisions widen, integers become float32', () => {
  const t32 = toTensor({ dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) });
  assert.equal(t32.dtype, 'float32');
  assert.deepEqual(t32.shape, [2]);
  const t64 = toTensor({ dtype: 'F64', shape: [], data: new Float64Array([0.1]) });
  assert.equal(t64.dtype, 'float64');
  assert.equal(t64.item(), 0.1);

  const h = toTensor({ dtype: 'F16', shape: [8], data: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0xfc00, 0x0001, 0x7bff, 0x3555, 0x8000]) });
  assert.equal(h.dtype, 'float32');
  const hv = h.toArray();
  assert.deepEqual(hv.slice(0, 6), [1, -2, Infinity, -Infinity, 2 ** -24, 65504]);
  assert.equal(hv[6], 0.333251953125); // nearest half to 1/3
  assert.ok(Object.is(hv[7], -0));
  assert.ok(Number.isNaN(toTensor({ dtype: 'F16', shape: [1], data: new Uint16Array([0x7e00]) }).item()));

  const b = toTensor({ dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0xc040, 0x0001]) });
  assert.deepEqual(b.toArray(), [1, -3, f32Bits(0x00010000)[0]]);

  assert.deepEqual(toTensor({ dtype: 'I64', shape: [2, 1], data: new BigInt64Array([-5n, 2n ** 53n - 1n]) }).toArray(), [-5, Math.fround(2 ** 53 - 1)]);
  assert.throws(() => toTensor({ dtype: 'I64', shape: [1], data: new BigInt64Array([2n ** 53n]) }, 'big'), /big: I64 value 9007199254740992 at index 0 is outside the safe integer range/);
  assert.deepEqual(toTensor({ dtype: 'I32', shape: [2], data: new Int32Array([-7, 16777217]) }).toArray(), [-7, 16777216]);
  assert.deepEqual(toTensor({ dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) }).toArray(), [0, 255]);
  const bool = toTensor({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
  assert.equal(bool.dtype, 'float32');
  assert.deepEqual(bool.toArray(), [1, 0]);
  assert.throws(() => toTensor({ dtype: 'F32', shape: [3], data: new Float32Array(2) }), SafetensorsError);

  const e = fromTensor(new Tensor(new Float64Array([1, 2, 3, 4]), [2, 2]));
  assert.equal(e.dtype, 'F64');
  assert.deepEqual(e.shape, [2, 2]);
  assert.equal(fromTensor(new Tensor(new Float32Array(1), [])).dtype, 'F32');
});

test('saveTensors / loadTensors round trip, views of larger buffers included', () => {
  const dir = tmp();
  try {
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const tensors = {
      w: new Tensor(big.subarray(1, 4), [3]),
      d: new Tensor(f64Bits(0x7ff0000000000abcn, 0x8000000000000000n), [1, 2]),
      s: new Tensor(new Float32Array([5]), []),
    };
    const path = join(dir, 'm.safetensors');
    saveTensors(path, tensors, { step: '3' });
    const back = loadTensors(path);
    assert.deepEqual([...back.keys()], ['w', 'd', 's']);
    assert.deepEqual(back.get('w')!.toArray(), [1, 2, 3]);
    assert.equal(back.get('d')!.dtype, 'float64');
    assert.deepEqual(bytesOf(back.get('d')!.data), bytesOf(tensors.d.data));
    assert.deepEqual(back.get('s')!.shape, []);
    assert.deepEqual(readSafetensors(path).metadata, { step: '3' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writes are atomic: no temp file left, old file kept when serialization fails', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'x.safetensors');
    writeSafetensors(path, { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    const first = readFileSync(path);
    assert.deepEqual(readdirSync(dir), ['x.safetensors']);

    assert.throws(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1]) } }), SafetensorsError);
    assert.throws(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, { k: 1 as unknown as string }), SafetensorsError);
    assert.deepEqual(readdirSync(dir), ['x.safetensors']);
    assert.deepEqual(readFileSync(path), first);

    writeSafetensors(path, { a: { dtype: 'F32', shape: [1], data: new Float32Array([2]) } });
    assert.deepEqual(readdirSync(dir), ['x.safetensors']);
    assert.equal((readSafetensors(path).tensors.get('a')!.data as Float32Array)[0], 2);

    // A missing directory fails cleanly, naming the file.
    const missing = join(dir, 'no', 'such', 'y.safetensors');
    assert.throws(() => writeSafetensors(missing, {}), (e: unknown) => e instanceof SafetensorsError && e.message.includes(missing));
    assert.throws(() => readSafetensors(missing), (e: unknown) => e instanceof SafetensorsError && e.message.includes(missing) && /cannot read/.test(e.message));
    writeFileSync(join(dir, 'short.safetensors'), new Uint8Array(3));
    assert.throws(() => readSafetensors(join(dir, 'short.safetensors')), /short\.safetensors: file is 3 bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every dtype name is accepted by the reader', () => {
  const all: StDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
  const m = everyDtype();
  assert.deepEqual(new Set([...m.values()].map((e) => e.dtype)), new Set(all));
});
