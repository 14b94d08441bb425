// Public functions check their arguments and options and name the one at fault, instead of failing
// with an `undefined` error from inside pai.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Generator, OptionsError, Tensor, applyMasks, createModel, data, evaluate, experiment, interop, loadTensors, makeMasks, nn, prune,
  pruneAtInit, saveTensors, scoreParameters, trainModel,
} from '../../src/index.js';

const ds = data.loadDataset('fashion-mnist-subset', 'train');

function refuses(f: () => unknown, message: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof OptionsError, `expected an OptionsError, got ${String(e)}`);
    assert.match((e as Error).message, message);
    assert.doesNotMatch((e as Error).message, /Cannot read properties|undefined \(reading/);
    return true;
  });
}

async function refusesAsync(f: () => Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(f, (e: unknown) => {
    assert.ok(e instanceof OptionsError, `expected an OptionsError, got ${String(e)}`);
    assert.match((e as Error).message, message);
    return true;
  });
}

test('maskSubset and maskSubsetBatch name the wrong option', () => {
  // The guess of a new user: a seed instead of a generator.
  refuses(() => data.maskSubset(ds, { perClass: 10, seed: 0 } as never), /^maskSubset: options\.gen: required \(expected a Generator.*options\.seed: unknown key$/);
  refuses(() => data.maskSubset(ds, undefined as never), /^maskSubset: options must be an object, got undefined$/);
  refuses(() => data.maskSubset(null as never, { gen: new Generator(0) }), /^maskSubset: dataset: expected a Dataset.*got null$/);
  refuses(() => data.maskSubset(ds, { perClass: 0, gen: new Generator(0) }), /options\.perClass: must be a positive integer, got number 0/);
  refuses(() => data.maskSubset(ds, { perClass: 2.5, gen: new Generator(0) }), /options\.perClass: must be a positive integer, got number 2\.5/);
  refuses(() => data.maskSubset(ds, { gen: 0 as never }), /options\.gen: expected a Generator \(new Generator\(seed\)\), got number 0/);
  refuses(() => data.maskSubsetBatch(ds, { gen: new Generator(0), transform: 'eval' as never }), /^maskSubsetBatch: options\.transform: expected object, got string "eval"$/);
  const b = data.maskSubsetBatch(ds, { perClass: 2, gen: new Generator(0) });
  assert.deepEqual(b.x.shape, [20, 1, 28, 28]);
  assert.deepEqual([...b.y], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
  assert.deepEqual([...b.indices], [...data.maskSubset(ds, { perClass: 2, gen: new Generator(0) })]);
});

test('loadDataset, DataLoader and createModel name the wrong option', () => {
  refuses(() => data.loadDataset('fashion-mnist-subset', 'train', { datadir: '/x' } as never), /^loadDataset: options\.datadir: unknown key$/);
  refuses(() => new data.DataLoader(ds, { batchsize: 8 } as never), /^DataLoader: options\.batchSize: required; options\.batchsize: unknown key$/);
  refuses(() => new data.DataLoader(ds, { batchSize: 8, workers: -1 }), /options\.workers: must be a non-negative integer, got number -1/);
  refuses(() => new data.DataLoader({} as never, { batchSize: 8 }), /^DataLoader: dataset: expected a Dataset/);
  refuses(() => createModel('resnet20', { width: '1/4' as never }), /^createModel: options\.width: expected number, got string "1\/4"$/);
  refuses(() => createModel('resnet20', { imageSize: -28 }), /options\.imageSize: must be a positive integer/);
  refuses(() => createModel(20 as never), /^createModel: name: expected string, got number 20$/);
});

test('scoring, masks and pruning name the wrong option', () => {
  const model = createModel('lenet5', { seed: 0 });
  const x = new Tensor(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]);
  const y = Int32Array.from([0, 1]);
  refuses(() => pruneAtInit(model, { criterion: 'snip', sparsity: 0.9 } as never), /^pruneAtInit: options\.data: required$/);
  refuses(() => pruneAtInit(model, { criterion: 'snip', sparsity: 1, data: { x, y } }), /options\.sparsity: must lie in \[0, 1\), got number 1/);
  refuses(() => pruneAtInit(model, { criterion: 'snip', sparsity: 0.5, data: { x, y: [0, 1] as never } }), /options\.data\.y: expected an Int32Array, got an array/);
  refuses(() => pruneAtInit(model, { criterion: 'snip', sparsity: 0.5, data: { x, y }, prob: 3 } as never), /options\.prob: unknown key/);
  refuses(() => pruneAtInit(model, { criterion: 'snip', sparsity: 0.5, data: { x, y }, scope: 'local' as never }), /options\.scope: must be one of "global", "layer", got string "local"/);
  refuses(() => pruneAtInit({} as never, { criterion: 'snip', sparsity: 0.5, data: null }), /^pruneAtInit: model: expected a Module/);
  refuses(() => scoreParameters(model, 'snip', { x, y }, { batchSize: 0 }), /^scoreParameters: options\.batchSize: must be a positive integer, got number 0$/);
  refuses(() => scoreParameters(model, 'snip', { x, y }, { sparsity: 0.5 } as never), /options\.sparsity: unknown key/);
  const scores = scoreParameters(model, 'magnitude', null, { inputShape: [1, 28, 28] });
  const prunable = prune.prunableSet(model);
  refuses(() => makeMasks(scores, [...prunable] as never, 0.5, 'global'), /^makeMasks: prunable: expected a Set of parameter names, got an array$/);
  refuses(() => makeMasks(scores, prunable, 0.5, 'all' as never), /^makeMasks: scope: must be one of "global", "layer", got string "all"$/);
  refuses(() => applyMasks(model, { 'fc1.weight': 1 } as never), /^applyMasks: masks: expected a Map from parameter name to Tensor, got an object$/);
  refuses(() => prune.bnWarmup(model, [], { max: 2 } as never), /^bnWarmup: options\.max: unknown key$/);
  // A correct call still goes through.
  const r = pruneAtInit(model, { criterion: 'snip', sparsity: 0.5, data: { x, y } });
  assert.ok(r.masks.size > 0);
});

test('training and evaluation name the wrong option', async () => {
  const model = createModel('lenet5', { seed: 0 });
  const batch = { x: new Tensor(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]), y: Int32Array.from([0, 1]) };
  await refusesAsync(() => trainModel(model, { epochs: 1 } as never), /^trainModel: options\.train: required.*options\.optimizer: required$/);
  await refusesAsync(() => trainModel(model, { train: [batch], epochs: 0, optimizer: { name: 'sgd', lr: 0.1 } }), /options\.epochs: must be a positive integer, got number 0/);
  await refusesAsync(() => trainModel(model, { train: [batch], epochs: 1, optimizer: { name: 'adam' } as never }), /options\.optimizer\.name: must be one of "sgd", "adamw", got string "adam"/);
  await refusesAsync(() => trainModel(model, { train: [batch], epochs: 1, optimizer: { name: 'sgd', lr: 0.1 }, masks: [] as never }), /options\.masks: expected a Map/);
  await refusesAsync(() => trainModel(model, { train: [batch], epochs: 1, optimizer: { name: 'sgd', lr: 0.1 }, lr: 0.1 } as never), /options\.lr: unknown key/);
  await refusesAsync(() => evaluate(model, 'test' as never), /^evaluate: batches: expected batches/);
  await refusesAsync(() => evaluate(model, [batch], { classes: 10 } as never), /^evaluate: options\.classes: unknown key$/);
  const m = await evaluate(model, [batch], { numClasses: 10 });
  assert.equal(m.count, 2);
});

