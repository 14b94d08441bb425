// The study's questions on synthetic rows whose accuracies are set by formula, so each paired
// difference and verdict is known; the report's sections that show them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Run } from '../../src/experiment/config.js';
import { headline, writeReport } from '../../src/experiment/report.js';
import { Cells, collapseComparisons, studyComparisons } from '../../src/experiment/questions.js';
import { syntheticRow, tempDir } from './helpers.js';

const DATA_DEP = ['grad_norm', 'snip', 'grasp', 'fisher_pruner', 'fts', 'hutch_pruning', 'hts', 'ggn_pruning', 'ggn_ts'];
const FREE = ['none', 'random', 'magnitude', 'synflow', 'pat'];

function grid(criteria: string[], warmup: boolean[], epochs = 2): Record<string, unknown> {
  return {
    name: 'questions',
    grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria, sparsities: [0.95, 0.99], seeds: [0, 1, 2], warmup },
    training: { epochs, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
  };
}

// Per-criterion base accuracy; seed s adds a shared 3 * s points (what pairing removes) and a
// criterion-specific ±0.1 wobble, so the paired differences have a small, non-zero spread.
const BASE: Record<string, number> = {
  none: 0.90, pat: 0.86, random: 0.70, magnitude: 0.74, synflow: 0.78,
  grad_norm: 0.75, snip: 0.76, grasp: 0.77, fisher_pruner: 0.80, fts: 0.81, hutch_pruning: 0.84, hts: 0.85, ggn_pruning: 0.845, ggn_ts: 0.85,
};
function accuracy(r: Run): number {
  const s = r.settings;
  const wobble = 0.001 * ((s.seed * 7 + s.criterion.length) % 3 - 1);
  // The warm-up adds 1 point to every data-dependent criterion, except ggn_ts at 99 %, where it costs 0.5.
  const warm = s.warmup ? (s.criterion === 'ggn_ts' && s.sparsity === 0.99 ? -0.005 : 0.01) : 0;
  return (BASE[s.criterion] ?? 0.5) + warm + 0.03 * s.seed + wobble - (s.sparsity === 0.99 ? 0.05 : 0);
}

function rows() {
  const a = parseConfig(grid(DATA_DEP, [false, true])), b = parseConfig(grid(FREE, [false]));
  return [...a.runs.map((r) => syntheticRow(a, r, { acc: accuracy(r), collapsed: r.settings.criterion === 'snip' && r.settings.sparsity === 0.99 && !r.settings.warmup })),
    ...b.runs.map((r) => syntheticRow(b, r, { acc: accuracy(r) }))];
}

test('the comparisons of questions 1-5 and their verdicts', () => {
  const cells = new Cells(rows(), headline);
  assert.deepEqual(cells.sparsities, [0.95, 0.99]);
  const cs = studyComparisons(cells);
  const find = (q: number, a: string, b: string, s: number) => {
    const c = cs.find((x) => x.question === q && x.a.label === a && x.b.label === b && x.sparsity === s);
    assert.ok(c, `no Q${q} ${a} vs ${b} at ${s}: ${cs.map((x) => `${x.question} ${x.a.label}/${x.b.label}`).join('; ')}`);
    return c;
  };
  // Q1: second-order family mean (0.825) − first-order (0.76) = 6.5 points, the seed effect cancels.
  const q1 = find(1, 'second-order', 'first-order', 0.95);
  assert.ok(Math.abs(q1.difference.mean - 0.065) < 0.002, `${q1.difference.mean}`);
  assert.equal(q1.verdict, 'supported');
  assert.equal(q1.difference.n, 3);
  assert.equal(find(1, 'second-order +warm-up', 'first-order +warm-up', 0.99).verdict, 'supported');
  // Q2: hts +warm-up against synflow (one arm) and snip +warm-up.
  assert.ok(Math.abs(find(2, 'hts +warm-up', 'synflow', 0.95).difference.mean - 0.08) < 0.003);
  assert.equal(find(2, 'hutch_pruning +warm-up', 'snip +warm-up', 0.99).verdict, 'supported');
  // Q3: +1 point per criterion, the family too; ggn_ts at 99 % loses half a point.
  assert.equal(find(3, 'snip +warm-up', 'snip', 0.95).verdict, 'supported');
  assert.equal(find(3, 'ggn_ts +warm-up', 'ggn_ts', 0.99).verdict, 'refuted');
  assert.ok(find(3, 'data-dependent +warm-up', 'data-dependent', 0.95).difference.mean > 0.009);
  // Q4: hts +warm-up (0.86) against PaT (0.86): within the wobble, not resolved.
  const q4 = find(4, 'hts +warm-up', 'pat', 0.95);
  assert.equal(q4.verdict, 'not resolved');
  // ... but not worse by more than a point: a match.
  assert.deepEqual(q4.match, { margin: 0.01, holds: true });
  const q4b = find(4, 'hutch_pruning +warm-up', 'pat', 0.95);
  assert.equal(q4b.verdict, 'refuted');
  assert.equal(q4b.match?.holds, false);
  // Questions other than 2 and 4 ask for no match.
  assert.equal(q1.match, undefined);
  // Q5: ggn_pruning (0.845) against hutch_pruning (0.84).
  assert.equal(find(5, 'ggn_pruning', 'hutch_pruning', 0.95).verdict, 'supported');
  // Every comparison's difference is the mean of per-seed differences over 3 shared seeds.
  for (const c of cs) assert.deepEqual(c.difference.seeds, [0, 1, 2]);
  // Data-free criteria never get a warm-up arm of their own.
  assert.ok(!cs.some((c) => /(random|magnitude|synflow|pat) \+warm-up/.test(c.a.label + c.b.label)));
});

