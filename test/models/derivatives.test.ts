// First and second derivatives through whole model pieces, in float64 against finite differences:
// the pruning criteria rest on Hessian-vector products through exactly these graphs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import * as F from '../../src/autograd/ops/index.js';
import { gradcheck, hvpcheck } from '../../src/autograd/gradcheck.js';
import { VitBlock, createModel } from '../../src/models/index.js';

const gen = new Generator(11, 'test');

test('ViT block (LayerNorm, attention, GELU MLP, residuals): gradient and HVP in float64', () => {
  const block = new VitBlock(8, 2, 2, { gen }).to('float64');
  for (const p of block.parameters()) gen.fillNormal(p.data, 0, 0.5);
  const x = randn([2, 5, 8], gen, { dtype: 'float64', requiresGrad: true });
  const inputs = [x, ...block.parameters()];
  const f = () => block.forward(x);
  const g = gradcheck(f, [x]);
  assert.ok(g.ok, g.worst);
  const h = hvpcheck(f, inputs);
  assert.ok(h.ok, h.worst);
});

test('lenet5 with cross-entropy: HVP over every parameter in float64', () => {
  const model = createModel('lenet5', { width: 0.5, imageSize: 20, numClasses: 4, seed: 2 }).to('float64');
  const x = randn([2, 1, 20, 20], gen, { dtype: 'float64' });
  const params = model.parameters();
  assert.ok(params.every((p) => p.dtype === 'float64'));
  const h = hvpcheck(() => F.crossEntropy(model.forward(x), [1, 3]), params);
  assert.ok(h.ok, h.worst);
});
