// safetensors: an 8-byte little-endian header length N, N bytes of UTF-8 JSON describing every
// tensor, then one byte buffer. Weights, scores and masks cross between pai and PyTorch in this
// format, so the reader is strict: every header field is validated before any data is touched, and
// anything the spec does not allow (or a file could only mean by guessing) is refused with a
// SafetensorsError that names the file and the problem.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Tensor } from './tensor.js';
import { checkArgument, is } from './options.js';
import { writeFileAtomic } from './atomic-file.js';
import { swap } from './checked.js';

/** The element types of the safetensors format. */
export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * One tensor as stored. `data` holds the raw values in a typed array of the dtype's width:
 * F16 and BF16 as their bit patterns in a Uint16Array, BOOL as 0/1 bytes in a Uint8Array.
 */
export interface StEntry {
  dtype: StDtype;
  shape: number[];
  data: Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;
}

/**
 * A parsed file. `tensors` iterates in the order the data lies in the byte buffer (not the order
 * of the JSON header's keys), so serializing a parsed file reproduces its data layout.
 */
export interface StFile {
  tensors: Map<string, StEntry>;
  metadata: Record<string, string>;
}

/** A safetensors file that is malformed or holds something pai cannot read; the message names the file and the field. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The spec's own limit; a larger header is corruption, not a model. */
const MAX_HEADER_BYTES = 100_000_000;

type StArray = StEntry['data'];
type StArrayCtor = { new (buf: ArrayBuffer): StArray; new (n: number): StArray; readonly BYTES_PER_ELEMENT: number };

const DTYPES: Record<StDtype, { size: number; ctor: StArrayCtor }> = {
  F64: { size: 8, ctor: Float64Array },
  F32: { size: 4, ctor: Float32Array },
  F16: { size: 2, ctor: Uint16Array },
  BF16: { size: 2, ctor: Uint16Array },
  I64: { size: 8, ctor: BigInt64Array },
  I32: { size: 4, ctor: Int32Array },
  I16: { size: 2, ctor: Int16Array },
  I8: { size: 1, ctor: Int8Array },
  U8: { size: 1, ctor: Uint8Array },
  BOOL: { size: 1, ctor: Uint8Array },
};
const SUPPORTED = Object.keys(DTYPES).join(', ');

function isStDtype(s: unknown): s is StDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

// The format is little-endian; on a big-endian host every multi-byte value is swapped in place.
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytes(bytes: Uint8Array, size: number): void {
  if (HOST_LE || size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      swap(bytes, a, b, 'value bytes');
    }
  }
}

// JSON.stringify would escape a lone surrogate into text other readers (serde_json) reject.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

// JSON.parse quotes the offending text, which in a corrupt header can hold newlines or terminal
// escapes; an error message must stay on one line and print safely.
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this replaces
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Plain assignment of a key named "__proto__" would set the prototype instead of a property.
function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Number of values for a validated shape, or -1 when it is not a safe integer. */
function countOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : -1;
}

interface Slot { name: string; dtype: StDtype; shape: number[]; begin: number; end: number; order: number }

/** Throws a SafetensorsError naming the file. */
type Fail = (problem: string) => never;

/** The 8-byte length and the JSON header object it announces, checked. */
function readHeader(buf: Uint8Array, fail: Fail): { header: Record<string, unknown>; headerLen: number } {
  if (buf.length < 8) fail(`file is ${buf.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n64);
  if (8 + headerLen > buf.length) {
    fail(`header length ${headerLen} runs past the end of the file (${buf.length} bytes, so at most ${buf.length - 8})`);
  }
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf.subarray(8, 8 + headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  // The reference reader requires the JSON to start right away; padding only follows it.
  if (!text.startsWith('{')) fail(`header does not start with '{' (JSON object expected)`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (!isPlainObject(header)) fail('header is not a JSON object');
  return { header: header as Record<string, unknown>, headerLen };
}

/** __metadata__: an object of strings. */
function readMetadata(info: unknown, metadata: Record<string, string>, fail: Fail): void {
  if (!isPlainObject(info)) fail(`__metadata__ must be an object of strings, got ${describe(info)}`);
  for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ value for ${JSON.stringify(k)} must be a string, got ${describe(v)}`);
    setOwn(metadata, k, v as string);
  }
}

