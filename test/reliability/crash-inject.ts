// Fault injection for crash.test.ts and scripts/soak.mjs, loaded into a `pai run` child with
// `node --import`. A SIGKILL from outside lands almost always in compute (scoring, training),
// because writes take microseconds; to kill inside the writes themselves this module wraps the
// synchronous file-system calls that modify files and kills the process, with SIGKILL, at a chosen
// one: the k-th write operation on a path of a given kind inside the store. It does nothing unless
// PAI_CRASH_STORE is set, so a test runner that picks this file up finds no test and no effect.
//
// Environment:
//   PAI_CRASH_STORE  the store folder; only operations on paths below it count
//   PAI_CRASH_AT     `<kind>:<k>:<before|after>`, kind one of KINDS below: SIGKILL just before (or
//                    just after) the k-th operation of that kind (1-based) in this process
//   PAI_CRASH_TRACE  a file that gets one line `<kind> <op> <path>` per counted operation
//   PAI_CRASH_LOG    a file that gets one line `<kind> <op> <path> <before|after>` when it kills

import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

export const KINDS = ['row', 'checkpoint', 'pruning', 'run-folder', 'cleanup'] as const;
export type Kind = (typeof KINDS)[number];

/** What an operation on `path` (inside the store) is part of. */
export function kindOf(op: string, path: string): Kind {
  const p = path.split(sep).join('/');
  // The removal of runs/<id>/ once the run's row is written.
  if (op === 'rmSync' && /\/runs\/[^/]+$/.test(p)) return 'cleanup';
  if (p.includes('/rows/') || p.endsWith('/rows')) return 'row';
  if (p.includes('/ckpt')) return 'checkpoint';
  if (p.includes('/pruned') || p.includes('/.pruned-')) return 'pruning';
  return 'run-folder';
}

const storeEnv = process.env['PAI_CRASH_STORE'];
if (storeEnv) install(resolve(storeEnv));

function install(store: string): void {
  // The originals, for the bookkeeping itself (which must not count or recurse).
  const appendFileSync = fs.appendFileSync.bind(fs);
  const trace = process.env['PAI_CRASH_TRACE'];
  const log = process.env['PAI_CRASH_LOG'];
  const at = process.env['PAI_CRASH_AT'];
  let target: { kind: Kind; k: number; when: 'before' | 'after' } | null = null;
  if (at) {
    const [kind, k, when] = at.split(':');
    if (!KINDS.includes(kind as Kind) || !(Number(k) >= 1) || (when !== 'before' && when !== 'after')) throw new Error(`PAI_CRASH_AT: bad value ${at}`);
    target = { kind: kind as Kind, k: Number(k), when };
  }
  const counts = new Map<Kind, number>();
  const fdPaths = new Map<number, string>();
  const inside = (p: unknown): string | null => {
    if (typeof p !== 'string') return null;
    const abs = resolve(p);
    return abs === store || abs.startsWith(store + sep) ? abs : null;
  };

  /** Counts the operation; returns whether the process is to die before or after it. */
  const count = (op: string, path: string): 'before' | 'after' | null => {
    const kind = kindOf(op, path);
    if (trace) appendFileSync(trace, `${kind} ${op} ${path}\n`);
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    if (!target || target.kind !== kind || target.k !== n) return null;
    if (log) appendFileSync(log, `${kind} ${op} ${path} ${target.when}\n`);
    return target.when;
  };
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to oneself is delivered before kill() returns to user code; this is never reached.
    throw new Error('unreachable');
  };

  type AnyFn = (...args: unknown[]) => unknown;
  const wrap = (name: string, pathOf: (args: unknown[]) => string | null, after?: (args: unknown[], result: unknown) => void): void => {
    const real = (fs as unknown as Record<string, AnyFn>)[name]!.bind(fs);
    (fs as unknown as Record<string, AnyFn>)[name] = (...args: unknown[]) => {
      const path = pathOf(args);
      const when = path === null ? null : count(name, path);
      if (when === 'before') die();
      const result = real(...args);
      after?.(args, result);
      if (when === 'after') die();
      return result;
    };
  };
  const byPath = (args: unknown[]): string | null => inside(args[0]);
  const byFd = (args: unknown[]): string | null => (typeof args[0] === 'number' ? fdPaths.get(args[0]) ?? null : null);

  wrap('openSync', byPath, (args, fd) => {
    const p = inside(args[0]);
    if (p !== null && typeof fd === 'number') fdPaths.set(fd, p);
  });
  wrap('writeSync', byFd);
  wrap('fsyncSync', byFd);
  wrap('closeSync', byFd, (args) => { if (typeof args[0] === 'number') fdPaths.delete(args[0]); });
  wrap('writeFileSync', byPath);
  wrap('renameSync', byPath);
  wrap('rmSync', byPath);
  wrap('unlinkSync', byPath);
  wrap('mkdirSync', byPath);
  wrap('utimesSync', byPath);
  // ESM named imports of node:fs (`import { renameSync } from 'node:fs'`) see the wrappers only after this.
  syncBuiltinESMExports();
}
