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
