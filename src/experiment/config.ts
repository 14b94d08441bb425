// Experiment configs: a JSON file validated against a schema (zod), then expanded into runs.
//
// Two forms are accepted:
// - the paper's own files (github.com/Gollini/Scalable_Second_Order_PaI, exp_configs/*.json:
//   `general`, `dataset`, `model`, `training` with `compressor`, `validation`), as they are: one run;
// - pai's grid form: lists of datasets, models, criteria, sparsities, seeds and warm-up on/off
//   under `grid`, with the data, pruning and training settings shared by every run.
// Both are normalised into one Study, so the runner, the store and the report know one shape.
//
// Unknown keys are refused everywhere (a typo in `weightDecay` must not silently train without
// weight decay), and every message names the field's path, e.g. `training.epochs: must be a
// positive integer`.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { criterionNames, OPTION_SPECS, type TaylorForm } from '../prune/index.js';
import { modelNames } from '../models/registry.js';
import { importOnnx, onnxModelName } from '../models/onnx/index.js';
import { DEFAULT_MIN_SPARSITY } from '../nn/sparse.js';
import { DATASET_NAMES, datasetInfo, isDatasetName, type DatasetName } from '../data/registry.js';
import type { OptimizerSpec, ScheduleSpec } from '../train/index.js';
import { describeValue, issuesMessage } from '../tensor/options.js';

/** A config that pai cannot run; the message names the file and the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The dense baseline of the paper's code (compressor "none"): no pruning at all. */
export const DENSE = 'none';

/**
 * Pruning after training (PaT), the baseline every PaI criterion is measured against: the run's
 * dense network (criterion "none", same settings and seed) trained for the run's epochs, pruned by
 * global weight magnitude to the run's sparsity, and the sparse network retrained from those trained
 * weights (no rewinding) with the same epochs, optimizer and schedule as every PaI run. Data-free:
 * it has no warm-up arm.
 */
export const PAT = 'pat';

/** The settings of the dense run that a PaT run prunes after training. */
export function denseSettingsOf(s: RunSettings): RunSettings {
  return { ...s, criterion: DENSE, sparsity: 0, warmup: false };
}

/** Everything that decides a run's result; its canonical hash is the run id. */
export interface RunSettings {
  dataset: DatasetName;
  /** Images per class kept from the training split (null: all). The first ones in file order. */
  trainPerClass: number | null;
  /** Images per class kept from the test split (null: all). */
  testPerClass: number | null;
  /** Fraction of the training split held out (stratified, seeded) for model selection. */
  valFraction: number;
  augment: boolean;
  /** 28x28 images padded to 32x32 for CIFAR-shaped models. */
  padTo32: boolean;
  model: string;
  width: number;
  numClasses: number;
  inChannels: number;
  imageSize: number;
  criterion: string;
  sparsity: number;
  seed: number;
  warmup: boolean;
  /** Warm-up batches (null: one full pass over the training loader, as the paper). */
  warmupBatches: number | null;
  scope: 'global' | 'layer';
  semantics: 'fixed' | 'reference';
  maskPerClass: number;
  maskBatchSize: number;
  /** null: the criterion's default. */
  temperature: number | null;
  probes: number | null;
  /** Absent: the criterion's default (and the run's id as before the option existed). */
  sharedProbes?: boolean;
  taylorForm?: TaylorForm;
  iterations: number | null;
  batchSize: number;
  epochs: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  labelSmoothing: number;
  evalEvery: number;
  bestBy: 'val_top1' | 'val_f1';
}

/** Where things are, not what is computed: not part of a run's identity. */
export interface Environment {
  dataDir: string | null;
  workers: number;
  /**
   * training.sparseExecution: layers pruned at least minSparsity run with sparse kernels. How a run
   * is computed, not what: results agree with dense masked training up to float rounding, so it is
   * not part of a run's identity. Absent: dense.
   */
  sparseExecution?: { minSparsity: number };
}

