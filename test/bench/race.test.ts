// The README's race (bench/race.ts) without torch: its flop counting against the formula, and one
// short end-to-end run against a stub PyTorch that logs its arguments and answers fixed times.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countFlops, isaCaps, measurePeak } from '../../bench/race.js';
import { jsBackend, nativeBackend } from '../../src/kernels/index.js';
import { backward, conv2d, linear, sumAll } from '../../src/autograd/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';

const native = nativeBackend();

test('countFlops counts 2 flops per multiply-add of every convolution and matrix-product pass', () => {
  const g = new Generator(0, 'race-test');
  const x = randn([2, 3, 8, 8], g), w = randn([4, 3, 3, 3], g, { requiresGrad: true });
  const conv = 2 * 2 * 4 * 8 * 8 * 3 * 3 * 3;
  assert.equal(countFlops(jsBackend, () => { conv2d(x, w, null, { padding: 1 }); }), conv);
  // Forward, then the weight gradient only (x needs none).
  assert.equal(countFlops(jsBackend, () => { backward(sumAll(conv2d(x, w, null, { padding: 1 }))); }), 2 * conv);
  const a = randn([5, 7], g, { requiresGrad: true }), lw = randn([3, 7], g, { requiresGrad: true });
  assert.equal(countFlops(jsBackend, () => { backward(sumAll(linear(a, lw))); }), 3 * 2 * 5 * 3 * 7);
});

// The environment without any instruction-set cap, whatever the machine running the tests sets.
const uncapped = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA', 'ATEN_CPU_CAPABILITY', 'PAI_NATIVE_ISA'].includes(k)));

test('isaCaps names every instruction-set cap that is set, in a fixed order, and nothing else', () => {
  assert.deepEqual(isaCaps({}), []);
  assert.deepEqual(isaCaps({ PAI_NATIVE_ISA: 'avx2', ATEN_CPU_CAPABILITY: 'avx2', ONEDNN_MAX_CPU_ISA: 'AVX2', HOME: '/x', DNNL_MAX_CPU_ISA: '' }),
    ['ONEDNN_MAX_CPU_ISA=AVX2', 'ATEN_CPU_CAPABILITY=avx2', 'PAI_NATIVE_ISA=avx2']);
});

test('measurePeak: a positive multiply-add rate', { skip: native ? false : 'native backend not built' }, () => {
  const p = measurePeak(native!);
  assert.ok(p > 0.1 && Number.isFinite(p), `peak ${p}`);
});

test('race.js alternates pai with each PyTorch, skips one that cannot run, and reports best and median per side', { skip: native ? false : 'native backend not built' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-race-'));
  try {
    const log = join(dir, 'calls.log');
    const stub = join(dir, 'python-stub'), broken = join(dir, 'python-broken');
    writeFileSync(stub, `#!/bin/sh\nshift; echo "$*" >> '${log}'\necho '{"torch": "9.9", "times": [40, 60], "ms": 50}'\n`);
    writeFileSync(broken, `#!/bin/sh\necho "No module named torch" >&2\nexit 1\n`);
    chmodSync(stub, 0o755); chmodSync(broken, 0o755);
    const script = fileURLToPath(new URL('../../bench/race.js', import.meta.url));
    const r = spawnSync(process.execPath, [script, '--table', 'train', '--models', 'study', '--rounds', '2', '--reps', '1', '--threads', '1', '--json'], {
      encoding: 'utf8', env: { ...uncapped, ONEDNN_MAX_CPU_ISA: 'AVX2', PAI_TORCH_PYTHON: `${stub},${broken}` },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /skipping .*python-broken/);
    const row = JSON.parse(r.stdout.trim()) as { workload: string; threads: number; gflop: number; isa_caps: string[]; sides: { side: string; best_ms: number; median_ms: number; n: number }[] };
    assert.match(row.workload, /width 1\/4 on 1x28x28/);
    assert.equal(row.threads, 1);
    assert.deepEqual(row.isa_caps, ['ONEDNN_MAX_CPU_ISA=AVX2']);
    assert.ok(row.gflop > 0);
    assert.deepEqual(row.sides.map((s) => s.side), ['pai', 'PyTorch 9.9']);
    assert.equal(row.sides[0]!.n, 2);
    assert.deepEqual(row.sides[1], { side: 'PyTorch 9.9', best_ms: 40, median_ms: 50, n: 4 });
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(calls, ['--probe', '--probe', ...Array(2).fill('train --model resnet20 --batch 128 --reps 1 --width 0.25 --in-channels 1 --image-size 28 --threads 1')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
