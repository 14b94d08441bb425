// Synthetic results for the store, merge and report tests: rows built from a real config's runs,
// with accuracies chosen by formula so the expected means and deviations are known.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Run, type Study } from '../../src/experiment/config.js';
import { signRow, type ResultRow } from '../../src/experiment/store.js';

export function tempDir(prefix = 'pai-exp-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function gridConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'synthetic',
    grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria: ['snip', 'hts'], sparsities: [0.9, 0.98], seeds: [0, 1, 2], warmup: [false, true] },
    training: { epochs: 2, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
    ...over,
  };
}

export function studyOf(over: Record<string, unknown> = {}): Study {
  return parseConfig(gridConfig(over), 'synthetic.json');
}

/** Test top-1 of a synthetic run: a formula of its settings (seed adds 0, 1, 2 points). */
export function syntheticAccuracy(r: Run): number {
  const s = r.settings;
  const base = s.criterion === 'hts' ? 0.85 : s.criterion === 'snip' ? 0.80 : 0.9;
  return base - (s.sparsity > 0.95 ? 0.1 : 0) + (s.warmup ? 0.02 : 0) + 0.01 * s.seed;
}

export function syntheticRow(study: Study, r: Run, o: { acc?: number; collapsed?: boolean; maskSeconds?: number } = {}): ResultRow {
  const acc = o.acc ?? syntheticAccuracy(r);
  const m = (top1: number) => ({ count: 100, loss: 1 - top1, top1, top5: Math.min(1, top1 + 0.1), precision: top1, recall: top1, f1: top1 });
  const layers = [
    { name: 'conv1.weight', kept: 10, total: 100, density: 0.1 },
    { name: 'conv2.weight', kept: o.collapsed ? 0 : 5, total: 100, density: o.collapsed ? 0 : 0.05 },
  ];
  return signRow({
    format: 'pai-result/1', id: r.id, configHash: study.hash, study: study.name, settings: r.settings,
    history: [
      { epoch: 1, lr: 0.05, train_loss: 1, train_top1: 0.5, val: m(acc - 0.05), test: m(acc - 0.04), seconds: 1 },
      { epoch: 2, lr: 0.05, train_loss: 0.5, train_top1: 0.7, val: m(acc), test: m(acc), seconds: 1 },
    ],
    final: { epoch: 2, val: m(acc), test: m(acc) },
    best: { epoch: 2, by: 'val_top1', val: m(acc), test: m(acc) },
    finalTestTop1: acc, bestValTop1: acc, bestTestTop1: acc,
    density: 15 / 200, kept: 15, total: 200, layers,
    emptyLayers: o.collapsed ? ['conv2.weight'] : [], collapsed: o.collapsed ?? false, warnings: [],
    timing: { warmupSeconds: r.settings.warmup ? 0.5 : 0, maskSeconds: o.maskSeconds ?? (r.settings.criterion === 'hts' ? 3 : 1), trainSeconds: 2, totalSeconds: 6 },
    pai: { version: '0.1.0', backend: 'js', threads: 1, node: process.version },
    finishedAt: '2026-01-01T00:00:00.000Z',
  });
}
