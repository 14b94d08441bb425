// State-dict names of the zoo against the reference codes' conventions, forward shapes, and the
// two prunable-set semantics.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../src/models/index.js';
import { prunableParameters } from '../../src/prune/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad } from '../../src/autograd/index.js';

const gen = new Generator(3, 'test');
const keys = (name: string, o = {}) => [...createModel(name, o).stateDict().keys()];

test('vgg19: one running index across conv/bn/relu/maxpool, conv with bias, linear head', () => {
  const m = createModel('vgg19', { width: 1 / 16 });
  const k = [...m.stateDict().keys()];
  assert.deepEqual(k.slice(0, 8), [
    'features.conv_0.weight', 'features.conv_0.bias', 'features.bn_1.weight', 'features.bn_1.bias',
    'features.bn_1.running_mean', 'features.bn_1.running_var', 'features.bn_1.num_batches_tracked', 'features.conv_3.weight',
  ]);
  // conv_3 bn_4 relu_5 maxpool_6 conv_7 ...
  assert.ok(k.includes('features.conv_7.weight') && k.includes('features.bn_8.running_var'));
  assert.deepEqual(m.namedModules().map(([n]) => n).filter((n) => n.startsWith('features.maxpool_')),
    ['features.maxpool_6', 'features.maxpool_13', 'features.maxpool_26', 'features.maxpool_39', 'features.maxpool_52']);
  assert.equal(m.getModule('features')!.getModule('avgpool') !== undefined, true);
  assert.equal(k.filter((n) => n.endsWith('conv_49.weight')).length, 1);
  assert.deepEqual(k.slice(-2), ['linear.weight', 'linear.bias']);
  assert.equal(k.filter((n) => /conv_\d+\.weight$/.test(n)).length, 16);
  const y = noGrad(() => m.eval().forward(randn([2, 3, 32, 32], gen)));
  assert.deepEqual(y.shape, [2, 10]);
});