/** One tensor's header entry, every field checked against the data section's length. */
function readSlot(name: string, info: unknown, dataLen: number, order: number, fail: Fail): Slot {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(info)) fail(`${where}: entry must be an object, got ${describe(info)}`);
  const entry = info as Record<string, unknown>;
  for (const k of Object.keys(entry)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`${where}: unexpected field ${JSON.stringify(k)}`);
  }

  const dtype = entry['dtype'];
  if (dtype === undefined) fail(`${where}: missing dtype`);
  if (!isStDtype(dtype)) fail(`${where}: unknown or unsupported dtype ${describe(dtype)} (supported: ${SUPPORTED})`);

  const shape = entry['shape'];
  if (!Array.isArray(shape)) fail(`${where}: shape must be an array, got ${describe(shape)}`);
  const dims: number[] = [];
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(`${where}: shape entries must be non-negative integers, got ${describe(d)} in ${JSON.stringify(shape)}`);
    }
    dims.push((d as number) + 0); // +0 turns a JSON -0 into 0
  }

  const offs = entry['data_offsets'];
  if (!Array.isArray(offs) || offs.length !== 2) fail(`${where}: data_offsets must be [begin, end], got ${JSON.stringify(offs)}`);
  const [begin, end] = offs as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < 0) {
    fail(`${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offs)}`);
  }
  const b = begin as number, e = end as number;
  if (b > e) fail(`${where}: data_offsets begin ${b} is after end ${e}`);
  if (e > dataLen) fail(`${where}: data_offsets [${b}, ${e}] end beyond the ${dataLen}-byte data section`);

  const size = DTYPES[dtype as StDtype].size;
  const count = countOf(dims);
  if (count < 0 || count * size !== e - b) {
    const want = count < 0 ? 'an impossible number of' : `${count * size}`;
    fail(`${where}: size mismatch: shape ${shapeText(dims)} of ${dtype} needs ${want} bytes but data_offsets [${b}, ${e}] hold ${e - b}`);
  }
  return { name, dtype: dtype as StDtype, shape: dims, begin: b, end: e, order };
}

/**
 * The spec requires the ranges to tile the data section exactly: no overlap, no hole, nothing
 * after the last tensor. Zero-length tensors occupy no bytes and may sit at any boundary.
 * Sorts `slots` by position.
 */
function checkTiling(slots: Slot[], dataLen: number, fail: Fail): void {
  slots.sort((x, y) => x.begin - y.begin || x.end - y.end || x.order - y.order);
  // The last tensor that occupies bytes: the data section is covered up to its end.
  let last: Slot | null = null;
  for (const s of slots) {
    const covered = last ? last.end : 0;
    if (last && s.begin < covered) {
      fail(`tensors ${JSON.stringify(last.name)} [${last.begin}, ${last.end}] and ${JSON.stringify(s.name)} [${s.begin}, ${s.end}] overlap`);
    }
    if (s.begin > covered) {
      fail(`hole in the data section: bytes [${covered}, ${s.begin}) before tensor ${JSON.stringify(s.name)} belong to no tensor`);
    }
    if (s.end > s.begin) last = s;
  }
  const covered = last ? last.end : 0;
  if (covered !== dataLen) {
    fail(`data section is ${dataLen} bytes but the tensors cover only [0, ${covered}); ${dataLen - covered} trailing bytes belong to no tensor`);
  }
}

/** A tensor's values, copied out of the file into an array of its element type. */
function readValues(buf: Uint8Array, base: number, s: Slot, fail: Fail): StEntry {
  const { size, ctor } = DTYPES[s.dtype];
  // A fresh buffer: the data section is generally not aligned for the element type, and the
  // entry should not keep the whole file alive.
  // Uint8Array's slice copies; a Node Buffer's own slice would return a view of the file.
  const bytes = Uint8Array.prototype.slice.call(buf, base + s.begin, base + s.end);
  swapBytes(bytes, size);
  const data = new ctor(bytes.buffer);
  if (s.dtype === 'BOOL') {
    const i = (data as Uint8Array).findIndex((v) => v > 1);
    if (i >= 0) fail(`tensor ${JSON.stringify(s.name)}: BOOL value ${data[i]} at index ${i} is neither 0 nor 1`);
  }
  return { dtype: s.dtype, shape: s.shape, data };
}

