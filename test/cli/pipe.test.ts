// A reader that stops early (`pai ... | head`) must end pai quietly, not with an EPIPE stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { MAIN } from './run.js';

test('a closed stdout pipe ends pai with exit code 0 and nothing on stderr', async () => {
  // `run --help` writes its whole help at once; the pipe is closed before pai writes it.
  const child = spawn(process.execPath, [MAIN, 'run', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
