// ONNX files exported by PyTorch (torchvision ResNet, VGG-BN, MobileNetV3, ViT) imported into pai:
// logits, gradients, Hessian-vector products, snip and fisher_diag scores and the batch-norm
// warm-up match what PyTorch computed on the same batch (fixtures from scripts/make-onnx-fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, hvp, noGrad } from '../../src/autograd/index.js';
import { crossEntropy } from '../../src/autograd/ops/index.js';
import { importOnnx, supportedOnnxOps } from '../../src/models/index.js';
import { prunableParameters } from '../../src/prune/index.js';
import { bnWarmup, pruneAtInit, scoreParameters } from '../../src/prune/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { compareSet, fixtureFiles, fixtureMeta, fixtureRef, NETWORKS } from './onnx-fixtures.js';

for (const net of NETWORKS) {
  const meta = fixtureMeta(net);
  const ref = fixtureRef(net);
  const x = ref.get('x')!, y = Int32Array.from(ref.get('y')!.data);
  for (const { file, opset } of fixtureFiles(net)) {
    const label = `${net} (opset ${opset})`;

    test(`ONNX import ${label}: PyTorch's state-dict names and shapes, prunable set and classifier`, () => {
      const model = importOnnx(file);
      const shapes = (es: [string, Tensor][]): string[] => es.map(([n, t]) => `${n} [${t.shape.join(',')}]`).sort();
      assert.deepEqual(shapes(model.namedParameters()), meta.parameters.map((p) => `${p.name} [${p.shape.join(',')}]`).sort());
      assert.deepEqual(shapes(model.namedBuffers()), meta.buffers.map((p) => `${p.name} [${p.shape.join(',')}]`).sort());
      assert.deepEqual([...prunableParameters(model, 'fixed')].sort(), [...meta.prunable].sort());
      assert.equal(model.classifierWeight, meta.classifier);
      assert.deepEqual(model.config, { numClasses: meta.num_classes, inChannels: 3, width: 1, imageSize: 32, init: 'default' });
      assert.equal(model.opset, opset);
      assert.deepEqual(model.warnings, []);
    });

    test(`ONNX import ${label}: logits, gradients and H v match PyTorch's`, () => {
      const model = importOnnx(file).eval();
      const params = model.namedParameters();
      const logits = noGrad(() => model.forward(x));
      assert.deepEqual(compareSet('logits', new Map([['v', logits]]), new Map([['logits.v', ref.get('logits')!]]), 'logits', meta.noise.logits), []);
      const g = grad(crossEntropy(model.forward(x), y), params.map(([, t]) => t));
      assert.deepEqual(compareSet('grad', new Map(params.map(([n], k) => [n, g[k]!])), ref, 'grad', meta.noise.grad), []);
      const v = params.map(([n]) => ref.get(`v.${n}`)!);
      const hv = hvp(() => crossEntropy(model.forward(x), y), params.map(([, t]) => t), v);
      assert.deepEqual(compareSet('hv', new Map(params.map(([n], k) => [n, hv[k]!])), ref, 'hv', meta.noise.hv), []);
    });

    test(`ONNX import ${label}: snip and fisher_diag scores match PyTorch's (mask batch 1, eval mode)`, () => {
      const model = importOnnx(file).eval();
      for (const c of ['snip', 'fisher_diag'] as const) {
        const s = scoreParameters(model, c, { x, y }, { batchSize: 1 });
        assert.deepEqual(compareSet(c, s, ref, c, meta.noise[c]), []);
      }
    });
  }

  if (meta.buffers.length > 0) {
    test(`ONNX import ${net}: the BN warm-up moves the running statistics as PyTorch does (ONNX momentum 0.9 = PyTorch 0.1)`, () => {
      const model = importOnnx(fixtureFiles(net)[0]!.file);
      bnWarmup(model, [x]);
      assert.equal(model.training, false);
      assert.deepEqual(compareSet('warm', new Map(model.namedBuffers()), ref, 'warm', meta.noise.logits), []);
    });
  }

  test(`ONNX import ${net}: masks are keyed by PyTorch's parameter names and shapes`, () => {
    const model = importOnnx(fixtureFiles(net)[0]!.file).eval();
    const { masks } = pruneAtInit(model, { criterion: 'magnitude', sparsity: 0.9, data: null });
    const shapes = new Map(meta.parameters.map((p) => [p.name, p.shape.join(',')]));
    const prunable = new Set(meta.prunable);
    for (const [n, m] of masks) {
      assert.equal(m.shape.join(','), shapes.get(n), n);
      // Only the prunable weights lose entries.
      assert.equal(m.data.every((v) => v === 1), !prunable.has(n), n);
    }
  });
}

test('ONNX import: the op list covers what torchvision networks export', () => {
  const ops = supportedOnnxOps();
  for (const op of ['Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'LayerNormalization', 'HardSwish', 'HardSigmoid', 'Clip', 'Erf', 'Softmax', 'Shape', 'Gather', 'Reshape', 'Expand']) {
    assert.ok(ops.includes(op), op);
  }
});