/**
 * Parses and fully validates a safetensors file held in memory: every header field (length, JSON,
 * dtype, shape, offsets in range, no overlap, no holes) before any data is read. `source` names it in errors.
 */
export function parseSafetensors(buf: Uint8Array, source = '<buffer>'): StFile {
  const fail: Fail = (problem) => { throw new SafetensorsError(`safetensors ${source}: ${problem}`); };
  const { header, headerLen } = readHeader(buf, fail);
  const dataLen = buf.length - 8 - headerLen;
  const metadata: Record<string, string> = {};
  const slots: Slot[] = [];
  for (const name of Object.keys(header)) {
    if (name === '__metadata__') readMetadata(header[name], metadata, fail);
    else slots.push(readSlot(name, header[name], dataLen, slots.length, fail));
  }
  checkTiling(slots, dataLen, fail);
  const tensors = new Map<string, StEntry>();
  for (const s of slots) tensors.set(s.name, readValues(buf, 8 + headerLen, s, fail));
  return { tensors, metadata };
}

/** Reads and parses a safetensors file synchronously. */
export function readSafetensors(path: string): StFile {
  let buf: Uint8Array;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`safetensors ${path}: cannot read file (${(e as Error).message})`, { cause: e });
  }
  return parseSafetensors(buf, path);
}

function entriesOf<T>(m: Map<string, T> | Record<string, T>): [string, T][] {
  return m instanceof Map ? [...m.entries()] : Object.entries(m);
}

/**
 * Serializes tensors in the given order, packed back to back (the spec forbids holes, so no
 * alignment padding between tensors), with the header padded by spaces to a multiple of 8 bytes.
 * `__metadata__` is written first, and only when it is non-empty.
 */
export function serializeSafetensors(tensors: Map<string, StEntry> | Record<string, StEntry>, metadata: Record<string, string> = {}): Uint8Array {
  const fail = (problem: string): never => { throw new SafetensorsError(`safetensors serialize: ${problem}`); };

  const parts: string[] = [];
  const meta = Object.entries(metadata as Record<string, unknown>);
  if (meta.length > 0) {
    const kv: string[] = [];
    for (const [k, v] of meta) {
      if (typeof v !== 'string') fail(`metadata value for ${JSON.stringify(k)} must be a string, got ${describe(v)}`);
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v as string)) fail(`metadata ${JSON.stringify(k)} is not well-formed Unicode`);
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${kv.join(',')}}`);
  }

  const list = entriesOf(tensors);
  const seen = new Set<string>();
  let offset = 0;
  const layout: { bytes: Uint8Array; size: number; at: number }[] = [];
  for (const [name, e] of list) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (name === '__metadata__') fail(`"__metadata__" is reserved and cannot name a tensor`);
    if (LONE_SURROGATE.test(name)) fail(`${where}: name is not well-formed Unicode`);
    if (seen.has(name)) fail(`${where}: duplicate name`);
    seen.add(name);
    if (!isStDtype(e.dtype)) fail(`${where}: unknown or unsupported dtype ${describe(e.dtype)} (supported: ${SUPPORTED})`);
    const { size, ctor } = DTYPES[e.dtype];
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(e.shape)}`);
    }
    if (!(e.data instanceof ctor)) {
      fail(`${where}: ${e.dtype} data must be a ${ctor.name}, got ${e.data?.constructor?.name ?? describe(e.data)}`);
    }
    const count = countOf(e.shape);
    if (count !== e.data.length) fail(`${where}: shape ${shapeText(e.shape)} holds ${count} values but data has ${e.data.length}`);
    if (e.dtype === 'BOOL' && (e.data as Uint8Array).some((v) => v > 1)) fail(`${where}: BOOL data must be 0 or 1`);
    const n = count * size;
    const shape = e.shape.map((d) => d + 0);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${e.dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`);
    layout.push({ bytes: new Uint8Array(e.data.buffer, e.data.byteOffset, n), size, at: offset });
    offset += n;
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  if (headerLen > MAX_HEADER_BYTES) fail(`header would be ${headerLen} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  const base = 8 + headerLen;
  for (const { bytes, size, at } of layout) {
    out.set(bytes, base + at);
    swapBytes(out.subarray(base + at, base + at + bytes.length), size);
  }
  return out;
}

