// Numerical safety of pruning: non-finite scores never become a mask, and a model holding NaN or
// Inf is refused before scoring with the broken tensor named, whatever the criterion.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, type Model } from '../../src/models/registry.js';
import { PruneError, makeMasks, prunableSet, pruneAtInit } from '../../src/prune/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

const IMAGE = 8;

function model(): Model {
  return createModel('resnet20', { width: 0.25, seed: 1, imageSize: IMAGE });
}

function scoresOf(m: Model): Map<string, Tensor> {
  const g = new Generator(2, 'scores');
  return new Map(m.namedParameters().map(([n, p]) => [n, new Tensor(Float32Array.from({ length: p.size }, () => g.uniform()), p.shape)]));
}

for (const bad of [NaN, Infinity, -Infinity]) {
  for (const scope of ['global', 'layer'] as const) {
    test(`makeMasks refuses ${bad} in a prunable score tensor (${scope}), naming tensor and index`, () => {
      const m = model();
      const prunable = prunableSet(m);
      const name = [...prunable][2]!;
      const s = scoresOf(m);
      s.get(name)!.data[5] = bad;
      assert.throws(() => makeMasks(s, prunable, 0.8, scope), (e: unknown) => {
        assert.ok(e instanceof PruneError, String(e));
        assert.ok(e.message.includes(`scores for ${name} `), e.message);
        assert.match(e.message, new RegExp(`contain ${String(bad).replace('+', '\\+')} at flat index 5`));
        return true;
      });
    });
  }
}

test('makeMasks: finite scores still give exactly k kept values', () => {
  const m = model();
  const prunable = prunableSet(m);
  const masks = makeMasks(scoresOf(m), prunable, 0.8, 'global');
  let kept = 0, total = 0;
  for (const n of prunable) { const t = masks.get(n)!; total += t.size; for (const v of t.data) kept += v; }
  assert.equal(kept, Math.max(Math.floor(0.2 * total), 1));
});

const maskData = () => ({ x: randn([4, 3, IMAGE, IMAGE], new Generator(3, 'x')), y: Int32Array.from([0, 1, 2, 3]) });

// Before the check, random and magnitude built masks from such models without a word, SynFlow
// turned one Inf into thousands of infinite scores, and the gradient criteria blamed conv.weight.
const CASES: [string, number][] = [
  ['blocks.0.conv1.weight', NaN],
  ['blocks.0.conv1.weight', Infinity],
  ['fc.weight', -Infinity],
  ['bn.weight', NaN],
  ['blocks.1.bn2.running_var', Infinity],
];

for (const criterion of ['random', 'magnitude', 'snip', 'synflow', 'fisher_diag']) {
  for (const [where, bad] of CASES) {
    test(`pruneAtInit(${criterion}) refuses a model with ${bad} in ${where}, and leaves it unpruned`, () => {
      const m = model();
      const t = m.stateDict().get(where);
      assert.ok(t, `no tensor ${where} in ${[...m.stateDict().keys()].join(', ')}`);
      t.data[1] = bad;
      const before = m.stateDict().get('blocks.2.conv1.weight')!.data.slice();
      assert.throws(() => pruneAtInit(m, { criterion, sparsity: 0.9, data: maskData(), batchSize: 4, probes: 1 }), (e: unknown) => {
        assert.ok(e instanceof PruneError, String(e));
        assert.ok(e.message.includes(` ${where} `), e.message);
        assert.match(e.message, new RegExp(`holds ${String(bad).replace('+', '\\+')} at flat index 1`));
        return true;
      });
      assert.deepEqual(m.stateDict().get('blocks.2.conv1.weight')!.data, before, 'no mask was applied');
    });
  }
}