test('resnet20: OpenLTH names, projection shortcuts only where the shape changes', () => {
  const k = keys('resnet20');
  assert.deepEqual(k.slice(0, 7), ['conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'blocks.0.conv1.weight']);
  assert.deepEqual(k.filter((n) => n.includes('shortcut') && n.endsWith('weight')), ['blocks.3.shortcut.0.weight', 'blocks.3.shortcut.1.weight', 'blocks.6.shortcut.0.weight', 'blocks.6.shortcut.1.weight']);
  assert.ok(k.includes('blocks.8.bn2.num_batches_tracked') && !k.includes('blocks.9.conv1.weight'));
  assert.deepEqual(k.slice(-2), ['fc.weight', 'fc.bias']);
  const m = createModel('resnet20', { width: 1 / 4 });
  assert.deepEqual(noGrad(() => m.eval().forward(randn([3, 3, 32, 32], gen))).shape, [3, 10]);
});

test('resnet18/50 CIFAR: kuangliu names; empty shortcuts hold no state', () => {
  const k = keys('resnet18', { width: 1 / 16 });
  assert.ok(k.includes('layer2.0.shortcut.0.weight') && k.includes('layer2.0.shortcut.1.running_mean'));
  assert.ok(!k.some((n) => n.startsWith('layer1.0.shortcut') || n.startsWith('layer2.1.shortcut')));
  const k50 = keys('resnet50', { width: 1 / 16 });
  assert.ok(k50.includes('layer1.0.shortcut.0.weight') && k50.includes('layer1.0.conv3.weight') && k50.includes('layer4.2.bn3.bias'));
  assert.deepEqual(k50.slice(-2), ['linear.weight', 'linear.bias']);
  const m = createModel('resnet50', { width: 1 / 16, numClasses: 4 });
  assert.deepEqual(noGrad(() => m.eval().forward(randn([2, 3, 32, 32], gen))).shape, [2, 4]);
  const fm = createModel('resnet18', { width: 1 / 16, inChannels: 1, imageSize: 28 });
  assert.deepEqual(noGrad(() => fm.eval().forward(randn([2, 1, 28, 28], gen))).shape, [2, 10]);
  const t = createModel('resnet18_tiny', { width: 1 / 16 });
  assert.deepEqual(noGrad(() => t.eval().forward(randn([1, 3, 64, 64], gen))).shape, [1, 200]);
});

test('torchvision ResNets: downsample only where needed, fc head', () => {
  const k = keys('resnet18_imagenet', { width: 1 / 16 });
  assert.deepEqual(k.slice(0, 2), ['conv1.weight', 'bn1.weight']);
  assert.ok(k.includes('layer2.0.downsample.0.weight') && k.includes('layer2.0.downsample.1.running_var'));
  assert.ok(!k.some((n) => n.startsWith('layer1.0.downsample')));
  const k50 = keys('resnet50_imagenet', { width: 1 / 16 });
  assert.ok(k50.includes('layer1.0.downsample.0.weight') && !k50.includes('layer1.1.downsample.0.weight'));
  const m = createModel('resnet50_imagenet', { width: 1 / 16, numClasses: 5 });
  assert.equal(m.stateDict().get('conv1.weight')!.shape[2], 7);
  assert.deepEqual(noGrad(() => m.eval().forward(randn([1, 3, 64, 64], gen))).shape, [1, 5]);
});

test('ViT: timm names and order, timm init', () => {
  const m = createModel('vit_tiny_patch4_32', { dim: 24, depth: 2, numHeads: 3, seed: 1 });
  const sd = m.stateDict();
  const k = [...sd.keys()];
  assert.deepEqual(k.slice(0, 4), ['cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias']);
  assert.deepEqual(k.slice(4, 16), [
    'blocks.0.norm1.weight', 'blocks.0.norm1.bias', 'blocks.0.attn.qkv.weight', 'blocks.0.attn.qkv.bias', 'blocks.0.attn.proj.weight', 'blocks.0.attn.proj.bias',
    'blocks.0.norm2.weight', 'blocks.0.norm2.bias', 'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc1.bias', 'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
  ]);
  assert.deepEqual(k.slice(-4), ['norm.weight', 'norm.bias', 'head.weight', 'head.bias']);
  assert.deepEqual(sd.get('pos_embed')!.shape, [1, 65, 24]);
  assert.deepEqual(sd.get('cls_token')!.shape, [1, 1, 24]);
  assert.deepEqual(sd.get('blocks.1.mlp.fc1.weight')!.shape, [96, 24]);
  const std = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0) / a.length);
  assert.ok(Math.abs(std(sd.get('blocks.0.mlp.fc1.weight')!.data) - 0.02) < 0.002);
  assert.ok(std(sd.get('cls_token')!.data) < 1e-5);
  assert.ok(sd.get('blocks.0.attn.qkv.bias')!.data.every((v) => v === 0));
  assert.deepEqual(noGrad(() => m.eval().forward(randn([2, 3, 32, 32], gen))).shape, [2, 10]);
});

test('prunableParameters: fixed skips the head, biases, norms and embeddings', () => {
  const r = createModel('resnet18', { width: 1 / 16 });
  const fixed = prunableParameters(r, 'fixed');
  assert.equal(fixed[0], 'conv1.weight');
  assert.ok(fixed.includes('layer3.0.shortcut.0.weight'));
  assert.ok(fixed.every((n) => n.endsWith('.weight') && !n.includes('bn') && !n.startsWith('linear') && !n.includes('shortcut.1')));
  assert.equal(fixed.length, 1 + 16 + 3);
  const order = r.namedParameters().map(([n]) => n);
  assert.deepEqual([...fixed].sort((a, b) => order.indexOf(a) - order.indexOf(b)), fixed);

  const v = createModel('vit_tiny_patch4_32', { dim: 12, depth: 1, numHeads: 2 });
  assert.deepEqual(prunableParameters(v, 'fixed'), ['patch_embed.proj.weight', 'blocks.0.attn.qkv.weight', 'blocks.0.attn.proj.weight', 'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc2.weight']);
  // The paper's substring rule is blind to norms and embeddings without "bn" in their names.
  assert.ok(prunableParameters(v, 'reference').includes('pos_embed'));
  assert.deepEqual(prunableParameters(createModel('resnet20', { width: 1 / 4 }), 'fixed').slice(-1), ['blocks.8.conv2.weight']);
  const g = createModel('vgg11', { width: 1 / 16 });
  assert.deepEqual(prunableParameters(g, 'reference'), prunableParameters(g, 'fixed'));
  assert.equal(createModel('lenet5').classifierName, 'fc3');
  assert.deepEqual(prunableParameters(createModel('lenet5'), 'fixed'), ['conv1.weight', 'conv2.weight', 'fc1.weight', 'fc2.weight']);
});
