// `pai prune`: the whole pruning-at-initialisation procedure for one model: initialise (or load)
// weights, optionally warm up batch norm on the training loader, score on the per-class mask
// subset (one-shot or iterative), mask, check for layer collapse, and write everything to a folder.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { DatasetName } from '../../data/registry.js';
import type { Dataset } from '../../data/dataset.js';
import type { TransformSpec } from '../../data/transforms.js';
import type { MaskData, PruneResult } from '../../prune/index.js';
import type { CreateOptions } from '../../models/registry.js';
import { shapeMin } from '../../tensor/shape.js';
import { UserError } from '../errors.js';
import {
  addModelOptions, buildModel, examples, modelLabel, modelMetadata, modelOptions, parseChoice, parseInteger, parseSparsity, requireFile,
  SCHEDULE_CHOICES, SCOPE_CHOICES, type ModelFlags,
} from '../options.js';
import { startTask } from '../progress.js';
import { paiVersion } from '../version.js';
import { addScoringOptions, optionMetadata, scoringOptions, type ScoringFlags } from './score.js';
import { defaultDataDir } from './data.js';

interface Flags extends ModelFlags, ScoringFlags {
  weights?: string;
  dataset?: string;
  dataDir: string;
  perClass: string;
  sparsity: string;
  scope: string;
  warmup?: boolean;
  warmupBatches?: string;
  batchSize: string;
  iterations?: string;
  schedule: string;
  refuseCollapse?: boolean;
  out: string;
}

/**
 * Model input from the dataset where the user left it open: its channels, its image side and its
 * classes. The one size change pai makes on its own is 28 -> 32 (zero padding, as torchvision's
 * Pad would), for models built for CIFAR-sized input; anything else must match.
 */
async function fitToDataset(o: CreateOptions, name: DatasetName, onnx?: string): Promise<{ options: CreateOptions; padTo32: boolean }> {
  // An ONNX graph's sizes are its own, not flags the user gave.
  const given = (flag: string, v: number | undefined, what: string): string => (onnx !== undefined ? `--onnx ${onnx} takes ${what}` : `${flag} ${v}`);
  const { datasetInfo } = await import('../../data/registry.js');
  const { standardTransform, transformedShape } = await import('../../data/transforms.js');
  const info = datasetInfo(name);
  const shape: readonly [number, number, number] = info.shape ? transformedShape(standardTransform(name, 'eval'), info.shape) : [3, 224, 224];
  const [c, side] = shape;
  const out = { ...o };
  let padTo32 = false;
  if (out.inChannels === undefined) out.inChannels = c;
  else if (out.inChannels !== c) throw new UserError(`${given('--in-channels', out.inChannels, `${out.inChannels}-channel images`)}, but ${name} has ${c}-channel images`);
  if (out.imageSize === undefined) out.imageSize = side;
  else if (out.imageSize !== side) {
    if (side === 28 && out.imageSize === 32) padTo32 = true;
    else throw new UserError(`${given('--image-size', out.imageSize, `${out.imageSize}x${out.imageSize} images`)}, but ${name} images are ${side}x${side}${side === 28 ? ' (only 28 or 32, padded, is possible)' : ''}`);
  }
  if (out.numClasses === undefined) out.numClasses = info.numClasses;
  else if (out.numClasses < info.numClasses) throw new UserError(`${given('--num-classes', out.numClasses, `${out.numClasses} outputs`)}, but ${name} has ${info.numClasses} classes`);
  return { options: out, padTo32 };
}

