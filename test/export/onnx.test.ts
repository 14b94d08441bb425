// pai -> ONNX -> onnxruntime-node: the exported graph computes what pai computes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/autograd/ops/index.js';
import { noGrad } from '../../src/autograd/index.js';
import { exportOnnx, ExportError } from '../../src/export/index.js';
import { Module } from '../../src/nn/module.js';
import { Conv2d, LayerNorm, Linear } from '../../src/nn/layers.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { CreateOptions } from '../../src/models/index.js';
import { argmaxRows, batchFor, forward, maxAbsDiff, prunedModel, runOnnx, topMargins } from './helpers.js';

const TOL = 1e-4;

const CASES: [string, string, CreateOptions][] = [
  ['resnet20 width 1/4', 'resnet20', { width: 0.25 }],
  ['vgg11 width 1/16', 'vgg11', { width: 1 / 16 }],
  ['lenet5', 'lenet5', {}],
  ['ViT dim 32, depth 2, patch 4 on 32x32', 'vit_tiny_patch4_32', { dim: 32, depth: 2, numHeads: 2 }],
];

for (const [label, name, opts] of CASES) {
  test(`ONNX round trip: ${label}, 98% sparse, matches pai within ${TOL} with the same top-1`, async () => {
    const model = prunedModel(name, opts);
    const ex = exportOnnx(model, { metadata: { model: name } });
    assert.ok(ex.initializers.length > 0);
    // Parameters keep their PyTorch state-dict names.
    for (const n of ex.initializers) assert.ok(model.stateDict().has(n), n);
    // A batch size that neither trace used: the batch dimension is dynamic.
    const x = batchFor(model, 16);
    const ref = forward(model, x);
    const got = await runOnnx(ex.bytes, x);
    assert.deepEqual([...got.dims], [...ref.shape]);
    const diff = maxAbsDiff(got.data, ref.data);
    assert.ok(diff <= TOL, `max |onnx - pai| = ${diff}`);
    const cols = ref.shape[1]!;
    const a = argmaxRows(ref.data, cols), b = argmaxRows(got.data, cols);
    const margins = topMargins(ref.data, cols);
    // Rows whose top two logits are within rounding of each other have no defined top-1.
    const decided = a.map((_, i) => i).filter((i) => margins[i]! > 2 * diff);
    assert.ok(decided.length >= 12, `only ${decided.length} rows with a clear top-1`);
    for (const i of decided) assert.equal(b[i], a[i], `row ${i}`);
  });
}

/** Everything the zoo does not use but the exporter maps, in one module. */
class KitchenSink extends Module {
  readonly conv = new Conv2d(3, 4, 3, { padding: 1, gen: new Generator(3) });
  readonly norm = new LayerNorm([6], { elementwiseAffine: false });
  readonly fc = new Linear(6, 5, { gen: new Generator(4) });
  constructor() {
    super();
    this.registerModule('conv', this.conv);
    this.registerModule('norm', this.norm);
    this.registerModule('fc', this.fc);
  }
  forward(x: Tensor): Tensor {
    let h = F.sigmoid(this.conv.forward(x));                                  // [N, 4, 9, 9]
    h = F.avgPool2d(h, 2, { ceilMode: true, countIncludePad: false });       // ceil mode adds a window: 5x5
    h = F.pad(h, [1, 0, 0, 1]);                                               // 6x6
    h = F.sub(F.maxPool2d(h, 3, { stride: 1, padding: 1 }), F.mulScalar(h, 0.5));
    h = F.div(h, F.addScalar(F.abs(h), 1));
    h = F.adaptiveAvgPool2d(h, 3);                                            // 6 -> 3 divides: AveragePool
    h = F.concat([h, F.neg(h)], 1);                                           // [N, 8, 3, 3]
    h = F.reshape(F.permute(h, [0, 2, 3, 1]), [x.shape[0]!, 12, 6]);        // [N, 12, 6]
    h = F.gelu(this.norm.forward(h), 'tanh');
    const att = F.softmax(F.matmul(h, F.transpose(h, 1, 2)), -1);            // [N, 12, 12]
    h = F.add(F.matmul(att, h), F.tanh(h));
    h = this.fc.forward(F.slice(h, 1, 2, 10));                                // linear on 3-d: MatMul + Add
    h = F.add(F.sum(h, 1), F.mean(F.exp(F.mulScalar(h, 0.1)), 1));           // [N, 5]
    return F.sub(F.logSoftmax(h, 1), F.max(h, 1, true));
  }
}

