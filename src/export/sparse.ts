// The sparse artifact of a pruned model, format "pai-sparse/1".
//
// Container: a safetensors file, so any safetensors reader can open it and every dense entry loads
// as it is. Its `__metadata__` key `pai_sparse` holds JSON {format, sparse: {name: info}} for the
// sparse entries only; the data lies in state-dict order. Each state-dict entry has one of three
// encodings:
//
//   dense   the entry is stored under its own name, unchanged (dtype and shape as in the state dict).
//   delta   `<name>::values`: the stored values in flat (row-major) order, the entry's dtype, shape [k];
//           `<name>::index`: U8 bytes holding little-endian unsigned integers of `width` bytes (1, 2
//           or 4). Reading them in order with a cursor p = -1: a unit u < 2^(8 width) - 1 means
//           p += u + 1 and the next value goes to position p; the escape unit 2^(8 width) - 1 (only
//           for widths 1 and 2) means p += 2^(8 width) - 1 with no value, for gaps that do not fit.
//           Width 4 has no escape (every gap fits).
//   bitmap  `<name>::values` as above; `<name>::index`: ceil(n / 8) bytes, bit (i mod 8) of byte
//           floor(i / 8) (least significant bit first) set where position i holds the next value.
//
// A position is stored when its value's bit pattern is not all zeros, so every value, -0 and NaN
// included, comes back bit for bit; pruned weights (exact +0) cost nothing but their index share.
// Info of a sparse entry: {encoding, shape, stored (k), width (delta only)}; the dtype is that of
// its values. The writer picks, per entry, the smallest of dense, bitmap and delta at each width,
// so a dense-looking tensor stays dense.
//
// Decoding in Python: values = f.get_tensor(name + "::values"); for delta read
// numpy.frombuffer(index, "<u1"/"<u2"/"<u4") and walk the units as above; for bitmap
// numpy.unpackbits(index, bitorder="little")[:n] is the stored mask.

import type { Module } from '../nn/module.js';
import { entriesToTensors, stateDictEntries } from '../nn/serialize.js';
import { writeFileAtomic } from '../tensor/atomic-file.js';
import { defined } from '../tensor/checked.js';
import { readSafetensors, serializeSafetensors, SafetensorsError, type StDtype, type StEntry } from '../tensor/safetensors.js';

/** The format tag of pai's sparse safetensors files. */
export const SPARSE_FORMAT = 'pai-sparse/1';
const META_KEY = 'pai_sparse';
const VALUES = '::values';
const INDEX = '::index';

/** How one tensor is stored in a sparse file: dense, bitmap of kept positions, or delta-coded positions. */
export type SparseEncoding = 'dense' | 'delta' | 'bitmap';

/** One tensor of a sparse file: its shape, dtype, encoding and kept count. */
export interface SparseTensorInfo {
  encoding: SparseEncoding;
  dtype: StDtype;
  shape: number[];
  /** Values stored (all of them for dense). */
  stored: number;
  width?: 1 | 2 | 4;
}

/** One tensor of a sparse file with its stored and dense sizes. */
export interface SparseTensorReport extends SparseTensorInfo {
  name: string;
  numel: number;
  /** Bytes of its data in this file, and as a dense entry. */
  bytes: number;
  denseBytes: number;
}

/** What a sparse export wrote: per tensor and in total, against the dense size. */
export interface SparseReport {
  /** Size of the whole file, and of the same state dict written as a dense safetensors file. */
  sparseBytes: number;
  denseBytes: number;
  /** denseBytes / sparseBytes. */
  ratio: number;
  tensors: SparseTensorReport[];
}

const FLOAT_WIDTH: Partial<Record<StDtype, number>> = { F32: 4, F64: 8 };

// The loops over values and index bits check each read in the loop (free for an index inside the
// array) instead of asserting it.
function outside(op: string): RangeError {
  return new RangeError(`internal: ${op}: an index outside its array`);
}

/** Word view of an F32/F64 array: a position is stored when any of its words is non-zero. */
function storedMask(e: StEntry, n: number): Uint8Array {
  const data = e.data as Float32Array | Float64Array;
  const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  const per = e.dtype === 'F64' ? 2 : 1;
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let nz = 0;
    for (let w = 0; w < per; w++) {
      const x = words[i * per + w];
      if (x === undefined) throw outside('storedMask');
      nz |= x;
    }
    m[i] = nz !== 0 ? 1 : 0;
  }
  return m;
}

