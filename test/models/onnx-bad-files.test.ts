// Files pai must refuse, each with one clear error naming what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importOnnx, OnnxImportError } from '../../src/models/index.js';
import { editedOnnx, ONNX_FIXTURES } from './onnx-fixtures.js';
import { GraphBuilder } from './onnx-graph.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const SOURCE = join(ONNX_FIXTURES, 'vgg_bn.onnx');

function refuses(file: string, pattern: RegExp): void {
  assert.throws(() => importOnnx(file), (e: unknown) => {
    assert.ok(e instanceof OnnxImportError, `not an OnnxImportError: ${String(e)}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('ONNX import refuses truncated files, other formats, unsupported ops, missing initializers and cycles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-onnx-bad-'));
  try {
    const bytes = readFileSync(SOURCE);
    const cut = join(dir, 'truncated.onnx');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    refuses(cut, /truncated\.onnx: not an ONNX model, or a truncated one/);

    const st = join(dir, 'weights.onnx');
    writeFileSync(st, readFileSync(join(ONNX_FIXTURES, 'vgg_bn.ref.safetensors')));
    refuses(st, /weights\.onnx: not an ONNX model/);
    const png = join(dir, 'image.onnx');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'));
    refuses(png, /image\.onnx: not an ONNX model/);
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, new Uint8Array(0));
    refuses(empty, /empty file/);
    refuses(join(dir, 'absent.onnx'), /absent\.onnx: no such file/);

    refuses(editedOnnx(dir, 'op.onnx', (m) => { m.graph.node.find((n: any) => n.opType === 'Relu').opType = 'Celu'; }),
      /op\.onnx: node \S+ \(Celu\): op Celu is not supported; pai imports: .*BatchNormalization.*Conv/);
    refuses(editedOnnx(dir, 'domain.onnx', (m) => { m.graph.node[3].domain = 'com.microsoft'; }), /op com\.microsoft\.\w+ is not supported/);
    refuses(editedOnnx(dir, 'missing.onnx', (m) => { m.graph.initializer = m.graph.initializer.filter((t: any) => t.name !== 'features.4.weight'); }),
      /node \S+ \(Conv\): input features\.4\.weight is not a graph input, an initializer or a node output \(a missing initializer\?\)/);
    refuses(editedOnnx(dir, 'cycle.onnx', (m) => {
      // The first convolution reads the output of the last ReLU.
      const relus = m.graph.node.filter((n: any) => n.opType === 'Relu');
      m.graph.node.find((n: any) => n.opType === 'Conv').input[0] = relus[relus.length - 1].output[0];
    }), /cycle\.onnx: the graph has a cycle through .*Conv/);
    refuses(editedOnnx(dir, 'opset.onnx', (m) => { m.opsetImport[0].version = 11; }), /opset 11 is not supported; pai imports opsets 13 to 18/);
    refuses(editedOnnx(dir, 'external.onnx', (m) => {
      const t = m.graph.initializer[0];
      delete t.rawData;
      t.dataLocation = 1;
      t.externalData = [{ key: 'location', value: 'weights.bin' }];
    }), /initializer features\.0\.weight: its data is stored in an external file \(weights\.bin\)/);
    refuses(editedOnnx(dir, 'shape.onnx', (m) => { m.graph.initializer[0].dims = [8, 3, 3, 4]; }), /initializer features\.0\.weight: raw data holds 864 bytes/);
    refuses(editedOnnx(dir, 'inputs.onnx', (m) => { m.graph.input.push({ name: 'extra' }); }), /2 inputs \(input, extra\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ONNX import warns about exporter-generated parameter names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-onnx-names-'));
  try {
    const file = editedOnnx(dir, 'renamed.onnx', (m) => {
      const rename = (from: string, to: string): void => {
        for (const t of m.graph.initializer) if (t.name === from) t.name = to;
        for (const n of m.graph.node) n.input = n.input.map((x: string) => (x === from ? to : x));
      };
      rename('features.0.weight', 'onnx::Conv_58');
      rename('features.0.bias', 'onnx::Conv_59');
    });
    const model = importOnnx(file);
    assert.equal(model.warnings.length, 1);
    assert.match(model.warnings[0]!, /2 of \d+ parameters have names the exporter generated \(onnx::Conv_58, onnx::Conv_59\).*TrainingMode\.PRESERVE/);
    assert.ok(model.fixedPrunable().includes('onnx::Conv_58'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ONNX import: include / exclude patterns change the fixed prunable set', () => {
  const model = importOnnx(SOURCE);
  const base = model.fixedPrunable();
  assert.ok(!base.includes('classifier.6.weight'));
  model.setPrunablePatterns({ include: ['classifier.6.weight'], exclude: ['features.*'] });
  assert.deepEqual(model.fixedPrunable(), ['classifier.0.weight', 'classifier.3.weight', 'classifier.6.weight']);
  assert.throws(() => model.setPrunablePatterns({ exclude: ['nothing.*'] }), /exclude pattern "nothing\.\*" matches no parameter/);
});

test('ONNX import refuses an Unsqueeze whose axes name one axis twice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pai-onnx-unsqueeze-'));
  try {
    const b = new GraphBuilder();
    const y = b.node('Conv', ['input', b.floats('conv.weight', [2, 3, 3, 3], new Float32Array(54).fill(0.1))], ['y'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const u = b.node('Unsqueeze', [y, b.ints('axes', [0, 0])], ['u']);
    b.node('Flatten', [u], ['logits'], { axis: 1 });
    const file = join(dir, 'unsqueeze.onnx');
    b.write(file, 13, [3, 4, 4]);
    refuses(file, /\(Unsqueeze\): axes \[0,0\] name an axis twice/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
