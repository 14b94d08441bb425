import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { plottedInterval, tally, terminalTables, writeReport } from '../../src/experiment/report.js';
import { readStore, writeRow } from '../../src/experiment/store.js';
import { studyOf, syntheticRow, tempDir } from './helpers.js';

test('the report renders the paper table for a synthetic store and writes SVG + PNG', async () => {
  const study = studyOf({ grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria: ['none', 'snip', 'hts'], sparsities: [0.9, 0.98], seeds: [0, 1, 2], warmup: [false, true] } });
  const store = tempDir();
  for (const r of study.runs) {
    // snip at 98% without warm-up collapses for seed 0.
    const collapsed = r.settings.criterion === 'snip' && r.settings.sparsity === 0.98 && !r.settings.warmup && r.settings.seed === 0;
    writeRow(store, syntheticRow(study, r, { collapsed }));
  }
  const { rows } = readStore(store);
  assert.equal(rows.length, study.runs.length);
  const out = join(tempDir(), 'report');
  const rep = await writeReport(rows, { out, title: 'Synthetic' });
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.equal(md, rep.markdown);
  // Accuracies are base + 0.01 * seed over seeds 0, 1, 2: mean base + 1 point, std exactly 1 point,
  // so the 95 % interval's half-width is t(0.975, 2) / sqrt(3) = 2.48 points.
  // hts: base 85 (-10 at 98%), +2 with warm-up; snip: base 80.
  const table = (title: string): string[] => {
    const start = md.indexOf(title);
    assert.ok(start >= 0, `no "${title}" in\n${md}`);
    return md.slice(start).split('\n').filter((l) => l.startsWith('|')).slice(0, 4);
  };
  const cold = table('### Test accuracy (%), without BN warm-up');
  assert.equal(cold[0], '| sparsity | snip | hts |');
  assert.equal(cold[2], '| 90% | 81.00 ± 2.48 | 86.00 ± 2.48 |');
  assert.equal(cold[3], '| 98% | 71.00 ± 2.48 † | 76.00 ± 2.48 |');
  const warm = table('### Test accuracy (%), with BN warm-up');
  assert.equal(warm[2], '| 90% | 83.00 ± 2.48 | 88.00 ± 2.48 |');
  assert.match(md, /Dense baseline \(no pruning\): 91\.00 ± 2\.48\./);
  // Synthetic rows predate the CPU field.
  assert.match(md, /backend: js; threads: 1; CPU: not recorded\./);
  // A group whose runs ran on several CPUs (or predate the field) says how many ran on each.
  assert.equal(tally(['EPYC', 'not recorded', 'EPYC', 'EPYC'], '; '), 'EPYC (3 runs); not recorded (1 run)');
  assert.equal(tally(['native', 'native'], ', '), 'native');
  const wt = table('### BN warm-up: with vs without');
  assert.equal(wt[0], '| criterion | sparsity | without warm-up | with warm-up | Δ with − without, points [95 % CI] | warm-up better? |');
  // The warm-up adds exactly 2 points on every seed: a zero-width interval above zero.
  assert.equal(wt[2], '| snip | 90% | 81.00 ± 2.48 | 83.00 ± 2.48 | +2.00 [+2.00, +2.00] | supported |');
  // What the sparsities mean: the synthetic rows keep 15 of 200 weights in two tensors of 100.
  assert.match(md, /Prunable weights: 200 in 2 tensors \(the smallest holds 100\)\. The masks keep 15 at 90%, 15 at 98%: at 98% that is 7\.5 weights per tensor on average/);
  // Layer collapse: 1 of 3 snip runs at 98% without warm-up, one empty layer each time.
  assert.match(md, /\| snip \| 0\/3 · 0 \| 1\/3 · 0\.3 \|/);
  // Mask-generation time: hts 3 s, snip 1 s, no spread.
  assert.match(md, /\| hts \| 3\.00 ± 0\.00 \| 3\.00 ± 0\.00 \| 0\.50 ± 0\.00 \| 2\.0 ± 0\.0 \|/);

  for (const f of rep.files) assert.ok(existsSync(f) && statSync(f).size > 0, f);
  const svgs = rep.files.filter((f) => f.endsWith('.svg'));
  const pngs = rep.files.filter((f) => f.endsWith('.png'));
  assert.equal(svgs.length, 4); // accuracy and per-layer density, with and without warm-up
  assert.equal(pngs.length, 4);
  const svg = readFileSync(svgs[0]!, 'utf8');
  assert.match(svg, /^<svg/);
  for (const label of ['snip', 'hts', 'density']) assert.ok(svg.includes(label), `the accuracy plot names ${label}`);
  const png = readFileSync(pngs[0]!);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(png.readUInt32BE(16) >= 800, 'PNG width'); // rendered at 2x
  for (const f of pngs) assert.ok(md.includes(f.split('/').pop()!), `report.md embeds ${f}`);
  const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, rows.length + 1);

  const text = terminalTables(rows);
  assert.match(text, /snip\s+81\.00 ± 2\.48\s+71\.00 ± 2\.48†\s+83\.00 ± 2\.48/);
});

test('an empty store gives a report that says so', async () => {
  const rep = await writeReport([], { out: join(tempDir(), 'empty') });
  assert.match(rep.markdown, /holds no results yet/);
});

test('runs trained differently never share a cell', async () => {
  const a = studyOf();
  const b = studyOf({ training: { epochs: 5, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } } });
  const rows = [...a.runs.map((r) => syntheticRow(a, r, { acc: 0.5 })), ...b.runs.map((r) => syntheticRow(b, r, { acc: 0.7 }))];
  const rep = await writeReport(rows, { out: join(tempDir(), 'two'), png: false });
  assert.equal(rep.groups.length, 2);
  assert.match(rep.markdown, /\(2 epochs, settings [0-9a-f]{8}\)/);
  assert.match(rep.markdown, /\| 90% \| 50\.00 ± 0\.00 \| 50\.00 ± 0\.00 \|/);
  assert.match(rep.markdown, /\| 90% \| 70\.00 ± 0\.00 \| 70\.00 ± 0\.00 \|/);
  assert.equal(rep.files.filter((f) => f.endsWith('.svg')).length, 8);
});

test('the accuracy plot cuts an interval to the range an accuracy can take', () => {
  // Three seeds of which one collapsed to chance: 10 %, 70 %, 72 % has a 95 % half-width of 88 points.
  assert.deepEqual(plottedInterval({ mean: 0.507, lo: -0.373, hi: 1.387 }), { acc: 50.7, lo: 0, hi: 100 });
  const inside = plottedInterval({ mean: 0.9, lo: 0.88, hi: 0.92 });
  assert.ok(Math.abs(inside.lo - 88) < 1e-9 && Math.abs(inside.hi - 92) < 1e-9 && Math.abs(inside.acc - 90) < 1e-9);
});
