#!/usr/bin/env node
// Soak test (not run in CI): runs a grid with `pai run` again and again, each round into a fresh
// store, for a given time, optionally killing the process with SIGKILL at random points (from
// outside after a random delay, or inside a random write to the store) and rerunning until the
// round completes. At the end it prints one JSON summary: rounds and runs completed, attempts and
// kills, failures (any exit that was not a clean finish or our own kill, any unusable or missing
// row), peak RSS of the `pai` processes per round, and the integrity of every round's store. On the
// reference backend every round must also reproduce the first round's results bit for bit.
//
//   npm run build && node scripts/soak.mjs [--config FILE] [--minutes 60] [--kills] [--seed 1]
//     [--backend js|native] [--threads N] [--data-dir DIR] [--workdir DIR] [--keep]
//
// Exit code 0 when nothing failed, 1 otherwise.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
if (!existsSync(join(root, 'dist', 'test', 'reliability', 'crash-harness.js'))) {
  process.stderr.write('soak: build first (npm run build)\n');
  process.exit(2);
}
const { runChild, whereKilled, integrity, compareRows } = await import(dist('test/reliability/crash-harness.js'));
const { KINDS } = await import(dist('test/reliability/crash-inject.js'));
const { Generator } = await import(dist('src/tensor/random.js'));