/** One run of a study: its settings and its id, a hash of everything that determines its result. */
export interface Run {
  /** Hash of the canonical settings: the same settings give the same id in any config. */
  id: string;
  /** Position in the study's expansion order. */
  index: number;
  settings: RunSettings;
}

/** A parsed config: its name and the runs it expands to, in order. */
export interface Study {
  name: string;
  description: string;
  /** Which form the file was written in. */
  form: 'paper' | 'grid';
  /** Hash of the normalised study (all runs' settings in order). */
  hash: string;
  runs: Run[];
  env: Environment;
  /** Where it was read from (null for an object given directly). */
  source: string | null;
  /** The config as written (for emitting a job that re-reads it). */
  raw: unknown;
}

// ---- canonical hashing ----

/** JSON with object keys sorted at every level, so equal settings give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new ConfigError(`cannot hash the non-finite number ${v}`);
    return JSON.stringify(v) ?? 'null';
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** A short hex SHA-256 of the canonical JSON of v. */
export function hashOf(v: unknown, length = 16): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, length);
}

/** The id of a run: a hash of every setting that determines its result. */
export function runId(s: RunSettings): string {
  return hashOf(s);
}

// ---- schema pieces ----

const posInt = z.number().refine((v) => Number.isInteger(v) && v > 0, 'must be a positive integer');
const nonNegInt = z.number().refine((v) => Number.isInteger(v) && v >= 0, 'must be a non-negative integer');
const positive = z.number().refine((v) => Number.isFinite(v) && v > 0, 'must be a positive number');
const nonNeg = z.number().refine((v) => Number.isFinite(v) && v >= 0, 'must be a non-negative number');
const sparsity = z.number().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)');
const fraction = z.number().refine((v) => v >= 0 && v < 1, 'must be in [0, 1)');
const probability = z.number().refine((v) => v >= 0 && v <= 1, 'must be in [0, 1]');
const seed = z.number().refine((v) => Number.isSafeInteger(v) && v >= 0, 'must be a non-negative integer');

function known(kind: string, names: () => readonly string[], extra: readonly string[] = []): z.ZodType<string> {
  return z.string().check((ctx) => {
    const all = [...names(), ...extra];
    if (!all.includes(ctx.value)) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `unknown ${kind} "${ctx.value}" (known: ${all.join(', ')})` });
    }
  });
}

const criterion = known('criterion', criterionNames, [DENSE, PAT]);
const datasetName = known('dataset', () => DATASET_NAMES);

const nonEmpty = <T extends z.ZodType>(t: T) => z.array(t).min(1, 'must list at least one value');

const optimizer = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('sgd'), lr: positive, momentum: nonNeg.optional(), dampening: nonNeg.optional(), weightDecay: nonNeg.optional(), nesterov: z.boolean().optional() }),
  z.strictObject({ name: z.literal('adamw'), lr: positive.optional(), betas: z.tuple([probability, probability]).optional(), eps: positive.optional(), weightDecay: nonNeg.optional(), amsgrad: z.boolean().optional() }),
], { error: 'name must be "sgd" or "adamw"' });

const warmupFields = { warmupEpochs: nonNegInt.optional(), warmupStartFactor: positive.optional() };
const schedule = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('constant'), ...warmupFields }),
  z.strictObject({ name: z.literal('multistep'), milestones: z.array(posInt), gamma: positive.optional(), ...warmupFields }),
  z.strictObject({ name: z.literal('cosine'), tMax: posInt.optional(), etaMin: nonNeg.optional(), ...warmupFields }),
], { error: 'name must be "constant", "multistep" or "cosine"' });

// A name, or a name with its own width / input size. The union is checked by shape first and the
// name afterwards, so that a misspelt name is reported as such rather than as a shape mismatch.
const modelEntry = z.union([
  z.string(),
  z.strictObject({ name: z.string(), width: positive.optional(), imageSize: posInt.optional() }),
  z.strictObject({ onnx: z.string().min(1) }),
], { error: 'must be a model name, {"name", "width", "imageSize"} or {"onnx": "file.onnx"}' }).check((ctx) => {
  if (typeof ctx.value !== 'string' && 'onnx' in ctx.value) return;
  const name = typeof ctx.value === 'string' ? ctx.value : ctx.value.name;
  if (!modelNames().includes(name)) {
    ctx.issues.push({ code: 'custom', input: name, path: typeof ctx.value === 'string' ? [] : ['name'], message: `unknown model "${name}" (known: ${modelNames().join(', ')})` });
  }
});

