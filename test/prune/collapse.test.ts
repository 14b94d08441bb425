// Layer-collapse diagnostics: the density table, fully pruned layers, and whether any input-to-output
// path survives, on a small ResNet-20 whose shortcuts make "one empty layer" and "collapsed" differ.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { createModel, type Model } from '../../src/models/registry.js';
import {
  collapseReport, layerDensities, pathSurvives, formatDensityTable, makeMasks, prunableSet, pruneAtInit,
  scoreParameters, PruneError, type Masks,
} from '../../src/prune/index.js';

const INPUT = [3, 8, 8];

function resnet20(): Model {
  return createModel('resnet20', { width: 0.25, imageSize: 8, seed: 1 });
}

/** All-ones masks with the named parameters fully pruned. */
function masksPruning(model: Model, pruned: string[]): Masks {
  const m: Masks = new Map();
  for (const [n, p] of model.namedParameters()) m.set(n, new Tensor(new Float32Array(p.size).fill(pruned.includes(n) ? 0 : 1), p.shape));
  return m;
}

/** Every parameter and buffer: the tensor object and a copy of its values. */
function snapshot(model: Model): Map<string, { t: Tensor; dtype: string; data: Float32Array | Float64Array }> {
  return new Map([...model.stateDict()].map(([n, t]) => [n, { t, dtype: t.dtype, data: t.data.slice() }]));
}

function assertUnchanged(model: Model, before: ReturnType<typeof snapshot>): void {
  const now = model.stateDict();
  assert.deepEqual([...now.keys()], [...before.keys()]);
  for (const [n, t] of now) {
    const b = before.get(n)!;
    assert.equal(t, b.t, `${n}: same tensor object`);
    assert.equal(t.dtype, b.dtype, `${n}: dtype`);
    assert.deepEqual(t.data, b.data, `${n}: values`);
  }
  for (const [n, p] of model.namedParameters()) assert.equal(p, before.get(n)!.t, `${n}: namedParameters returns the original`);
}

describe('layer densities', () => {
  test('per-layer table over prunable tensors, empty layers counted', () => {
    const model = resnet20();
    const prunable = prunableSet(model);
    const masks = masksPruning(model, ['blocks.0.conv1.weight', 'blocks.5.conv2.weight']);
    const half = masks.get('conv.weight')!;
    for (let i = 0; i < half.size; i += 2) half.data[i] = 0; // 108 values: 54 kept
    const layers = layerDensities(masks, prunable);
    assert.deepEqual(layers.map((l) => l.name), [...prunable], 'prunable tensors only, in parameter order');
    const by = new Map(layers.map((l) => [l.name, l]));
    assert.deepEqual(by.get('conv.weight'), { name: 'conv.weight', kept: 54, total: 108, density: 0.5 });
    assert.deepEqual(by.get('blocks.0.conv1.weight'), { name: 'blocks.0.conv1.weight', kept: 0, total: 144, density: 0 });
    assert.equal(by.get('blocks.1.conv1.weight')!.density, 1);
    const r = collapseReport(null, masks, prunable);
    assert.deepEqual(r.emptyLayers, ['blocks.0.conv1.weight', 'blocks.5.conv2.weight']);
    assert.equal(r.connected, null, 'no model given: the path check does not run');
    const total = model.namedParameters().filter(([n]) => prunable.has(n)).reduce((a, [, t]) => a + t.size, 0);
    assert.equal(r.total, total);
    assert.equal(r.kept, total - 54 - 144 - 576);
    const table = formatDensityTable(r);
    assert.match(table, /conv\.weight\s+54\s+108\s+50\.000%/);
    assert.match(table, /fully pruned: blocks\.0\.conv1\.weight, blocks\.5\.conv2\.weight/);
    assert.doesNotMatch(table, /COLLAPSED/);
  });

  test('the reference prunable set puts the shortcut BN weights in the table', () => {
    const model = resnet20();
    const names = layerDensities(masksPruning(model, []), prunableSet(model, 'reference')).map((l) => l.name);
    assert.ok(names.includes('blocks.3.shortcut.1.weight'));
    assert.ok(!layerDensities(masksPruning(model, []), prunableSet(model, 'fixed')).some((l) => l.name.includes('shortcut.1')));
  });
});

