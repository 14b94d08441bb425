import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import * as F from '../../src/autograd/index.js';
import { gradcheck, hvpcheck } from '../../src/autograd/gradcheck.js';

const gen = new Generator(1);
const r = (...shape: number[]) => randn(shape, gen, { dtype: 'float64', requiresGrad: true });

test('smoke: small CNN first and second derivatives', () => {
  const x = r(2, 3, 6, 6), w = r(4, 3, 3, 3), b = r(4), lw = r(5, 16);
  const f = (x: Tensor, w: Tensor, b: Tensor, lw: Tensor) => {
    let h = F.conv2d(x, w, b, { padding: 1, stride: 1 });
    h = F.tanh(h);
    h = F.maxPool2d(h, 3, { stride: 2 });
    h = F.flatten(h, 1);
    h = F.linear(h, lw);
    return F.crossEntropy(h, [1, 3]);
  };
  const g1 = gradcheck(f, [x, w, b, lw]);
  assert.ok(g1.ok, g1.worst);
  const g2 = hvpcheck(f, [x, w, b, lw]);
  assert.ok(g2.ok, g2.worst);
});