/**
 * Writes atomically: the bytes go to a temporary file in the same directory, are fsynced, and the
 * file is renamed over `path`, so a reader never sees a half-written file and a failure (including
 * in serialization, which happens first) leaves any previous file untouched.
 */
export function writeSafetensors(path: string, tensors: Map<string, StEntry> | Record<string, StEntry>, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new SafetensorsError(`safetensors ${path}: write failed (${(e as Error).message})`, { cause: e });
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * A Tensor from a stored entry. F32 and F64 share the entry's buffer (no copy). F16 and BF16
 * widen exactly to float32. Integer and BOOL entries become float32 values, since pai computes in
 * floating point: exact up to 2^24 in magnitude, rounded beyond. I64 values outside the safe
 * integer range (|v| > 2^53 - 1) are refused rather than silently wrapped.
 */
export function toTensor(e: StEntry, name?: string): Tensor {
  const where = name === undefined ? 'toTensor' : `toTensor ${name}`;
  const n = countOf(e.shape);
  if (n !== e.data.length) throw new SafetensorsError(`${where}: shape ${shapeText(e.shape)} does not match ${e.data.length} values`);
  switch (e.dtype) {
    case 'F32':
    case 'F64':
      return new Tensor(e.data as Float32Array | Float64Array, e.shape);
    case 'BF16': {
      // bfloat16 is the top half of a float32, so widening is a shift.
      const bits = new Uint32Array(n);
      const src = e.data as Uint16Array;
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v === undefined) throw new SafetensorsError(`${where}: fewer values than the shape holds`);
        bits[i] = v << 16;
      }
      return new Tensor(new Float32Array(bits.buffer), e.shape);
    }
    case 'F16': {
      const out = new Float32Array(n);
      const src = e.data as Uint16Array;
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v === undefined) throw new SafetensorsError(`${where}: fewer values than the shape holds`);
        out[i] = halfToFloat(v);
      }
      return new Tensor(out, e.shape);
    }
    case 'I64': {
      const out = new Float32Array(n);
      const src = e.data as BigInt64Array;
      const lim = BigInt(Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v === undefined) throw new SafetensorsError(`${where}: fewer values than the shape holds`);
        if (v > lim || v < -lim) throw new SafetensorsError(`${where}: I64 value ${v} at index ${i} is outside the safe integer range`);
        out[i] = Number(v);
      }
      return new Tensor(out, e.shape);
    }
    case 'I32': case 'I16': case 'I8': case 'U8': case 'BOOL':
      return new Tensor(Float32Array.from(e.data as Int32Array), e.shape);
    default:
      throw new SafetensorsError(`${where}: unsupported dtype ${describe((e as StEntry).dtype)}`);
  }
}

/** A stored entry for a tensor: float32 -> F32, float64 -> F64, sharing the tensor's buffer. */
export function fromTensor(t: Tensor): StEntry {
  return { dtype: t.dtype === 'float64' ? 'F64' : 'F32', shape: [...t.shape], data: t.data };
}

/** Every tensor in a file as a pai Tensor (see toTensor for how non-float dtypes convert). */
export function loadTensors(path: string): Map<string, Tensor> {
  checkArgument('loadTensors', 'path', z.string().min(1), path);
  const out = new Map<string, Tensor>();
  for (const [name, e] of readSafetensors(path).tensors) out.set(name, toTensor(e, `${path}: tensor ${JSON.stringify(name)}`));
  return out;
}

/** Writes pai Tensors atomically, in the given order. */
export function saveTensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  checkArgument('saveTensors', 'path', z.string().min(1), path);
  checkArgument('saveTensors', 'tensors', z.union([is.tensorMap, z.record(z.string(), is.tensor)]), tensors);
  if (metadata !== undefined) checkArgument('saveTensors', 'metadata', z.record(z.string(), z.string()), metadata);
  const entries = new Map<string, StEntry>();
  for (const [name, t] of entriesOf(tensors)) entries.set(name, fromTensor(t));
  writeSafetensors(path, entries, metadata);
}
