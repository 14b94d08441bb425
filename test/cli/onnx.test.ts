// `pai ... --onnx FILE` and `pai inspect`: PyTorch-exported graphs through the command line, and bad
// files refused with exit 2 and nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, loadTensors } from '../../src/tensor/safetensors.js';
import { compareSet, editedOnnx, fixtureMeta, fixtureRef, ONNX_FIXTURES } from '../models/onnx-fixtures.js';
import { assertUserError, pai, scratch } from './run.js';

const VGG = join(ONNX_FIXTURES, 'vgg_bn.onnx');

function batchFile(dir: string): string {
  const f = readSafetensors(join(ONNX_FIXTURES, 'vgg_bn.ref.safetensors'));
  const file = join(dir, 'batch.safetensors');
  writeSafetensors(file, { x: f.tensors.get('x')!, y: f.tensors.get('y')! });
  return file;
}

test('pai score / mask --onnx: PyTorch names, scores that match PyTorch, masks on the prunable weights only', async () => {
  const dir = scratch();
  const data = batchFile(dir);
  const meta = fixtureMeta('vgg_bn');
  const r = await pai(['score', '--onnx', VGG, '--data', data, '--criterion', 'fisher_diag', '--out', join(dir, 'fd.safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  const scores = loadTensors(join(dir, 'fd.safetensors'));
  assert.deepEqual(compareSet('fisher_diag', scores, fixtureRef('vgg_bn'), 'fisher_diag', meta.noise.fisher_diag), []);
  assert.equal(readSafetensors(join(dir, 'fd.safetensors')).metadata['model'], `onnx:${VGG}`);
  const m = await pai(['mask', '--onnx', VGG, '--scores', join(dir, 'fd.safetensors'), '--sparsity', '0.8', '--out', join(dir, 'masks.safetensors')]);
  assert.equal(m.code, 0, m.stderr);
  const masks = loadTensors(join(dir, 'masks.safetensors'));
  assert.deepEqual([...masks.keys()].sort(), meta.parameters.map((p) => p.name).sort());
  for (const [n, t] of masks) assert.equal(t.data.every((v) => v === 1), !meta.prunable.includes(n), n);
});

test('pai inspect --onnx: parameters, prunable tensors and the classifier', async () => {
  const r = await pai(['inspect', '--onnx', VGG, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { classifier: string; classes: number; input: number[]; tensors: { name: string; kind: string; prunable: boolean }[] };
  const meta = fixtureMeta('vgg_bn');
  assert.equal(j.classifier, meta.classifier);
  assert.deepEqual(j.input, [3, 32, 32]);
  assert.equal(j.classes, 10);
  assert.deepEqual(j.tensors.filter((t) => t.prunable).map((t) => t.name).sort(), [...meta.prunable].sort());
  assert.equal(j.tensors.filter((t) => t.kind === 'buffer').length, meta.buffers.length);
  const ex = await pai(['inspect', '--onnx', VGG, '--prunable-exclude', 'features.*', '--prunable-include', 'classifier.6.weight']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /3 prunable tensors/);
});

test('pai --onnx: bad files and flags exit 2 with one line and write nothing', async () => {
  const dir = scratch();
  const data = batchFile(dir);
  const out = join(dir, 'out.safetensors');
  const cut = join(dir, 'cut.onnx');
  writeSafetensors(cut, {}); // a safetensors file under an .onnx name
  const cases: [string, string, RegExp][] = [
    ['other format', cut, /cut\.onnx: not an ONNX model/],
    ['unsupported op', editedOnnx(dir, 'op.onnx', (m) => { m.graph.node.find((n: { opType: string }) => n.opType === 'Relu').opType = 'Celu'; }), /\(Celu\): op Celu is not supported; pai imports: /],
    ['missing initializer', editedOnnx(dir, 'missing.onnx', (m) => { m.graph.initializer = m.graph.initializer.filter((t: { name: string }) => t.name !== 'classifier.3.weight'); }), /input classifier\.3\.weight is not a graph input, an initializer or a node output/],
    ['cycle', editedOnnx(dir, 'cycle.onnx', (m) => { m.graph.node.find((n: { opType: string }) => n.opType === 'Conv').input[0] = 'logits'; }), /the graph has a cycle/],
    ['no file', join(dir, 'absent.onnx'), /--onnx .*absent\.onnx: no such file/],
  ];
  for (const [label, file, pattern] of cases) {
    const r = await pai(['score', '--onnx', file, '--data', data, '--criterion', 'snip', '--out', out]);
    assertUserError(r, pattern, label);
    assert.ok(!existsSync(out), `${label}: nothing written`);
  }
  assertUserError(await pai(['score', '--onnx', VGG, '--model', 'resnet20', '--criterion', 'magnitude', '--out', out]), /--model NAME or --onnx FILE, not both/, 'both');
  assertUserError(await pai(['score', '--onnx', VGG, '--width', '2', '--criterion', 'magnitude', '--out', out]), /--width size zoo models/, 'size flag');
  assertUserError(await pai(['score', '--criterion', 'magnitude', '--out', out]), /give --model NAME .* or --onnx FILE/, 'neither');
  const gray = join(dir, 'gray.safetensors');
  const f = readSafetensors(join(ONNX_FIXTURES, 'vgg_bn.ref.safetensors'));
  const x = f.tensors.get('x')!;
  writeSafetensors(gray, { x: { dtype: 'F32', shape: [4, 1, 32, 32], data: (x.data as Float32Array).slice(0, 4 * 32 * 32) }, y: f.tensors.get('y')! });
  assertUserError(await pai(['score', '--onnx', VGG, '--data', gray, '--criterion', 'snip', '--out', out]), /--onnx .*vgg_bn\.onnx takes 3-channel images, but --data .*gray\.safetensors has 1-channel images/, 'channels');
  assertUserError(await pai(['prune', '--onnx', VGG, '--dataset', 'fashion-mnist-subset', '--criterion', 'snip', '--sparsity', '0.5', '--out', join(dir, 'p')]), /--onnx .*vgg_bn\.onnx takes 3-channel images, but fashion-mnist-subset has 1-channel images/, 'dataset');
  assert.ok(!existsSync(out));
});

test('pai --onnx: exporter-generated parameter names are explained on stderr', async () => {
  const dir = scratch();
  const file = editedOnnx(dir, 'fused.onnx', (m) => {
    for (const t of m.graph.initializer) if (t.name === 'features.0.weight') t.name = 'onnx::Conv_58';
    for (const n of m.graph.node) n.input = n.input.map((x: string) => (x === 'features.0.weight' ? 'onnx::Conv_58' : x));
  });
  const r = await pai(['score', '--onnx', file, '--criterion', 'magnitude', '--out', join(dir, 'mag.safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /pai: warning: .*fused\.onnx: 1 of \d+ parameters have names the exporter generated \(onnx::Conv_58\).*do_constant_folding=False/);
  assert.ok(readFileSync(join(dir, 'mag.safetensors')).length > 0);
});

test('pai prune --onnx then pai export: the graph goes back to ONNX with the pruned weights, and runs in onnxruntime', async () => {
  const dir = scratch();
  const file = join(ONNX_FIXTURES, 'mobilenet_v2.onnx');
  const run = join(dir, 'run');
  const p = await pai(['prune', '--onnx', file, '--criterion', 'magnitude', '--sparsity', '0.7', '--out', run]);
  assert.equal(p.code, 0, p.stderr);
  const out = join(dir, 'pruned.onnx');
  const e = await pai(['export', '--checkpoint', run, '--format', 'onnx', '--out', out]);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /the graph of .*mobilenet_v2\.onnx \(opset 14\) with these weights/);
  const { importOnnx } = await import('../../src/models/index.js');
  const { noGrad } = await import('../../src/autograd/index.js');
  const back = importOnnx(out).eval();
  const weights = loadTensors(join(run, 'model.safetensors'));
  for (const [n, t] of back.stateDict()) assert.deepEqual(Array.from(t.data), Array.from(weights.get(n)!.data), n);
  const masks = loadTensors(join(run, 'masks.safetensors'));
  const zeros = [...masks.values()].reduce((s, m) => s + m.data.filter((v) => v === 0).length, 0);
  assert.ok(zeros > 0);
  const x = fixtureRef('mobilenet_v2').get('x')!;
  const ours = noGrad(() => back.forward(x));
  const { ortRun } = await import('../models/onnx-graph.js');
  const theirs = await ortRun(readFileSync(out), x);
  let worst = 0, scale = 0;
  for (let i = 0; i < ours.size; i++) { worst = Math.max(worst, Math.abs(ours.data[i]! - theirs.data[i]!)); scale = Math.max(scale, Math.abs(theirs.data[i]!)); }
  assert.ok(worst <= 1e-4 * scale + 1e-6, `max |pai - onnxruntime| ${worst} (scale ${scale})`);
  // The same through --onnx when the folder does not say where its graph came from.
  const e2 = await pai(['export', '--checkpoint', run, '--onnx', file, '--format', 'safetensors', '--out', join(dir, 'w.safetensors')]);
  assert.equal(e2.code, 0, e2.stderr);
});

test('pai warmup --onnx: the file\'s own weights by default, or a PyTorch state dict with its batch-norm counters', async () => {
  const dir = scratch();
  const f = readSafetensors(join(ONNX_FIXTURES, 'resnet.ref.safetensors'));
  const data = join(dir, 'x.safetensors');
  writeSafetensors(data, { x: f.tensors.get('x')! });
  const file = join(ONNX_FIXTURES, 'resnet.onnx');
  const out = join(dir, 'warm.safetensors');
  const r = await pai(['warmup', '--onnx', file, '--data', data, '--batch-size', '4', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const warm = loadTensors(out);
  const meta = fixtureMeta('resnet');
  assert.deepEqual(compareSet('warm', new Map([...warm].filter(([k]) => k.includes('running'))), fixtureRef('resnet'), 'warm', meta.noise.logits), []);
  // The warmed file back as --weights, with the counters a PyTorch state dict has.
  const withCounters = join(dir, 'torch-like.safetensors');
  const entries = new Map(readSafetensors(out).tensors);
  entries.set('bn1.num_batches_tracked', { dtype: 'I64', shape: [], data: BigInt64Array.of(1n) });
  writeSafetensors(withCounters, entries);
  const again = await pai(['warmup', '--onnx', file, '--weights', withCounters, '--data', data, '--batch-size', '4', '--out', join(dir, 'warm2.safetensors')]);
  assert.equal(again.code, 0, again.stderr);
  assertUserError(await pai(['warmup', '--model', 'resnet20', '--data', data, '--batch-size', '4', '--out', join(dir, 'w3.safetensors')]), /--weights FILE is needed with --model/, 'zoo without weights');
});
