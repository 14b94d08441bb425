// The command line's manners: every user error is one `pai:` line on stderr with exit code 2 and no
// stack trace; every command has --help with examples; listings are complete.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { isaNote } from '../../src/cli/commands/info.js';
import { cpuVectorIsa } from '../../src/kernels/cpu.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, modelNames } from '../../src/models/registry.js';
import { saveStateDict } from '../../src/nn/serialize.js';
import { criterionNames, PruneError } from '../../src/prune/index.js';
import { DATASET_NAMES } from '../../src/data/registry.js';
import { DOWNLOADABLE } from '../../src/data/download.js';
import { SafetensorsError, saveTensors, writeSafetensors } from '../../src/tensor/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { isUserError, UserError } from '../../src/cli/errors.js';
import { parseWidth } from '../../src/cli/options.js';
import { assertUserError, pai, scratch } from './run.js';

describe('user errors: one line, exit code 2', () => {
  const dir = scratch();
  const W = join(dir, 'lenet5.safetensors'), D = join(dir, 'batch.safetensors'), S = join(dir, 'scores.safetensors');
  const CORRUPT = join(dir, 'corrupt.safetensors'), TRUNC = join(dir, 'truncated.safetensors'), NOY = join(dir, 'noy.safetensors');
  const OUT = join(dir, 'out.safetensors');

  before(() => {
    const m = createModel('lenet5');
    saveStateDict(W, m);
    saveTensors(S, new Map(m.namedParameters().map(([n, p]) => [n, new Tensor(p.data.map(Math.abs), p.shape)])));
    const x = new Tensor(new Float32Array(4 * 28 * 28).map((_, i) => Math.sin(i)), [4, 1, 28, 28]);
    writeSafetensors(D, { x: { dtype: 'F32', shape: [4, 1, 28, 28], data: x.data }, y: { dtype: 'I64', shape: [4], data: BigInt64Array.from([0n, 1n, 2n, 3n]) } });
    saveTensors(NOY, { x });
    writeFileSync(CORRUPT, Buffer.from('this is not a safetensors file at all, just text'));
    const good = readFileSync(W);
    writeFileSync(TRUNC, good.subarray(0, good.length - 100));
  });

  const score = (...extra: string[]): string[] => ['score', '--model', 'lenet5', '--weights', W, '--data', D, '--criterion', 'snip', '--out', OUT, ...extra];
  const cases: [string, () => string[], RegExp][] = [
    ['unknown criterion', () => ['score', '--model', 'lenet5', '--weights', W, '--data', D, '--criterion', 'nope', '--out', OUT], /unknown criterion "nope".*snip/],
    ['unknown model', () => ['score', '--model', 'resnet7', '--weights', W, '--data', D, '--criterion', 'snip', '--out', OUT], /unknown model "resnet7".*lenet5/],
    ['sparsity 1', () => ['mask', '--model', 'lenet5', '--scores', S, '--sparsity', '1', '--out', OUT], /--sparsity must be in \[0, 1\), got 1/],
    ['sparsity -0.1', () => ['mask', '--model', 'lenet5', '--scores', S, '--sparsity', '-0.1', '--out', OUT], /--sparsity must be in \[0, 1\), got -0\.1/],
    ['sparsity not a number', () => ['prune', '--model', 'lenet5', '--criterion', 'magnitude', '--sparsity', 'half', '--out', dir], /--sparsity must be a number/],
    ['missing weights file', () => ['score', '--model', 'lenet5', '--weights', join(dir, 'nope.safetensors'), '--data', D, '--criterion', 'snip', '--out', OUT], /--weights .*nope\.safetensors: no such file/],
    ['corrupt safetensors', () => ['score', '--model', 'lenet5', '--weights', CORRUPT, '--data', D, '--criterion', 'snip', '--out', OUT], /corrupt\.safetensors/],
    ['truncated safetensors', () => ['warmup', '--model', 'lenet5', '--weights', TRUNC, '--data', D, '--batch-size', '2', '--out', OUT], /truncated\.safetensors/],
    ['unknown flag', () => score('--bogus'), /unknown option '--bogus'/],
    ['shape-mismatched weights', () => score('--width', '1/2'), /conv1\.weight.*\[6, 1, 5, 5\]/],
    ['bad width', () => score('--width', '1/0'), /--width/],
    ['bad semantics', () => score('--semantics', 'paper'), /--semantics.*fixed, reference/],
    ['bad mask batch size', () => score('--mask-batch-size', '0'), /--mask-batch-size must be an integer >= 1/],
    ['mask set without labels', () => ['score', '--model', 'lenet5', '--weights', W, '--data', NOY, '--criterion', 'snip', '--out', OUT], /no tensor "y"/],
    ['output folder missing', () => ['score', '--model', 'lenet5', '--weights', W, '--data', D, '--criterion', 'snip', '--out', join(dir, 'no', 'such', 'x.safetensors')], /does not exist/],
    ['missing required option', () => ['mask', '--model', 'lenet5', '--scores', S, '--out', OUT], /required option '--sparsity/],
    ['unknown dataset', () => ['prune', '--model', 'lenet5', '--criterion', 'snip', '--sparsity', '0.5', '--dataset', 'svhn', '--out', dir], /unknown dataset "svhn"/],
    ['data criterion without data', () => ['prune', '--model', 'lenet5', '--criterion', 'fisher_diag', '--sparsity', '0.5', '--out', dir], /needs a mask subset/],
    ['unknown command', () => ['prun'], /unknown command 'prun'/],
    ['not downloadable', () => ['data', 'download', 'imagenet'], /image-net\.org/],
    ['bad threads', () => ['--threads', '0', 'criteria'], /--threads must be an integer >= 1/],
  ];
  for (const [label, args, pattern] of cases) {
    test(label, async () => assertUserError(await pai(args()), pattern, label));
  }
});

describe('help and listings', () => {
  const commands = [['info'], ['models'], ['criteria'], ['score'], ['mask'], ['warmup'], ['prune'], ['data', 'download'], ['data', 'info']];
  for (const c of commands) {
    test(`pai ${c.join(' ')} --help has examples`, async () => {
      const r = await pai([...c, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Examples:\n {2}\$ pai /);
      assert.equal(r.stderr, '');
    });
  }

  test('pai --help lists every command; pai --version', async () => {
    const r = await pai(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['info', 'models', 'criteria', 'score', 'mask', 'warmup', 'prune', 'data']) assert.match(r.stdout, new RegExp(`\\n {2}${c}\\b`));
    const v = await pai(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  });

  test('help texts name every dataset and every downloadable one', async () => {
    const prune = await pai(['prune', '--help']);
    for (const d of DATASET_NAMES) assert.ok(prune.stdout.includes(d), `prune --help misses ${d}`);
    const data = await pai(['data', '--help']);
    for (const d of DOWNLOADABLE) assert.ok(data.stdout.includes(d), `data --help misses ${d}`);
  });

  test('pai models lists every model with its parameter count, quickly', async () => {
    const t0 = performance.now();
    const r = await pai(['models']);
    const ms = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    for (const m of modelNames()) assert.match(r.stdout, new RegExp(`^${m}\\s`, 'm'));
    assert.match(r.stdout, /^resnet18\s+11,173,962\s/m);
    assert.match(r.stdout, /^vgg19\s+20,040,522\s/m);
    assert.ok(ms < 5000, `pai models took ${ms.toFixed(0)} ms`);
    const j = await pai(['models', '--width', '1/8', '--json']);
    const rows = JSON.parse(j.stdout) as { name: string; parameters: number | null }[];
    assert.equal(rows.length, modelNames().length);
    assert.ok(rows.find((x) => x.name === 'resnet18')!.parameters! < 11_173_962 / 32);
  });

  test('pai criteria lists every criterion with its defaults', async () => {
    const r = await pai(['criteria']);
    assert.equal(r.code, 0, r.stderr);
    for (const c of criterionNames()) assert.match(r.stdout, new RegExp(`^${c}\\s`, 'm'));
    assert.match(r.stdout, /^hutch_diag\s+yes\s+1\s+T=200 K=10 shared=false\s+T=200 K=10 shared=false\s/m);
    assert.match(r.stdout, /^grasp\s+yes\s+1\s+T=200\s+T=1\s/m);
    assert.match(r.stdout, /^synflow\s+no\s+100\s/m);
    assert.match(r.stdout, /^hts\s.*--taylor-form/m);
    assert.match(r.stdout, /only where the network is piecewise linear/);
  });

  test('pai info names the backend and why', async () => {
    const r = await pai(['info', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const facts = JSON.parse(r.stdout) as { backend: string; reason: string; threads: number; version: string };
    assert.ok(['js', 'native'].includes(facts.backend));
    assert.ok(facts.reason.length > 0 && facts.threads >= 1);
    const js = await pai(['info', '--json'], { env: { PAI_BACKEND: 'js' } });
    assert.equal((JSON.parse(js.stdout) as { backend: string }).backend, 'js');
  });

  test('pai info names the allocator setting, and PAI_MALLOC=system leaves glibc alone', async (t) => {
    const r = await pai(['info', '--json']);
    const facts = JSON.parse(r.stdout) as { backend: string; allocator?: string };
    if (facts.backend !== 'native') { t.skip('the native backend is not in use'); return; }
    const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
    if (glibc) assert.match(facts.allocator ?? '', /^glibc, heap up to 32 MiB blocks/);
    else assert.match(facts.allocator ?? '', /^system/);
    // Linux: large kernel outputs are advised into transparent huge pages (a no-op where they are off).
    if (process.platform === 'linux') assert.match(facts.allocator ?? '', /huge pages for outputs from 4 MiB$/);
    const sys = await pai(['info', '--json'], { env: { PAI_MALLOC: 'system' } });
    assert.equal((JSON.parse(sys.stdout) as { allocator?: string }).allocator, 'system');
  });

  test('pai info names the CPU and says when its AVX-512 goes unused by the native loops', async () => {
    const r = await pai(['info', '--json']);
    const facts = JSON.parse(r.stdout) as { cpu: string; isa?: string; isa_note?: string };
    assert.ok(facts.cpu.length > 0);
    const cpu = cpuVectorIsa();
    if (facts.isa !== undefined) assert.equal(facts.isa_note, isaNote(facts.isa, cpu) ?? undefined);
    // The rule itself, on both machine classes, whatever this machine is.
    const zen5 = 'processor : 0\nflags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512bw\n';
    const zen3 = 'processor : 0\nflags\t\t: fpu sse4_2 avx fma avx2\n';
    assert.deepEqual(cpuVectorIsa(zen5), ['avx512f', 'avx2', 'fma', 'avx', 'sse4_2']);
    assert.deepEqual(cpuVectorIsa(zen3), ['avx2', 'fma', 'avx', 'sse4_2']);
    assert.match(isaNote('avx2+fma', cpuVectorIsa(zen5)) ?? '', /CPU has AVX-512; pai's own loops use avx2\+fma \(their AVX-512 build measured no faster; PAI_NATIVE_ISA=avx512 selects it\)/);
    assert.equal(isaNote('avx2+fma', cpuVectorIsa(zen3)), null);
    assert.equal(isaNote('avx512', cpuVectorIsa(zen5)), null);
    assert.equal(cpuVectorIsa('no flags here'), null);
  });
});

describe('option parsing and error classification', () => {
  test('--width takes decimals and fractions', () => {
    assert.equal(parseWidth('1/16'), 0.0625);
    assert.equal(parseWidth('0.0625'), 0.0625);
    assert.equal(parseWidth(' 1 / 32 '), 1 / 32);
    assert.equal(parseWidth('2'), 2);
    for (const bad of ['0', '-1', '1/0', 'abc', '', '1/x']) assert.throws(() => parseWidth(bad), UserError, bad);
  });

  test('library input errors are user errors; bugs are not', () => {
    assert.ok(isUserError(new PruneError('x')));
    assert.ok(isUserError(new SafetensorsError('x')));
    assert.ok(isUserError(new RangeError('x')));
    assert.ok(isUserError(Object.assign(new Error('x'), { code: 'ENOENT' })));
    assert.ok(!isUserError(new TypeError('x')));
    assert.ok(!isUserError(new Error('x')));
    assert.ok(!isUserError('a string'));
  });
});