describe('path check', () => {
  test('a normal mask keeps a path; the model is unchanged afterwards (same objects, values, dtype, mode)', () => {
    const model = resnet20();
    model.train();
    const before = snapshot(model);
    const masks = makeMasks(scoreParameters(model, 'magnitude', null, { inputShape: INPUT }), prunableSet(model), 0.9, 'global');
    assert.equal(pathSurvives(model, masks, INPUT), true);
    assertUnchanged(model, before);
    assert.equal(model.training, true, 'train mode restored');
    model.eval();
    assert.equal(pathSurvives(model, masksPruning(model, ['conv.weight']), INPUT), false);
    assertUnchanged(model, before);
    assert.equal(model.training, false, 'eval mode restored');
  });

  test('a fully pruned stem collapses the network; one block\'s conv1 does not (the shortcut carries it)', () => {
    const model = resnet20();
    const cases: [string[], boolean][] = [
      [[], true],
      [['conv.weight'], false],
      [['blocks.0.conv1.weight'], true],
      [['blocks.0.conv1.weight', 'blocks.0.conv2.weight'], true],
      [['blocks.3.conv1.weight'], true], // the projection shortcut still carries the signal
      [['blocks.3.conv1.weight', 'blocks.3.shortcut.0.weight'], false],
      [['blocks.3.conv2.weight', 'blocks.3.shortcut.0.weight'], false],
      [['blocks.6.shortcut.0.weight'], true],
      [['blocks.0.conv1.weight', 'blocks.1.conv1.weight', 'blocks.2.conv1.weight'], true],
    ];
    for (const [pruned, want] of cases) {
      assert.equal(pathSurvives(model, masksPruning(model, pruned), INPUT), want, `pruned ${pruned.join(', ') || 'nothing'}`);
    }
  });

  test('a pruned shortcut BN scale (reference semantics) cuts the projection path', () => {
    const model = resnet20();
    assert.equal(pathSurvives(model, masksPruning(model, ['blocks.3.conv1.weight', 'blocks.3.shortcut.1.weight']), INPUT), false);
    assert.equal(pathSurvives(model, masksPruning(model, ['blocks.3.shortcut.1.weight']), INPUT), true);
  });

  test('VGG has no shortcut: any fully pruned conv collapses it', () => {
    const model = createModel('vgg11', { width: 0.125, seed: 2 });
    assert.equal(pathSurvives(model, masksPruning(model, []), [3, 32, 32]), true);
    assert.equal(pathSurvives(model, masksPruning(model, ['features.conv_11.weight']), [3, 32, 32]), false);
  });

  test('a report with a collapsed mask says so', () => {
    const model = resnet20();
    const r = collapseReport(model, masksPruning(model, ['conv.weight']), prunableSet(model), INPUT);
    assert.equal(r.connected, false);
    assert.deepEqual(r.emptyLayers, ['conv.weight']);
    assert.match(formatDensityTable(r), /COLLAPSED/);
  });
});

describe('pruneAtInit and collapse', () => {
  // Random scores at 99.9 % keep ~20 of ~20k weights: most layers end up empty, the stem among them.
  const o = { criterion: 'random', sparsity: 0.999, data: null, seed: 0 } as const;

  test('warns by default and applies the mask', () => {
    const model = resnet20();
    const r = pruneAtInit(model, o);
    assert.equal(r.report.connected, false);
    assert.ok(r.report.emptyLayers.length > 0);
    assert.ok(r.warnings.some((w) => /layer collapse/.test(w)), r.warnings.join('; '));
    assert.ok(r.warnings.some((w) => /fully pruned/.test(w)));
    const stem = model.namedParameters().find(([n]) => n === 'conv.weight')![1];
    assert.ok(stem.data.every((v, i) => (r.masks.get('conv.weight')!.data[i] === 0 ? v === 0 : true)));
  });

  test('refuseCollapse throws and leaves the weights alone', () => {
    const model = resnet20();
    const before = snapshot(model);
    assert.throws(() => pruneAtInit(model, { ...o, refuseCollapse: true }), (e: unknown) => e instanceof PruneError && /layer collapse/.test(e.message));
    assertUnchanged(model, before);
  });

  test('a healthy mask passes with refuseCollapse', () => {
    const model = resnet20();
    const r = pruneAtInit(model, { criterion: 'magnitude', sparsity: 0.5, data: null, refuseCollapse: true });
    assert.equal(r.report.connected, true);
    assert.deepEqual(r.warnings, []);
  });
});