/** The prune flags parsed and checked, before any model or data is loaded. */
async function parseFlags(f: Flags) {
  const s = await scoringOptions(f);
  const { isDatasetName, DATASET_NAMES } = await import('../../data/registry.js');
  const { getCriterion } = await import('../../prune/index.js');
  const o = {
    s, crit: getCriterion(s.criterion),
    sparsity: parseSparsity(f.sparsity),
    scope: parseChoice('--scope', f.scope, SCOPE_CHOICES),
    schedule: parseChoice('--schedule', f.schedule, SCHEDULE_CHOICES),
    perClass: parseInteger('--per-class', f.perClass, 1),
    batchSize: parseInteger('--batch-size', f.batchSize, 1),
    warmupBatches: f.warmupBatches !== undefined ? parseInteger('--warmup-batches', f.warmupBatches, 1) : undefined,
    iterations: f.iterations !== undefined ? parseInteger('--iterations', f.iterations, 1) : undefined,
  };
  if (f.weights !== undefined) requireFile('--weights', f.weights);
  if (f.dataset !== undefined && !isDatasetName(f.dataset)) throw new UserError(`unknown dataset "${f.dataset}"; choose one of: ${DATASET_NAMES.join(', ')}`);
  if (o.crit.needsData && f.dataset === undefined) throw new UserError(`criterion ${s.criterion} needs a mask subset: give --dataset NAME`);
  if (f.warmup && f.dataset === undefined) throw new UserError('--warmup needs --dataset NAME (it runs over the training loader)');
  if (o.warmupBatches !== undefined && !f.warmup) throw new UserError('--warmup-batches is only meaningful with --warmup');
  return o;
}

type Parsed = Awaited<ReturnType<typeof parseFlags>>;

/** The model (initialised or loaded, sized to the dataset), the training split and its transforms. */
async function loadInputs(f: Flags, p: Parsed) {
  const { loadDataset, datasetInfo } = await import('../../data/registry.js');
  const { standardTransform } = await import('../../data/transforms.js');
  let mo = await modelOptions(f);
  const dataset = f.dataset as DatasetName | undefined;
  let padTo32 = false;
  if (dataset) ({ options: mo, padTo32 } = await fitToDataset(mo, dataset, f.onnx));
  const model = await buildModel(f, { ...mo, seed: p.s.seed }, f.weights);
  const train: Dataset | null = dataset ? loadDataset(dataset, 'train', { dataDir: f.dataDir }) : null;
  // The registry's constants, so the subset (whose own statistics differ) is normalised like the full set.
  const transform = (name: DatasetName, split: 'train' | 'eval'): TransformSpec => {
    const { mean, std } = datasetInfo(name);
    return standardTransform(name, split, { padTo32, mean, std });
  };
  return { model, dataset, train, transform, padTo32 };
}

type Inputs = Awaited<ReturnType<typeof loadInputs>>;

/** The mask subset (data criteria only): --per-class images of every class, drawn with --seed. */
async function maskData(p: Parsed, inp: Inputs): Promise<MaskData | null> {
  if (!inp.train || !inp.dataset || !p.crit.needsData) return null;
  const { maskSubsetBatch } = await import('../../data/subset.js');
  const { Generator } = await import('../../tensor/random.js');
  const { x, y } = maskSubsetBatch(inp.train, { perClass: p.perClass, gen: new Generator(p.s.seed), transform: inp.transform(inp.dataset, 'eval') });
  return { x, y };
}

