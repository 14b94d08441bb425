// Checkpoints as a directory of safetensors and JSON files:
//   model.safetensors      the model's state dict (PyTorch names; loads into PyTorch as it is)
//   masks.safetensors      the pruning masks, 0/1 float32 (when training a pruned model)
//   optimizer.safetensors  the optimiser's buffers, keyed `${parameter}.${buffer}`
//   optimizer.json         its name, lr, hyperparameters and step counts
//   trainer.json           the trainer's state (epoch, step, schedule, history, seed, best metric)
//   complete               written last: the files and their sizes
//
// A checkpoint is never half there. Each file is written to a temporary name and renamed; the whole
// directory is first built beside the target (`<dir>.tmp`) and only swapped in once its `complete`
// marker exists, so a crash at any point leaves the previous checkpoint or the new one, complete.
// `latestCheckpoint` finds whichever survived; `loadCheckpoint` refuses a directory without a
// marker, or whose files do not have the sizes the marker lists.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic as writeBytesAtomic, fsyncDir } from '../tensor/atomic-file.js';
import type { Module } from '../nn/module.js';
import { saveStateDict } from '../nn/serialize.js';
import { readSafetensors, saveTensors, toTensor } from '../tensor/safetensors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Optimizer, OptimizerState } from './optim.js';

/** The format tag of pai's checkpoints. */
export const CHECKPOINT_FORMAT = 'pai-checkpoint/1';
const MARKER = 'complete';

/** A checkpoint that is incomplete, corrupt or from another run; the message names the file. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** What `saveCheckpoint` writes: weights, optimiser and schedule state, and the trainer's own record. */
export interface SaveCheckpointOptions<T> {
  model: Module;
  masks?: ReadonlyMap<string, Tensor> | null;
  optimizer?: Optimizer | null;
  /** Any JSON-serialisable record; the trainer stores its TrainerState here. */
  trainer: T;
}

/** A checkpoint as `loadCheckpoint` reads it. */
export interface LoadedCheckpoint<T> {
  dir: string;
  /** The model's state dict; int64 entries (num_batches_tracked) as exact float64 values. */
  modelState: Map<string, Tensor>;
  masks: Map<string, Tensor> | null;
  optimizer: OptimizerState | null;
  trainer: T;
}

/** Writes bytes to `path` through a temporary file, fsync and rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  try {
    writeBytesAtomic(path, data);
  } catch (e) {
    throw new CheckpointError(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Writes a complete checkpoint to `dir`, replacing any checkpoint there only once the new one is
 * complete. Synchronous: nothing else in the process runs between its first and last write.
 */
export function saveCheckpoint<T>(dir: string, c: SaveCheckpointOptions<T>): void {
  const stage = `${dir}.tmp`, old = `${dir}.old`;
  mkdirSync(dirname(dir), { recursive: true });
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage);
  const meta = { format: CHECKPOINT_FORMAT };
  saveStateDict(join(stage, 'model.safetensors'), c.model, meta);
  if (c.masks) saveTensors(join(stage, 'masks.safetensors'), new Map(c.masks), meta);
  if (c.optimizer) {
    const s = c.optimizer.stateDict();
    saveTensors(join(stage, 'optimizer.safetensors'), s.buffers, meta);
    writeFileAtomic(join(stage, 'optimizer.json'), JSON.stringify({ name: s.name, lr: s.lr, hyper: s.hyper, steps: s.steps }, null, 1));
  }
  writeFileAtomic(join(stage, 'trainer.json'), JSON.stringify(c.trainer, null, 1));
  const files: Record<string, number> = {};
  for (const f of ['model.safetensors', 'masks.safetensors', 'optimizer.safetensors', 'optimizer.json', 'trainer.json']) {
    const p = join(stage, f);
    if (existsSync(p)) files[f] = statSync(p).size;
  }
  writeFileAtomic(join(stage, MARKER), JSON.stringify({ format: CHECKPOINT_FORMAT, files }, null, 1));
  fsyncDir(stage);
  // Swap: a crash between these renames leaves `<dir>.tmp` (new) and `<dir>.old` (previous), both
  // complete; latestCheckpoint prefers the new one.
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(stage, dir);
  fsyncDir(dirname(dir));
  rmSync(old, { recursive: true, force: true });
}

