// The PaT baseline (pruning after training): the dense run's trained weights are kept in the store,
// pruned by global magnitude, and retrained; a PaT run without its dense run trains that first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DENSE, denseSettingsOf, parseConfig, PAT, runId } from '../../src/experiment/config.js';
import { runStudies, trainedPath } from '../../src/experiment/runner.js';
import { readStore, runDir } from '../../src/experiment/store.js';
import { loadTensors } from '../../src/tensor/safetensors.js';
import { keptCount } from '../../src/prune/masks.js';
import { tempDir } from './helpers.js';

function patGrid(criteria: string[]): Record<string, unknown> {
  return {
    name: 'pat',
    grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria, sparsities: [0.9, 0.98], seeds: [0], warmup: [false, true] },
    data: { batchSize: 64, trainPerClass: 24, testPerClass: 10, valFraction: 0.25 },
    pruning: { maskPerClass: 2 },
    training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
  };
}

test('config: pat expands like a data-free criterion and names its dense run', () => {
  const study = parseConfig(patGrid([DENSE, PAT, 'magnitude']));
  const pat = study.runs.filter((r) => r.settings.criterion === PAT);
  // One arm (no warm-up) per sparsity, like magnitude; the dense run once.
  assert.deepEqual(pat.map((r) => [r.settings.sparsity, r.settings.warmup]), [[0.9, false], [0.98, false]]);
  // The grid gives other criteria every warm-up arm it lists.
  assert.equal(study.runs.filter((r) => r.settings.criterion === 'magnitude').length, 4);
  const dense = study.runs.filter((r) => r.settings.criterion === DENSE);
  assert.equal(dense.length, 1);
  for (const r of pat) assert.equal(runId(denseSettingsOf(r.settings)), dense[0]?.id);
});

test('PaT prunes the dense run\'s trained weights by global magnitude and retrains them', async () => {
  const store = tempDir();
  const study = parseConfig(patGrid([DENSE, PAT]));
  const res = await runStudies([study], { store, keepCheckpoints: true });
  assert.equal(res.done.length, 3);
  const dense = res.done.find((r) => r.settings.criterion === DENSE);
  assert.ok(dense);
  const weightsFile = trainedPath(store, dense.id);
  assert.ok(existsSync(weightsFile), 'the dense run keeps its trained weights');
  const trained = loadTensors(weightsFile);
  for (const row of res.done.filter((r) => r.settings.criterion === PAT)) {
    const sp = row.settings.sparsity;
    assert.ok(Math.abs(row.density - (1 - sp)) < 0.005, `density ${row.density} at sparsity ${sp}`);
    // The pruned model before retraining: the trained weights with all but the largest |w| zeroed.
    const pruned = loadTensors(join(runDir(store, row.id), 'pruned', 'model.safetensors'));
    const masks = loadTensors(join(runDir(store, row.id), 'pruned', 'masks.safetensors'));
    // Masks cover every parameter; the prunable ones are the row's layers (the rest keep all).
    const prunable = new Set(row.layers.map((l) => l.name));
    for (const [name, m] of masks) if (!prunable.has(name)) assert.ok(m.data.every((v) => v === 1), name);
    const all: number[] = [];
    for (const name of prunable) for (const v of trained.get(name)?.data ?? []) all.push(Math.abs(v));
    all.sort((a, b) => b - a);
    const kept = keptCount(all.length, sp);
    const threshold = all[kept - 1] ?? Infinity;
    let n = 0;
    for (const name of prunable) {
      const m = masks.get(name), w = trained.get(name), p = pruned.get(name);
      assert.ok(m, name);
      assert.ok(w && p, name);
      for (let i = 0; i < m.size; i++) {
        const keep: boolean = m.data[i] === 1;
        if (keep) n++;
        // Ties at the threshold are broken by position; strictly larger magnitudes are always kept.
        if (Math.abs(w.data[i] ?? 0) > threshold) assert.ok(keep, `${name}[${i}] above the threshold was pruned`);
        if (Math.abs(w.data[i] ?? 0) < threshold) assert.ok(!keep, `${name}[${i}] below the threshold was kept`);
        assert.equal(p.data[i], keep ? w.data[i] : 0, `${name}[${i}]`);
      }
    }
    assert.equal(n, kept);
    // Non-prunable state (batch norm, biases) is the trained network's.
    for (const [name, t] of pruned) if (!prunable.has(name)) assert.deepEqual([...t.data], [...(trained.get(name)?.data ?? [])], name);
  }
});

test('a PaT run whose dense run is not in the store trains it first', async () => {
  const store = tempDir();
  const study = parseConfig({ ...patGrid([PAT]), grid: { ...(patGrid([])['grid'] as object), criteria: [PAT], sparsities: [0.9] } });
  assert.equal(study.runs.length, 1);
  const warnings: string[] = [];
  const res = await runStudies([study], { store, events: { warn: (m) => warnings.push(m) } });
  assert.equal(res.done.length, 1);
  assert.ok(warnings.some((w) => /training that run first/.test(w)), warnings.join('\n'));
  const rows = readStore(store).rows;
  assert.deepEqual(rows.map((r) => r.settings.criterion).sort(), [DENSE, PAT]);
  const denseId = runId(denseSettingsOf(study.runs[0]?.settings ?? assert.fail('no run')));
  assert.ok(existsSync(trainedPath(store, denseId)));
});
