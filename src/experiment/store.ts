// The results store: a folder with one JSON file per finished run, rows/<run id>.json.
//
// Why one file per row rather than an append-only JSONL: a study's shards run on many machines that
// often share one store folder (NFS, a Kubernetes volume). Separate files written as temp + fsync +
// rename need no locking between writers, a rename is atomic, so a reader sees a whole row or none,
// and a crash leaves at most a hidden temporary file that nothing reads (and that goes once the
// run's row is written). Appends to one shared file from several hosts interleave on NFS, and a torn
// last line would need repair before the next append. Each row also carries a checksum of its content, so a row damaged after it was written
// (disk, hand edit) is reported instead of being counted.
//
// Next to rows/ the runner keeps runs/<id>/ (pruned weights, masks, training checkpoints) while a run
// is in progress; a run is complete exactly when its row exists.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { canonicalJson, type RunSettings } from './config.js';
import type { EpochRecord, MetricSummary } from '../train/index.js';
import type { LayerDensity } from '../prune/index.js';

/** The format tag of result rows. */
export const ROW_FORMAT = 'pai-result/1';

/** A results store that is unreadable or inconsistent; the message names the file. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** One finished run in the results store: settings, pruning record, metrics, times and a checksum. */
export interface ResultRow {
  format: typeof ROW_FORMAT;
  id: string;
  /** Hash of the normalised study that produced the row. */
  configHash: string;
  study: string;
  settings: RunSettings;
  /** Metrics per epoch, as the trainer recorded them. */
  history: EpochRecord[];
  final: { epoch: number; val: MetricSummary | null; test: MetricSummary | null };
  /** The epoch with the best validation metric, and the test metrics of that same epoch. */
  best: { epoch: number; by: string; val: MetricSummary | null; test: MetricSummary | null };
  /** Test top-1 of the last epoch. */
  finalTestTop1: number | null;
  bestValTop1: number | null;
  /** Test top-1 at the best-validation epoch: the number the report's tables show. */
  bestTestTop1: number | null;
  /** Kept fraction of the prunable weights. */
  density: number;
  kept: number;
  total: number;
  layers: LayerDensity[];
  emptyLayers: string[];
  /** No input-to-output path survives the mask (layer collapse). */
  collapsed: boolean;
  warnings: string[];
  timing: { warmupSeconds: number; maskSeconds: number; trainSeconds: number; totalSeconds: number };
  /** Where the row was computed; `cpu` (model and vector extensions) is absent from rows written before it was recorded. */
  pai: { version: string; backend: string; threads: number; node: string; cpu?: string };
  finishedAt: string;
  /** sha256 of the canonical JSON of every other field. */
  checksum: string;
}

/** A result row before its checksum is computed. */
export type UnsignedRow = Omit<ResultRow, 'checksum'>;

/** The checksum of a row (over everything but the checksum field). */
export function rowChecksum(row: UnsignedRow | ResultRow): string {
  const { checksum: _drop, ...rest } = row as ResultRow;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** The row with its checksum. */
export function signRow(row: UnsignedRow): ResultRow {
  return { ...row, checksum: rowChecksum(row) };
}

/** The folder of a store's result rows. */
export function rowsDir(store: string): string {
  return join(store, 'rows');
}

/** The working folder of run `id` (pruning record, checkpoints). */
export function runDir(store: string, id: string): string {
  return join(store, 'runs', id);
}

/** The file of run `id`'s result row. */
export function rowPath(store: string, id: string): string {
  return join(rowsDir(store), `${id}.json`);
}

const TMP_PREFIX = '.tmp-';

function fsyncDir(dir: string): void {
  // Persists the rename; some platforms cannot open a directory, hence best effort.
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* not supported */ }
}

/** Test hooks of `writeRow`, to simulate a crash between its steps. */
export interface WriteHooks {
  /** Test hook: called after the temporary file is written, before the rename (throw to simulate a crash). */
  beforeRename?: (tmp: string) => void;
}

