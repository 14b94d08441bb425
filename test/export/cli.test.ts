// `pai export` as a user runs it: from a pai prune folder and from trainer checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelIdentity, readSparse, writeModelJson } from '../../src/export/index.js';
import { createModel } from '../../src/models/index.js';
import { loadStateDictFile } from '../../src/nn/serialize.js';
import { loadTensors, readSafetensors } from '../../src/tensor/safetensors.js';
import { saveCheckpoint } from '../../src/train/checkpoint.js';
import { pai, scratch } from '../cli/run.js';
import { batchFor, forward, maxAbsDiff, prunedModel, runOnnx } from './helpers.js';

const root = scratch('pai-export-cli-');
const pruned = join(root, 'pruned');
let prunedOk: Promise<void> | null = null;

function prunedFolder(): Promise<void> {
  prunedOk ??= pai(['prune', '--model', 'lenet5', '--criterion', 'magnitude', '--sparsity', '0.98', '--out', pruned, '-q']).then((r) => {
    assert.equal(r.code, 0, r.stderr);
  });
  return prunedOk;
}

function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength), y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return x.equals(y);
}

test('pai export from a pai prune folder: onnx runs in onnxruntime-node, safetensors and sparse keep the weights bit for bit', async () => {
  await prunedFolder();
  const model = createModel('lenet5');
  loadStateDictFile(model, join(pruned, 'model.safetensors'));
  model.eval();
  const stored = readSafetensors(join(pruned, 'model.safetensors')).tensors;

  const onnx = join(root, 'lenet.onnx');
  let r = await pai(['export', '--checkpoint', pruned, '--format', 'onnx', '--out', onnx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ONNX opset 17/);
  assert.match(r.stdout, /model lenet5 .* from .*report\.json/);
  const x = batchFor(model, 6);
  const got = await runOnnx(new Uint8Array(readFileSync(onnx)), x);
  assert.ok(maxAbsDiff(got.data, forward(model, x).data) <= 1e-4);

  const st = join(root, 'lenet.safetensors'), masks = join(root, 'lenet.masks.safetensors');
  r = await pai(['export', '--checkpoint', pruned, '--format', 'safetensors', '--out', st, '--masks-out', masks]);
  assert.equal(r.code, 0, r.stderr);
  const back = readSafetensors(st);
  assert.deepEqual([...back.tensors.keys()], [...stored.keys()]);
  for (const [k, e] of stored) assert.ok(sameBits(e.data, back.tensors.get(k)!.data), k);
  assert.equal(back.metadata['model'], 'lenet5');
  assert.deepEqual([...loadTensors(masks).keys()], [...loadTensors(join(pruned, 'masks.safetensors')).keys()]);

  const sp = join(root, 'lenet.sparse.safetensors');
  r = await pai(['export', '--checkpoint', pruned, '--format', 'sparse', '--out', sp]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /x smaller; \d+ of \d+ tensors stored sparse, keeping \d+ of their \d+ values/);
  const dec = readSparse(sp).entries;
  for (const [k, e] of stored) assert.ok(sameBits(e.data, dec.get(k)!.data), k);
});

test('pai export from trainer checkpoints: best/ by default, --which last, identity from model.json', async () => {
  const dir = join(root, 'train');
  const best = prunedModel('resnet20', { width: 0.25 }, 0.98, 1);
  const last = prunedModel('resnet20', { width: 0.25 }, 0.98, 2);
  saveCheckpoint(join(dir, 'best'), { model: best, trainer: { format: 'pai-best/1' } });
  saveCheckpoint(join(dir, 'last'), { model: last, trainer: { format: 'pai-trainer/1' } });

  // No record of the model anywhere: the user is told to name it.
  let r = await pai(['export', '--checkpoint', dir, '--format', 'onnx', '--out', join(root, 'x.onnx')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^pai: .*does not record its model.*--model/);

  r = await pai(['export', '--checkpoint', dir, '--model', 'resnet20', '--width', '1/4', '--format', 'safetensors', '--out', join(root, 'best.safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(sameBits(readSafetensors(join(root, 'best.safetensors')).tensors.get('fc.weight')!.data, best.stateDict().get('fc.weight')!.data));

  writeModelJson(dir, modelIdentity('resnet20', best));
  const onnx = join(root, 'last.onnx');
  r = await pai(['export', '--checkpoint', dir, '--which', 'last', '--format', 'onnx', '--out', onnx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /model\.json/);
  const x = batchFor(last, 4);
  assert.ok(maxAbsDiff((await runOnnx(new Uint8Array(readFileSync(onnx)), x)).data, forward(last, x).data) <= 1e-4);
});

test('pai export user errors exit 2 with one pai: line', async () => {
  await prunedFolder();
  const out = join(root, 'e.onnx');
  const torn = join(root, 'torn');
  saveCheckpoint(torn, { model: createModel('lenet5'), trainer: {} });
  writeFileSync(join(torn, 'trainer.json'), '{"changed": true, "size": "differs"}');
  const empty = join(root, 'empty');
  mkdirSync(empty, { recursive: true });
  const cases: [string[], RegExp][] = [
    [['--checkpoint', join(root, 'nope'), '--format', 'onnx', '--out', out], /no such folder/],
    [['--checkpoint', empty, '--format', 'onnx', '--out', out], /not a checkpoint or pruned-model folder/],
    [['--checkpoint', pruned, '--format', 'tflite', '--out', out], /tflite/],
    [['--checkpoint', pruned, '--out', out], /--format/],
    [['--checkpoint', pruned, '--format', 'onnx', '--out', join(root, 'no-such-dir', 'm.onnx')], /does not exist/],
    [['--checkpoint', pruned, '--format', 'onnx', '--opset', '12', '--out', out], /--opset must be from 17 to 21/],
    [['--checkpoint', torn, '--model', 'lenet5', '--format', 'onnx', '--out', out], /trainer\.json has \d+ bytes/],
    [['--checkpoint', pruned, '--model', 'vgg11', '--format', 'onnx', '--out', out], /cannot load state dict/],
    [['--checkpoint', pruned, '--model', 'no_such_model', '--format', 'onnx', '--out', out], /unknown model/],
    [['--checkpoint', pruned, '--which', 'best', '--format', 'onnx', '--out', out], /no complete 'best' checkpoint/],
    [['--checkpoint', join(root, 'train'), '--which', 'last', '--format', 'safetensors', '--masks-out', join(root, 'm.safetensors'), '--out', join(root, 'w.safetensors')], /has no masks/],
  ];
  for (const [args, re] of cases) {
    const r = await pai(['export', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^pai: /);
    assert.match(r.stderr, re, args.join(' '));
  }
});