const gridSchema = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  grid: z.strictObject({
    datasets: nonEmpty(datasetName),
    models: nonEmpty(modelEntry),
    criteria: nonEmpty(criterion),
    sparsities: nonEmpty(sparsity),
    seeds: nonEmpty(seed),
    warmup: nonEmpty(z.boolean()).optional(),
  }),
  data: z.strictObject({
    batchSize: posInt.optional(),
    valFraction: fraction.optional(),
    trainPerClass: posInt.optional(),
    testPerClass: posInt.optional(),
    augment: z.boolean().optional(),
    dataDir: z.string().optional(),
    workers: nonNegInt.optional(),
  }).optional(),
  model: z.strictObject({ width: positive.optional(), imageSize: posInt.optional() }).optional(),
  pruning: z.strictObject({
    scope: z.enum(['global', 'layer']).optional(),
    semantics: z.enum(['fixed', 'reference']).optional(),
    maskPerClass: posInt.optional(),
    maskBatchSize: posInt.optional(),
    temperature: positive.optional(),
    probes: posInt.optional(),
    sharedProbes: z.boolean().optional(),
    taylorForm: z.enum(OPTION_SPECS.taylorForm.choices as [TaylorForm, ...TaylorForm[]]).optional(),
    iterations: posInt.optional(),
    warmupBatches: posInt.optional(),
  }).optional(),
  training: z.strictObject({
    epochs: posInt,
    optimizer,
    schedule: schedule.optional(),
    labelSmoothing: probability.optional(),
    evalEvery: posInt.optional(),
    bestBy: z.enum(['val_top1', 'val_f1']).optional(),
    sparseExecution: z.union([z.boolean(), z.strictObject({ minSparsity: probability })], { error: 'must be true, false or {"minSparsity": <number in [0, 1]>}' }).optional(),
  }),
});

// The paper's names for its models (load_model.py) next to pai's.
const PAPER_MODELS: Readonly<Record<string, string>> = {
  VGG11: 'vgg11', VGG13: 'vgg13', VGG16: 'vgg16', VGG19: 'vgg19', ResNet18_TinyImageNet: 'resnet18_tiny',
};
const paperModel = z.string().check((ctx) => {
  if (!(ctx.value in PAPER_MODELS) && !modelNames().includes(ctx.value)) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: `unknown model "${ctx.value}" (known: ${[...Object.keys(PAPER_MODELS), ...modelNames()].join(', ')})` });
  }
});

const paperSchema = z.strictObject({
  general: z.strictObject({
    id: z.string(),
    description: z.string().optional(),
    gpu: z.strictObject({ ngpus: nonNegInt, gpu_id: nonNegInt.optional() }).optional(),
    experiment: z.literal('pbt', { error: 'must be "pbt" (pruning before training), the one experiment the paper ships' }).optional(),
    seed,
    output_dir: z.string().optional(),
  }),
  dataset: z.strictObject({
    class: datasetName,
    batch_size: posInt,
    num_workers: nonNegInt.optional(),
    train4val: z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False'])]).optional(),
  }),
  model: z.strictObject({ class: paperModel, num_classes: posInt }),
  training: z.strictObject({
    num_steps: posInt,
    local_epochs: nonNegInt.optional(),
    criterion: z.strictObject({
      class: z.literal('CE', { error: 'must be "CE" (cross-entropy), the only loss the paper uses' }),
      kwargs: z.strictObject({ label_smoothing: probability.optional() }).optional(),
    }),
    optimizer: z.strictObject({
      class: z.enum(['sgd', 'adamw']),
      learning_rate: positive,
      kwargs: z.strictObject({
        momentum: nonNeg.optional(),
        w_decay: nonNeg.optional(),
        scheduler: z.enum(['step', 'cosine', 'none']).optional(),
        lr_drops: z.array(posInt).optional(),
        lr_drop_factor: positive.optional(),
        t_max: posInt.optional(),
      }).optional(),
    }),
    compressor: z.strictObject({
      class: criterion,
      mask: z.enum(['global', 'local', 'layer']),
      sparsity,
      warmup: z.union([nonNegInt, z.boolean()]),
      batch_size: posInt,
      per_class_samples: z.union([posInt, z.null()]).optional(),
      percentile: z.number().optional(),
    }),
  }),
  validation: z.strictObject({
    metric: z.enum(['acc', 'f1']),
    frequency: posInt,
  }),
});

