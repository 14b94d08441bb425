// Parity with the paper's PyTorch code on the golden fixtures: scores, the BN warm-up and masks.
// Every score set is checked twice with the parity rule (test/helpers/golden.ts): pai in float64 on
// the reference backend, the same computation on every machine; and pai in float32 on the default
// backend, unless a mask sample sits at a ReLU kink within float32 reach (samplesNearKink), where
// float32 results legitimately depend on the machine and only the float64 check decides.
import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, type Model } from '../../src/models/registry.js';
import { loadStateDictFile } from '../../src/nn/serialize.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { sliceAxes } from '../../src/autograd/ops/index.js';
import {
  scoreParameters, bnWarmup, makeMasks, prunableSet, iterativePrune, gradientSum, type MaskData, type Scores,
} from '../../src/prune/index.js';
import { makeContext } from '../../src/prune/context.js';
import { Generator } from '../../src/tensor/random.js';
import { GOLDEN_CASES, GOLDEN_SKIP, assertParity, fixtureNoise, goldenFile, goldenMeta, goldenTensors, assertParityBothPrecisions } from '../helpers/golden.js';

function buildModel(c: string, weights = 'model.safetensors'): Model {
  const meta = goldenMeta(c);
  const m = createModel('resnet18', { width: 1 / meta.width_divisor, numClasses: meta.num_classes, inChannels: meta.in_channels });
  loadStateDictFile(m, goldenFile(c, weights));
  m.eval();
  return m;
}

function maskData(c: string): MaskData {
  const b = goldenTensors(c, 'batch.safetensors');
  return { x: b.get('x')!, y: Int32Array.from(b.get('y')!.data) };
}

