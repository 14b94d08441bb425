import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CRITERIA, demoConfig, demoStudy } from '../../src/experiment/demo.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the demo: nine criteria, two sparsities, warm-up on and off', () => {
  const study = demoStudy();
  assert.equal(study.runs.length, 9 * 2 * 2);
  assert.deepEqual([...new Set(study.runs.map((r) => r.settings.criterion))], [...DEMO_CRITERIA]);
  assert.deepEqual([...new Set(study.runs.map((r) => r.settings.sparsity))], [0.9, 0.98]);
  assert.deepEqual([...new Set(study.runs.map((r) => r.settings.warmup))], [false, true]);
  for (const r of study.runs) {
    assert.equal(r.settings.dataset, 'fashion-mnist-subset');
    assert.equal(r.settings.model, 'resnet20');
    assert.equal(r.settings.inChannels, 1);
    assert.equal(r.settings.maskBatchSize, 1);
  }
  assert.equal(demoStudy({ epochs: 5 }).runs[0]!.settings.epochs, 5);
  assert.equal(demoStudy({ quick: true }).runs.length, 36);
});

test('configs/demo.json is the demo config, so `pai run configs/demo.json` reproduces `pai demo`', () => {
  const shipped = JSON.parse(readFileSync(join(root, 'configs', 'demo.json'), 'utf8'));
  assert.deepEqual(shipped, demoConfig());
});
