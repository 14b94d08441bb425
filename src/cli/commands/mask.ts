// `pai mask`: scores to a 0/1 mask for every parameter at a sparsity, globally or per layer. The
// model is built only for its parameter names and shapes and its prunable set.

import { Option, type Command } from 'commander';
import type { Masks, Scores } from '../../prune/index.js';
import { UserError } from '../errors.js';
import {
  addModelOptions, checkOutFile, buildModel, examples, modelMetadata, modelOptions, parseChoice, parseSparsity, requireFile, semanticsOption,
  SCOPE_CHOICES, SEMANTICS_CHOICES, type ModelFlags,
} from '../options.js';
import { paiVersion } from '../version.js';

interface Flags extends ModelFlags { scores: string; sparsity: string; scope: string; semantics: string; out: string }

export function register(program: Command): void {
  const cmd = addModelOptions(program.command('mask')
    .description('turn scores into 0/1 masks at a sparsity (global or per-layer ranking)'))
    .requiredOption('--scores <file>', 'scores (safetensors, as pai score writes them)')
    .requiredOption('--sparsity <s>', 'fraction of the prunable weights to remove, in [0, 1)')
    .addOption(new Option('--scope <scope>', 'one ranking over all prunable tensors, or one per tensor').choices(SCOPE_CHOICES).default('global'))
    .addOption(semanticsOption())
    .requiredOption('--out <file>', 'masks file to write (safetensors)')
    .option('--no-table', 'do not print the per-layer density table')
    .addHelpText('after', `
k = max(floor((1 - s) N), 1) of the N prunable values are kept, largest scores first, ties to the lower
position. Every parameter gets a float32 mask, in the model's parameter order; parameters outside the
prunable set (biases, norms, the classifier; see --semantics) are all ones. The kept count and the
per-layer density table go to stdout.`)
    .action(async (f: Flags & { table: boolean }) => {
      const sparsity = parseSparsity(f.sparsity);
      const scope = parseChoice('--scope', f.scope, SCOPE_CHOICES);
      const semantics = parseChoice('--semantics', f.semantics, SEMANTICS_CHOICES);
      const mo = await modelOptions(f);
      requireFile('--scores', f.scores);
      checkOutFile('--out', f.out);
      const { collapseReport, formatDensityTable, makeMasks, prunableSet } = await import('../../prune/index.js');
      const { loadTensors, saveTensors, readSafetensors } = await import('../../tensor/safetensors.js');
      const { Tensor } = await import('../../tensor/tensor.js');
      const { sameShape, shapeStr } = await import('../../tensor/shape.js');
      const model = await buildModel(f, mo);
      const prunable = prunableSet(model, semantics);
      const file = loadTensors(f.scores);
      const meta = readSafetensors(f.scores).metadata;
      // Reordered into the model's parameter order; a parameter outside the prunable set needs no
      // score (its mask is all ones), so a placeholder stands in for one the file lacks.
      const params = model.namedParameters();
      const known = new Set(params.map(([n]) => n));
      const extra = [...file.keys()].filter((n) => !known.has(n));
      if (extra.length) throw new UserError(`--scores ${f.scores}: ${extra.length} tensor(s) the ${f.model ?? f.onnx} model does not have, e.g. ${extra.slice(0, 3).join(', ')} (wrong --model, --onnx or model flags?)`);
      const scores: Scores = new Map();
      for (const [name, p] of params) {
        const s = file.get(name);
        if (!s) {
          if (prunable.has(name)) throw new UserError(`--scores ${f.scores}: no scores for prunable parameter ${name}`);
          scores.set(name, new Tensor(new Float32Array(p.size), p.shape));
          continue;
        }
        if (!sameShape(s.shape, p.shape)) throw new UserError(`--scores ${f.scores}: ${name} has shape ${shapeStr(s.shape)}, the model's parameter has ${shapeStr(p.shape)} (wrong model flags?)`);
        scores.set(name, s);
      }
      const masks: Masks = makeMasks(scores, prunable, sparsity, scope);
      const report = collapseReport(null, masks, prunable);
      saveTensors(f.out, masks, {
        ...(meta['criterion'] ? { criterion: meta['criterion'] } : {}),
        sparsity: String(sparsity), scope, semantics, kept: String(report.kept), prunable_total: String(report.total),
        scores: f.scores, ...modelMetadata(f, model), pai_version: paiVersion(),
      });
      process.stdout.write(`kept ${report.kept} of ${report.total} prunable values (density ${(100 * report.kept / report.total).toFixed(3)}%, sparsity ${sparsity}, ${scope}); wrote ${f.out}\n`);
      if (f.table) process.stdout.write(`${formatDensityTable(report)}\n`);
      if (report.emptyLayers.length) process.stderr.write(`pai: warning: ${report.emptyLayers.length} prunable tensor(s) fully pruned: ${report.emptyLayers.join(', ')}\n`);
    });
  examples(cmd, [
    'pai mask --model resnet18 --width 1/32 --scores snip.safetensors --sparsity 0.9 --out masks.safetensors',
    'pai mask --model resnet18 --width 1/32 --scores snip.safetensors --sparsity 0.99 --scope layer --semantics reference --out masks.safetensors',
  ]);
}