function deltaUnits(mask: Uint8Array, width: 1 | 2 | 4): number {
  const esc = width === 4 ? Infinity : 2 ** (8 * width) - 1;
  let units = 0, prev = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    units += Math.floor((i - prev - 1) / esc) + 1;
    prev = i;
  }
  return units;
}

function encodeDelta(mask: Uint8Array, width: 1 | 2 | 4, units: number): Uint8Array {
  const out = new Uint8Array(units * width);
  const view = new DataView(out.buffer);
  const esc = width === 4 ? Infinity : 2 ** (8 * width) - 1;
  let at = 0, prev = -1;
  const put = (u: number): void => {
    if (width === 1) view.setUint8(at, u);
    else if (width === 2) view.setUint16(at, u, true);
    else view.setUint32(at, u, true);
    at += width;
  };
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    let gap = i - prev - 1;
    while (gap >= esc) { put(esc); gap -= esc; }
    put(gap);
    prev = i;
  }
  return out;
}

function encodeBitmap(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const b = out[i >> 3];
    if (b === undefined) throw outside('encodeBitmap');
    out[i >> 3] = b | (1 << (i & 7));
  }
  return out;
}

function gather(e: StEntry, mask: Uint8Array, k: number): StEntry {
  const src = e.data as Float32Array | Float64Array;
  const vals = e.dtype === 'F64' ? new Float64Array(k) : new Float32Array(k);
  // Copied as words, not as numbers, so NaN payloads survive too.
  const sw = new Uint32Array(src.buffer, src.byteOffset, src.byteLength / 4), dw = new Uint32Array(vals.buffer);
  const per = e.dtype === 'F64' ? 2 : 1;
  let j = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let w = 0; w < per; w++) {
      const x = sw[i * per + w];
      if (x === undefined) throw outside('gather');
      dw[j * per + w] = x;
    }
    j++;
  }
  return { dtype: e.dtype, shape: [k], data: vals };
}

/** Encodes state-dict entries (as stateDictEntries or readSafetensors give them) into the sparse layout. */
export function encodeSparse(state: ReadonlyMap<string, StEntry>): { entries: Map<string, StEntry>; infos: Map<string, SparseTensorInfo> } {
  const entries = new Map<string, StEntry>();
  const infos = new Map<string, SparseTensorInfo>();
  for (const [name, e] of state) {
    if (name.includes('::')) throw new SafetensorsError(`sparse artifact: tensor name ${JSON.stringify(name)} contains '::', which the format reserves`);
    const n = e.data.length;
    const size = FLOAT_WIDTH[e.dtype];
    const dense = (): void => {
      entries.set(name, e);
      infos.set(name, { encoding: 'dense', dtype: e.dtype, shape: [...e.shape], stored: n });
    };
    if (size === undefined || n === 0) { dense(); continue; }
    const mask = storedMask(e, n);
    let k = 0;
    for (let i = 0; i < n; i++) k += mask[i] ? 1 : 0;
    type Choice = { encoding: 'dense'; bytes: number } | { encoding: 'bitmap'; bytes: number } | { encoding: 'delta'; width: 1 | 2 | 4; bytes: number; units: number };
    // A sparse tensor costs header text too: a second entry and its line in the pai_sparse table
    // (about 130 bytes plus the name twice), which decides for small tensors such as BN vectors.
    const header = 130 + 2 * name.length;
    const choices: Choice[] = [{ encoding: 'dense', bytes: n * size }, { encoding: 'bitmap', bytes: header + Math.ceil(n / 8) + k * size }];
    for (const width of [1, 2, 4] as const) {
      const units = deltaUnits(mask, width);
      choices.push({ encoding: 'delta', width, units, bytes: header + units * width + k * size });
    }
    // Strictly smaller only: ties keep the simpler encoding listed first.
    const best = choices.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    if (best.encoding === 'dense') { dense(); continue; }
    const index = best.encoding === 'bitmap' ? encodeBitmap(mask) : encodeDelta(mask, best.width, best.units);
    entries.set(name + VALUES, gather(e, mask, k));
    entries.set(name + INDEX, { dtype: 'U8', shape: [index.length], data: index });
    infos.set(name, { encoding: best.encoding, dtype: e.dtype, shape: [...e.shape], stored: k, ...(best.encoding === 'delta' ? { width: best.width } : {}) });
  }
  return { entries, infos };
}

