// End to end: `pai run` on a 2-run grid with a tiny model, one epoch on a few hundred images of the
// shipped subset; a second run skips both; the killed-run path resumes from the saved pruning.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../../src/experiment/config.js';
import { DataCache, executeRun, runStudies, ScoreMemo } from '../../src/experiment/runner.js';
import { readStore, runDir } from '../../src/experiment/store.js';
import { tempDir } from './helpers.js';
import { cpuDescription } from '../../src/kernels/cpu.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'src', 'cli', 'main.js');

function tinyGrid(name: string): Record<string, unknown> {
  return {
    name,
    grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria: ['snip', 'fisher_diag'], sparsities: [0.9], seeds: [0] },
    data: { batchSize: 64, trainPerClass: 24, testPerClass: 10, valFraction: 0.25 },
    pruning: { maskPerClass: 2 },
    training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
  };
}

test('pai run: a 2-run grid runs, writes two rows, and a rerun skips both', async () => {
  const dir = tempDir();
  const config = join(dir, 'tiny.json');
  writeFileSync(config, JSON.stringify(tinyGrid('tiny')));
  const store = join(dir, 'store');
  const first = await run(process.execPath, [cli, '--quiet', 'run', config, '--store', store], { timeout: 120_000 });
  assert.match(first.stdout, /2 run\(s\): 2 ran, 0 already complete, 0 failed/);
  const { rows, problems } = readStore(store);
  assert.equal(problems.length, 0);
  assert.equal(rows.length, 2);
  const study = parseConfig(tinyGrid('tiny'));
  assert.deepEqual(rows.map((r) => r.id).sort(), study.runs.map((r) => r.id).sort());
  for (const r of rows) {
    assert.equal(r.history.length, 1);
    assert.ok(r.bestTestTop1 !== null && r.bestTestTop1 >= 0 && r.bestTestTop1 <= 1);
    assert.equal(r.best.test?.count, 100);
    assert.equal(r.best.val?.count, 60);
    assert.ok(Math.abs(r.density - 0.1) < 0.01, `density ${r.density}`);
    assert.ok(r.layers.length > 0 && r.layers.every((l) => l.total > 0));
    assert.ok(r.timing.maskSeconds > 0 && r.timing.trainSeconds > 0);
    assert.equal(r.configHash, study.hash);
    assert.match(r.pai.version, /^\d+\.\d+\.\d+/);
    // Where it ran: the CPU's model and vector extensions.
    assert.equal(r.pai.cpu, cpuDescription());
    assert.match(r.pai.cpu ?? '', /\S/);
  }
  // Finished runs leave no working folder behind.
  assert.deepEqual(existsSync(join(store, 'runs')) ? readdirSync(join(store, 'runs')) : [], []);

  const second = await run(process.execPath, [cli, '--quiet', 'run', config, '--store', store], { timeout: 60_000 });
  assert.match(second.stdout, /2 run\(s\): 0 ran, 2 already complete/);
  // Shards: 1/2 holds the second run, already done.
  const listed = await run(process.execPath, [cli, 'run', config, '--store', store, '--shard', '1/2', '--list']);
  assert.match(listed.stdout, /done\s+fashion-mnist-subset\/lenet5@0\.5 fisher_diag s=0\.9 seed 0/);
  assert.match(listed.stdout, /1 of 2 runs in shard 1\/2/);
  // A bad config is one line and exit code 2.
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...tinyGrid('bad'), training: { epochs: 0, optimizer: { name: 'sgd', lr: 1 } } }));
  await assert.rejects(run(process.execPath, [cli, 'run', join(dir, 'bad.json')]), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, /^pai: .*training\.epochs: must be a positive integer, got number 0\n$/);
    return true;
  });
  // Report and merge on what was written.
  const out = join(dir, 'report');
  const rep = await run(process.execPath, [cli, 'report', store, '--out', out, '--no-png']);
  assert.match(rep.stdout, /snip/);
  assert.ok(existsSync(join(out, 'report.md')));
  const merged = await run(process.execPath, [cli, 'merge', store, store, '--out', join(dir, 'merged')]);
  assert.match(merged.stdout, /2 run\(s\), 2 added/);
});

test('a killed run resumes from its saved pruning and checkpoints', async () => {
  const store = tempDir();
  const study = parseConfig({ ...tinyGrid('resume'), grid: { ...(tinyGrid('x')['grid'] as object), criteria: ['snip'] }, training: { epochs: 2, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } } });
  const r = study.runs[0]!;
  // Kill it after the first epoch: abort from the epoch callback.
  const ac = new AbortController();
  const ctxBase = { store, study, env: { dataDir: null, workers: 0 }, keepCheckpoints: false, memo: new ScoreMemo() };
  await assert.rejects(executeRun(r, {
    ...ctxBase, cache: new DataCache(undefined), signal: ac.signal,
    events: { epochEnd: () => ac.abort(new Error('killed')) },
  }), /killed/);
  const dir = runDir(store, r.id);
  assert.ok(existsSync(join(dir, 'pruned', 'prune.json')), 'the pruning was saved');
  assert.ok(existsSync(join(dir, 'ckpt', 'last')), 'a checkpoint was saved');
  assert.equal(readStore(store).rows.length, 0);
  const warnings: string[] = [];
  const res = await runStudies([study], { store, events: { warn: (m) => warnings.push(m) } });
  assert.equal(res.done.length, 1);
  assert.ok(warnings.some((w) => /resuming with the masks pruned earlier/.test(w)), warnings.join('\n'));
  const row = res.done[0]!;
  assert.equal(row.history.length, 2);
  assert.equal(row.history[0]!.epoch, 1);
  assert.equal(existsSync(dir), false);
});
