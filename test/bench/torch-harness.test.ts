// The PyTorch side of `npm run bench` without torch: PAI_TORCH_PYTHON points at a stub that logs
// its arguments and prints fixed times, so that the probe, the argument passing, the parsing of the
// last stdout line and the ratios are checked here, where no torch can be installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTorch, parseTorchOutput, withTorch, type Row } from '../../bench/common.js';

const dir = mkdtempSync(join(tmpdir(), 'pai-bench-torch-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const log = join(dir, 'calls.log');

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}
// $1 is the path of bench/torch/bench.py, the rest the workload's arguments.
const stub = script('python-stub', `shift; echo "$*" >> '${log}'\necho 'loading torch...'\necho '{"ms": 50, "grad_ms": 10, "hvp_ms": 35, "score_ms": 100, "mask_ms": 5}'`);
const broken = script('python-broken', `echo "ModuleNotFoundError: No module named 'torch'" >&2\nexit 1`);
const main = fileURLToPath(new URL('../../bench/main.js', import.meta.url));

const row: Row = { suite: 'train', workload: 'train-resnet20-b64', backend: 'native', threads: 2, ms: 25 };

test('parseTorchOutput takes the last line as the result object', () => {
  assert.deepEqual(parseTorchOutput('warming up\n{"ms": 1.5}\n\n').out, { ms: 1.5 });
  assert.match(parseTorchOutput('Traceback ...\nboom').err!, /not JSON/);
  assert.match(parseTorchOutput('[1, 2]').err!, /not a JSON object/);
  assert.equal(parseTorchOutput('').out, null);
});

test('withTorch adds PyTorch\'s time and pai / PyTorch; no usable time leaves the row alone', () => {
  assert.deepEqual(withTorch(row, 50), { ...row, torch_ms: 50, ratio: 0.5 });
  assert.deepEqual(withTorch(row, undefined), row);
  assert.deepEqual(withTorch(row, 0), row);
  assert.deepEqual(withTorch(row, Number.NaN), row);
});

test('openTorch skips with a reason when PAI_TORCH_PYTHON is unset or cannot import torch', () => {
  assert.match(openTorch({}).skipped!, /PAI_TORCH_PYTHON is not set/);
  assert.match(openTorch({ PAI_TORCH_PYTHON: broken }).skipped!, /No module named 'torch'/);
  assert.match(openTorch({ PAI_TORCH_PYTHON: join(dir, 'missing') }).skipped!, /ENOENT/);
});

test('npm run bench passes the workload to PyTorch and reports both times and the ratios', () => {
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, [main, '--suite', 'hvp,eval', '--json', '--reps', '1', '--threads', '1', '--hvp-batch', '4', '--eval-models', 'resnet20', '--eval-batch', '4'], {
    encoding: 'utf8', env: { ...process.env, PAI_TORCH_PYTHON: stub },
  });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
  const by = new Map(rows.map((x) => [x.workload, x]));
  const g = by.get('grad-resnet20-b4')!, h = by.get('hvp-resnet20-b4')!, e = by.get('eval-resnet20-b4')!;
  for (const x of [g, h, e]) {
    assert.equal(x.threads, 1);
    assert.ok(x.ms > 0);
  }
  assert.equal(g.torch_ms, 10);
  assert.equal(h.torch_ms, 35);
  assert.equal(h['torch_hvp_per_grad'], 3.5);
  assert.ok(Math.abs((h['hvp_per_grad'] as number) - h.ms / g.ms) < 0.01 * (h['hvp_per_grad'] as number) + 0.01);
  assert.equal(e.torch_ms, 50);
  assert.equal(e.ratio, Math.round((e.ms / 50) * 1000) / 1000);
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
    '--probe',
    'hvp --model resnet20 --batch 4 --threads 1 --reps 1',
    'eval --model resnet20 --batch 4 --threads 1 --reps 1',
  ]);
});

test('without PAI_TORCH_PYTHON the JSON rows carry no PyTorch fields and one line says why', () => {
  const env = { ...process.env };
  delete env['PAI_TORCH_PYTHON'];
  const r = spawnSync(process.execPath, [main, '--suite', 'eval', '--json', '--reps', '1', '--threads', '1', '--eval-models', 'resnet20', '--eval-batch', '2'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.torch_ms, undefined);
  assert.equal(rows[0]!.suite, 'eval');
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('PyTorch skipped')).length, 1);
});

test('the mask suite times PyTorch on the samples pai measured and scales both the same way', () => {
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, [main, '--suite', 'mask', '--json', '--threads', '1', '--criteria', 'fisher_diag', '--samples', '4', '--measure-samples', '2'], {
    encoding: 'utf8', env: { ...process.env, PAI_TORCH_PYTHON: stub },
  });
  assert.equal(r.status, 0, r.stderr);
  const [row] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
  assert.equal(row!.workload, 'mask-fisher_diag');
  assert.equal(row!['extrapolated_from'], 2);
  // The stub's 100 ms of scoring on 2 samples, scaled to 4, plus its 5 ms mask.
  assert.equal(row!.torch_ms, 205);
  assert.equal(row!.ratio, Math.round((row!.ms / 205) * 1000) / 1000);
  assert.equal(readFileSync(log, 'utf8').trim().split('\n')[1], 'mask --criterion fisher_diag --samples 2 --sparsity 0.9 --threads 1');
});
