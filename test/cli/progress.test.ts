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

test('a resumed task counts its rate and ETA from where it resumed, not from zero', { skip: process.stderr.isTTY ? 'stderr is a terminal here' : false }, () => {
  setLineInterval(0);
  try {
    const out = captureStderr(() => {
      const t = startTask('train', 2000, { unit: 'steps' });
      t.update(1000); // resumed from a checkpoint at step 1000
      const until = performance.now() + 100;
      while (performance.now() < until) { /* 10 steps take at least 100 ms */ }
      t.update(1010);
      t.done();
    });
    const last = out.trim().split('\n').filter((l) => l.startsWith('train: 1010/'))[0];
    assert.ok(last, out);
    // 10 steps in >= 0.1 s is <= 100 steps/s, so the 990 left take >= 9.9 s. Counting the 1000
    // resumed steps as done here gave ~10,000 steps/s and an ETA of 0 s.
    const rate = Number(/, ([\d.]+)\/s,/.exec(last)![1]);
    assert.ok(rate <= 100.5, last);
    const eta = /ETA (?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(last)!;
    const secs = Number(eta[1] ?? 0) * 3600 + Number(eta[2] ?? 0) * 60 + Number(eta[3] ?? 0);
    assert.ok(secs >= 9, last);
  } finally {
    setLineInterval(5);
  }
});