const { values: o } = parseArgs({
  options: {
    config: { type: 'string' },
    minutes: { type: 'string', default: '60' },
    kills: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string' },
    threads: { type: 'string', default: '1' },
    workdir: { type: 'string' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

// The default grid: two models, three criteria (first order, Fisher, Hutchinson), two sparsities,
// with and without the BN warm-up, on a few hundred images of the shipped Fashion-MNIST subset.
const DEFAULT_GRID = {
  name: 'soak',
  grid: {
    datasets: ['fashion-mnist-subset'],
    models: [{ name: 'lenet5', width: 0.5 }, { name: 'resnet20', width: 0.125 }],
    criteria: ['snip', 'fisher_diag', 'hutch_diag'],
    sparsities: [0.9, 0.98],
    seeds: [0],
  },
  data: { batchSize: 32, trainPerClass: 30, testPerClass: 10, valFraction: 0.2 },
  pruning: { maskPerClass: 2 },
  training: { epochs: 2, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }, schedule: { name: 'cosine' } },
};

const work = o.workdir ? resolve(o.workdir) : mkdtempSync(join(tmpdir(), 'pai-soak-'));
mkdirSync(work, { recursive: true });
const config = o.config ? resolve(o.config) : join(work, 'soak.json');
if (!o.config) writeFileSync(config, JSON.stringify(DEFAULT_GRID, null, 1));
const env = o.backend ? { PAI_BACKEND: o.backend } : {};
const deadline = Date.now() + Number(o.minutes) * 60_000;
const g = new Generator(Number(o.seed), 'soak');
const say = (line) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const summary = {
  config: o.config ?? 'default grid (scripts/soak.mjs)',
  backend: null,
  threads: Number(o.threads),
  kills: o.kills,
  seed: Number(o.seed),
  minutes: Number(o.minutes),
  rounds: 0,
  runsCompleted: 0,
  attempts: 0,
  killsInjected: 0,
  killsLanded: {},
  failures: [],
  peakRssMB: 0,
  peakRssMBByRound: [],
  integrity: { storesChecked: 0, rowsChecked: 0, unusableRows: 0, strayFiles: 0, leftoverRunFolders: 0, missingRows: 0, differingFromFirstRound: null },
  seconds: 0,
  ok: false,
};

/**
 * A random kill for one attempt: none a fifth of the time (which ends the round), else from outside
 * within the first half of a round's time, or at one of the first writes of a random kind.
 */
function randomKill(roundMs) {
  const u = g.uniform();
  if (u < 0.2) return { type: 'none' };
  if (u < 0.6) return { type: 'time', ms: Math.round(200 + g.uniform() * Math.max(roundMs / 2, 2000)) };
  return { type: 'write', kind: KINDS[g.int(KINDS.length)], k: 1 + g.int(40), when: g.uniform() < 0.5 ? 'before' : 'after' };
}

const t0 = Date.now();
let firstRows = null;
let roundMs = 0;
const dataDir = resolve(o['data-dir'] ?? process.env.PAI_DATA_DIR ?? join(root, 'data'));
const args = (store) => ['--threads', o.threads, '--quiet', 'run', config, '--store', store, '--data-dir', dataDir];
// --quiet hides the `[i/N]` lines that place a kill; without kills the progress is not needed.
const argsKill = (store) => ['--threads', o.threads, 'run', config, '--store', store, '--data-dir', dataDir];

while (Date.now() < deadline) {
  const round = summary.rounds + 1;
  const store = join(work, `round-${round}`);
  const r0 = Date.now();
  let peak = 0, attempts = 0, done = false, failed = false;
  while (!done) {
    // After the deadline a round still finishes, without further kills.
    const kill = o.kills && Date.now() < deadline && attempts < 50 ? randomKill(roundMs) : { type: 'none' };
    const r = await runChild({ args: kill.type === 'none' ? args(store) : argsKill(store), store, env, kill, scratch: work, rssEveryMs: 100 });
    attempts++;
    summary.attempts++;
    peak = Math.max(peak, r.peakRss);
    if (r.signal === 'SIGKILL' && kill.type !== 'none') {
      summary.killsInjected++;
      const where = kill.type === 'write' ? `write:${kill.kind}` : whereKilled(store, r.stderr).replace(/ \d+$/, '');
      summary.killsLanded[where] = (summary.killsLanded[where] ?? 0) + 1;
      continue;
    }
    if (r.code === 0) { done = true; break; }
    failed = true;
    summary.failures.push({ round, attempt: attempts, kill, exit: r.code ?? r.signal, stderr: r.stderr.trim().split('\n').slice(-5).join('\n') });
    say(`round ${round}: attempt ${attempts} failed (${r.code ?? r.signal})`);
    if (attempts >= 3 && !o.kills) break;
    if (attempts >= 60) break;
  }
  summary.peakRssMBByRound.push(+(peak / 2 ** 20).toFixed(1));
  summary.peakRssMB = Math.max(summary.peakRssMB, +(peak / 2 ** 20).toFixed(1));
  if (!done) { summary.rounds = round; break; }
  if (roundMs === 0) roundMs = Date.now() - r0;

  const s = integrity(store);
  summary.integrity.storesChecked++;
  summary.integrity.rowsChecked += s.rows.length;
  summary.integrity.unusableRows += s.problems.length;
  summary.integrity.strayFiles += s.strayFiles.length;
  summary.integrity.leftoverRunFolders += s.leftoverRunFolders.length;
  summary.backend ??= s.rows[0]?.pai.backend ?? null;
  for (const p of s.problems) summary.failures.push({ round, problem: p });
  for (const f of s.strayFiles) summary.failures.push({ round, problem: `stray file in rows/: ${f}` });
  if (firstRows === null) {
    firstRows = s.rows;
  } else {
    const missing = firstRows.length - s.rows.length;
    if (missing > 0) { summary.integrity.missingRows += missing; summary.failures.push({ round, problem: `${missing} row(s) missing` }); }
    // Bit-for-bit reproduction is the contract of the reference backend only.
    if (summary.backend === 'js') {
      const diffs = compareRows(firstRows, s.rows);
      summary.integrity.differingFromFirstRound = (summary.integrity.differingFromFirstRound ?? 0) + diffs.length;
      for (const d of diffs) summary.failures.push({ round, problem: `differs from round 1: ${d}` });
    }
  }
  summary.rounds = round;
  summary.runsCompleted += s.rows.length;
  say(`round ${round}: ${s.rows.length} runs in ${((Date.now() - r0) / 1000).toFixed(1)} s, ${attempts} attempt(s), peak RSS ${(peak / 2 ** 20).toFixed(0)} MB${failed ? ', with failures' : ''}`);
  // Round 1 stays as the reference; later stores go once checked, unless kept or broken.
  if (round > 1 && !o.keep && !failed && s.problems.length === 0) rmSync(store, { recursive: true, force: true });
}

summary.seconds = Math.round((Date.now() - t0) / 1000);
summary.ok = summary.failures.length === 0 && summary.rounds > 0;
const removeWork = !o.keep && summary.ok && !o.workdir;
// Stores of failed rounds (and round 1, the reference) stay there for a look.
summary.workdir = removeWork ? null : work;
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
if (removeWork) rmSync(work, { recursive: true, force: true });
process.exit(summary.ok ? 0 : 1);
