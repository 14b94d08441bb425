// What an export starts from: a folder of weights (and masks) and the identity of the model they
// belong to. Three kinds of folder are read:
//   - a checkpoint (trainModel's `last/` or `best/`: model.safetensors, masks.safetensors, trainer.json, complete);
//   - a trainModel checkpoint directory holding `best/` and `last/` (best is taken unless asked otherwise);
//   - a `pai prune --out` folder (model.safetensors, masks.safetensors, report.json).
// Checkpoints do not record which model they hold, so the identity comes from, in order: a
// `model.json` (written by writeModelJson) in the folder or a parent, `report.json`'s model record
// (pai prune), model.safetensors' metadata (pai prune writes model, width, ...), or the caller.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createModel, type CreateOptions, type Model } from '../models/registry.js';
import { importOnnx, onnxPathOf } from '../models/onnx/index.js';
import { entriesToTensors } from '../nn/serialize.js';
import { applyMasks } from '../prune/masking.js';
import { readSafetensors, type StEntry } from '../tensor/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import { isCheckpointComplete, loadCheckpoint } from '../train/checkpoint.js';
import { writeFileAtomic } from '../tensor/atomic-file.js';
import { ExportError } from './onnx.js';

/** The file in a pai output folder that says which model its weights belong to. */
export const MODEL_JSON = 'model.json';
/** The format tag of model.json. */
export const MODEL_JSON_FORMAT = 'pai-model/1';

/** Which zoo model, with which options, a set of weights belongs to. */
export interface ModelIdentity {
  name: string;
  options: CreateOptions;
}

const OPTION_KEYS = ['numClasses', 'inChannels', 'width', 'imageSize', 'patchSize', 'dim', 'depth', 'numHeads', 'mlpRatio'] as const;

function pickOptions(o: Record<string, unknown>): CreateOptions {
  const out: Record<string, number> = {};
  for (const k of OPTION_KEYS) if (typeof o[k] === 'number') out[k] = o[k];
  return out as CreateOptions;
}

/** A built model's identity: its registry name and the options that fix its architecture. */
export function modelIdentity(name: string, model: Model): ModelIdentity {
  return { name, options: pickOptions(model.config as unknown as Record<string, unknown>) };
}

/** Writes `<dir>/model.json`, so exports of checkpoints under `dir` need no model flags. */
export function writeModelJson(dir: string, id: ModelIdentity): void {
  writeFileAtomic(join(dir, MODEL_JSON), `${JSON.stringify({ format: MODEL_JSON_FORMAT, name: id.name, options: id.options }, null, 1)}\n`);
}

/** The identity as safetensors/ONNX metadata strings, and back. */
export function identityMetadata(id: ModelIdentity): Record<string, string> {
  return { model: id.name, model_options: JSON.stringify(id.options) };
}

