// `pai score`: one criterion's scores for every parameter of a model, on a mask set from a
// safetensors file, written as safetensors in the model's parameter order.

import { Option, type Command } from 'commander';
import type { CriterionOptions, MaskData, OptionKey } from '../../prune/index.js';
import { optionSpecs } from '../../prune/criteria/options.js';
import { shapeMin } from '../../tensor/shape.js';
import { UserError } from '../errors.js';
import {
  addModelOptions, checkOutFile, buildModel, checkCriterion, examples, fitToInput, modelMetadata, modelOptions, parseChoice, parseInteger,
  requireFile, semanticsOption, SEMANTICS_CHOICES, type ModelFlags,
} from '../options.js';
import { startTask } from '../progress.js';
import { paiVersion } from '../version.js';

interface Flags extends ModelFlags, ScoringFlags {
  weights?: string;
  data?: string;
  out: string;
}

/** Options every scoring command shares (pai score and pai prune); the criterion options come from the registry's list. */
export function addScoringOptions(cmd: Command): Command {
  cmd.requiredOption('--criterion <name>', 'pruning criterion (see pai criteria)')
    .option('--mask-batch-size <b>', 'samples per mask batch; 1 is the paper\'s per-sample loop', '1');
  for (const spec of optionSpecs()) {
    const o = new Option(`--${spec.flag}${spec.arg ? ` ${spec.arg}` : ''}`, `${spec.help}; criteria that read it: see pai criteria`);
    cmd.addOption(spec.choices ? o.choices(spec.choices) : o);
  }
  return cmd
    .option('--seed <n>', 'seed of the random streams (probes, random scores)', '0')
    .addOption(semanticsOption());
}

export type ScoringFlags = { criterion: string; maskBatchSize: string; seed: string; semantics: string } & { [K in OptionKey]?: string | boolean };

/**
 * The scoring flags checked and resolved: a criterion option the criterion does not read is refused
 * (it would change nothing), the rest take the criterion's defaults. `resolved` is what ran, for files.
 */
export async function scoringOptions(f: ScoringFlags) {
  const { resolveCriterionOptions, getCriterion, criteriaUsing } = await import('../../prune/index.js');
  const criterion = await checkCriterion(f.criterion);
  const c = getCriterion(criterion);
  const semantics = parseChoice('--semantics', f.semantics, SEMANTICS_CHOICES);
  const given: Partial<CriterionOptions> = {};
  for (const spec of optionSpecs()) {
    const v = f[spec.key];
    if (v === undefined) continue;
    if (!c.uses.includes(spec.key)) throw new UserError(`--${spec.flag} applies to ${criteriaUsing(spec.key).join(', ')}, not ${criterion}`);
    (given as Record<string, unknown>)[spec.key] = spec.parse(v, `--${spec.flag}`);
  }
  const o = {
    criterion, semantics,
    batchSize: parseInteger('--mask-batch-size', f.maskBatchSize, 1),
    seed: parseInteger('--seed', f.seed, 0),
    ...given,
  };
  // Resolved now so a bad combination fails before any model is built, and so files record what ran.
  const resolved = resolveCriterionOptions(criterion, o);
  return { ...o, resolved };
}

/** The resolved criterion options as file metadata (safetensors __metadata__ strings), by option key. */
export function optionMetadata(resolved: Partial<CriterionOptions>): Record<string, string> {
  return Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, String(v)]));
}

export function register(program: Command): void {
  const cmd = addScoringOptions(addModelOptions(program.command('score')
    .description('score every parameter of a model with one criterion on a mask set')))
    .option('--weights <file>', 'state dict (safetensors) to load; default: the model\'s initialisation from --seed')
    .option('--data <file>', 'mask set: safetensors with x [N,C,H,W] float32 and y [N] int; used in file order (needed by data criteria)')
    .addOption(new Option('--out <file>', 'scores file to write (safetensors)').makeOptionMandatory())
    .addHelpText('after', `
Scores are written for every parameter, named as in the model's state dict, in parameter order, with
__metadata__ recording the criterion, semantics, the criterion's options (temperature, probes, ...), the
seed, the model and the mask batch size.
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
      const n = data ? shapeMin('score', data.x.shape, 1, 'mask data')[0] : 0;
      const task = crit.needsData ? startTask(`score ${s.criterion}`, Math.ceil(n / s.batchSize), { unit: 'mask batches' }) : null;
      const t0 = performance.now();
      const scores = scoreParameters(model, s.criterion, data, {
        ...s.resolved, semantics: s.semantics, batchSize: s.batchSize, seed: s.seed,
        inputShape: [model.config.inChannels, model.config.imageSize, model.config.imageSize],
        progress: (done, total) => task?.update(done, total),
      });
      task?.done();
      const secs = (performance.now() - t0) / 1000;
      saveTensors(f.out, scores, {
        criterion: s.criterion, semantics: s.semantics, ...optionMetadata(s.resolved), seed: String(s.seed),
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
    'pai score --model resnet20 --weights model.safetensors --data batch.safetensors --criterion hts --taylor-form removal --out hts-removal.safetensors',
    'pai score --model lenet5 --criterion synflow --out synflow.safetensors   # data-free, from the seed-0 initialisation',
  ]);
}