/** pruneAtInit with progress bars for the warm-up and the scoring. */
async function pruneWithProgress(f: Flags, p: Parsed, inp: Inputs, data: MaskData | null, iterations: number) {
  const { DataLoader } = await import('../../data/loader.js');
  const { pruneAtInit } = await import('../../prune/index.js');
  const s = p.s;
  const scoreTask = (): ReturnType<typeof startTask> | null => iterations > 1
    ? startTask(`prune ${s.criterion}`, iterations, { unit: 'iterations' })
    : p.crit.needsData && data ? startTask(`score ${s.criterion}`, Math.ceil(shapeMin('prune', data.x.shape, 1, 'mask data')[0] / s.batchSize), { unit: 'mask batches' }) : null;
  let task: ReturnType<typeof startTask> | null = null;
  let warmup = {};
  if (f.warmup && inp.train && inp.dataset) {
    const loader = new DataLoader(inp.train, { batchSize: p.batchSize, shuffle: true, transform: inp.transform(inp.dataset, 'train'), seed: s.seed });
    const total = Math.min(loader.length, p.warmupBatches ?? Infinity);
    warmup = {
      warmup: (function* () { for (const b of loader.batchesSync(0)) yield b.x; })(),
      warmupBatches: total,
      warmupProgress: (d: number) => task?.update(d),
    };
    task = startTask('warm-up', total, { unit: 'batches' });
  }
  const result = pruneAtInit(inp.model, {
    ...s.resolved, criterion: s.criterion, sparsity: p.sparsity, scope: p.scope, data, semantics: s.semantics, batchSize: s.batchSize, seed: s.seed,
    ...warmup,
    onPhase: (phase) => { if (phase === 'score') { task?.done(); task = scoreTask(); } },
    iterations, schedule: p.schedule, refuseCollapse: f.refuseCollapse ?? false,
    ...(iterations > 1
      ? { onIteration: (e: number) => task?.update(e + 1) }
      : { progress: (done: number, total: number) => task?.update(done, total) }),
  });
  task?.done();
  return result;
}

