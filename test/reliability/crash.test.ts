// Crash safety of `pai run`: a 6-run grid (LeNet-5 at half width, two criteria x three sparsities,
// two epochs on 300 images of the shipped Fashion-MNIST subset) is killed with SIGKILL again and
// again and rerun until it completes; the store must then hold exactly the rows of an
// uninterrupted run, bit for bit (reference backend, one thread), with nothing unreadable.
//
// The kills follow a seeded schedule of three sorts: after a random delay from start (mostly lands
// in training), a short random delay after the first run starts (data loading and scoring), and
// at a random write inside the store (crash-inject.ts): of a result row, of a training checkpoint,
// of the saved pruning, of the run's folder (settings), just before or just after the operation,
// and just before the removal of a finished run's folder. The write counts per run come from tracing the uninterrupted run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator } from '../../src/tensor/random.js';
import { runStudies } from '../../src/experiment/runner.js';
import { runDir, writeRow } from '../../src/experiment/store.js';
import { studyOf, syntheticRow } from '../experiment/helpers.js';
import { KINDS, type Kind } from './crash-inject.js';
import { compareRows, integrity, runChild, whereKilled, type KillSpec } from './crash-harness.js';

// The shipped subset, wherever the tests are run from (this file runs from dist/test/reliability).
const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data');
const SEED = 8;
const RUNS = 6;
const GRID = {
  name: 'crash',
  grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria: ['snip', 'fisher_diag'], sparsities: [0.5, 0.8, 0.95], seeds: [0] },
  data: { batchSize: 32, trainPerClass: 30, testPerClass: 10, valFraction: 0.2 },
  pruning: { maskPerClass: 3 },
  training: { epochs: 2, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
};
// Bit-for-bit comparisons hold on the reference backend with one thread.
const ENV = { PAI_BACKEND: 'js' };

