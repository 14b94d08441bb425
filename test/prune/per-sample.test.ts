// The batched per-sample criteria against the per-sample loops they replace (computeBatch 1 forces
// the loops): same estimator, equal up to float rounding; the fallback when a model uses a parameter
// in an op without a per-sample rule; and the shared-probe Hutchinson option's variance against the
// exact Hessian diagonal of the tiny golden case.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, type Model } from '../../src/models/registry.js';
import { loadStateDictFile } from '../../src/nn/serialize.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { randn } from '../../src/tensor/create.js';
import { mul, sum } from '../../src/autograd/ops/index.js';
import { checkPerSampleGraph, withPerSampleGradients } from '../../src/autograd/per-sample.js';
import { scoreParameters, type MaskData, type Scores } from '../../src/prune/index.js';
import { GOLDEN_SKIP, assertParity, compareTensors, fixtureNoise, goldenFile, goldenMeta, goldenTensors } from '../helpers/golden.js';

const CASE = 'tiny_resnet18_w32_seed0';

function randomData(n: number, shape: readonly number[], seed = 0): MaskData {
  const g = new Generator(seed, 'per-sample-test');
  return { x: randn([n, ...shape], g), y: Int32Array.from({ length: n }, (_, i) => (i * 7) % 10) };
}

function goldenModel(): Model {
  const meta = goldenMeta(CASE);
  const m = createModel('resnet18', { width: 1 / meta.width_divisor, numClasses: meta.num_classes, inChannels: meta.in_channels });
  loadStateDictFile(m, goldenFile(CASE, 'model.safetensors'));
  return m;
}

function goldenData(): MaskData {
  const b = goldenTensors(CASE, 'batch.safetensors');
  return { x: b.get('x')!, y: Int32Array.from(b.get('y')!.data) };
}

/** Every tensor within rtol of the loop's values, with an absolute floor of `floor` times its largest magnitude. */
function assertClose(got: Scores, want: Scores, label: string, rtol: number, floor: number): void {
  assert.deepEqual([...got.keys()], [...want.keys()], `${label}: names`);
  for (const [name, w] of want) {
    const bad = compareTensors(got.get(name)!, w, rtol, floor);
    assert.equal(bad, null, `${label} ${name}: ${bad}`);
  }
}

function relL2(h: Scores | Map<string, Tensor>, D: Map<string, Tensor>): number {
  let num = 0, den = 0;
  for (const [name, d] of D) {
    const hh = h.get(name)!;
    for (let i = 0; i < d.size; i++) { num += (hh.data[i]! - d.data[i]!) ** 2; den += d.data[i]! ** 2; }
  }
  return Math.sqrt(num / den);
}

const MODELS: [string, Record<string, unknown>, number[]][] = [
  ['lenet5', {}, [1, 28, 28]],
  ['mlp', {}, [1, 28, 28]],
  ['resnet20', { width: 0.25 }, [3, 32, 32]],
  ['vgg11', { width: 0.125 }, [3, 32, 32]],
  // The benchmark's model (CIFAR ResNet-18: 1x1 stride-2 shortcuts, 4x4 last stage), narrowed.
  ['resnet18', { width: 0.125 }, [3, 32, 32]],
];
const FIRST_ORDER = ['fisher_diag', 'fisher_pruner', 'fts', 'ggn_diag'];