function entryBytes(e: StEntry): number {
  return e.data.byteLength;
}

/** Serialises state-dict entries as a sparse artifact; the report compares it with the dense file. */
export function serializeSparse(state: ReadonlyMap<string, StEntry>, metadata: Record<string, string> = {}): { bytes: Uint8Array; report: SparseReport } {
  const { entries, infos } = encodeSparse(state);
  const sparse: Record<string, object> = {};
  for (const [name, i] of infos) if (i.encoding !== 'dense') sparse[name] = { encoding: i.encoding, ...(i.width ? { width: i.width } : {}), shape: i.shape, stored: i.stored };
  const meta = { ...metadata, [META_KEY]: JSON.stringify({ format: SPARSE_FORMAT, sparse }) };
  const bytes = serializeSafetensors(entries, meta);
  const denseBytes = serializeSafetensors(new Map(state), metadata).length;
  const tensors: SparseTensorReport[] = [...infos].map(([name, info]) => {
    // encodeSparse made one info per state entry, and a values and an index entry per sparse one.
    const entry = (m: ReadonlyMap<string, StEntry>, key: string): StEntry => defined(m.get(key), 'an entry encodeSparse wrote');
    const orig = entry(state, name);
    const bytesHere = info.encoding === 'dense' ? entryBytes(orig) : entryBytes(entry(entries, name + VALUES)) + entryBytes(entry(entries, name + INDEX));
    return { name, ...info, numel: orig.data.length, bytes: bytesHere, denseBytes: entryBytes(orig) };
  });
  return { bytes, report: { sparseBytes: bytes.length, denseBytes, ratio: denseBytes / bytes.length, tensors } };
}

/** Writes `module`'s state dict (or given entries) as a sparse artifact at `path`, atomically. */
export function saveSparse(path: string, source: Module | ReadonlyMap<string, StEntry>, metadata: Record<string, string> = {}): SparseReport {
  const state = source instanceof Map ? source : stateDictEntries(source as Module, path);
  const { bytes, report } = serializeSparse(state, metadata);
  writeFileAtomic(path, bytes);
  return report;
}

function fail(path: string, msg: string): never {
  throw new SafetensorsError(`sparse artifact ${path}: ${msg}`);
}

