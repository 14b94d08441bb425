// The progress reporter off a terminal: plain lines with counts, rate and ETA, then a closing line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setLineInterval, setProgressEnabled, startTask } from '../../src/cli/progress.js';

function captureStderr(f: () => void): string {
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof process.stderr.write;
  try { f(); } finally { process.stderr.write = write; }
  return out;
}

test('off a terminal, a task prints plain lines with items, rate and ETA', { skip: process.stderr.isTTY ? 'stderr is a terminal here' : false }, () => {
  setLineInterval(0);
  try {
    const out = captureStderr(() => {
      const t = startTask('score snip', 10, { unit: 'mask batches' });
      t.update(5);
      t.done();
    });
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 2, out);
    assert.match(lines[0]!, /^score snip: 5\/10 mask batches, [\d.?]+\/s, \S+ elapsed, ETA \S+$/);
    assert.match(lines[1]!, /^score snip: done, 5 mask batches in \S+$/);
    const mb = captureStderr(() => { const t = startTask('file.gz', 3e6, { unit: 'MB', divisor: 1e6 }); t.update(1.5e6); t.done(); });
    assert.match(mb, /file\.gz: 1\.5\/3\.0 MB/);
  } finally {
    setLineInterval(5);
  }
});

test('quick jobs and --quiet print nothing', () => {
  assert.equal(captureStderr(() => { const t = startTask('quick', 3); t.update(3); t.done(); }), '');
  setProgressEnabled(false);
  setLineInterval(0);
  try {
    assert.equal(captureStderr(() => { const t = startTask('quiet', 3); t.update(1); t.done(); }), '');
  } finally {
    setProgressEnabled(true);
    setLineInterval(5);
  }
});