test('saveTensors and loadTensors check their arguments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-options-'));
  try {
    refuses(() => saveTensors(3 as never, new Map()), /^saveTensors: path: expected string, got number 3$/);
    refuses(() => saveTensors(join(dir, 'a.safetensors'), [1, 2] as never), /^saveTensors: tensors: /);
    refuses(() => saveTensors(join(dir, 'a.safetensors'), new Map(), { step: 1 } as never), /^saveTensors: metadata\.step: expected string, got number 1$/);
    refuses(() => loadTensors(undefined as never), /^loadTensors: path: required$/);
    const t = new Tensor(Float32Array.from([1, 0]), [2]);
    saveTensors(join(dir, 'a.safetensors'), new Map([['w', t]]));
    assert.deepEqual([...loadTensors(join(dir, 'a.safetensors')).get('w')!.data], [1, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transforms, datasets, export and sparse execution check their arguments', () => {
  refuses(() => data.standardTransform('fashion-mnist', 'test' as never), /^standardTransform: split: must be one of "train", "eval", got string "test"$/);
  refuses(() => data.standardTransform('fashion-mnist', 'eval', { std: [0] }), /^standardTransform: options\.std\[0\]: must hold positive numbers, got number 0$/);
  refuses(() => data.standardTransform('fashion-mnist', 'eval', { normalize: true } as never), /options\.normalize: unknown key/);
  refuses(() => new data.SubsetDataset(ds, [0, 1] as never), /^SubsetDataset: indices: expected an Int32Array, got an array$/);
  refuses(() => new data.InMemoryDataset('x', new Uint8Array(4), Int32Array.from([0]), [1, 2, 2], { classes: 2 } as never), /^InMemoryDataset: options\.classes: unknown key$/);
  const model = createModel('lenet5', { seed: 0 });
  refuses(() => interop.exportOnnx(model, { inputShape: [28, 28] }), /^exportOnnx: options\.inputShape: /);
  refuses(() => nn.sparsifyModel(model, new Map(), { minSparsity: 2 }), /^sparsifyModel: options\.minSparsity: must lie in \[0, 1\], got number 2$/);
  assert.equal(new data.SubsetDataset(ds, Int32Array.from([3, 1])).length, 2);
});

test('the experiment and download entry points check their options', async () => {
  refuses(() => experiment.emitK8s({ config: 'a.json', store: 'r', count: 2, name: 'x', parallelism: 0 }), /^emitK8s: options\.parallelism: must be a positive integer, got number 0$/);
  refuses(() => experiment.emitSlurm({ config: 'a.json', store: 'r', count: 2, name: 'x', gpus: 1 } as never), /^emitSlurm: options\.gpus: unknown key$/);
  await refusesAsync(() => experiment.runStudies([], { store: 'r', workers: -1 }), /^runStudies: options\.workers: must be a non-negative integer, got number -1$/);
  await refusesAsync(() => experiment.runStudies([], {} as never), /^runStudies: options\.store: required$/);
  await refusesAsync(() => experiment.writeReport([], { dir: 'x' } as never), /^writeReport: options\.out: required; options\.dir: unknown key$/);
  await refusesAsync(() => experiment.runDemo('out', { quick: 'yes' } as never), /^runDemo: options\.quick: expected boolean, got string "yes"$/);
  await refusesAsync(() => data.downloadDataset('cifar10', { dataDir: '/tmp/x', retries: 2 } as never), /^downloadDataset: options\.retries: unknown key$/);
});
