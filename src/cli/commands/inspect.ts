// `pai inspect --onnx FILE`: what pai sees in an ONNX file: its input, classes and opset, every
// parameter and buffer with its size, which of them are prunable, and the classifier left out.

import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { examples, modelOptions, buildModel, table, type ModelFlags } from '../options.js';

interface Flags extends ModelFlags { semantics: string; json?: boolean }

export function register(program: Command): void {
  const cmd = program.command('inspect')
    .description('list the parameters, buffers and prunable tensors of an ONNX file')
    .requiredOption('--onnx <file>', 'an ONNX file exported from PyTorch')
    .option('--prunable-include <globs>', 'comma-separated parameter-name patterns (* and ?) to add to the prunable set')
    .option('--prunable-exclude <globs>', 'comma-separated parameter-name patterns to leave out of the prunable set')
    .option('--semantics <mode>', 'prunable set of fixed (conv / linear / matmul weights minus the classifier) or reference (the paper\'s name rule)', 'fixed')
    .option('--json', 'print as JSON')
    .action(async (f: Flags) => {
      if (f.semantics !== 'fixed' && f.semantics !== 'reference') throw new UserError(`--semantics must be one of fixed, reference, got "${f.semantics}"`);
      await modelOptions(f);
      const model = await buildModel(f, {});
      const { prunableParameters } = await import('../../prune/prunable.js');
      const m = model as import('../../models/onnx/index.js').OnnxModel;
      const prunable = new Set(prunableParameters(model, f.semantics));
      const rows = [
        ...model.namedParameters().map(([n, t]) => ({ name: n, kind: 'parameter', shape: [...t.shape], size: t.size, prunable: prunable.has(n) })),
        ...model.namedBuffers().map(([n, t]) => ({ name: n, kind: 'buffer', shape: [...t.shape], size: t.size, prunable: false })),
      ];
      const c = model.config;
      const total = rows.filter((r) => r.prunable).reduce((s, r) => s + r.size, 0);
      if (f.json) {
        process.stdout.write(`${JSON.stringify({ file: f.onnx, opset: m.opset, producer: m.producer, input: [c.inChannels, c.imageSize, c.imageSize], classes: c.numClasses, classifier: m.classifierWeight, semantics: f.semantics, prunableValues: total, tensors: rows, warnings: m.warnings }, null, 2)}\n`);
        return;
      }
      const params = rows.filter((r) => r.kind === 'parameter');
      process.stdout.write(`${f.onnx}: opset ${m.opset}${m.producer ? `, written by ${m.producer}` : ''}; input [N, ${c.inChannels}, ${c.imageSize}, ${c.imageSize}], ${c.numClasses} outputs\n`);
      process.stdout.write(`${params.length} parameters (${model.numParameters().toLocaleString('en-US')} values), ${rows.length - params.length} buffers; ${prunable.size} prunable tensors (${total.toLocaleString('en-US')} values, ${f.semantics}); classifier: ${m.classifierWeight ?? 'none found'}${f.semantics === 'fixed' && m.classifierWeight ? ' (not pruned)' : ''}\n\n`);
      process.stdout.write(`${table(['name', 'kind', 'shape', 'values', 'prunable'], rows.map((r) => [r.name, r.kind, `[${r.shape.join(', ')}]`, r.size.toLocaleString('en-US'), r.prunable ? 'yes' : '']), new Set([3]))}\n`);
    });
  examples(cmd, [
    'pai inspect --onnx mine.onnx',
    'pai inspect --onnx mine.onnx --prunable-exclude "features.0.*" --json',
  ]);
}
