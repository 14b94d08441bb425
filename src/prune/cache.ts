// The score cache: a sparsity sweep (or a rerun) over the same model, weights, criterion and mask
// data scores once. An entry is one safetensors file named by the SHA-256 of a canonical key; the
// key itself is stored in the file's metadata and compared on every read, so a hash collision or a
// file from another version can only cause a miss. Writes are atomic (saveTensors renames a
// finished temporary file), so concurrent runs sharing a directory see whole entries or none.
// Disk use is bounded: after each write the least recently used entries (by modification time,
// which a hit refreshes) are deleted until the directory fits in maxBytes.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors, saveTensors, toTensor } from '../tensor/safetensors.js';
import type { Module } from '../nn/module.js';
import { hashMaskData, hashWeights } from './hash.js';
import { DEFAULT_COMPUTE_BATCH, type MaskData } from './context.js';
import { getCriterion, OPTION_SPECS } from './criteria/index.js';
import { resolveCriterionOptions, type ScoreOptions } from './score.js';
import type { Scores } from './types.js';

/** Bumped when the meaning of stored scores changes, so old entries miss instead of being reused. */
const FORMAT = 'pai-score-cache/1';
const SUFFIX = '.safetensors';

/** Where the score cache lives by default, relative to the working folder. */
export const DEFAULT_SCORE_CACHE_DIR = join('.pai-cache', 'scores');
/** The default size limit of the score cache (1 GiB); the least recently used entries go first. */
export const DEFAULT_SCORE_CACHE_MAX_BYTES = 1024 ** 3;

/** Everything a criterion's scores depend on. Build it with scoreCacheKey. */
export interface ScoreCacheKey {
  format: string;
  model: string;
  modelOptions: Record<string, unknown>;
  /** SHA-256 of the state dict: names, dtypes, shapes and bytes of every parameter and buffer. */
  weights: string;
  criterion: string;
  /** The resolved options the criterion reads, semantics, mask batch size, and (when it draws random numbers) the seed. */
  options: Record<string, unknown>;
  /** SHA-256 of the mask data (image bytes and labels); null for data-free criteria. */
  data: string | null;
  warmup: boolean | string;
}

/** Everything scores depend on, from which `scoreCacheKey` derives the cache key. */
export interface ScoreCacheKeyInput {
  /** Registry name of the model (`resnet18`). */
  modelName: string;
  /** Its construction options (width, classes, ...); model.config for registry models. */
  modelOptions?: object;
  model: Module;
  criterion: string;
  data: MaskData | null;
  options?: ScoreOptions;
  /** Whether (or how: a description of the warm-up) the BN warm-up ran before scoring. */
  warmup?: boolean | string;
}

/** The cache key of a scoring: a hash of every input that can change the scores. */
export function scoreCacheKey(k: ScoreCacheKeyInput): ScoreCacheKey {
  const c = getCriterion(k.criterion);
  const o = k.options ?? {};
  const resolved = resolveCriterionOptions(k.criterion, o);
  const options: Record<string, unknown> = { semantics: o.semantics ?? 'fixed' };
  for (const u of c.uses) if (resolved[u] !== OPTION_SPECS[u].keyOmits) options[u] = resolved[u];
  // Shared probes are drawn per compute batch, so its size decides the scores.
  if (resolved.sharedProbes) options['computeBatch'] = o.computeBatch ?? DEFAULT_COMPUTE_BATCH;
  if (c.needsData) options['batchSize'] = o.batchSize ?? 1;
  else options['inputShape'] = [...(o.inputShape ?? k.data?.x.shape.slice(1) ?? [])];
  if (c.drawsRandom) options['seed'] = o.seed ?? 0;
  return {
    format: FORMAT,
    model: k.modelName,
    modelOptions: { ...(k.modelOptions ?? {}) },
    weights: hashWeights(k.model),
    criterion: k.criterion,
    options,
    data: c.needsData && k.data ? hashMaskData(k.data) : null,
    warmup: k.warmup ?? false,
  };
}

/** JSON with object keys sorted, so equal keys serialise identically. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Options of `ScoreCache`. */
export interface ScoreCacheOptions {
  /** Default `.pai-cache/scores` under the working directory. */
  dir?: string;
  /** Upper bound on the entries' total size; least recently used entries go first. Default 1 GiB. */
  maxBytes?: number;
  /** Where warnings go (a discarded corrupt entry, an entry too large to keep); default stderr. */
  onWarning?: (message: string) => void;
}

/** One cached scoring file. */
export interface ScoreCacheEntry { file: string; bytes: number; lastUsed: Date }
/** The cache's folder, size, limit and entries. */
export interface ScoreCacheUsage { dir: string; bytes: number; maxBytes: number; entries: ScoreCacheEntry[] }

