// The command line against the golden fixtures of the paper's PyTorch code: `pai score`,
// `pai mask` and `pai warmup` must reproduce them as the library does.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTensors, readSafetensors } from '../../src/tensor/safetensors.js';
import { GOLDEN_DIR, GOLDEN_SKIP, assertParity, compareTensors, fixtureNoise, goldenFile, goldenMeta } from '../helpers/golden.js';
import { pai, scratch } from './run.js';
import { getCriterion, OPTION_KEYS } from '../../src/prune/index.js';

const CASE = 'tiny_resnet18_w32_seed0';
const skip = GOLDEN_SKIP ? `${GOLDEN_SKIP} (${CASE} absent; skipping the CLI golden tests)` : false;
// One thread: the tests share the machine with other work, where OpenMP threads spin-waiting on
// a busy core slow tiny models down by an order of magnitude.
const MODEL = ['--threads', '1', '--model', 'resnet18', '--width', '1/32'];

describe(`pai against ${join(GOLDEN_DIR, CASE)}`, { skip }, () => {
  const dir = skip ? '' : scratch();

  for (const criterion of ['magnitude', 'snip', 'fisher_diag']) {
    test(`pai score --criterion ${criterion} reproduces scores/${criterion}`, async () => {
      const out = join(dir, `${criterion}.safetensors`);
      const r = await pai(['score', ...MODEL, '--weights', goldenFile(CASE, 'model.safetensors'), '--data', goldenFile(CASE, 'batch.safetensors'), '--criterion', criterion, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      const got = loadTensors(out), want = loadTensors(goldenFile(CASE, `scores/${criterion}.safetensors`));
      // Every parameter, in the model's parameter order.
      assert.deepEqual([...got.keys()], goldenMeta(CASE).params.map((p) => p.name));
      assertParity(got, want, fixtureNoise(CASE, criterion), `pai score ${criterion}`);
      const meta = readSafetensors(out).metadata;
      assert.equal(meta['criterion'], criterion);
      assert.equal(meta['semantics'], 'fixed');
      assert.equal(meta['mask_batch_size'], '1');
      assert.equal(meta['seed'], '0');
      assert.equal(meta['model'], 'resnet18');
      // The options the criterion reads, and only those.
      const uses = getCriterion(criterion).uses;
      for (const k of OPTION_KEYS) assert.equal(meta[k] !== undefined, uses.includes(k), `${criterion}: metadata ${k}`);
    });
  }

  test('pai score --shared-probes runs the shared-probe Hutchinson estimator and records it', async () => {
    const args = ['score', ...MODEL, '--weights', goldenFile(CASE, 'model.safetensors'), '--data', goldenFile(CASE, 'batch.safetensors'),
      '--criterion', 'hutch_diag', '--probes', '2', '--mask-batch-size', '1'];
    const shared = join(dir, 'hutch-shared.safetensors'), own = join(dir, 'hutch-own.safetensors');
    const a = await pai([...args, '--shared-probes', '--out', shared]);
    assert.equal(a.code, 0, a.stderr);
    const b = await pai([...args, '--out', own]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(readSafetensors(shared).metadata['sharedProbes'], 'true');
    assert.equal(readSafetensors(own).metadata['sharedProbes'], 'false');
    // Same seed, same probes stream: only the estimator differs, so the scores must too.
    const x = loadTensors(shared), y = loadTensors(own);
    const name = goldenMeta(CASE).params[0]!.name;
    assert.notEqual(compareTensors(x.get(name)!, y.get(name)!, 1e-6, 1e-9), null);
    for (const t of x.values()) for (const v of t.data) assert.ok(Number.isFinite(v));
  });

  test('pai score --shared-probes refuses criteria without probes', async () => {
    const r = await pai(['score', ...MODEL, '--weights', goldenFile(CASE, 'model.safetensors'), '--data', goldenFile(CASE, 'batch.safetensors'),
      '--criterion', 'snip', '--shared-probes', '--out', join(dir, 'never.safetensors')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--shared-probes applies to hutch_diag, hutch_pruning, hts, not snip/);
  });

  test('pai mask --semantics reference reproduces masks/snip_global_0.9', async () => {
    const out = join(dir, 'snip-mask.safetensors');
    const r = await pai(['mask', ...MODEL, '--scores', goldenFile(CASE, 'scores/snip.safetensors'), '--sparsity', '0.9', '--scope', 'global', '--semantics', 'reference', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const got = loadTensors(out), want = loadTensors(goldenFile(CASE, 'masks/snip_global_0.9.safetensors'));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [name, w] of want) {
      const g = got.get(name)!;
      assert.equal(g.dtype, 'float32');
      assert.deepEqual(Array.from(g.data), Array.from(w.data), name);
    }
    assert.match(r.stdout, /kept 1097 of 10978/);
    assert.match(r.stdout, /layer4\.1\.conv2\.weight/, 'the per-layer density table');
  });

  test('pai warmup --batch-size 16 reproduces warm_model.safetensors', async () => {
    const out = join(dir, 'warm.safetensors');
    const r = await pai(['warmup', ...MODEL, '--weights', goldenFile(CASE, 'model.safetensors'), '--data', goldenFile(CASE, 'warmup.safetensors'), '--batch-size', '16', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const file = readSafetensors(out);
    const got = loadTensors(out), want = loadTensors(goldenFile(CASE, 'warm_model.safetensors'));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [name, w] of want) {
      if (!name.endsWith('num_batches_tracked')) continue;
      assert.equal(file.tensors.get(name)!.dtype, 'I64', name);
      assert.equal(got.get(name)!.data[0], w.data[0], name);
    }
    assertParity(got, want, 0, 'pai warmup');
  });
});