type GridConfig = z.infer<typeof gridSchema>;
type PaperConfig = z.infer<typeof paperSchema>;

// ---- error messages ----

function parseWith<T>(schema: z.ZodType<T>, raw: unknown, source: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new ConfigError(`${source}: ${issuesMessage(r.error, raw)}`);
}

// ---- normalisation ----

const DEFAULT_VAL_FRACTION = 0.1;

function modelInput(name: string, dataset: DatasetName, imageSize: number | undefined, where: string): { inChannels: number; imageSize: number; padTo32: boolean } {
  const info = datasetInfo(dataset);
  if (!info.shape) throw new ConfigError(`${where}: dataset ${dataset} has images of varying size; pai's experiment runner needs a fixed-size dataset`);
  const [c, side] = [info.shape[0], info.shape[1]];
  const want = imageSize ?? (side === 28 && /^vgg/.test(name) ? 32 : side);
  if (want !== side && !(side === 28 && want === 32)) throw new ConfigError(`${where}: imageSize ${want}, but ${dataset} images are ${side}x${side} (only 28, or 32 by padding, is possible)`);
  return { inChannels: c, imageSize: want, padTo32: want !== side };
}

/**
 * An ONNX model entry ({"onnx": "file.onnx"}, relative to the config's folder): its input and
 * classes come from the graph, which must take the dataset's images (28 padded to 32 allowed).
 */
function onnxInput(file: string, source: string | null, dataset: DatasetName, where: string): { name: string; inChannels: number; imageSize: number; padTo32: boolean; numClasses: number } {
  const path = resolve(source ? dirname(source) : '.', file);
  let c;
  try {
    c = importOnnx(path).config;
  } catch (e) {
    throw new ConfigError(`${where}: onnx ${file}: ${(e as Error).message}`);
  }
  const info = datasetInfo(dataset);
  if (!info.shape) throw new ConfigError(`${where}: dataset ${dataset} has images of varying size; pai's experiment runner needs a fixed-size dataset`);
  const [ch, side] = [info.shape[0], info.shape[1]];
  if (c.inChannels !== ch) throw new ConfigError(`${where}: ${file} takes ${c.inChannels}-channel images, ${dataset} has ${ch}`);
  if (c.imageSize !== side && !(side === 28 && c.imageSize === 32)) throw new ConfigError(`${where}: ${file} takes ${c.imageSize}x${c.imageSize} images, ${dataset} has ${side}x${side}`);
  if (c.numClasses < info.numClasses) throw new ConfigError(`${where}: ${file} has ${c.numClasses} outputs, ${dataset} has ${info.numClasses} classes`);
  return { name: onnxModelName(path), inChannels: ch, imageSize: c.imageSize, padTo32: c.imageSize !== side, numClasses: c.numClasses };
}

function finish(name: string, description: string, form: Study['form'], settings: RunSettings[], env: Environment, source: string | null, raw: unknown): Study {
  const seen = new Map<string, number>();
  const runs: Run[] = [];
  for (const s of settings) {
    const id = runId(s);
    // Two grid points that normalise to the same settings (e.g. "none" at several sparsities) are one run.
    if (seen.has(id)) continue;
    seen.set(id, runs.length);
    runs.push({ id, index: runs.length, settings: s });
  }
  return { name, description, form, hash: hashOf({ name, runs: runs.map((r) => r.settings) }), runs, env, source, raw };
}