/** A folder of cached scores keyed by everything they depend on, bounded in size (least recently used first out). */
export class ScoreCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly warn: (message: string) => void;
  /** Last stamp given, so that uses within one millisecond still order. */
  private stamp = 0;

  constructor(o: ScoreCacheOptions = {}) {
    this.dir = resolve(o.dir ?? DEFAULT_SCORE_CACHE_DIR);
    this.maxBytes = o.maxBytes ?? DEFAULT_SCORE_CACHE_MAX_BYTES;
    if (!(this.maxBytes >= 0)) throw new RangeError(`score cache maxBytes must be a non-negative number, got ${this.maxBytes}`);
    this.warn = o.onWarning ?? ((m) => process.stderr.write(`pai: warning: ${m}\n`));
  }

  /** The file that holds (or would hold) the scores of `key`. */
  fileFor(key: ScoreCacheKey): string {
    return join(this.dir, `${createHash('sha256').update(canonical(key)).digest('hex')}${SUFFIX}`);
  }

  /** The stored scores, or null on a miss. A corrupt or mismatched entry is deleted with a warning. */
  get(key: ScoreCacheKey): Scores | null {
    const file = this.fileFor(key);
    let parsed;
    try {
      parsed = readSafetensors(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
      this.discard(file, (e as Error).message);
      return null;
    }
    if (parsed.metadata['pai.key'] !== canonical(key)) {
      this.discard(file, 'its stored key does not match');
      return null;
    }
    const scores: Scores = new Map();
    try {
      for (const [name, e] of parsed.tensors) scores.set(name, toTensor(e, name));
    } catch (e) {
      this.discard(file, (e as Error).message);
      return null;
    }
    this.touch(file);
    return scores;
  }

  /** Stores the scores of `key` (atomically), then trims the cache to its size limit. */
  put(key: ScoreCacheKey, scores: Scores): void {
    let bytes = 0;
    for (const t of scores.values()) bytes += t.data.byteLength;
    if (bytes > this.maxBytes) {
      this.warn(`score cache: ${key.criterion} scores (${bytes} bytes) exceed the cache limit of ${this.maxBytes} bytes; not stored`);
      return;
    }
    mkdirSync(this.dir, { recursive: true });
    const file = this.fileFor(key);
    saveTensors(file, scores, { 'pai.key': canonical(key), criterion: key.criterion, model: key.model });
    // The header comes on top of the data, so an entry whose data fits can still be too large.
    const size = statSync(file).size;
    if (size > this.maxBytes) {
      this.remove(file);
      this.warn(`score cache: ${key.criterion} scores (${size} bytes with their header) exceed the cache limit of ${this.maxBytes} bytes; not stored`);
      return;
    }
    this.touch(file);
    this.evict(file);
  }

  /** Scores from the cache, or computed, stored and returned. */
  cachedScores(key: ScoreCacheKey, compute: () => Scores): Scores {
    const hit = this.get(key);
    if (hit) return hit;
    const scores = compute();
    try {
      this.put(key, scores);
    } catch (e) {
      // A full disk or a read-only directory must not cost the scores just computed.
      this.warn(`score cache: could not store ${key.criterion} scores in ${this.dir}: ${(e as Error).message}`);
    }
    return scores;
  }

  /** Entries from least to most recently used, and their total size. */
  usage(): ScoreCacheUsage {
    const entries: ScoreCacheEntry[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const n of names) {
      if (!n.endsWith(SUFFIX) || n.startsWith('.')) continue; // in-flight temporaries start with '.'
      try {
        const s = statSync(join(this.dir, n));
        if (s.isFile()) entries.push({ file: join(this.dir, n), bytes: s.size, lastUsed: s.mtime });
      } catch { /* removed meanwhile by another process */ }
    }
    entries.sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime() || (a.file < b.file ? -1 : 1));
    return { dir: this.dir, bytes: entries.reduce((s, e) => s + e.bytes, 0), maxBytes: this.maxBytes, entries };
  }

  /** Deletes every entry. */
  clear(): void {
    for (const e of this.usage().entries) this.remove(e.file);
  }

  private evict(keep: string): void {
    const u = this.usage();
    let bytes = u.bytes;
    for (const e of u.entries) {
      if (bytes <= this.maxBytes) break;
      if (e.file === keep) continue;
      this.remove(e.file);
      bytes -= e.bytes;
    }
  }

  private touch(file: string): void {
    this.stamp = Math.max(Date.now(), this.stamp + 1);
    const t = new Date(this.stamp);
    try { utimesSync(file, t, t); } catch { /* evicted by another process */ }
  }

  private discard(file: string, why: string): void {
    this.warn(`score cache: discarding corrupt entry ${file} (${why}); recomputing`);
    try { this.remove(file); } catch { /* a later put overwrites it atomically */ }
  }

  private remove(file: string): void {
    try { unlinkSync(file); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** cache.cachedScores(key, compute), with a cache built from options when none is given. */
export function cachedScores(key: ScoreCacheKey, compute: () => Scores, cache: ScoreCache | ScoreCacheOptions = {}): Scores {
  return (cache instanceof ScoreCache ? cache : new ScoreCache(cache)).cachedScores(key, compute);
}
