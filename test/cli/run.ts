// Runs the built `pai` command as a user would, for the CLI tests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/main.js, from dist/test/cli. */
export const MAIN = resolve(here, '../../src/cli/main.js');

export interface RunResult { code: number; stdout: string; stderr: string }

export function pai(args: string[], o: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return runScript(MAIN, args, o);
}

/** Runs a compiled script with this Node, as `node SCRIPT ARGS...`. */
export function runScript(script: string, args: string[], o: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((res) => {
    execFile(process.execPath, [script, ...args], {
      env: { ...process.env, ...o.env }, timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A fresh temporary folder, removed when the process exits. */
export function scratch(prefix = 'pai-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/**
 * A user error as the CLI must report it: exit code 2, one `pai:` line on stderr matching `pattern`,
 * no stack trace. The bench scripts report theirs the same way under `bench:`.
 */
export function assertUserError(r: RunResult, pattern: RegExp, label: string, prefix = 'pai'): void {
  assert.equal(r.code, 2, `${label}: exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `${label}: one line on stderr, got:\n${r.stderr}`);
  assert.ok(lines[0]!.startsWith(`${prefix}: `), `${label}: starts with "${prefix}: ", got ${lines[0]}`);
  assert.match(lines[0]!, pattern, label);
  assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+/, `${label}: no stack trace`);
}