/** Writes the masked weights, masks, scores and the report into --out, and says what it kept. */
async function writeOutputs(f: Flags, p: Parsed, inp: Inputs, data: MaskData | null, iterations: number, result: PruneResult, tStart: number): Promise<void> {
  const { saveStateDict } = await import('../../nn/serialize.js');
  const { formatDensityTable } = await import('../../prune/index.js');
  const { saveTensors } = await import('../../tensor/safetensors.js');
  const { s, sparsity, scope } = p;
  const model = inp.model;
  const meta = {
    criterion: s.criterion, semantics: s.semantics, sparsity: String(sparsity), scope, seed: String(s.seed),
    ...modelMetadata(f, model), ...(inp.dataset ? { dataset: inp.dataset } : {}), pai_version: paiVersion(),
  };
  saveStateDict(join(f.out, 'model.safetensors'), model, { ...meta, content: 'masked weights' });
  saveTensors(join(f.out, 'masks.safetensors'), result.masks, { ...meta, content: 'masks (1 = keep)' });
  saveTensors(join(f.out, 'scores.safetensors'), result.scores, {
    ...meta, content: iterations > 1 ? 'scores of the last iteration' : 'scores',
    ...optionMetadata(s.resolved), mask_batch_size: String(s.batchSize),
  });
  const r = result.report;
  const report = {
    pai_version: paiVersion(),
    model: { name: modelLabel(f), ...model.config, weights: f.weights ?? null, seed: f.weights === undefined ? s.seed : null },
    dataset: inp.dataset ?? null,
    criterion: s.criterion,
    options: {
      semantics: s.semantics, sparsity, scope, seed: s.seed, ...s.resolved, maskBatchSize: s.batchSize, perClass: data ? p.perClass : null, maskSamples: data ? data.x.shape[0] : 0,
      iterations, schedule: iterations > 1 ? p.schedule : null,
      warmup: f.warmup ? { batchSize: p.batchSize, batches: result.warmupBatches } : null, padTo32: inp.padTo32,
    },
    kept: r.kept, total: r.total, density: r.total ? r.kept / r.total : 0,
    densities: r.layers,
    emptyLayers: r.emptyLayers,
    connected: r.connected,
    warnings: result.warnings,
    timings: { warmupMs: result.warmupMs, scoreMs: result.scoreMs, totalMs: performance.now() - tStart },
  };
  writeFileSync(join(f.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const table = formatDensityTable(r);
  writeFileSync(join(f.out, 'report.txt'), `${f.model ?? f.onnx} pruned with ${s.criterion} (${s.semantics}) at sparsity ${sparsity}, ${scope}\n\n${table}\n`);
  for (const w of result.warnings) process.stderr.write(`pai: warning: ${w}\n`);
  process.stdout.write(`${table}\n\nkept ${r.kept} of ${r.total} prunable values (${(100 * report.density).toFixed(3)}%); wrote ${f.out}/{model,masks,scores}.safetensors and report.{json,txt}\n`);
}

/** `pai prune`: flags, inputs, the mask subset, pruning, outputs. */
async function runPrune(f: Flags): Promise<void> {
  const tStart = performance.now();
  const p = await parseFlags(f);
  const inp = await loadInputs(f, p);
  mkdirSync(f.out, { recursive: true });
  const data = await maskData(p, inp);
  const iterations = p.iterations ?? p.crit.iterations;
  const result = await pruneWithProgress(f, p, inp, data, iterations);
  await writeOutputs(f, p, inp, data, iterations, result, tStart);
}

export function register(program: Command): void {
  const cmd = addScoringOptions(addModelOptions(program.command('prune')
    .description('prune a model at initialisation: warm-up, scoring, masks, collapse check; writes weights, masks, scores and a report')))
    .option('--weights <file>', 'start from this state dict instead of the initialisation from --seed')
    .option('--dataset <name>', 'training set for the mask subset and the warm-up (fashion-mnist, fashion-mnist-subset, mnist, cifar10, cifar100, tinyimagenet, imagenet)')
    .option('--data-dir <dir>', 'where datasets are looked for (default $PAI_DATA_DIR or ./data)', defaultDataDir())
    .option('--per-class <k>', 'mask subset: images per class, drawn with --seed', '10')
    .requiredOption('--sparsity <s>', 'fraction of the prunable weights to remove, in [0, 1)')
    .addOption(new Option('--scope <scope>', 'one ranking over all prunable tensors, or one per tensor').choices(SCOPE_CHOICES).default('global'))
    .option('--warmup', 'BN warm-up: one pass over the training loader (train mode, no gradients) before scoring')
    .option('--warmup-batches <n>', 'warm up on this many batches instead of a full pass')
    .option('--batch-size <b>', 'training-loader batch size for the warm-up', '128')
    .option('--iterations <e>', 'prune-rescore iterations (default: the criterion\'s, see pai criteria)')
    .addOption(new Option('--schedule <s>', 'sparsity schedule over the iterations').choices(SCHEDULE_CHOICES).default('exponential'))
    .option('--refuse-collapse', 'fail (exit 2) instead of warning when no input-to-output path survives')
    .requiredOption('--out <dir>', 'output folder (created if needed)')
    .addHelpText('after', `
Writes into --out: model.safetensors (the masked weights: initialisation or --weights, with the
warmed-up BN statistics when --warmup), masks.safetensors (0/1 per parameter), scores.safetensors,
report.json (criterion, options, per-layer densities, empty layers, connectivity, warnings, timings)
and report.txt (the density table).

Input size: when --in-channels, --image-size or --num-classes is not given it comes from --dataset
(Fashion-MNIST and MNIST: 1x28x28, 10 classes). --image-size 32 on a 28x28 dataset pads the images
to 32x32 (for CIFAR-shaped models such as vgg*, whose five poolings need 32 pixels).
The mask subset is --per-class images of every class of the training split, drawn with --seed,
normalised without augmentation; the warm-up uses the shuffled training loader with augmentation.
Data-free criteria (magnitude, random, synflow) need no --dataset unless --warmup is given.`)
    .action(runPrune);
  examples(cmd, [
    'pai prune --model lenet5 --dataset fashion-mnist-subset --criterion snip --sparsity 0.9 --out runs/lenet-snip',
    'pai prune --model resnet18 --width 1/8 --dataset fashion-mnist-subset --image-size 32 --criterion fisher_diag --sparsity 0.98 --warmup --out runs/r18-fd',
    'pai prune --model resnet20 --dataset cifar10 --data-dir ~/data --criterion synflow --sparsity 0.99 --out runs/r20-synflow',
    'pai prune --model vgg19 --dataset cifar10 --criterion hts --temperature 200 --probes 10 --sparsity 0.95 --iterations 5 --schedule linear --out runs/vgg-hts',
  ]);
}
