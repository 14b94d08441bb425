import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CRITERIA, DEMO_SPARSITY, demoComparisons, demoConfig, demoStudy, demoSummary } from '../../src/experiment/demo.js';
import { syntheticRow } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the demo: the dense network and five criteria at 98 % with the warm-up, three paired seeds', () => {
  const study = demoStudy();
  assert.equal(study.runs.length, 6 * 3);
  assert.deepEqual([...new Set(study.runs.map((r) => r.settings.criterion))], ['none', ...DEMO_CRITERIA]);
  assert.deepEqual([...new Set(study.runs.filter((r) => r.settings.criterion !== 'none').map((r) => r.settings.sparsity))], [DEMO_SPARSITY]);
  assert.deepEqual([...new Set(study.runs.map((r) => r.settings.seed))], [0, 1, 2]);
  for (const r of study.runs) {
    assert.equal(r.settings.dataset, 'fashion-mnist-subset');
    assert.equal(r.settings.model, 'resnet20');
    assert.equal(r.settings.inChannels, 1);
    assert.equal(r.settings.maskBatchSize, 1);
    assert.equal(r.settings.warmup, r.settings.criterion !== 'none');
  }
  assert.equal(demoStudy({ epochs: 5 }).runs[0]!.settings.epochs, 5);
  // Two seeds, the least that gives an interval.
  assert.equal(demoStudy({ quick: true }).runs.length, 12);
});

test('the demo states only the differences its intervals decide', () => {
  const study = demoStudy();
  // dense 90, hts 80, snip 79.9, others 70; seed effects of 2 points shared by all, ±0.05 wobble.
  const base: Record<string, number> = { none: 0.9, hts: 0.8, snip: 0.799, random: 0.7, magnitude: 0.7, synflow: 0.7 };
  const rows = study.runs.map((r) => syntheticRow(study, r, { acc: (base[r.settings.criterion] ?? 0) + 0.02 * r.settings.seed + 0.0005 * (((r.settings.seed + r.settings.criterion.length) % 3) - 1) }));
  const cs = demoComparisons(rows);
  const get = (a: string, b: string) => {
    const c = cs.find((x) => x.a.label === a && x.b.label === b);
    assert.ok(c, `${a} vs ${b}`);
    return c;
  };
  assert.equal(get('dense', 'hts').verdict, 'supported');
  assert.equal(get('hts', 'random').verdict, 'supported');
  assert.equal(get('hts', 'snip').verdict, 'not resolved');
  const text = demoSummary(cs, 3, 2700, 3).join('\n');
  assert.match(text, /hts > random \(\+10\.\d\d \[/);
  assert.match(text, /What it cannot say: \d+ of \d+ comparisons are not resolved/);
  assert.doesNotMatch(text, /hts > snip/);
  assert.match(text, /3 epoch\(s\) on 2,700 training images with 3 seeds/);
});

test('configs/demo.json is the demo config, so `pai run configs/demo.json` reproduces `pai demo`', () => {
  const shipped = JSON.parse(readFileSync(join(root, 'configs', 'demo.json'), 'utf8'));
  assert.deepEqual(shipped, demoConfig());
});