test('ONNX round trip: ops the zoo does not use (pooling modes, pad, matmul, softmax, reductions, ...)', async () => {
  const m = new KitchenSink();
  m.eval();
  const ex = exportOnnx(m, { inputShape: [3, 9, 9] });
  const x = randn([5, 3, 9, 9], new Generator(11));
  const ref = noGrad(() => m.forward(x));
  const got = await runOnnx(ex.bytes, x);
  assert.deepEqual([...got.dims], [5, 5]);
  assert.ok(maxAbsDiff(got.data, ref.data) <= TOL, `max diff ${maxAbsDiff(got.data, ref.data)}`);
  for (const op of ['AveragePool', 'MaxPool', 'Pad', 'MatMul', 'Softmax', 'LogSoftmax', 'ReduceSum', 'ReduceMax', 'LayerNormalization', 'Tanh', 'Concat']) {
    assert.ok(ex.opTypes.includes(op), `${op} missing from ${ex.opTypes.join(', ')}`);
  }
});

test('ONNX export at opset 20 uses the Gelu op and still matches', async () => {
  const model = prunedModel('vit_tiny_patch4_32', { dim: 16, depth: 1, numHeads: 2 });
  const ex = exportOnnx(model, { opset: 20 });
  assert.ok(ex.opTypes.includes('Gelu'));
  assert.ok(!ex.opTypes.includes('Erf'));
  const x = batchFor(model, 3);
  assert.ok(maxAbsDiff((await runOnnx(ex.bytes, x)).data, forward(model, x).data) <= TOL);
});

class Wrap extends Module {
  constructor(private readonly f: (x: Tensor) => Tensor) { super(); }
  forward(x: Tensor): Tensor { return this.f(x); }
}

test('ONNX export refuses what it cannot express, with a message that says why', () => {
  const shape = [2, 6, 6];
  assert.throws(() => exportOnnx(new Wrap((x) => F.adaptiveAvgPool2d(x, 4)), { inputShape: shape }), (e: Error) => e instanceof ExportError && /adaptive_avg_pool2d from 6x6 to 4x4/.test(e.message));
  assert.throws(() => exportOnnx(new Wrap((x) => F.avgPool2d(x, 2, { divisorOverride: 3 })), { inputShape: shape }), (e: Error) => e instanceof ExportError && /divisor_override/.test(e.message));
  // A value computed from the input outside the ops: the trace cannot see it, and says so.
  const hidden = new Wrap((x) => F.add(F.relu(x), new Tensor(Float32Array.from(x.data, (v) => v * 2), x.shape)));
  assert.throws(() => exportOnnx(hidden, { inputShape: shape }), (e: Error) => e instanceof ExportError && /depends on the input|batch/.test(e.message));
  assert.throws(() => exportOnnx(new Wrap((x) => x), { inputShape: shape }), ExportError);
  assert.throws(() => exportOnnx(new Wrap((x) => F.relu(x))), /inputShape/);
  assert.throws(() => exportOnnx(new Wrap((x) => F.relu(x)), { inputShape: shape, opset: 13 }), /opset/);
});

test('ONNX export leaves the model in the mode it found it and gives the same bytes twice', () => {
  const model = prunedModel('lenet5', {});
  model.train();
  const a = exportOnnx(model).bytes;
  assert.equal(model.training, true);
  assert.ok(model.namedModules().every(([, m]) => m.training));
  model.eval();
  assert.deepEqual(exportOnnx(model).bytes, a);
});

test('ONNX pooling agrees with pai in ceil mode, with and without padding counted, at even and odd sizes', async () => {
  const cases: [string, (x: Tensor) => Tensor][] = [
    ['avg, pad counted', (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: true })],
    ['avg, pad not counted', (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false })],
    ['avg, no pad', (x) => F.avgPool2d(x, 3, { stride: 2, ceilMode: true })],
    ['max, pad', (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true })],
    ['max, dilated', (x) => F.maxPool2d(x, 2, { stride: 2, dilation: 2, ceilMode: true })],
  ];
  for (const [label, f] of cases) {
    for (const side of [8, 9]) {
      const m = new Wrap(f);
      const x = randn([3, 2, side, side], new Generator(side));
      const ref = noGrad(() => m.forward(x));
      const got = await runOnnx(exportOnnx(m, { inputShape: [2, side, side] }).bytes, x);
      assert.deepEqual([...got.dims], [...ref.shape], `${label} ${side}`);
      assert.ok(maxAbsDiff(got.data, ref.data) <= 1e-6, `${label} ${side}`);
    }
  }
});
