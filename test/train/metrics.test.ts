// Metrics on hand-made logits whose answers are worked out by hand (see the comments), and
// evaluate()'s contract: eval mode, no graph, mode restored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { isGradEnabled } from '../../src/autograd/graph.js';
import { Module } from '../../src/nn/module.js';
import { computeMetrics, evaluate, MetricAccumulator, rankOf, argmaxRow } from '../../src/train/metrics.js';

// 5 samples, 7 classes; class 6 is never a label and never predicted.
const LOGITS = [
  [5, 1, 0, 0, 0, 0, -10], // y=0: predicted 0; rank 0
  [1, 2, 3, 4, 5, 6, -10], // y=0: predicted 5; 5 classes ahead -> not in top 5
  [0, 3, 3, 1, 0, 0, -10], // y=2: tie with class 1, which ranks ahead (lower index): rank 1, predicted 1
  [0, 3, 3, 1, 0, 0, -10], // y=1: rank 0, predicted 1
  [0, 0, 0, 0, 9, 0, -10], // y=3: class 4 and the tied classes 0, 1, 2 rank ahead: rank 4, in top 5; predicted 4
];
const Y = [0, 0, 2, 1, 3];

test('top-1, top-5 with ties broken by the lower class index', () => {
  const flat = LOGITS.flat();
  assert.deepEqual(Y.map((y, i) => rankOf(flat, 7, i, y)), [0, 5, 1, 0, 4]);
  assert.deepEqual(Y.map((_, i) => argmaxRow(flat, 7, i)), [0, 5, 1, 1, 4]);
  const m = computeMetrics(tensor(LOGITS), Y);
  assert.equal(m.count, 5);
  assert.equal(m.top1, 2 / 5);
  assert.equal(m.top5, 4 / 5);
});

test('per-class and macro precision / recall / F1, zero_division = 0, macro over present classes', () => {
  const m = computeMetrics(tensor(LOGITS), Y);
  // (true, predicted): (0,0) (0,5) (2,1) (1,1) (3,4)
  assert.deepEqual(m.confusion[0], [1, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(m.confusion[2], [0, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(m.perClass.support, [2, 1, 1, 1, 0, 0, 0]);
  assert.deepEqual(m.perClass.predicted, [1, 2, 0, 0, 1, 1, 0]);
  assert.deepEqual(m.perClass.precision, [1, 0.5, 0, 0, 0, 0, 0]);
  assert.deepEqual(m.perClass.recall, [0.5, 1, 0, 0, 0, 0, 0]);
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);
  close(m.perClass.f1[0]!, 2 / 3);
  close(m.perClass.f1[1]!, 2 / 3);
  // Classes 0..5 occur (labels or predictions); class 6 does not and is left out, as sklearn does.
  close(m.precision, 1.5 / 6);
  close(m.recall, 1.5 / 6);
  close(m.f1, (4 / 3) / 6);
});

test('loss is the mean cross-entropy; label smoothing only when asked', () => {
  const m = computeMetrics(tensor(LOGITS), Y);
  let s = 0;
  LOGITS.forEach((row, i) => {
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
    s += lse - row[Y[i]!]!;
  });
  assert.ok(Math.abs(m.loss - s / 5) < 1e-5, `${m.loss} vs ${s / 5}`);
  assert.ok(computeMetrics(tensor(LOGITS), Y, { labelSmoothing: 0.1 }).loss !== m.loss);
});

test('NaN logits rank above every number, as in torch.topk / argmax', () => {
  const l = [NaN, 1, 2];
  assert.equal(argmaxRow(l, 3, 0), 0);
  assert.equal(rankOf(l, 3, 0, 2), 1);
  assert.equal(rankOf(l, 3, 0, 0), 0);
});

test('accumulating batches equals one batch; labels out of range are refused', () => {
  const acc = new MetricAccumulator(7);
  acc.add(tensor(LOGITS.slice(0, 2)), Y.slice(0, 2), 0);
  acc.add(tensor(LOGITS.slice(2)), Y.slice(2), 0);
  const a = acc.result(), b = computeMetrics(tensor(LOGITS), Y);
  assert.deepEqual({ ...a, loss: 0 }, { ...b, loss: 0 });
  assert.throws(() => acc.add(tensor([[1, 2, 3, 4, 5, 6, 7]]), [7]), /label 7/);
});

class Probe extends Module {
  sawTraining: boolean[] = [];
  sawGrad: boolean[] = [];
  w: Tensor;
  constructor() {
    super();
    this.w = this.registerParameter('w', tensor([0]))!;
  }
  forward(x: Tensor): Tensor {
    this.sawTraining.push(this.training);
    this.sawGrad.push(isGradEnabled());
    return x;
  }
}

test('evaluate runs in eval mode under noGrad over every batch and restores the mode', async () => {
  const p = new Probe().train();
  const batches = [
    { x: tensor(LOGITS.slice(0, 3)), y: Int32Array.from(Y.slice(0, 3)) },
    { x: tensor(LOGITS.slice(3)), y: Int32Array.from(Y.slice(3)) },
  ];
  const m = await evaluate(p, batches);
  assert.deepEqual(p.sawTraining, [false, false]);
  assert.deepEqual(p.sawGrad, [false, false]);
  assert.equal(p.training, true);
  assert.equal(m.top1, 2 / 5);
  // An async source (a loader) works the same way.
  async function* gen(): AsyncGenerator<{ x: Tensor; y: Int32Array }> { yield* batches; }
  assert.deepEqual(await evaluate(p, () => gen()), m);
});
