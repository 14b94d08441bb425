// Experiment configs name an ONNX file as a model: {"onnx": "file.onnx"}, relative to the config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../../src/experiment/config.js';
import { readStore } from '../../src/experiment/store.js';
import { GraphBuilder } from '../models/onnx-graph.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'src', 'cli', 'main.js');

/** A small CNN for 1x28x28 images with batch norm, written as ONNX. */
function tinyCnn(file: string, inChannels = 1): void {
  const b = new GraphBuilder();
  const w = (n: number, s: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s) * 0.3);
  const y = b.node('Conv', ['input', b.floats('conv.weight', [4, inChannels, 3, 3], w(36 * inChannels, 1))], ['y'], { kernel_shape: [3, 3], strides: [2, 2] });
  const bn = b.node('BatchNormalization', [y, b.floats('bn.weight', [4], [1, 1, 1, 1]), b.floats('bn.bias', [4], [0, 0, 0, 0]), b.floats('bn.running_mean', [4], [0, 0, 0, 0]), b.floats('bn.running_var', [4], [1, 1, 1, 1])], ['bn'], { momentum: { float: 0.9 } });
  const p = b.node('MaxPool', [b.node('Relu', [bn], ['r'])], ['p'], { kernel_shape: [2, 2], strides: [2, 2] });
  b.node('Gemm', [b.node('Flatten', [p], ['f'], { axis: 1 }), b.floats('fc.weight', [10, 144], w(1440, 2)), b.floats('fc.bias', [10], w(10, 3))], ['logits'], { transB: 1 });
  b.write(file, 13, [inChannels, 28, 28]);
}

function config(model: unknown): Record<string, unknown> {
  return {
    name: 'onnx-grid',
    grid: { datasets: ['fashion-mnist-subset'], models: [model], criteria: ['fisher_diag'], sparsities: [0.8], seeds: [0], warmup: [true] },
    data: { batchSize: 64, trainPerClass: 12, testPerClass: 5, valFraction: 0.25 },
    pruning: { maskPerClass: 1 },
    training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
  };
}

test('pai run: a grid with {"onnx": "file.onnx"} prunes (with the BN warm-up) and trains the imported graph', async () => {
  const dir = tempDir();
  tinyCnn(join(dir, 'tiny.onnx'));
  const file = join(dir, 'grid.json');
  writeFileSync(file, JSON.stringify(config({ onnx: 'tiny.onnx' })));
  const study = parseConfig(config({ onnx: 'tiny.onnx' }), file);
  assert.equal(study.runs[0]!.settings.model, `onnx:${join(dir, 'tiny.onnx')}`);
  assert.equal(study.runs[0]!.settings.numClasses, 10);
  const store = join(dir, 'store');
  const r = await run(process.execPath, [cli, '--quiet', 'run', file, '--store', store], { timeout: 120_000 });
  assert.match(r.stdout, /1 run\(s\): 1 ran, 0 already complete, 0 failed/);
  const { rows } = readStore(store);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]!.layers.map((l) => l.name), ['conv.weight']);
  assert.ok(Math.abs(rows[0]!.kept / rows[0]!.total - 0.2) < 0.02);
});

test('experiment configs refuse an ONNX model that does not take the dataset\'s images', () => {
  const dir = tempDir();
  tinyCnn(join(dir, 'rgb.onnx'), 3);
  assert.throws(() => parseConfig(config({ onnx: 'rgb.onnx' }), join(dir, 'grid.json')), /grid\.models\[0\] on grid\.datasets\[0\]: rgb\.onnx takes 3-channel images, fashion-mnist-subset has 1/);
  assert.throws(() => parseConfig(config({ onnx: 'absent.onnx' }), join(dir, 'grid.json')), /onnx absent\.onnx: .*no such file/);
  assert.throws(() => parseConfig(config({ onnx: 'x.onnx', width: 2 }), join(dir, 'grid.json')), /grid\.models\[0\]\.width: unknown key/);
});