function fromGrid(c: GridConfig, fallbackName: string, source: string | null, raw: unknown): Study {
  const d = c.data ?? {}, p = c.pruning ?? {}, t = c.training;
  const settings: RunSettings[] = [];
  const warmups = c.grid.warmup ?? [false];
  // Expansion order, outermost first: dataset, model, criterion, sparsity, warm-up, seed. Seeds vary
  // fastest so that a partly finished grid already has complete mean ± std cells.
  c.grid.datasets.forEach((ds, di) => {
    const dataset = ds as DatasetName;
    const info = datasetInfo(dataset);
    c.grid.models.forEach((m, mi) => {
      const where = `grid.models[${mi}] on grid.datasets[${di}]`;
      const onnx = typeof m !== 'string' && 'onnx' in m ? onnxInput(m.onnx, source, dataset, where) : null;
      const entry: { name: string; width?: number; imageSize?: number } = onnx ?? (typeof m === 'string' ? { name: m } : m as { name: string });
      const width = onnx ? 1 : entry.width ?? c.model?.width ?? 1;
      const input = onnx ?? modelInput(entry.name, dataset, entry.imageSize ?? c.model?.imageSize, where);
      for (const crit of c.grid.criteria) {
        const dense = crit === DENSE;
        for (const sp of dense ? [0] : c.grid.sparsities) {
          for (const warm of dense || crit === PAT ? [false] : warmups) {
            for (const sd of c.grid.seeds) {
              settings.push({
                dataset, trainPerClass: d.trainPerClass ?? null, testPerClass: d.testPerClass ?? null,
                valFraction: d.valFraction ?? DEFAULT_VAL_FRACTION, augment: d.augment ?? true, padTo32: input.padTo32,
                model: entry.name, width, numClasses: onnx?.numClasses ?? info.numClasses, inChannels: input.inChannels, imageSize: input.imageSize,
                criterion: crit, sparsity: sp, seed: sd, warmup: warm, warmupBatches: p.warmupBatches ?? null,
                scope: p.scope ?? 'global', semantics: p.semantics ?? 'fixed',
                maskPerClass: p.maskPerClass ?? 10, maskBatchSize: p.maskBatchSize ?? 1,
                temperature: p.temperature ?? null, probes: p.probes ?? null, iterations: p.iterations ?? null,
                ...(p.sharedProbes !== undefined ? { sharedProbes: p.sharedProbes } : {}),
                ...(p.taylorForm !== undefined ? { taylorForm: p.taylorForm } : {}),
                batchSize: d.batchSize ?? 128, epochs: t.epochs, optimizer: t.optimizer as OptimizerSpec,
                schedule: (t.schedule ?? { name: 'constant' }) as ScheduleSpec, labelSmoothing: t.labelSmoothing ?? 0,
                evalEvery: t.evalEvery ?? 1, bestBy: t.bestBy ?? 'val_top1',
              });
            }
          }
        }
      }
    });
  });
  const env: Environment = { dataDir: d.dataDir ?? null, workers: d.workers ?? 0 };
  if (t.sparseExecution) env.sparseExecution = { minSparsity: t.sparseExecution === true ? DEFAULT_MIN_SPARSITY : t.sparseExecution.minSparsity };
  return finish(c.name ?? fallbackName, c.description ?? '', 'grid', settings, env, source, raw);
}

