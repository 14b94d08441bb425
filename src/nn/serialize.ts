// A module's state dict as a safetensors file, laid out as PyTorch's `save_file(model.state_dict())`
// would write it: PyTorch names and order, floats in the dtype they are held in, and the entries
// PyTorch keeps as int64 (num_batches_tracked) as I64, so a file moves between pai and PyTorch
// unchanged in either direction.

import { readSafetensors, writeSafetensors, toTensor, fromTensor, SafetensorsError, type StEntry } from '../tensor/safetensors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

/** Writes `module.stateDict()` atomically to `path`. */
export function saveStateDict(path: string, module: Module, metadata?: Record<string, string>): void {
  writeSafetensors(path, stateDictEntries(module, path), metadata);
}

/** `module.stateDict()` as the safetensors entries saveStateDict writes (int64 counters as I64). */
export function stateDictEntries(module: Module, path = '<state dict>'): Map<string, StEntry> {
  const ints = module.int64Keys();
  const entries = new Map<string, StEntry>();
  for (const [name, t] of module.stateDict()) {
    if (!ints.has(name)) { entries.set(name, fromTensor(t)); continue; }
    const data = new BigInt64Array(t.size);
    for (let i = 0; i < t.size; i++) {
      const v = t.data[i];
      if (v === undefined) throw new RangeError(`internal: saveStateDict: ${name} holds fewer values than its size`);
      // A counter that is not an exact integer is a bug upstream; writing a rounded one would hide it.
      if (!Number.isSafeInteger(v)) throw new RangeError(`saveStateDict ${path}: int64 entry ${name} holds ${v}, not an integer`);
      data[i] = BigInt(v);
    }
    entries.set(name, { dtype: 'I64', shape: [...t.shape], data });
  }
  return entries;
}

/**
 * Loads a state dict file into `module` in place. Strict by default: every missing, unexpected or
 * mis-shaped key is named, with the file, in one StateDictError. I64 entries are read as exact
 * float64 values (toTensor would round counters above 2^24 through float32).
 */
export function loadStateDictFile(module: Module, path: string, o: { strict?: boolean } = {}): { missing: string[]; unexpected: string[]; metadata: Record<string, string> } {
  const file = readSafetensors(path);
  const r = module.loadStateDict(entriesToTensors(file.tensors, path), { strict: o.strict ?? true, source: path });
  return { ...r, metadata: file.metadata };
}

/** Safetensors entries as a state dict: floats as tensors, I64 counters as exact float64 values. */
export function entriesToTensors(entries: ReadonlyMap<string, StEntry>, source: string): Map<string, Tensor> {
  const sd = new Map<string, Tensor>();
  for (const [name, e] of entries) sd.set(name, e.dtype === 'I64' ? int64ToF64(e, source, name) : toTensor(e, `${source}: tensor ${JSON.stringify(name)}`));
  return sd;
}

function int64ToF64(e: StEntry, path: string, name: string): Tensor {
  const src = e.data as BigInt64Array;
  const out = new Float64Array(src.length);
  const lim = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v === undefined) throw new RangeError(`internal: safetensors ${path}: tensor ${JSON.stringify(name)}: index outside its values`);
    if (v > lim || v < -lim) throw new SafetensorsError(`safetensors ${path}: tensor ${JSON.stringify(name)}: I64 value ${v} is outside the exactly representable range`);
    out[i] = Number(v);
  }
  return new Tensor(out, e.shape);
}
