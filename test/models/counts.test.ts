// Parameter counts of the zoo: the published ones, built for real, and the listing's arithmetic
// against built models at non-default options.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, listModels, countParameters, modelNames, type CreateOptions } from '../../src/models/index.js';
import { Generator } from '../../src/tensor/random.js';

// Counting needs the real modules, not their random values: skipping the draws keeps building the
// 86M-parameter ViT-Base to an allocation.
class NoDraw extends Generator {
  override fillUniform(): void {}
  override fillNormal(): void {}
}
const gen = new NoDraw(0);

const PUBLISHED: [string, CreateOptions, number][] = [
  ['resnet18', {}, 11_173_962],
  ['resnet18', { numClasses: 100 }, 11_220_132],
  ['resnet34', {}, 21_282_122],
  ['resnet50', {}, 23_520_842],
  ['resnet18_tiny', {}, 11_271_432],
  ['vgg19', {}, 20_040_522],
  ['resnet20', {}, 272_474],
  ['resnet18_imagenet', {}, 11_689_512],
  ['resnet50_imagenet', {}, 25_557_032],
  ['vit_tiny_patch16_224', {}, 5_717_416],
  ['vit_small_patch16_224', {}, 22_050_664],
  ['vit_base_patch16_224', {}, 86_567_656],
];

test('published parameter counts, built', () => {
  for (const [name, o, want] of PUBLISHED) {
    assert.equal(createModel(name, { ...o, gen }).numParameters(), want, `${name} ${JSON.stringify(o)}`);
    assert.equal(countParameters(name, o), want, `${name} ${JSON.stringify(o)} (arithmetic)`);
  }
});

test('listModels: every model, with counts at its defaults', () => {
  const list = listModels();
  assert.deepEqual(list.map((m) => m.name), modelNames());
  const by = new Map(list.map((m) => [m.name, m]));
  for (const [name, o, want] of PUBLISHED) if (Object.keys(o).length === 0) assert.equal(by.get(name)!.parameterCount, want, name);
  assert.equal(by.get('resnet18_tiny')!.defaultOptions.numClasses, 200);
  assert.equal(by.get('resnet18_tiny')!.defaultOptions.imageSize, 64);
  for (const n of ['resnet32', 'resnet56', 'vgg11', 'vgg13', 'vgg16', 'lenet5', 'mlp', 'vit_tiny_patch4_32', 'vit_small_patch4_32']) assert.ok(by.has(n), n);
});

test('count arithmetic matches built models at small, odd options', () => {
  const variants: CreateOptions[] = [
    { width: 1 / 8 },
    { width: 1 / 16, numClasses: 7, inChannels: 1, imageSize: 28 },
    { width: 0.3, numClasses: 3 },
    { width: 1 / 64, imageSize: 64, init: 'kaiming_normal' },
  ];
  for (const name of modelNames()) {
    const vit = name.startsWith('vit_');
    for (const v of vit ? [{ dim: 24, depth: 2, numHeads: 3 }, { dim: 16, depth: 1, numHeads: 2, mlpRatio: 2.5, patchSize: 8, numClasses: 5, inChannels: 1 }] as CreateOptions[] : variants) {
      if (name.startsWith('vgg') && (v.imageSize ?? 32) < 32) continue;
      const o: CreateOptions = vit ? { imageSize: 32, patchSize: 4, ...v } : v;
      assert.equal(countParameters(name, o), createModel(name, { ...o, gen }).numParameters(), `${name} ${JSON.stringify(o)}`);
    }
  }
});

test('width multiplier scales channels, rounded, at least 1', () => {
  const m = createModel('resnet18', { width: 1 / 8 });
  assert.deepEqual([1, 2, 3, 4].map((s) => m.stateDict().get(`layer${s}.0.conv2.weight`)!.shape[0]), [8, 16, 32, 64]);
  const v = createModel('vgg19', { width: 1 / 8 });
  assert.deepEqual(v.stateDict().get('features.conv_0.weight')!.shape, [8, 3, 3, 3]);
  assert.deepEqual(v.stateDict().get('linear.weight')!.shape, [10, 64]);
  const tiny = createModel('resnet20', { width: 1 / 100 });
  assert.equal(tiny.stateDict().get('conv.weight')!.shape[0], 1);
});

test('createModel refuses unknown models and options by name', () => {
  assert.throws(() => createModel('resnet19'), /unknown model "resnet19".*resnet18/);
  assert.throws(() => createModel('resnet18', { dim: 3 } as CreateOptions), /unknown option dim/);
  assert.throws(() => createModel('resnet18', { width: 0 }), /width/);
  assert.throws(() => createModel('resnet18', { init: 'timm' }), /init/);
  assert.throws(() => createModel('vgg19', { imageSize: 28 }), /at least 32x32/);
});