/** The model identity recorded in a safetensors file's metadata, or null. */
export function identityFromMetadata(meta: Record<string, string>): ModelIdentity | null {
  const name = meta['model'];
  if (!name) return null;
  if (meta['model_options']) {
    try {
      return { name, options: pickOptions(JSON.parse(meta['model_options']) as Record<string, unknown>) };
    } catch {
      return null;
    }
  }
  // pai prune's metadata: model, width, num_classes, in_channels, image_size.
  const num = (k: string): number | undefined => (meta[k] !== undefined && Number.isFinite(Number(meta[k])) ? Number(meta[k]) : undefined);
  const o: Record<string, number | undefined> = { width: num('width'), numClasses: num('num_classes'), inChannels: num('in_channels'), imageSize: num('image_size') };
  return { name, options: pickOptions(o) };
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function identityIn(dir: string): { id: ModelIdentity; source: string } | null {
  const mj = join(dir, MODEL_JSON);
  if (existsSync(mj)) {
    const j = readJson(mj);
    if (!j || typeof j['name'] !== 'string') throw new ExportError(`${mj}: expected {"name": ..., "options": {...}}`);
    return { id: { name: j['name'], options: pickOptions((j['options'] ?? {}) as Record<string, unknown>) }, source: mj };
  }
  const rj = join(dir, 'report.json');
  if (existsSync(rj)) {
    const m = readJson(rj)?.['model'] as Record<string, unknown> | undefined;
    if (m && typeof m['name'] === 'string') return { id: { name: m['name'], options: pickOptions(m) }, source: rj };
  }
  const ms = join(dir, 'model.safetensors');
  if (existsSync(ms)) {
    const id = identityFromMetadata(readSafetensors(ms).metadata);
    if (id) return { id, source: `${ms} (metadata)` };
  }
  return null;
}

/** The recorded identity of the model in `dir`, looked for in `dir` and up to two parents. */
export function findModelIdentity(dir: string): { id: ModelIdentity; source: string } | null {
  let d = resolve(dir);
  for (let up = 0; up < 3; up++) {
    const found = identityIn(d);
    if (found) return found;
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  return null;
}

/** A model read back from a checkpoint or output folder, ready to export. */
export interface ExportSource {
  /** The folder the weights were read from (a checkpoint's best/ or last/ where one was chosen). */
  dir: string;
  kind: 'checkpoint' | 'pruned';
  /** The weights exactly as stored (dtypes kept; int64 counters as I64). */
  entries: Map<string, StEntry>;
  masks: Map<string, Tensor> | null;
  metadata: Record<string, string>;
}

/** Reads the weights and masks an export starts from (see the header for the folders understood). */
export function readExportSource(dir: string, which: 'best' | 'last' | null = null): ExportSource {
  if (!existsSync(dir)) throw new ExportError(`${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new ExportError(`${dir}: not a folder (give the checkpoint or pai prune output folder)`);
  let d = dir;
  const sub = (w: 'best' | 'last'): string | null => (isCheckpointComplete(join(dir, w)) ? join(dir, w) : null);
  if (which) {
    const s = sub(which);
    if (!s) throw new ExportError(`${dir}: no complete '${which}' checkpoint inside`);
    d = s;
  } else if (!existsSync(join(dir, 'model.safetensors'))) {
    d = sub('best') ?? sub('last') ?? dir;
  }
  const ms = join(d, 'model.safetensors');
  if (!existsSync(ms)) throw new ExportError(`${dir}: not a checkpoint or pruned-model folder (no model.safetensors${which ? '' : ', best/ or last/'})`);
  if (existsSync(join(d, 'complete'))) {
    // Validates the marker and file sizes; a torn checkpoint is refused rather than exported.
    const c = loadCheckpoint(d);
    return { dir: d, kind: 'checkpoint', entries: readSafetensors(ms).tensors, masks: c.masks, metadata: readSafetensors(ms).metadata };
  }
  const file = readSafetensors(ms);
  const mp = join(d, 'masks.safetensors');
  const masks = existsSync(mp) ? entriesToTensors(readSafetensors(mp).tensors, mp) : null;
  return { dir: d, kind: 'pruned', entries: file.tensors, masks, metadata: file.metadata };
}

/**
 * Builds the model, loads the weights (strict) and applies the masks (a no-op on weights the
 * trainer kept at zero; it makes a hand-edited file honest). Returns it in eval mode.
 */
export function buildModelFromSource(src: ExportSource, id: ModelIdentity): Model {
  let model: Model;
  try {
    const onnx = onnxPathOf(id.name);
    model = onnx !== null ? importOnnx(onnx) : createModel(id.name, id.options);
  } catch (e) {
    throw new ExportError(`cannot build model ${id.name} ${JSON.stringify(id.options)}: ${(e as Error).message}`);
  }
  model.loadStateDict(entriesToTensors(src.entries, join(src.dir, 'model.safetensors')), { source: join(src.dir, 'model.safetensors') });
  if (src.masks) applyMasks(model, src.masks);
  model.eval();
  return model;
}
