// Parity with the paper's PyTorch code through the fixtures in ../shared/golden: the exact
// state-dict layout of its ResNet-18, its eval-mode logits, and the BN warm-up's running stats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createModel } from '../../src/models/index.js';
import { prunableParameters } from '../../src/prune/index.js';
import { loadStateDictFile } from '../../src/nn/serialize.js';
import { loadTensors, readSafetensors } from '../../src/tensor/safetensors.js';
import { noGrad } from '../../src/autograd/index.js';
import * as F from '../../src/autograd/ops/index.js';
import { assertParity } from '../helpers/golden.js';

// dist/test/models -> the repository root -> its sibling shared/golden
const GOLDEN = fileURLToPath(new URL('../../../../shared/golden', import.meta.url));
const cases = existsSync(GOLDEN) ? readdirSync(GOLDEN).filter((d) => existsSync(join(GOLDEN, d, 'meta.json'))) : [];
const skip = cases.length === 0 ? `golden fixtures not found at ${GOLDEN}` : false;

interface Meta {
  arch: string; width_divisor: number; channel_widths: number[]; num_classes: number; in_channels: number; image_size: number;
  state_dict_order: { name: string; shape: number[]; dtype: string }[];
  params: { name: string; shape: number[]; prunable: boolean }[];
}
const meta = (c: string): Meta => JSON.parse(readFileSync(join(GOLDEN, c, 'meta.json'), 'utf8')) as Meta;
const build = (m: Meta) => createModel(m.arch, { width: 1 / m.width_divisor, numClasses: m.num_classes, inChannels: m.in_channels, imageSize: m.image_size });

test('golden: resnet18 state-dict keys, order, shapes and dtypes', { skip }, () => {
  for (const c of cases) {
    const m = meta(c);
    const model = build(m);
    const sd = model.stateDict();
    const ints = model.int64Keys();
    const mine = [...sd].map(([name, t]) => ({ name, shape: [...t.shape], dtype: ints.has(name) ? 'torch.int64' : 'torch.float32' }));
    assert.deepEqual(mine, m.state_dict_order, c);
    // The widths the fixture was built at.
    assert.deepEqual([1, 2, 3, 4].map((s) => sd.get(`layer${s}.0.conv1.weight`)!.shape[0]), m.channel_widths, c);
    // The file agrees with meta.json, I64 counters included (Python's writer sorts its entries).
    const file = readSafetensors(join(GOLDEN, c, 'model.safetensors'));
    const byName = (a: [string, string, number[]][]) => a.sort((x, y) => (x[0] < y[0] ? -1 : 1));
    assert.deepEqual(byName([...file.tensors].map(([n, e]) => [n, e.dtype, e.shape])), byName(m.state_dict_order.map((e) => [e.name, e.dtype === 'torch.int64' ? 'I64' : 'F32', e.shape])), c);
  }
});

test('golden: named_parameters order and the reference prunable rule', { skip }, () => {
  for (const c of cases) {
    const m = meta(c);
    const model = build(m);
    assert.deepEqual(model.namedParameters().map(([n, t]) => ({ name: n, shape: [...t.shape] })), m.params.map((p) => ({ name: p.name, shape: p.shape })), c);
    assert.deepEqual(prunableParameters(model, 'reference'), m.params.filter((p) => p.prunable).map((p) => p.name), c);
    assert.ok(prunableParameters(model, 'reference').includes('layer2.0.shortcut.1.weight'));
    assert.ok(!prunableParameters(model, 'fixed').includes('layer2.0.shortcut.1.weight'));
  }
});

test('golden: eval-mode logits of model and warm_model match PyTorch to 1e-4', { skip }, () => {
  for (const c of cases) {
    const m = meta(c);
    const x = loadTensors(join(GOLDEN, c, 'batch.safetensors')).get('x')!;
    const logits = loadTensors(join(GOLDEN, c, 'logits.safetensors'));
    for (const [file, key] of [['model', 'logits'], ['warm_model', 'logits_warm']] as const) {
      const model = build(m);
      loadStateDictFile(model, join(GOLDEN, c, `${file}.safetensors`));
      model.eval();
      const got = noGrad(() => model.forward(x));
      assert.deepEqual([...got.shape], [...logits.get(key)!.shape], `${c} ${key}: shape`);
      assertParity(new Map([[key, got]]), new Map([[key, logits.get(key)!]]), 0, `${c} ${key}`);
    }
  }
});

test('golden: BN warm-up (train mode, 4 batches of 16, no grad) reproduces warm_model', { skip }, () => {
  const c = cases.includes('tiny_resnet18_w32_seed0') ? 'tiny_resnet18_w32_seed0' : cases[0]!;
  const m = meta(c);
  const model = build(m);
  loadStateDictFile(model, join(GOLDEN, c, 'model.safetensors'));
  const xw = loadTensors(join(GOLDEN, c, 'warmup.safetensors')).get('x_warm')!;
  model.train();
  noGrad(() => { for (let b = 0; b < 4; b++) model.forward(F.slice(xw, 0, 16 * b, 16 * (b + 1))); });
  model.eval();
  const want = loadTensors(join(GOLDEN, c, 'warm_model.safetensors'));
  for (const [name, t] of model.stateDict()) if (name.endsWith('num_batches_tracked')) assert.equal(t.item(), 4, name);
  assertParity(model.stateDict(), want, 0, `${c} warm_model`);
});
