// Runs `pai run` as a child process and kills it, for crash.test.ts and scripts/soak.mjs: from
// outside after a delay (lands in compute: data loading, scoring, training), or from inside at a
// chosen file-system write (crash-inject.ts), and tells afterwards where the kill landed and
// whether the store is intact.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readStore, rowPath, rowsDir, runDir, sameResult, type ResultRow } from '../../src/experiment/store.js';
import { latestCheckpoint } from '../../src/train/checkpoint.js';
import type { Kind } from './crash-inject.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/main.js, from dist/test/reliability. */
export const MAIN = resolve(here, '../../src/cli/main.js');
const INJECT = pathToFileURL(join(here, 'crash-inject.js')).href;

export type KillSpec =
  | { type: 'none' }
  /** SIGKILL from this process `ms` after the child starts. */
  | { type: 'time'; ms: number }
  /** SIGKILL from this process `ms` after the child announces its first run (its `[1/N]` line). */
  | { type: 'run-start'; ms: number }
  /** The child kills itself at its k-th write of this kind, before or after the operation. */
  | { type: 'write'; kind: Kind; k: number; when: 'before' | 'after' };

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** For a 'write' kill that happened: `<kind> <op> <path> <when>`. */
  killedAt: string | null;
  /** Peak resident set of the child in bytes (from /proc, sampled), 0 where unavailable. */
  peakRss: number;
}

export interface ChildOptions {
  /** Arguments after `main.js`. */
  args: string[];
  store: string;
  env?: Record<string, string>;
  kill?: KillSpec;
  /** Writes under the store are listed here, one line each (kind, operation, path). */
  traceFile?: string;
  /** Scratch folder for the kill log. */
  scratch: string;
  /** Sample the child's RSS every this many ms (0: never). */
  rssEveryMs?: number;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

let logCounter = 0;

export function runChild(o: ChildOptions): Promise<ChildResult> {
  const kill = o.kill ?? { type: 'none' };
  const log = join(o.scratch, `kill-${process.pid}-${logCounter++}.log`);
  const env: Record<string, string> = { ...process.env as Record<string, string>, ...o.env, PAI_CRASH_STORE: o.store, PAI_CRASH_LOG: log };
  if (o.traceFile) env['PAI_CRASH_TRACE'] = o.traceFile;
  if (kill.type === 'write') env['PAI_CRASH_AT'] = `${kill.kind}:${kill.k}:${kill.when}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', INJECT, MAIN, ...o.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  let peakRss = 0;
  const timers: NodeJS.Timeout[] = [];
  const killNow = (): void => { child.kill('SIGKILL'); };
  if (kill.type === 'time') timers.push(setTimeout(killNow, kill.ms));
  let anchored = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (kill.type === 'run-start' && !anchored && /^\[1\/\d+\] /m.test(stderr)) {
      anchored = true;
      timers.push(setTimeout(killNow, kill.ms));
    }
  });
  if (o.rssEveryMs && child.pid !== undefined) {
    const pid = child.pid;
    const sample = (): void => { peakRss = Math.max(peakRss, rssOf(pid)); };
    timers.push(setInterval(sample, o.rssEveryMs));
  }
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      const killedAt = existsSync(log) ? readFileSync(log, 'utf8').trim() || null : null;
      res({ code, signal, stdout, stderr, ms: performance.now() - t0, killedAt, peakRss });
    });
  });
}

/**
 * Where a kill from outside landed, read from the child's log and what it left on disk: before any
 * run started, during pruning (data loading, warm-up, scoring: no saved pruning yet), during
 * training epoch e (the last complete checkpoint holds e - 1 epochs), or after the row was written.
 */
export function whereKilled(store: string, stderr: string): string {
  const starts = [...stderr.matchAll(/^\[\d+\/\d+\] .*\(run ([0-9a-f]+)\)$/gm)];
  if (starts.length === 0) return 'start-up';
  const id = starts[starts.length - 1]![1]!;
  if (existsSync(rowPath(store, id))) return 'after the row';
  const dir = runDir(store, id);
  if (!existsSync(join(dir, 'pruned', 'prune.json'))) return 'pruning';
  const ckpt = latestCheckpoint(join(dir, 'ckpt', 'last'));
  if (!ckpt) return 'training epoch 1';
  const t = JSON.parse(readFileSync(join(ckpt, 'trainer.json'), 'utf8')) as { epochsDone: number; epochs: number };
  return t.epochsDone >= t.epochs ? 'finishing (trained, no row yet)' : `training epoch ${t.epochsDone + 1}`;
}

export interface Integrity {
  rows: ResultRow[];
  /** Rows the reader could not use, with the reason. */
  problems: string[];
  /** Files in rows/ other than `<id>.json`: temporaries a kill left behind. */
  strayFiles: string[];
  /** runs/<id>/ folders of runs whose row exists (the cleanup after the row was interrupted). */
  leftoverRunFolders: string[];
}

export function integrity(store: string): Integrity {
  const { rows, problems } = readStore(store);
  const ids = new Set(rows.map((r) => r.id));
  const names = existsSync(rowsDir(store)) ? readdirSync(rowsDir(store)) : [];
  const strayFiles = names.filter((n) => !(n.endsWith('.json') && ids.has(n.slice(0, -5))));
  const runs = join(store, 'runs');
  const leftoverRunFolders = existsSync(runs) ? readdirSync(runs).filter((id) => ids.has(id)) : [];
  return { rows, problems: problems.map((p) => `${p.file}: ${p.reason}`), strayFiles, leftoverRunFolders };
}

/** Differences between a reference store's rows and another's (timings and provenance aside). */
export function compareRows(ref: readonly ResultRow[], got: readonly ResultRow[]): string[] {
  const out: string[] = [];
  const byId = new Map(got.map((r) => [r.id, r]));
  for (const r of ref) {
    const g = byId.get(r.id);
    if (!g) { out.push(`run ${r.id}: missing`); continue; }
    if (!sameResult(r, g)) out.push(`run ${r.id}: different results (final test ${JSON.stringify(r.final.test)} vs ${JSON.stringify(g.final.test)})`);
    byId.delete(r.id);
  }
  for (const id of byId.keys()) out.push(`run ${id}: not in the reference`);
  if (got.length !== new Set(got.map((r) => r.id)).size) out.push('duplicate run ids');
  return out;
}
