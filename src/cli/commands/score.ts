// `pai score`: one criterion's scores for every parameter of a model, on a mask set from a
// safetensors file, written as safetensors in the model's parameter order.

import { Option, type Command } from 'commander';
import type { MaskData } from '../../prune/index.js';
import { UserError } from '../errors.js';
import {
  addModelOptions, checkOutFile, buildModel, checkCriterion, examples, fitToInput, modelMetadata, modelOptions, parseChoice, parseInteger,
  parsePositive, requireFile, semanticsOption, SEMANTICS_CHOICES, type ModelFlags,
} from '../options.js';
import { startTask } from '../progress.js';
import { paiVersion } from '../version.js';

interface Flags extends ModelFlags {
  weights?: string;
  data?: string;
  criterion: string;
  maskBatchSize: string;
  temperature?: string;
  probes?: string;
  seed: string;
  semantics: string;
  out: string;
}

/** Options every scoring command shares (pai score and pai prune). */
export function addScoringOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--criterion <name>', 'pruning criterion (see pai criteria)')
    .option('--mask-batch-size <b>', 'samples per mask batch; 1 is the paper\'s per-sample loop', '1')
    .option('--temperature <t>', 'divide the logits by T before the loss (default: the criterion\'s)')
    .option('--probes <k>', 'Rademacher probes per mask batch for Hutchinson criteria (default: the criterion\'s)')
    .option('--shared-probes', 'Hutchinson criteria: share each probe across a batch of samples (cheaper; same expectation, a different, documented variance) instead of the paper\'s per-sample probes')
    .option('--seed <n>', 'seed of the random streams (probes, random scores)', '0')
    .addOption(semanticsOption());
}

export interface ScoringFlags { criterion: string; maskBatchSize: string; temperature?: string; probes?: string; sharedProbes?: boolean; seed: string; semantics: string }

export async function scoringOptions(f: ScoringFlags) {
  const { resolveCriterionOptions, getCriterion } = await import('../../prune/index.js');
  const criterion = await checkCriterion(f.criterion);
  const semantics = parseChoice('--semantics', f.semantics, SEMANTICS_CHOICES);
  const o = {
    criterion, semantics,
    batchSize: parseInteger('--mask-batch-size', f.maskBatchSize, 1),
    seed: parseInteger('--seed', f.seed, 0),
    ...(f.temperature !== undefined ? { temperature: parsePositive('--temperature', f.temperature) } : {}),
    ...(f.probes !== undefined ? { probes: parseInteger('--probes', f.probes, 1) } : {}),
    ...(f.sharedProbes ? { sharedProbes: true } : {}),
  };
  if (f.sharedProbes && !getCriterion(criterion).uses.includes('probes')) {
    throw new UserError(`--shared-probes applies to the Hutchinson criteria (hutch_diag, hutch_pruning, hts), not ${criterion}`);
  }
  // Resolved now so a bad combination fails before any model is built, and so files record what ran.
  const resolved = resolveCriterionOptions(criterion, o);
  return { ...o, resolved };
}

export function register(program: Command): void {
  const cmd = addScoringOptions(addModelOptions(program.command('score')
    .description('score every parameter of a model with one criterion on a mask set')))
    .option('--weights <file>', 'state dict (safetensors) to load; default: the model\'s initialisation from --seed')
    .option('--data <file>', 'mask set: safetensors with x [N,C,H,W] float32 and y [N] int; used in file order (needed by data criteria)')
    .addOption(new Option('--out <file>', 'scores file to write (safetensors)').makeOptionMandatory())
    .addHelpText('after', `
Scores are written for every parameter, named as in the model's state dict, in parameter order, with
__metadata__ recording the criterion, semantics, temperature, probes, seed, model and mask batch size.
When --in-channels or --image-size is not given it is taken from the images in --data.`)
    .action(async (f: Flags) => {
      const s = await scoringOptions(f);
      const mo = await modelOptions(f);
      const { scoreParameters, getCriterion } = await import('../../prune/index.js');
      const { loadTensorDataset } = await import('../../data/readers/tensorfile.js');
      const { saveTensors } = await import('../../tensor/safetensors.js');
      const crit = getCriterion(s.criterion);
      if (f.weights !== undefined) requireFile('--weights', f.weights);
      checkOutFile('--out', f.out);
      if (f.data !== undefined) requireFile('--data', f.data);
      if (crit.needsData && f.data === undefined) throw new UserError(`criterion ${s.criterion} needs a mask set: give --data FILE (safetensors with x and y)`);
      const ds = f.data !== undefined ? loadTensorDataset(f.data) : null;
      const model = await buildModel(f, ds ? fitToInput(mo, ds.x.shape, `--data ${f.data}`) : mo, f.weights);
      const data: MaskData | null = ds ? { x: ds.x, y: ds.y } : null;
      if (ds) {
        const over = ds.y.findIndex((v) => v >= model.config.numClasses);
        if (over >= 0) throw new UserError(`--data ${f.data}: label ${ds.y[over]} at index ${over} is outside the model's ${model.config.numClasses} classes (--num-classes)`);
      }
      const n = data ? data.x.shape[0]! : 0;
      const task = crit.needsData ? startTask(`score ${s.criterion}`, Math.ceil(n / s.batchSize), { unit: 'mask batches' }) : null;
      const t0 = performance.now();
      const scores = scoreParameters(model, s.criterion, data, {
        semantics: s.semantics, batchSize: s.batchSize, temperature: s.resolved.temperature, probes: s.resolved.probes, seed: s.seed,
        ...(s.resolved.sharedProbes ? { sharedProbes: true } : {}),
        inputShape: [model.config.inChannels, model.config.imageSize, model.config.imageSize],
        progress: (done, total) => task?.update(done, total),
      });
      task?.done();
      const secs = (performance.now() - t0) / 1000;
      saveTensors(f.out, scores, {
        criterion: s.criterion, semantics: s.semantics,
        temperature: String(s.resolved.temperature), probes: String(s.resolved.probes), seed: String(s.seed),
        ...(s.resolved.sharedProbes ? { shared_probes: 'true' } : {}),
        mask_batch_size: String(s.batchSize), mask_samples: String(n),
        ...modelMetadata(f, model), ...(f.weights !== undefined ? { weights: f.weights } : {}),
        ...(f.data !== undefined ? { data: f.data } : {}), pai_version: paiVersion(),
      });
      let values = 0;
      for (const t of scores.values()) values += t.size;
      process.stdout.write(`${s.criterion}: scored ${scores.size} parameters (${values.toLocaleString('en-US')} values) in ${secs.toFixed(2)} s; wrote ${f.out}\n`);
    });
  examples(cmd, [
    'pai score --model resnet18 --width 1/32 --weights model.safetensors --data batch.safetensors --criterion snip --out snip.safetensors',
    'pai score --model resnet18 --width 1/16 --weights model.safetensors --data batch.safetensors --criterion hutch_diag --temperature 200 --probes 100 --seed 1 --out hutch.safetensors',
    'pai score --model lenet5 --criterion synflow --out synflow.safetensors   # data-free, from the seed-0 initialisation',
  ]);
}