/** A criterion's scores (`score`) against a fixture score set, in both precisions (test/helpers/golden.ts). */
function assertScores(t: TestContext, c: string, weights: string, dir: string, set: string, score: (model: Model, data: MaskData) => Scores): void {
  const want = goldenTensors(c, `${dir}/${set}.safetensors`);
  assertParityBothPrecisions(t, () => buildModel(c, weights), maskData(c), (m, d) => {
    const got = score(m as Model, d);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${c} ${dir}/${set}: parameter names`);
    return got;
  }, want, fixtureNoise(c, set), `${c} ${dir}/${set}`);
}

// grasp_synflow is Synaptic-Flow's GraSP with every parameter passed as prunable: pai's fixed GraSP
// over a prunable set of every parameter must reproduce it (the published set, the prunable weights
// only, is checked against its own fixture in grasp.test.ts).
const EVERY = 'every parameter';
const CRITERIA: [string, string, 'fixed' | 'reference' | typeof EVERY][] = [
  ['magnitude', 'magnitude', 'fixed'],
  ['grad_norm', 'grad_norm', 'fixed'],
  ['snip', 'snip', 'fixed'],
  ['grasp', 'grasp', 'reference'],
  ['grasp', 'grasp_synflow', EVERY],
  ['fisher_diag', 'fisher_diag', 'fixed'],
  ['fisher_pruner', 'fisher_pruner', 'fixed'],
  ['fts', 'fts', 'fixed'],
  ['synflow', 'synflow', 'fixed'],
];

for (const c of GOLDEN_CASES) {
  describe(`golden ${c}`, { skip: GOLDEN_SKIP }, () => {
    for (const warm of [false, true]) {
      const dir = warm ? 'scores_warm' : 'scores';
      const weights = warm ? 'warm_model.safetensors' : 'model.safetensors';
      for (const [crit, file, semantics] of CRITERIA) {
        test(`${crit} (${semantics}) matches ${dir}/${file}`, (t) => assertScores(t, c, weights, dir, file, (model, data) => {
          const every = semantics === EVERY ? { prunable: model.namedParameters().map(([n]) => n) } : {};
          return scoreParameters(model, crit, data, { semantics: semantics === EVERY ? 'fixed' : semantics, inputShape: [3, 32, 32], ...every });
        }));
      }
      test(`first-order part of hts matches ${dir}/hts_grad`, (t) => assertScores(t, c, weights, dir, 'hts_grad', (model, data) => {
        const ctx = makeContext(model, { data, batchSize: 1, semantics: 'fixed', prunable: prunableSet(model), gen: new Generator(0), inputShape: [3, 32, 32] });
        const { sum, batches } = gradientSum(ctx, 'hts', 200);
        return new Map(ctx.names.map((n, i) => [n, new Tensor(sum[i]!.data.map((v) => v / batches), sum[i]!.shape)]));
      }));
    }

    test('BN warm-up matches warm_model.safetensors', () => {
      const model = buildModel(c);
      const xw = goldenTensors(c, 'warmup.safetensors').get('x_warm')!;
      const batches = [0, 1, 2, 3].map((b) => sliceAxes(xw, [[16 * b, 16 * (b + 1)], null, null, null]));
      const params = model.parameters().map((p) => p.data.slice());
      assert.equal(bnWarmup(model, batches), 4);
      assert.equal(model.training, false);
      model.parameters().forEach((p, i) => assert.deepEqual(p.data, params[i], 'weights must not change'));
      // The running statistics are plain float32 means and variances: no measured noise, the 1e-5 floor.
      assertParity(model.stateDict(), goldenTensors(c, 'warm_model.safetensors'), 0, `${c} warm_model`);
    });

    for (const crit of ['magnitude', 'snip', 'fisher_diag', 'fts']) {
      for (const scope of ['global', 'layer'] as const) {
        test(`${crit} ${scope} masks match where scores are not tied`, () => {
          const model = buildModel(c);
          const scores = scoreParameters(model, crit, maskData(c), { inputShape: [3, 32, 32] });
          const prunable = prunableSet(model, 'reference');
          for (const s of [0.5, 0.9, 0.99]) {
            const want = goldenTensors(c, `masks/${crit}_${scope}_${s}.safetensors`);
            const got = makeMasks(scores, prunable, s, scope);
            for (const [name, w] of want) {
              const g = got.get(name)!;
              const sc = scores.get(name)!;
              let kept = 0, wantKept = 0;
              // Entries equal to a boundary score are free for torch.topk; compare the rest exactly.
              const kth = boundary(sc, g);
              for (let i = 0; i < w.size; i++) {
                kept += g.data[i]!; wantKept += w.data[i]!;
                if (kth !== null && sc.data[i] === kth) continue;
                assert.equal(g.data[i], w.data[i], `${crit} ${scope} ${s} ${name}[${i}]`);
              }
              assert.equal(kept, wantKept, `${crit} ${scope} ${s} ${name}: kept count`);
            }
          }
        });
      }
    }

    for (const s of [0.9, 0.99]) {
      test(`100-iteration SynFlow mask at sparsity ${s} matches`, () => {
        const model = buildModel(c);
        const prunable = prunableSet(model, 'reference');
        const { masks } = iterativePrune(model, 'synflow', null, prunable, { sparsity: s, scope: 'global', iterations: 100, schedule: 'exponential', inputShape: [3, 32, 32] });
        const want = goldenTensors(c, `masks/synflow_iter100_global_${s}.safetensors`);
        for (const [name, w] of want) assert.deepEqual(masks.get(name)!.data, w.data, `${name}`);
      });
    }
  });
}

/** The smallest kept score of a tensor when some dropped entry ties with it, else null. */
function boundary(scores: Tensor, mask: Tensor): number | null {
  let minKept = Infinity;
  for (let i = 0; i < scores.size; i++) if (mask.data[i] === 1) minKept = Math.min(minKept, scores.data[i]!);
  for (let i = 0; i < scores.size; i++) if (mask.data[i] === 0 && scores.data[i] === minKept) return minKept;
  return null;
}
