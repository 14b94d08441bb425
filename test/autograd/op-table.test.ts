// The op table is the one list of ops: every entry is named by its key, recorded nodes and trace
// events carry entries of the table, the exporter's supported ops are the entries with an ONNX
// rule, and the per-sample tracker reads the rules from the entries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import * as F from '../../src/autograd/ops/index.js';
import { OPS, allOps } from '../../src/autograd/ops/table.js';
import { withTrace } from '../../src/autograd/trace.js';
import type { Node } from '../../src/autograd/tape.js';
import type { OpDef } from '../../src/autograd/op.js';
import { onnxSupportedOps } from '../../src/export/onnx.js';

const gen = new Generator(3, 'op-table-test');
const r = (...shape: number[]): Tensor => randn(shape, gen, { requiresGrad: true });

test('every entry is named by its key; a vjp comes with a kernel, a per-sample rule with a vjp', () => {
  const ops = allOps();
  assert.ok(ops.length >= 60, `only ${ops.length} ops`);
  for (const [key, op] of Object.entries(OPS as Record<string, OpDef>)) {
    assert.equal(op.name, key);
    if (op.vjp) assert.ok(op.kernel, `${key}: a vjp without a kernel`);
    if (op.perSample) assert.ok(op.vjp, `${key}: a per-sample rule without a vjp`);
  }
  assert.equal(new Set(ops.map((o) => o.name)).size, ops.length);
});

test('the ONNX exporter supports exactly the entries with an ONNX rule', () => {
  assert.deepEqual(onnxSupportedOps().sort(), allOps().filter((o) => o.onnx).map((o) => o.name).sort());
  for (const name of ['conv2d', 'linear', 'batchNorm', 'relu', 'add', 'reshape', 'sum']) assert.ok(onnxSupportedOps().includes(name), name);
});

test('recorded nodes and trace events carry the entries of the table', () => {
  const table = new Set(allOps());
  const x = r(2, 3, 6, 6), w = r(4, 3, 3, 3), b = r(4);
  const { result, events } = withTrace(() => F.sum(F.relu(F.maxPool2d(F.conv2d(x, w, b, { padding: 1 }), 2))));
  assert.deepEqual(events.map((e) => e.op.name), ['conv2d', 'maxPool2d', 'relu', 'sum']);
  for (const e of events) assert.ok(table.has(e.op), e.op.name);
  const seen: string[] = [];
  const stack: Tensor[] = [result];
  while (stack.length) {
    const node = stack.pop()!.gradFn as Node | null;
    if (!node) continue;
    assert.ok(table.has(node.op), node.name);
    seen.push(node.name);
    stack.push(...node.inputs);
  }
  assert.deepEqual(seen, ['sum', 'relu', 'maxPool2d', 'conv2d']);
});

test('the per-sample rules sit on the entries of the ops through which parameters enter', () => {
  const withRule = allOps().filter((o) => o.perSample).map((o) => `${o.name}:${o.perSample!.inputs.join(',')}${o.perSample!.rule ? '' : ' (alias)'}`);
  assert.deepEqual(withRule.sort(), ['channelScaleShift:1,2', 'conv2d:1,2', 'conv2dInputGrad:1', 'mm:1', 'reshape:0 (alias)']);
});
