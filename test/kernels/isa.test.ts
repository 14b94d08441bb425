// Every build of pai's own native loops (baseline, AVX2+FMA, AVX-512) that this CPU can run is
// checked against the reference kernels: the native kernel tests run once per build, with
// PAI_NATIVE_ISA choosing it, and the addon must report the build it picked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeBackend } from '../../src/kernels/index.js';
import { cpuVectorIsa } from '../../src/kernels/cpu.js';

const native = nativeBackend() as ({ info?: () => { isa: string } }) | null;
const skip = native?.info ? false : 'the native addon is not built';
const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const FILES = [here('./native.test.js'), here('./sparse-native.test.js')];

function run(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    // Without NODE_TEST_CONTEXT, the child runs its own test runner rather than reporting to this one.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
    execFile(process.execPath, args, { env: { ...base, ...env }, timeout: 600_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const cpu = cpuVectorIsa() ?? [];
const builds: [string, string, boolean][] = [
  ['sse2', 'sse2', true],
  ['avx2', 'avx2+fma', cpu.includes('avx2') && cpu.includes('fma')],
  ['avx512', 'avx512', cpu.includes('avx512f')],
];

for (const [cap, isa, runs] of builds) {
  test(`native loops built for ${isa} match the reference kernels`, { skip: skip || (runs ? false : `this CPU has no ${isa}`) }, async () => {
    const env: Record<string, string> = { PAI_NATIVE_ISA: cap };
    const probe = await run(['--input-type=module', '-e', `const k = await import(${JSON.stringify(new URL('../../src/kernels/index.js', import.meta.url).href)}); process.stdout.write(k.nativeBackend().info().isa);`], env);
    assert.equal(probe.code, 0, probe.out);
    // The AVX-512 build needs F, BW, DQ and VL; a CPU with F alone gets the AVX2 build.
    if (cap === 'avx512') assert.ok(['avx512', 'avx2+fma'].includes(probe.out), probe.out);
    else assert.equal(probe.out, isa);
    const r = await run(['--test', '--test-concurrency=1', '--test-reporter=tap', ...FILES], env);
    assert.equal(r.code, 0, r.out.split('\n').filter((l) => /^not ok|error:/.test(l.trim())).join('\n'));
    const passed = Number(/^# pass (\d+)/m.exec(r.out)?.[1] ?? 0);
    assert.ok(passed >= 20, `the native kernel tests ran (${passed} passed):\n${r.out.slice(-2000)}`);
  });
}
