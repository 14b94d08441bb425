// The kernel seam is generated from one declaration (src/kernels/declarations.mjs): the generated
// files are fresh, and both backends provide exactly the declared kernels.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { jsBackend, nativeBackend } from '../../src/kernels/index.js';
import { BINARY_OPS, REDUCE_OPS, UNARY_OPS } from '../../src/kernels/interface.js';

// This file runs from dist/test/kernels; the declaration and the generator are at the package root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Declared { name: string; returns?: string }
async function declaration(): Promise<{ KERNELS: Declared[]; CONTROLS: Declared[]; OP_LISTS: Record<string, { ops: string[] }> }> {
  const url = pathToFileURL(join(root, 'src', 'kernels', 'declarations.mjs')).href;
  return (await import(url)) as { KERNELS: Declared[]; CONTROLS: Declared[]; OP_LISTS: Record<string, { ops: string[] }> };
}

test('the generated seam files match the declaration', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'gen-kernels.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('the op lists are the declared ones, in order', async () => {
  const { OP_LISTS } = await declaration();
  assert.deepEqual([...UNARY_OPS], OP_LISTS['unary']!.ops);
  assert.deepEqual([...BINARY_OPS], OP_LISTS['binary']!.ops);
  assert.deepEqual([...REDUCE_OPS], OP_LISTS['reduce']!.ops);
});

test('the reference backend implements every declared kernel', async () => {
  const { KERNELS } = await declaration();
  for (const k of KERNELS) assert.equal(typeof (jsBackend as unknown as Record<string, unknown>)[k.name], 'function', k.name);
});

test('the native addon exports exactly the declared functions', async (t) => {
  if (!nativeBackend()) return t.skip('native backend not built');
  const { KERNELS, CONTROLS } = await declaration();
  const addon = createRequire(import.meta.url)(join(root, 'build', 'Release', 'pai_native.node')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(addon).sort(), [...KERNELS, ...CONTROLS].map((k) => k.name).sort());
  const native = nativeBackend() as unknown as Record<string, unknown>;
  for (const k of KERNELS) assert.equal(typeof native[k.name], 'function', k.name);
});

test('a native op code out of range is refused', async (t) => {
  if (!nativeBackend()) return t.skip('native backend not built');
  const addon = createRequire(import.meta.url)(join(root, 'build', 'Release', 'pai_native.node')) as { unary(op: number, x: Float32Array, out: Float32Array): void };
  assert.throws(() => addon.unary(UNARY_OPS.length, new Float32Array(2), new Float32Array(2)), /unary: unknown op/);
});