/** Whether `dir` holds a complete checkpoint (its marker exists and every listed file has its size). */
export function isCheckpointComplete(dir: string): boolean {
  try {
    checkMarker(dir);
    return true;
  } catch {
    return false;
  }
}

function checkMarker(dir: string): Record<string, number> {
  const marker = join(dir, MARKER);
  if (!existsSync(marker)) throw new CheckpointError(`${dir} is not a complete checkpoint: it has no '${MARKER}' marker (the save was interrupted, or this is not a checkpoint)`);
  let m: { format?: unknown; files?: unknown };
  try {
    m = JSON.parse(readFileSync(marker, 'utf8')) as typeof m;
  } catch (e) {
    throw new CheckpointError(`${marker}: unreadable marker (${(e as Error).message})`, { cause: e });
  }
  if (m.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${marker}: format ${JSON.stringify(m.format)}, expected ${CHECKPOINT_FORMAT}`);
  const files = m.files as Record<string, number> | undefined;
  if (!files || typeof files !== 'object' || !('model.safetensors' in files) || !('trainer.json' in files)) throw new CheckpointError(`${marker}: the marker lists no model or trainer file`);
  for (const [f, size] of Object.entries(files)) {
    const p = join(dir, f);
    if (!existsSync(p)) throw new CheckpointError(`${dir}: ${f} is listed as part of the checkpoint but missing`);
    const actual = statSync(p).size;
    if (actual !== size) throw new CheckpointError(`${dir}: ${f} has ${actual} bytes, the marker says ${size}`);
  }
  return files;
}

/**
 * The complete checkpoint saved at `dir`, or null: `dir` itself, else one a crash left in the middle
 * of being swapped in (`<dir>.tmp`, newer, then `<dir>.old`).
 */
export function latestCheckpoint(dir: string): string | null {
  for (const d of [dir, `${dir}.tmp`, `${dir}.old`]) if (isCheckpointComplete(d)) return d;
  return null;
}

function readTensors(path: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, e] of readSafetensors(path).tensors) {
    if (e.dtype === 'I64') {
      // Counters stay exact as float64 (toTensor would round them through float32 above 2^24).
      const src = e.data as BigInt64Array;
      out.set(name, new Tensor(Float64Array.from(src, (v) => Number(v)), e.shape));
    } else {
      out.set(name, toTensor(e, `${path}: tensor ${JSON.stringify(name)}`));
    }
  }
  return out;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a complete checkpoint; throws CheckpointError for an incomplete or damaged one. */
export function loadCheckpoint<T = unknown>(dir: string): LoadedCheckpoint<T> {
  const files = checkMarker(dir);
  const modelState = readTensors(join(dir, 'model.safetensors'));
  const masks = 'masks.safetensors' in files ? readTensors(join(dir, 'masks.safetensors')) : null;
  let optimizer: OptimizerState | null = null;
  if ('optimizer.json' in files) {
    const j = readJson(join(dir, 'optimizer.json')) as Omit<OptimizerState, 'buffers'>;
    optimizer = { name: j.name, lr: j.lr, hyper: j.hyper, steps: j.steps, buffers: readTensors(join(dir, 'optimizer.safetensors')) };
  }
  return { dir, modelState, masks, optimizer, trainer: readJson(join(dir, 'trainer.json')) as T };
}

/** Loads a checkpoint's weights into `model` (strict: every key must match) and returns the checkpoint. */
export function restoreModel<T = unknown>(model: Module, dir: string): LoadedCheckpoint<T> {
  const c = loadCheckpoint<T>(dir);
  model.loadStateDict(c.modelState, { source: join(dir, 'model.safetensors') });
  return c;
}