function fromPaper(c: PaperConfig, source: string | null, raw: unknown): Study {
  const where = source ?? 'config';
  const dataset = c.dataset.class as DatasetName;
  const info = datasetInfo(dataset);
  const model = PAPER_MODELS[c.model.class] ?? c.model.class;
  if (c.model.num_classes !== info.numClasses) {
    throw new ConfigError(`${where}: model.num_classes: ${c.model.num_classes}, but ${dataset} has ${info.numClasses} classes`);
  }
  const o = c.training.optimizer, k = o.kwargs ?? {};
  const opt: OptimizerSpec = o.class === 'sgd'
    ? { name: 'sgd', lr: o.learning_rate, momentum: k.momentum ?? 0, weightDecay: k.w_decay ?? 0 }
    : { name: 'adamw', lr: o.learning_rate, weightDecay: k.w_decay ?? 0.01 };
  let sched: ScheduleSpec;
  switch (k.scheduler ?? 'none') {
    case 'step':
      if (!k.lr_drops || k.lr_drop_factor === undefined) throw new ConfigError(`${where}: training.optimizer.kwargs: scheduler "step" needs lr_drops and lr_drop_factor`);
      sched = { name: 'multistep', milestones: k.lr_drops, gamma: k.lr_drop_factor };
      break;
    case 'cosine':
      if (k.t_max === undefined) throw new ConfigError(`${where}: training.optimizer.kwargs.t_max: required by scheduler "cosine"`);
      // load_model.py fixes eta_min at 1e-6.
      sched = { name: 'cosine', tMax: k.t_max, etaMin: 1e-6 };
      break;
    default:
      sched = { name: 'constant' };
  }
  const comp = c.training.compressor;
  if (comp.per_class_samples === null || comp.per_class_samples === undefined) {
    throw new ConfigError(`${where}: training.compressor.per_class_samples: pai needs a number of images per class (the paper's code falls back to the whole training set)`);
  }
  const input = modelInput(model, dataset, undefined, `${where}: model.class`);
  const t4v = c.dataset.train4val;
  const train4val = t4v === true || (typeof t4v === 'string' && t4v.toLowerCase() === 'true');
  const dense = comp.class === DENSE;
  const s: RunSettings = {
    dataset, trainPerClass: null, testPerClass: null,
    // The paper's code validates on the test set unless train4val holds out 20% of the training
    // set; pai always selects on held-out training data and keeps the test set apart.
    valFraction: train4val ? 0.2 : DEFAULT_VAL_FRACTION, augment: true, padTo32: input.padTo32,
    model, width: 1, numClasses: info.numClasses, inChannels: input.inChannels, imageSize: input.imageSize,
    criterion: comp.class, sparsity: dense ? 0 : comp.sparsity, seed: c.general.seed,
    warmup: !dense && comp.class !== PAT && (comp.warmup === true || (typeof comp.warmup === 'number' && comp.warmup > 0)), warmupBatches: null,
    scope: comp.mask === 'global' ? 'global' : 'layer', semantics: 'fixed',
    maskPerClass: comp.per_class_samples, maskBatchSize: comp.batch_size,
    temperature: null, probes: null, iterations: null,
    batchSize: c.dataset.batch_size, epochs: c.training.num_steps, optimizer: opt, schedule: sched,
    labelSmoothing: c.training.criterion.kwargs?.label_smoothing ?? 0,
    evalEvery: c.validation.frequency, bestBy: c.validation.metric === 'f1' ? 'val_f1' : 'val_top1',
  };
  return finish(c.general.id, c.general.description ?? '', 'paper', [s], { dataDir: null, workers: c.dataset.num_workers ?? 0 }, source, raw);
}

/** Validates and normalises a parsed config object. */
export function parseConfig(raw: unknown, source: string | null = null, fallbackName = 'study'): Study {
  const where = source ?? 'config';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: a config must be a JSON object, got ${describeValue(raw)}`);
  const keys = Object.keys(raw);
  if (keys.includes('general') || keys.includes('compressor')) return fromPaper(parseWith(paperSchema, raw, where), source, raw);
  if (keys.includes('grid')) return fromGrid(parseWith(gridSchema, raw, where), fallbackName, source, raw);
  throw new ConfigError(`${where}: neither a grid config (with "grid") nor a paper config (with "general", "dataset", "model", "training", "validation")`);
}

/** Reads and parses one config file (grid or the paper's form); errors name the file and field. */
export function loadConfig(path: string): Study {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, path, basename(path).replace(/\.json$/i, ''));
}

/** Whether configs may name this dataset. */
export function isKnownDataset(name: string): boolean {
  return isDatasetName(name);
}