test('comparisons need both arms: a store without PaT or the first-order family has no Q1 or Q4', () => {
  const all = rows().filter((r) => !['pat', 'grad_norm'].includes(r.settings.criterion));
  const cs = studyComparisons(new Cells(all, headline));
  assert.ok(!cs.some((c) => c.question === 1 || c.question === 4));
  assert.ok(cs.some((c) => c.question === 2));
});

test('collapse with and without the warm-up', () => {
  const cc = collapseComparisons(rows());
  const snip = cc.find((c) => c.criterion === 'snip' && c.sparsity === 0.99);
  assert.ok(snip);
  assert.deepEqual(snip.cold, { runs: 3, collapsed: 3, emptyLayers: 1 });
  assert.deepEqual(snip.warm, { runs: 3, collapsed: 0, emptyLayers: 0 });
  assert.equal(snip.emptyDifference?.mean, -1);
  assert.ok(!cc.some((c) => ['random', 'pat', 'none'].includes(c.criterion)));
});

test('the report shows the questions, the pairwise tables, PaT and the convergence check', async () => {
  const half = parseConfig(grid(['none'], [false], 4));
  const all = [...rows(), ...half.runs.map((r) => syntheticRow(half, r, { acc: accuracy(r) + 0.004 }))];
  const out = join(tempDir(), 'report');
  const rep = await writeReport(all, { out, png: false, sections: ['## Appended section'] });
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /\*\*Q1\. Do the second-order criteria/);
  assert.match(md, /\| 95% \| second-order \| first-order \| \+6\.\d\d \[\+6\.\d\d, \+6\.\d\d\] \| 3 \| supported \|/);
  assert.match(md, /\*\*Q4\. .*\(0 supported, \d refuted, \d not resolved, of which \d a match within 1 point\(s\)\)/);
  assert.match(md, /\| 95% \| hts \+warm-up \| pat \| [^|]+ \| 3 \| match: not worse by 1 point\(s\) \|/);
  // Convergence: the 4-epoch dense runs are 0.4 points above the 2-epoch ones on every seed.
  assert.match(md, /Convergence of the dense network at 2 epochs/);
  assert.match(md, /\| 4 \| 93\.\d\d ± \d\.\d\d \| \+0\.40 \[\+0\.40, \+0\.40\] \| within 1 point \|/);
  // The pairwise table of the 95 % arm without warm-up has every criterion, PaT included.
  assert.match(md, /\| row − column \| random \| magnitude \| grad_norm \|/);
  assert.match(md, /\| hts \| \+15\.0 ▲ \|/);
  assert.match(md, /## Appended section/);
  // The warm-up arm's collapse table lists only the criteria that have that arm.
  const warmCollapse = md.slice(md.indexOf('With BN warm-up:'), md.indexOf('Without against with the warm-up'));
  assert.match(warmCollapse, /\| snip \| 0\/3 · 0 \| 0\/3 · 0 \|/);
  for (const c of ['random', 'magnitude', 'synflow', 'pat']) assert.ok(!warmCollapse.includes(`| ${c} |`), c);
  assert.match(md.slice(md.indexOf('Without BN warm-up:')), /\| random \| 0\/3 · 0 \|/);
  // PaT is drawn in the accuracy plots of both arms.
  const svgs = rep.files.filter((f) => f.includes('accuracy-') && f.endsWith('.svg'));
  assert.equal(svgs.length, 2);
  for (const f of svgs) assert.ok(readFileSync(f, 'utf8').includes('PaT (pruned after training)'), f);
});