describe('batched per-sample criteria equal the per-sample loops', () => {
  for (const [name, opts, shape] of MODELS) {
    test(`${name}: ${FIRST_ORDER.join(', ')} (5 samples, compute batch 2)`, () => {
      const model = createModel(name, { seed: 1, ...opts });
      const data = randomData(5, shape);
      const notes: string[] = [];
      for (const c of FIRST_ORDER) {
        const loop = scoreParameters(model, c, data, { computeBatch: 1 });
        const batched = scoreParameters(model, c, data, { computeBatch: 2, note: (m) => notes.push(m) });
        assertClose(batched, loop, `${name} ${c}`, 1e-5, 1e-5);
      }
      assert.deepEqual(notes, [], 'the batched path must not have fallen back');
    });
  }

  test(`golden ${CASE}: fisher_diag, fisher_pruner, fts, ggn_diag batched == loop == fixture`, { skip: GOLDEN_SKIP }, () => {
    const model = goldenModel();
    const data = goldenData();
    for (const c of FIRST_ORDER) {
      const loop = scoreParameters(model, c, data, { computeBatch: 1 });
      const batched = scoreParameters(model, c, data, { computeBatch: 8, note: (m) => assert.fail(m) });
      assertClose(batched, loop, `golden ${c}`, 1e-5, 1e-5);
    }
    const want = goldenTensors(CASE, 'scores/fisher_diag.safetensors');
    const got = scoreParameters(model, 'fisher_diag', data, {});
    assertParity(got, want, fixtureNoise(CASE, 'fisher_diag'), 'fixture fisher_diag');
  });

  test('hutch_diag: the K probes of a sample in one double-backward pass give the loop estimator (same probes)', () => {
    for (const [name, opts, shape] of MODELS) {
      const model = createModel(name, { seed: 2, ...opts });
      const data = randomData(3, shape, 1);
      const loop = scoreParameters(model, 'hutch_diag', data, { computeBatch: 1, probes: 3, seed: 5 });
      const batched = scoreParameters(model, 'hutch_diag', data, { computeBatch: 6, probes: 3, seed: 5, note: (m) => assert.fail(m) });
      // Signed sums of products: entries near zero cancel, so the floor carries the comparison there.
      assertClose(batched, loop, `${name} hutch_diag`, 1e-3, 2e-5);
    }
  });
});

describe('fallback', () => {
  test('a parameter in an op without a per-sample rule makes the batched path refuse, once, and the loop answer', () => {
    const model = createModel('vit_tiny_patch4_32', { seed: 0 });
    const data = randomData(2, [3, 32, 32]);
    const notes: string[] = [];
    const loop = scoreParameters(model, 'fisher_diag', data, { computeBatch: 1, note: (m) => notes.push(m) });
    assert.equal(notes.length, 0);
    const batched = scoreParameters(model, 'fisher_diag', data, { computeBatch: 4, note: (m) => notes.push(m) });
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /fisher_diag: batched per-sample path unavailable .*no per-sample rule.*per-sample loop/);
    assertClose(batched, loop, 'vit fallback', 0, 0);
  });

  test('checkPerSampleGraph names the op and refuses a parameter used twice when squaring', () => {
    const g = new Generator(0, 't');
    const w = randn([3], g, { requiresGrad: true });
    const x = randn([2, 3], g);
    const r = withPerSampleGradients([w], 2, () => checkPerSampleGraph([sum(mul(x, w))], true));
    assert.match(r ?? '', /op mul/);
  });
});

describe('shared-probe Hutchinson', { skip: GOLDEN_SKIP }, () => {
  test('same expectation as the per-sample probes; its error against hessian_diag_T200 is measured', () => {
    const D = goldenTensors(CASE, 'hessian_diag_T200.safetensors');
    const data = goldenData();
    const model = goldenModel();
    const errs = { perSample: [] as number[], shared: [] as number[] };
    const seeds = [0, 1];
    const t0 = performance.now();
    for (const seed of seeds) errs.perSample.push(relL2(scoreParameters(model, 'hutch_diag', data, { seed }), D));
    const t1 = performance.now();
    for (const seed of seeds) errs.shared.push(relL2(scoreParameters(model, 'hutch_diag', data, { seed, sharedProbes: true, computeBatch: data.x.shape[0]! }), D));
    const t2 = performance.now();
    const ms = (a: number[]): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    process.stdout.write(`# shared-probe hutch_diag on ${CASE} (K=10, ${data.x.shape[0]} samples): relative L2 error vs the exact diagonal ${ms(errs.shared).toFixed(2)} (per-sample probes ${ms(errs.perSample).toFixed(2)}); time ${((t2 - t1) / seeds.length).toFixed(0)} ms vs ${((t1 - t0) / seeds.length).toFixed(0)} ms\n`);
    // Both are unbiased; the shared estimate's error is that of K probes on the mean Hessian (one
    // batch), the per-sample one's that of K probes on each sample's Hessian, averaged. Neither may
    // be wildly off the exact diagonal's scale measured in the fixture README (~600 D per probe).
    for (const e of [...errs.perSample, ...errs.shared]) assert.ok(Number.isFinite(e) && e < 1e4, `relative error ${e}`);
  });
});