test('SIGKILL at random points of `pai run`, rerun until done: the store equals an uninterrupted run', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'crash.json');
  writeFileSync(config, JSON.stringify(GRID));
  const args = (store: string): string[] => ['--threads', '1', 'run', config, '--store', store, '--data-dir', DATA];

  // The uninterrupted run, traced: how many writes of each kind one run makes.
  const refStore = join(dir, 'reference'), trace = join(dir, 'trace');
  const ref = await runChild({ args: args(refStore), store: refStore, env: ENV, traceFile: trace, scratch: dir });
  assert.equal(ref.code, 0, ref.stderr);
  const refState = integrity(refStore);
  assert.equal(refState.rows.length, RUNS);
  const perRun = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
  for (const line of readFileSync(trace, 'utf8').split('\n')) if (line) perRun.set(line.split(' ')[0] as Kind, perRun.get(line.split(' ')[0] as Kind)! + 1);
  for (const k of KINDS) {
    assert.ok(perRun.get(k)! >= RUNS, `the trace has writes of kind ${k}`);
    perRun.set(k, Math.floor(perRun.get(k)! / RUNS));
  }
  // From the first run's start to the end of its pruning: the window for 'run-start' kills.
  const pruneMs = 1000 * Math.max(...refState.rows.map((r) => r.timing.warmupSeconds + r.timing.maskSeconds));

  const g = new Generator(SEED, 'crash-schedule');
  const pick = <T>(xs: readonly T[]): T => xs[g.int(xs.length)]!;
  const write = (kind: Kind): KillSpec => ({ type: 'write', kind, k: 1 + g.int(perRun.get(kind)!), when: pick(['before', 'after'] as const) });
  // A kill from outside within about the first run and a half of an attempt, so that one attempt
  // does not finish the grid while kills are still planned.
  const time = (): KillSpec => ({ type: 'time', ms: Math.round(300 + g.uniform() * 1.5 * ref.ms / RUNS) });
  const runStart = (): KillSpec => ({ type: 'run-start', ms: Math.round(g.uniform() * (pruneMs + 50)) });
  // One of each sort first (in a seeded order), so that every sort is tried before the grid can
  // complete; then more of them, shuffled.
  // The clean-up is killed before it starts: the row is written, the working folder still there.
  const first: KillSpec[] = [...KINDS.map((k) => (k === 'cleanup' ? { type: 'write' as const, kind: k, k: 1, when: 'before' as const } : write(k))), time(), runStart()];
  const rest: KillSpec[] = [write('checkpoint'), write('checkpoint'), write('checkpoint'), write('row'), write('pruning'), write('run-folder'), time(), time(), runStart(), runStart()];
  const schedule = [...[...g.permutation(first.length)].map((i) => first[i]!), ...[...g.permutation(rest.length)].map((i) => rest[i]!)];

  const store = join(dir, 'crashed');
  const log: string[] = [];
  const landed = new Set<string>();
  let attempt = 0, completed = false;
  while (!completed) {
    const kill: KillSpec = schedule[attempt] ?? { type: 'none' };
    assert.ok(attempt <= schedule.length, 'the grid completes once the kills stop');
    const r = await runChild({ args: args(store), store, env: ENV, kill, scratch: dir });
    attempt++;
    if (r.signal === 'SIGKILL') {
      const where = kill.type === 'write' ? `write of a ${r.killedAt}` : `${whereKilled(store, r.stderr)} (${kill.type} ${kill.type === 'none' ? '' : (kill as { ms: number }).ms} ms)`;
      landed.add(kill.type === 'write' ? `write:${kill.kind}` : whereKilled(store, r.stderr).replace(/ \d+$/, ''));
      log.push(`attempt ${attempt}: killed at ${where}; ${integrity(store).rows.length} row(s) in the store`);
      // Between kills the store holds only whole, valid rows.
      assert.deepEqual(integrity(store).problems, [], `after attempt ${attempt}`);
      continue;
    }
    // Anything but a kill or a clean finish is a failed recovery (a resume that throws, say).
    assert.equal(r.code, 0, `attempt ${attempt} (${JSON.stringify(kill)}) exited with ${r.code ?? r.signal}:\n${r.stderr}`);
    log.push(`attempt ${attempt}: ran to the end (${JSON.stringify(kill)}): ${r.stdout.trim()}`);
    completed = /\d+ run\(s\): \d+ ran, \d+ already complete, 0 failed/.test(r.stdout) && integrity(store).rows.length === RUNS;
  }
  t.diagnostic(log.join('\n'));
  t.diagnostic(`kills landed in: ${[...landed].sort().join(', ')}`);

  const got = integrity(store);
  assert.deepEqual(got.problems, [], 'the reader reports no unusable row');
  assert.deepEqual(compareRows(refState.rows, got.rows), [], 'same run ids, same results bit for bit');
  assert.deepEqual(got.strayFiles, [], 'no partial or temporary row left in rows/');
  assert.deepEqual(got.leftoverRunFolders, [], 'no working folder of a finished run left behind');
  for (const r of got.rows) {
    const a = refState.rows.find((x) => x.id === r.id)!;
    assert.deepEqual(r.history.map(({ seconds: _s, ...h }) => h), a.history.map(({ seconds: _s, ...h }) => h), `run ${r.id}: training curve`);
    assert.equal(r.final.test?.loss, a.final.test?.loss, `run ${r.id}: final test loss`);
  }
  // The schedule reached every kind of write and both compute phases.
  for (const k of KINDS) assert.ok(landed.has(`write:${k}`), `a kill during a ${k} write (landed: ${[...landed].join(', ')})`);
  assert.ok(landed.has('pruning'), `a kill during pruning (landed: ${[...landed].join(', ')})`);
  assert.ok([...landed].some((l) => l.startsWith('training')), `a kill during training (landed: ${[...landed].join(', ')})`);
});

test('a finished run\'s folder left by a kill goes on the next pass; one kept with --keep-checkpoints stays', async () => {
  const store = mkdtempSync(join(tmpdir(), 'pai-leftover-'));
  try {
    const study = studyOf();
    for (const r of study.runs) writeRow(store, syntheticRow(study, r));
    const [killed, kept] = [study.runs[0]!.id, study.runs[1]!.id];
    // What a kill between the row and the clean-up leaves, and what --keep-checkpoints leaves.
    mkdirSync(join(runDir(store, killed), 'ckpt'), { recursive: true });
    writeFileSync(join(runDir(store, killed), 'remove-after-row'), '');
    mkdirSync(join(runDir(store, kept), 'ckpt'), { recursive: true });
    // Stale temporaries of a row write that a kill interrupted go when that row is written.
    writeFileSync(join(store, 'rows', `.tmp-${killed}.json.123.abcd`), '{"half');
    writeRow(store, syntheticRow(study, study.runs[0]!));
    const r = await runStudies([study], { store });
    assert.equal(r.skipped.length, study.runs.length);
    assert.equal(existsSync(runDir(store, killed)), false);
    assert.equal(existsSync(runDir(store, kept)), true);
    assert.deepEqual(integrity(store).strayFiles, []);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});