function decodeOne(path: string, name: string, info: SparseTensorInfo, values: StEntry, index: StEntry): StEntry {
  const n = info.shape.reduce((p, d) => p * d, 1);
  if (values.dtype !== info.dtype || values.data.length !== info.stored) fail(path, `${name}: ${values.data.length} ${values.dtype} values, the header says ${info.stored} ${info.dtype}`);
  if (index.dtype !== 'U8') fail(path, `${name}: index entry is ${index.dtype}, expected U8`);
  const per = info.dtype === 'F64' ? 2 : 1;
  const out = info.dtype === 'F64' ? new Float64Array(n) : new Float32Array(n);
  const dw = new Uint32Array(out.buffer);
  const vd = values.data as Float32Array | Float64Array;
  const sw = new Uint32Array(vd.buffer, vd.byteOffset, vd.byteLength / 4);
  let j = 0;
  const place = (i: number): void => {
    if (i >= n) fail(path, `${name}: an index points past its ${n} values`);
    if (j >= info.stored) fail(path, `${name}: the index lists more positions than the ${info.stored} stored values`);
    for (let w = 0; w < per; w++) {
      const x = sw[j * per + w];
      if (x === undefined) fail(path, `${name}: fewer stored values than the index lists`);
      dw[i * per + w] = x;
    }
    j++;
  };
  const bytes = index.data as Uint8Array;
  if (info.encoding === 'bitmap') {
    if (bytes.length !== Math.ceil(n / 8)) fail(path, `${name}: bitmap of ${bytes.length} bytes for ${n} values`);
    for (let i = 0; i < n; i++) {
      const b = bytes[i >> 3];
      if (b === undefined) throw outside('decode bitmap');
      if (b & (1 << (i & 7))) place(i);
    }
  } else {
    const width = info.width;
    if (width !== 1 && width !== 2 && width !== 4) fail(path, `${name}: delta width ${JSON.stringify(width)} (expected 1, 2 or 4)`);
    if (bytes.length % width !== 0) fail(path, `${name}: ${bytes.length} index bytes is not a whole number of ${width}-byte units`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const esc = width === 4 ? Infinity : 2 ** (8 * width) - 1;
    let p = -1;
    for (let at = 0; at < bytes.length; at += width) {
      const u = width === 1 ? view.getUint8(at) : width === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
      if (u === esc) { p += esc; continue; }
      p += u + 1;
      place(p);
    }
  }
  if (j !== info.stored) fail(path, `${name}: the index lists ${j} positions for ${info.stored} stored values`);
  return { dtype: info.dtype, shape: [...info.shape], data: out };
}

/** Reads a sparse artifact back into dense state-dict entries (bit-identical to what was written), in state-dict order. */
export function readSparse(path: string): { entries: Map<string, StEntry>; metadata: Record<string, string>; infos: Map<string, SparseTensorInfo> } {
  const file = readSafetensors(path);
  const raw = file.metadata[META_KEY];
  if (raw === undefined) fail(path, `no '${META_KEY}' metadata: not a pai sparse artifact (a plain safetensors state dict loads with loadStateDictFile)`);
  type Stored = Omit<SparseTensorInfo, 'dtype'>;
  let header: { format?: unknown; sparse?: Record<string, Stored> };
  try {
    header = JSON.parse(raw) as typeof header;
  } catch (e) {
    fail(path, `unreadable '${META_KEY}' metadata (${(e as Error).message})`);
  }
  if (header.format !== SPARSE_FORMAT) fail(path, `format ${JSON.stringify(header.format)}, expected ${SPARSE_FORMAT}`);
  const sparse = header.sparse;
  if (!sparse || typeof sparse !== 'object') fail(path, 'the header has no sparse-tensor table');
  const entries = new Map<string, StEntry>();
  const infos = new Map<string, SparseTensorInfo>();
  // File entries lie in state-dict order (readSafetensors keeps data order); a sparse tensor takes
  // its place at its values entry.
  for (const [key, e] of file.tensors) {
    const cut = key.indexOf('::');
    if (cut < 0) {
      if (Object.prototype.hasOwnProperty.call(sparse, key)) fail(path, `${key} is listed as sparse but also stored dense`);
      entries.set(key, e);
      infos.set(key, { encoding: 'dense', dtype: e.dtype, shape: [...e.shape], stored: e.data.length });
      continue;
    }
    const name = key.slice(0, cut);
    if (key !== name + VALUES && key !== name + INDEX) fail(path, `unexpected entry ${key}`);
    if (!Object.prototype.hasOwnProperty.call(sparse, name)) fail(path, `${key} belongs to no tensor of the header`);
    if (entries.has(name)) continue;
    const info = { ...sparse[name], dtype: e.dtype } as SparseTensorInfo;
    if (info.encoding !== 'delta' && info.encoding !== 'bitmap') fail(path, `${name}: unknown encoding ${JSON.stringify(info.encoding)}`);
    if (info.dtype !== 'F32' && info.dtype !== 'F64') fail(path, `${name}: sparse values must be F32 or F64, got ${JSON.stringify(info.dtype)}`);
    if (!Array.isArray(info.shape) || info.shape.some((d) => !Number.isInteger(d) || d < 0)) fail(path, `${name}: bad shape ${JSON.stringify(info.shape)}`);
    const values = file.tensors.get(name + VALUES), index = file.tensors.get(name + INDEX);
    if (!values || !index) fail(path, `${name}: its ${VALUES} or ${INDEX} entry is missing`);
    entries.set(name, decodeOne(path, name, info, values, index));
    infos.set(name, info);
  }
  const absent = Object.keys(sparse).filter((k) => !entries.has(k));
  if (absent.length) fail(path, `sparse tensors listed but not stored: ${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ', ...' : ''}`);
  const metadata = { ...file.metadata };
  delete metadata[META_KEY];
  return { entries, metadata, infos };
}

/** Loads a sparse artifact into `module` in place (strict: names and shapes must match, as loadStateDictFile). */
export function loadSparseIntoModel(module: Module, path: string): { metadata: Record<string, string> } {
  const { entries, metadata } = readSparse(path);
  module.loadStateDict(entriesToTensors(entries, path), { source: path });
  return { metadata };
}
