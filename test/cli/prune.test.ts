// `pai prune` end to end on the Fashion-MNIST subset shipped with pai.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTensors, readSafetensors } from '../../src/tensor/safetensors.js';
import { keptCount } from '../../src/prune/index.js';
import { pai, scratch } from './run.js';

test('pai prune --dataset fashion-mnist-subset --model lenet5 --criterion snip --sparsity 0.9 writes weights, masks, scores and the report', async () => {
  const out = join(scratch(), 'run');
  const r = await pai(['prune', '--threads', '1', '--dataset', 'fashion-mnist-subset', '--model', 'lenet5', '--criterion', 'snip', '--sparsity', '0.9', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['model.safetensors', 'masks.safetensors', 'scores.safetensors', 'report.json', 'report.txt']) assert.ok(existsSync(join(out, f)), f);

  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    criterion: string; kept: number; total: number; connected: boolean | null; emptyLayers: string[]; warnings: string[];
    densities: { name: string; kept: number; total: number }[]; options: { maskSamples: number; sparsity: number }; timings: { scoreMs: number };
    model: { inChannels: number; imageSize: number };
  };
  assert.equal(report.criterion, 'snip');
  // The fixed prunable set of LeNet-5 at 1x28x28: conv1, conv2, fc1, fc2 (the head fc3 is not pruned).
  const N = 6 * 25 + 16 * 6 * 25 + 16 * 4 * 4 * 120 + 120 * 84;
  assert.equal(report.total, N);
  // k = max(floor((1 - s) N), 1) in float64 as the paper's code computes it: (1 - 0.9) is just below
  // 0.1, so this is floor(0.1 N) - 1 when 0.1 N is an integer, as it is here (N = 43350).
  assert.equal(report.kept, keptCount(N, 0.9));
  assert.equal(report.kept, Math.floor((1 - 0.9) * N));
  assert.equal(report.densities.reduce((s, l) => s + l.kept, 0), report.kept);
  assert.equal(report.options.maskSamples, 100, '10 images per class');
  assert.deepEqual([report.model.inChannels, report.model.imageSize], [1, 28], 'input size from the dataset');
  assert.equal(report.connected, true);
  assert.ok(report.timings.scoreMs > 0);

  const masks = loadTensors(join(out, 'masks.safetensors'));
  const weights = loadTensors(join(out, 'model.safetensors'));
  const scores = loadTensors(join(out, 'scores.safetensors'));
  assert.deepEqual([...masks.keys()], [...scores.keys()]);
  let kept = 0;
  for (const [name, m] of masks) {
    const w = weights.get(name)!;
    for (let i = 0; i < m.size; i++) {
      assert.ok(m.data[i] === 0 || m.data[i] === 1);
      if (m.data[i] === 0) assert.equal(w.data[i], 0, `${name}[${i}] is pruned but not zero`);
    }
    if (report.densities.some((l) => l.name === name)) for (let i = 0; i < m.size; i++) kept += m.data[i]!;
    else assert.ok(m.data.every((v) => v === 1), `${name} is not prunable: all ones`);
  }
  assert.equal(kept, report.kept);
  assert.equal(readSafetensors(join(out, 'scores.safetensors')).metadata['criterion'], 'snip');
  assert.match(readFileSync(join(out, 'report.txt'), 'utf8'), /fc1\.weight/);
  assert.match(r.stdout, new RegExp(`kept ${report.kept} of ${N}`));
});

test('pai prune: data-free synflow with a short iterative schedule, and --refuse-collapse', async () => {
  const dir = scratch();
  const ok = await pai(['prune', '--threads', '1', '--model', 'lenet5', '--criterion', 'synflow', '--iterations', '3', '--schedule', 'linear', '--sparsity', '0.8', '--out', join(dir, 'a')]);
  assert.equal(ok.code, 0, ok.stderr);
  const report = JSON.parse(readFileSync(join(dir, 'a', 'report.json'), 'utf8')) as { options: { iterations: number; schedule: string } };
  assert.deepEqual([report.options.iterations, report.options.schedule], [3, 'linear']);

  // One weight per layer, chosen per layer by magnitude, leaves no connected path.
  const bad = await pai(['prune', '--threads', '1', '--model', 'lenet5', '--criterion', 'magnitude', '--scope', 'layer', '--sparsity', '0.9999', '--refuse-collapse', '--out', join(dir, 'b')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pai: layer collapse/m);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});