/** Writes `data` to `path` whole or not at all: temp file in the same folder, fsync, rename. */
export function writeAtomic(path: string, data: string, hooks: WriteHooks = {}): void {
  const dir = join(path, '..');
  const tmp = join(dir, `${TMP_PREFIX}${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const bytes = Buffer.from(data, 'utf8');
  const fd = openSync(tmp, 'wx');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // A crash (or a throwing hook) from here on leaves only the temporary file, which readers skip.
  hooks.beforeRename?.(tmp);
  renameSync(tmp, path);
  fsyncDir(dir);
}

/** Creates a store's folders if needed. */
export function initStore(store: string): void {
  mkdirSync(rowsDir(store), { recursive: true });
}

/** Writes a result row atomically (temporary file and rename). */
export function writeRow(store: string, row: ResultRow, hooks: WriteHooks = {}): void {
  initStore(store);
  writeAtomic(rowPath(store, row.id), `${JSON.stringify(row, null, 1)}\n`, hooks);
  removeStaleTemporaries(store, row.id);
}

/**
 * Deletes what earlier, killed attempts at writing this run's row left in rows/. Readers skip such
 * files, but nothing else would ever remove them. Only the process that runs a run writes its row,
 * so once the row is in place any temporary of the same name is dead.
 */
function removeStaleTemporaries(store: string, id: string): void {
  const prefix = `${TMP_PREFIX}${id}.json.`;
  for (const name of readdirSync(rowsDir(store))) {
    if (name.startsWith(prefix)) rmSync(join(rowsDir(store), name), { force: true });
  }
}

/** A file of a store that could not be read, and why. */
export interface StoreProblem { file: string; reason: string }

/** The rows of a store and the problems met reading it. */
export interface StoreContents {
  rows: ResultRow[];
  /** Rows that could not be used: unreadable, not JSON, wrong format, checksum or id mismatch. */
  problems: StoreProblem[];
}

function checkRow(v: unknown, file: string): ResultRow | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const r = v as Partial<ResultRow>;
  if (r.format !== ROW_FORMAT) return `format ${JSON.stringify(r.format)}, expected ${ROW_FORMAT}`;
  if (typeof r.id !== 'string' || `${r.id}.json` !== basename(file)) return `its id ${JSON.stringify(r.id)} does not match the file name`;
  if (typeof r.checksum !== 'string') return 'no checksum';
  const sum = rowChecksum(r as ResultRow);
  if (sum !== r.checksum) return 'checksum mismatch (the row was changed or damaged after it was written)';
  if (!r.settings || typeof r.settings !== 'object') return 'no settings';
  return r as ResultRow;
}

/** Reads one row; null when it does not exist, a string when it is unusable. */
export function readRow(store: string, id: string): ResultRow | null | string {
  const file = rowPath(store, id);
  if (!existsSync(file)) return null;
  try {
    return checkRow(JSON.parse(readFileSync(file, 'utf8')), file);
  } catch (e) {
    return `unreadable (${(e as Error).message})`;
  }
}

/** Every usable row of a store (sorted by id), and what was wrong with the others. */
export function readStore(store: string): StoreContents {
  if (!existsSync(store) || !statSync(store).isDirectory()) throw new StoreError(`${store}: no such results store (a folder with rows/)`);
  const dir = rowsDir(store);
  const rows: ResultRow[] = [], problems: StoreProblem[] = [];
  if (!existsSync(dir)) return { rows, problems };
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(TMP_PREFIX)) continue;
    const file = join(dir, name);
    if (!name.endsWith('.json')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push({ file, reason: `not valid JSON (${(e as Error).message})` });
      continue;
    }
    const r = checkRow(parsed, file);
    if (typeof r === 'string') problems.push({ file, reason: r });
    else rows.push(r);
  }
  return { rows, problems };
}

/** Ids of the complete, usable rows. */
export function completedIds(store: string): Set<string> {
  if (!existsSync(rowsDir(store))) return new Set();
  return new Set(readStore(store).rows.map((r) => r.id));
}

/** The row without what legitimately differs between two executions of one run: timings and provenance. */
function comparable(r: ResultRow): unknown {
  const { checksum: _c, finishedAt: _f, timing: _t, configHash: _h, study: _s, history, ...rest } = r;
  return { ...rest, history: history.map(({ seconds: _sec, ...h }) => h) };
}

/** Whether two rows record the same result (settings and metrics, not times). */
export function sameResult(a: ResultRow, b: ResultRow): boolean {
  return canonicalJson(comparable(a)) === canonicalJson(comparable(b));
}

/** What `mergeStores` copied, skipped and refused. */
export interface MergeResult {
  /** Rows in the output store after the merge. */
  rows: number;
  /** Rows newly written. */
  added: number;
  /** Rows found more than once with the same result. */
  duplicates: number;
  /** Unusable rows of the inputs, skipped. */
  problems: StoreProblem[];
}

/**
 * Unions stores into `out` (which may exist, and may be one of the inputs). Rows with one id are
 * one run: identical results (timings and provenance aside) are kept once; differing results are
 * an error naming the id, raised before anything is written.
 */
export function mergeStores(inputs: readonly string[], out: string): MergeResult {
  if (inputs.length === 0) throw new StoreError('merge: give at least one store to read');
  const union = new Map<string, { row: ResultRow; from: string }>();
  const problems: StoreProblem[] = [];
  let duplicates = 0;
  const sources = existsSync(out) ? [out, ...inputs.filter((i) => i !== out)] : [...inputs];
  const existing = new Set<string>();
  for (const src of sources) {
    const { rows, problems: p } = readStore(src);
    problems.push(...p);
    for (const row of rows) {
      if (src === out) existing.add(row.id);
      const seen = union.get(row.id);
      if (!seen) { union.set(row.id, { row, from: src }); continue; }
      if (!sameResult(seen.row, row)) {
        throw new StoreError(`merge: run ${row.id} has different results in ${seen.from} and ${src}; remove one of the two rows (rows/${row.id}.json) and merge again`);
      }
      duplicates++;
    }
  }
  initStore(out);
  let added = 0;
  for (const [id, { row }] of union) {
    if (existing.has(id)) continue;
    writeRow(out, row);
    added++;
  }
  return { rows: union.size, added, duplicates, problems };
}

/** Renames a file or folder over `to`, replacing it in one step. */
export function renameAtomic(from: string, to: string): void {
  renameSync(from, to);
  fsyncDir(join(to, '..'));
}
