// Runs a study: for every run not yet in the store, prune at initialisation and train, then write
// the run's row. A run is complete exactly when its row exists, so a killed process loses at most
// the run it was in, and even that resumes: the pruned weights and masks are kept under
// runs/<id>/pruned (written whole, then renamed into place), and the trainer checkpoints every
// epoch under runs/<id>/ckpt.
//
// Per run:
// 1. data: the training split (optionally the first k images per class), a seeded stratified
//    validation split held out of it (model selection looks at this only), the test split;
// 2. the model, initialised from the run's seed;
// 3. pruning (unless the criterion is "none"): optional BN warm-up over one pass of the training
//    loader, scoring on `maskPerClass` images per class of the training part (eval transform, in
//    class order) at mask batch `maskBatchSize`, masks, layer-collapse check;
// 4. training with the masks enforced, evaluating validation and test every `evalEvery` epochs.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { defined } from '../tensor/checked.js';
import { canonicalJson, denseSettingsOf, loadConfig, ConfigError, DENSE, PAT, runId, type Environment, type Run, type RunSettings, type Study } from './config.js';
import { readRow, runDir, signRow, writeAtomic, writeRow, renameAtomic, type ResultRow } from './store.js';
import { selectShard, type Shard } from './shard.js';
import { createModel, type Model } from '../models/registry.js';
import { importOnnx, onnxPathOf } from '../models/onnx/index.js';
import { modelIdentity, writeModelJson } from '../export/source.js';
import { datasetInfo, loadDataset } from '../data/registry.js';
import { SubsetDataset, type Dataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { maskSubsetBatch, stratifiedSplit } from '../data/subset.js';
import { standardTransform, type TransformSpec } from '../data/transforms.js';
import { Generator } from '../tensor/random.js';
import { loadTensors, saveTensors } from '../tensor/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import { loadStateDictFile, saveStateDict } from '../nn/serialize.js';
import { sampleCount } from '../prune/context.js';
import { getCriterion, prunableParameters, pruneAtInit, type CriterionOptions, type LayerDensity, type MaskData, type PruneOptions, type PruneResult } from '../prune/index.js';
import { trainModel, type TrainProgress, type TrainResult } from '../train/index.js';
import { DEFAULT_MIN_SPARSITY } from '../nn/sparse.js';
import { backendInfo } from '../kernels/index.js';
import { cpuDescription } from '../kernels/cpu.js';
import { paiVersion } from './version.js';

/** Callbacks of the runner, for progress output. */
export interface RunnerEvents {
  /** A run starts (`position` counts the runs this process will do, from 1). */
  runStart?(run: Run, position: number, total: number): void;
  /** A phase of the current run starts: 'warm-up', 'score', 'train'; `total` in its own units. */
  phase?(run: Run, phase: 'warm-up' | 'score' | 'train', total: number, unit: string): void;
  /** Progress within the phase. */
  tick?(done: number, total?: number): void;
  /** The phase ended. */
  phaseEnd?(): void;
  /** Progress within a run's training. */
  trainProgress?(p: TrainProgress): void;
  /** A run finished an epoch. */
  epochEnd?(run: Run, epoch: number, summary: string): void;
  /** A run finished and its row is written. */
  runEnd?(run: Run, row: ResultRow): void;
  /** A run was skipped (already in the store, or not in this shard). */
  skip?(run: Run, reason: string): void;
  /** Something the user should know (layer collapse, an emptied layer). */
  warn?(message: string): void;
}

/** Options of `runStudies`. */
export interface RunnerOptions {
  store: string;
  shard?: Shard | null;
  /** Overrides the config's data.dataDir. */
  dataDir?: string;
  workers?: number;
  /** Overrides the config's training.sparseExecution (false: dense). */
  sparseExecution?: boolean | { minSparsity: number };
  /** Keep runs/<id>/ (pruned weights, masks, checkpoints) after the row is written. */
  keepCheckpoints?: boolean;
  /** Go on with the next run when one fails (default: stop at the first failure). */
  keepGoing?: boolean;
  events?: RunnerEvents;
  signal?: AbortSignal;
}

/** What `runStudies` did. */
export interface StudyResult {
  /** Runs of this shard, in order. */
  planned: Run[];
  done: ResultRow[];
  skipped: Run[];
  failed: { run: Run; error: Error }[];
}

// ---- reading configs ----

/** One config file, or every *.json in a folder (sorted by name), as one list of studies. */
export function loadStudies(path: string): Study[] {
  if (!existsSync(path)) throw new ConfigError(`${path}: no such file or folder`);
  if (!statSync(path).isDirectory()) return [loadConfig(path)];
  const files = readdirSync(path).filter((f) => f.toLowerCase().endsWith('.json') && !f.startsWith('.')).sort();
  const studies = files.map((f) => join(path, f)).filter((f) => statSync(f).isFile()).map(loadConfig);
  if (studies.length === 0) throw new ConfigError(`${path}: no *.json config in this folder`);
  return studies;
}

/** Every run of the studies in order, each id once (the first study that lists it owns it). */
export function planRuns(studies: readonly Study[]): { run: Run; study: Study }[] {
  const seen = new Set<string>();
  const out: { run: Run; study: Study }[] = [];
  for (const study of studies) {
    for (const run of study.runs) {
      if (seen.has(run.id)) continue;
      seen.add(run.id);
      out.push({ run, study });
    }
  }
  return out;
}

// ---- data ----

/** The data of one run: its training part, validation split and test set. */
export interface RunData {
  train: Dataset;
  val: Dataset;
  test: Dataset;
}

/** The first `k` items of every class, in file order: a deterministic, seed-free reduction. */
function firstPerClass(ds: Dataset, k: number): Dataset {
  const labels = ds.labels();
  const taken = new Map<number, number>();
  const idx: number[] = [];
  labels.forEach((c, i) => {
    const n = taken.get(c) ?? 0;
    if (n < k) { idx.push(i); taken.set(c, n + 1); }
  });
  return new SubsetDataset(ds, Int32Array.from(idx), `${ds.name}[${k}/class]`);
}

/** Loaded splits, shared by the runs of one process. */
export class DataCache {
  private readonly splits = new Map<string, Dataset>();
  constructor(private readonly dataDir: string | undefined) {}

  /** A split of a named dataset, loaded once per process. */
  split(name: RunSettings['dataset'], split: 'train' | 'test'): Dataset {
    const key = `${name}/${split}`;
    let ds = this.splits.get(key);
    if (!ds) {
      ds = loadDataset(name, split, this.dataDir === undefined ? {} : { dataDir: this.dataDir });
      this.splits.set(key, ds);
    }
    return ds;
  }

  /** The training, validation and test data of a run. */
  forRun(s: RunSettings): RunData {
    let train = this.split(s.dataset, 'train');
    let test = this.split(s.dataset, 'test');
    if (s.trainPerClass !== null) train = firstPerClass(train, s.trainPerClass);
    if (s.testPerClass !== null) test = firstPerClass(test, s.testPerClass);
    const { train: ti, val: vi } = stratifiedSplit(train.labels(), s.valFraction, new Generator(s.seed));
    return {
      train: new SubsetDataset(train, ti, `${train.name} train part`),
      val: new SubsetDataset(train, vi, `${train.name} validation part`),
      test,
    };
  }
}

/** A run's transforms: training (augmented when the run augments) and evaluation (also the mask data's). */
export interface RunTransforms { train: TransformSpec; eval: TransformSpec }

/** The transforms of a run, normalised with the dataset registry's constants. */
export function runTransforms(s: RunSettings): RunTransforms {
  // The registry's constants, so that a reduced set is normalised like the full one it stands for.
  const { mean, std } = datasetInfo(s.dataset);
  const o = { padTo32: s.padTo32, mean, std };
  const ev = standardTransform(s.dataset, 'eval', o);
  return { train: s.augment ? standardTransform(s.dataset, 'train', o) : ev, eval: ev };
}

// ---- pruning, persisted ----

interface PruneRecord {
  layers: LayerDensity[];
  kept: number;
  total: number;
  emptyLayers: string[];
  connected: boolean | null;
  warnings: string[];
  warmupSeconds: number;
  maskSeconds: number;
}

function denseRecord(model: Model, s: RunSettings): PruneRecord {
  const params = new Map(model.namedParameters());
  const layers = prunableParameters(model, s.semantics).map((name) => {
    const n = defined(params.get(name), 'a prunable parameter of the model').size;
    return { name, kept: n, total: n, density: 1 };
  });
  const total = layers.reduce((a, l) => a + l.total, 0);
  return { layers, kept: total, total, emptyLayers: [], connected: true, warnings: [], warmupSeconds: 0, maskSeconds: 0 };
}

/** Loads a finished pruning of this run into `model`, or null when there is none. */
function loadPruned(dir: string, model: Model): { masks: Map<string, Tensor>; record: PruneRecord } | null {
  const p = join(dir, 'pruned');
  if (!existsSync(join(p, 'prune.json'))) return null;
  loadStateDictFile(model, join(p, 'model.safetensors'));
  const masks = loadTensors(join(p, 'masks.safetensors'));
  const record = JSON.parse(readFileSync(join(p, 'prune.json'), 'utf8')) as PruneRecord;
  return { masks, record };
}

function savePruned(dir: string, model: Model, masks: Map<string, Tensor>, record: PruneRecord): void {
  const final = join(dir, 'pruned');
  const tmp = join(dir, `.pruned-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  saveStateDict(join(tmp, 'model.safetensors'), model, { content: 'pruned model before training' });
  saveTensors(join(tmp, 'masks.safetensors'), masks, { content: 'masks (1 = keep)' });
  // prune.json last: its presence marks the folder complete.
  writeFileSync(join(tmp, 'prune.json'), JSON.stringify(record, null, 1));
  rmSync(final, { recursive: true, force: true });
  renameAtomic(tmp, final);
}

/**
 * The images a run scores its masks on: `maskPerClass` per class of its training part, drawn with
 * the run's seed, with the evaluation transform, in class order.
 */
export function runMaskData(train: Dataset, s: RunSettings, evalTransform: TransformSpec): MaskData {
  const { x, y } = maskSubsetBatch(train, { perClass: s.maskPerClass, gen: new Generator(s.seed), transform: evalTransform });
  return { x, y };
}

/** A run's model: its ONNX file imported, or the zoo model initialised from the run's seed. */
export function runModel(s: RunSettings): Model {
  const onnx = onnxPathOf(s.model);
  return onnx !== null ? importOnnx(onnx) : createModel(s.model, { numClasses: s.numClasses, inChannels: s.inChannels, width: s.width, imageSize: s.imageSize, seed: s.seed });
}

/** A run's training loader: its training part in batches of `batchSize`, shuffled by its seed, with its training transform. */
export function trainLoaderOf(s: RunSettings, data: RunData, tf: RunTransforms, workers: number): DataLoader {
  return new DataLoader(data.train, { batchSize: s.batchSize, shuffle: true, transform: tf.train, seed: s.seed, workers });
}

/**
 * pruneAtInit's options for a run, but the mask data and the warm-up: its criterion, sparsity,
 * scope, semantics, mask batch size, seed, iterations and criterion options.
 */
export function runPruneOptions(s: RunSettings): Pick<PruneOptions, 'criterion' | 'sparsity' | 'scope' | 'semantics' | 'batchSize' | 'seed' | 'iterations'> & Partial<CriterionOptions> {
  return {
    criterion: s.criterion, sparsity: s.sparsity, scope: s.scope, semantics: s.semantics,
    batchSize: s.maskBatchSize, seed: s.seed, iterations: s.iterations ?? getCriterion(s.criterion).iterations, ...criterionOptions(s),
  };
}

/** The number of batches of a run's BN warm-up: one pass over its training loader, or `warmupBatches` of it. */
export function warmupBatchCount(s: RunSettings, loader: DataLoader): number {
  return Math.min(loader.length, s.warmupBatches ?? Infinity);
}

/** The images of a run's BN warm-up: the first epoch's batches of its training loader. */
export function* warmupImages(loader: DataLoader): IterableIterator<Tensor> {
  for (const b of loader.batchesSync(0)) yield b.x;
}

/**
 * Scores of one-shot criteria do not depend on the sparsity, so runs that differ only in it (and in
 * training settings) share one scoring: the model state after the warm-up and the scores are kept
 * in memory and the masks are cut again. Iterative criteria (SynFlow) re-score at every sparsity.
 * The grid's order (sparsity outside warm-up and seed) needs warm-ups x seeds entries to hit.
 */
export interface Scored { state: Map<string, Tensor>; scores: Map<string, Tensor>; warmupMs: number; scoreMs: number; bytes: number }

/** Scores kept in memory between runs that differ only in sparsity or training settings, so they are computed once. */
export class ScoreMemo {
  private readonly entries = new Map<string, Scored>();
  private bytes = 0;
  constructor(private readonly maxBytes = 512 * 2 ** 20) {}

  /** The memo key of a run: everything that reaches its scores. */
  static key(s: RunSettings): string {
    // Everything that reaches the scores: data, model, seed, warm-up and scoring settings.
    return canonicalJson({
      dataset: s.dataset, trainPerClass: s.trainPerClass, valFraction: s.valFraction, augment: s.augment, padTo32: s.padTo32,
      model: s.model, width: s.width, numClasses: s.numClasses, inChannels: s.inChannels, imageSize: s.imageSize,
      criterion: s.criterion, seed: s.seed, warmup: s.warmup, warmupBatches: s.warmup ? s.warmupBatches : null, batchSize: s.warmup ? s.batchSize : null,
      semantics: s.semantics, maskPerClass: s.maskPerClass, maskBatchSize: s.maskBatchSize, ...criterionOptions(s),
    });
  }

  /** The memoised scoring of `key`, if kept. */
  get(key: string): Scored | undefined {
    const e = this.entries.get(key);
    if (e) { this.entries.delete(key); this.entries.set(key, e); }
    return e;
  }

  /** Keeps a scoring, dropping the oldest ones beyond the memory limit. */
  set(key: string, e: Scored): void {
    if (e.bytes > this.maxBytes) return;
    this.entries.set(key, e);
    this.bytes += e.bytes;
    for (const [k, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= old.bytes;
    }
  }
}

/** The run's criterion options that override the criterion's defaults (null or absent: the default). */
function criterionOptions(s: RunSettings): Partial<CriterionOptions> {
  return {
    ...(s.temperature !== null ? { temperature: s.temperature } : {}),
    ...(s.probes !== null ? { probes: s.probes } : {}),
    ...(s.sharedProbes !== undefined ? { sharedProbes: s.sharedProbes } : {}),
    ...(s.taylorForm !== undefined ? { taylorForm: s.taylorForm } : {}),
  };
}

/** A copy of a model's state dict (parameters and buffers), to load back later. */
export function cloneState(model: Model): Map<string, Tensor> {
  return new Map([...model.stateDict()].map(([k, t]) => [k, t.clone()]));
}

function prune(model: Model, run: Run, data: RunData, loader: DataLoader, evalTransform: TransformSpec, ev: RunnerEvents, memo: ScoreMemo): { masks: Map<string, Tensor>; record: PruneRecord } {
  const s = run.settings;
  const common = runPruneOptions(s);
  const iterations = common.iterations ?? 1;
  const key = iterations === 1 ? ScoreMemo.key(s) : null;
  const hit = key ? memo.get(key) : undefined;
  let r: PruneResult, warmupMs: number, scoreMs: number;
  if (hit) {
    // The warmed-up state and its scores: the same pipeline from the masks on.
    model.loadStateDict(hit.state);
    r = pruneAtInit(model, { ...common, data: null, scores: hit.scores });
    ({ warmupMs, scoreMs } = hit);
  } else {
    const md = runMaskData(data.train, s, evalTransform);
    const warmTotal = warmupBatchCount(s, loader);
    const scoreTotal = iterations > 1 ? iterations : Math.ceil(sampleCount(md) / s.maskBatchSize);
    let state: Map<string, Tensor> | null = null;
    r = pruneAtInit(model, {
      ...common, data: md,
      ...(s.warmup ? {
        warmup: warmupImages(loader),
        warmupBatches: warmTotal,
        warmupProgress: (done: number) => ev.tick?.(done, warmTotal),
      } : {}),
      onPhase: (phase) => {
        if (phase === 'score') ev.phaseEnd?.();
        ev.phase?.(run, phase, phase === 'warm-up' ? warmTotal : scoreTotal, phase === 'warm-up' ? 'batches' : iterations > 1 ? 'iterations' : 'mask batches');
      },
      // The state after the warm-up, before the masks: what the memo keeps (the scores go with it).
      onScored: () => { if (key) state = cloneState(model); },
      ...(iterations > 1
        ? { onIteration: (e: number) => ev.tick?.(e + 1, scoreTotal) }
        : { progress: (done: number, total: number) => ev.tick?.(done, total) }),
    });
    ev.phaseEnd?.();
    warmupMs = r.warmupMs; scoreMs = r.scoreMs;
    if (key && state) {
      let bytes = 0;
      for (const t of [...(state as Map<string, Tensor>).values(), ...r.scores.values()]) bytes += t.data.byteLength;
      memo.set(key, { state, scores: r.scores, warmupMs, scoreMs, bytes });
    }
  }
  return pruned(r, warmupMs, scoreMs);
}

/** A pruning's masks and its record, with the warm-up and scoring times given. */
function pruned(r: PruneResult, warmupMs: number, scoreMs: number): { masks: Map<string, Tensor>; record: PruneRecord } {
  const rep = r.report;
  return {
    masks: r.masks,
    record: {
      layers: rep.layers, kept: rep.kept, total: rep.total, emptyLayers: rep.emptyLayers, connected: rep.connected,
      warnings: r.warnings, warmupSeconds: warmupMs / 1000, maskSeconds: scoreMs / 1000,
    },
  };
}

// ---- one run ----

/** What `executeRun` needs besides the run: the store, data cache, score memo and events. */
export interface RunContext {
  store: string;
  study: Study;
  env: Environment;
  cache: DataCache;
  keepCheckpoints: boolean;
  events: RunnerEvents;
  memo: ScoreMemo;
  signal?: AbortSignal;
}

function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${(100 * v).toFixed(2)}%`;
}

/** In runs/<id>/: the folder is to go once the run's row exists. */
const REMOVE_MARKER = 'remove-after-row';

/** Where a dense run's trained weights are kept for the PaT runs that prune them: trained/<id>.safetensors. */
export function trainedPath(store: string, denseId: string): string {
  return join(store, 'trained', `${denseId}.safetensors`);
}

/**
 * The PaT baseline's pruning: the dense run of the same settings and seed, trained (by this process
 * first if the store does not hold its weights yet), then pruned by global magnitude to the run's
 * sparsity. The model ends holding the trained weights with the pruned ones zeroed.
 */
async function pruneAfterTraining(run: Run, ctx: RunContext, model: Model): Promise<{ masks: Map<string, Tensor>; record: PruneRecord }> {
  const s = run.settings, ev = ctx.events;
  const denseSettings = denseSettingsOf(s);
  const dense: Run = { id: runId(denseSettings), index: -1, settings: denseSettings };
  const path = trainedPath(ctx.store, dense.id);
  if (!existsSync(path)) {
    ev.warn?.(`run ${run.id}: the store holds no trained weights of its dense run ${dense.id}; training that run first`);
    await executeRun(dense, ctx);
  }
  loadStateDictFile(model, path);
  const t0 = performance.now();
  const r = pruneAtInit(model, { criterion: 'magnitude', sparsity: s.sparsity, scope: s.scope, semantics: s.semantics, data: null, seed: s.seed });
  return pruned(r, 0, performance.now() - t0);
}

/** The run's masks: none for the dense baseline, the ones pruned by an earlier attempt, or pruned now. */
async function masksFor(run: Run, ctx: RunContext, dir: string, model: Model, data: RunData, trainLoader: DataLoader, evalTransform: TransformSpec): Promise<{ masks: Map<string, Tensor> | null; record: PruneRecord }> {
  const s = run.settings, ev = ctx.events;
  if (s.criterion === DENSE) return { masks: null, record: denseRecord(model, s) };
  let r = loadPruned(dir, model);
  if (r) ev.warn?.(`run ${run.id}: resuming with the masks pruned earlier`);
  else {
    r = s.criterion === PAT ? await pruneAfterTraining(run, ctx, model) : prune(model, run, data, trainLoader, evalTransform, ev, ctx.memo);
    savePruned(dir, model, r.masks, r.record);
  }
  for (const w of r.record.warnings) ev.warn?.(`run ${run.id}: ${w}`);
  return r;
}

/** Trains the (masked) model with the run's settings, checkpointing into the run's folder. */
async function trainRun(run: Run, ctx: RunContext, dir: string, model: Model, data: RunData, trainLoader: DataLoader, evalTransform: TransformSpec, masks: Map<string, Tensor> | null): Promise<TrainResult> {
  const s = run.settings, ev = ctx.events;
  const evalLoader = (ds: Dataset): DataLoader => new DataLoader(ds, { batchSize: Math.max(s.batchSize, 256), transform: evalTransform, seed: s.seed, workers: ctx.env.workers });
  ev.phase?.(run, 'train', s.epochs * trainLoader.length, 'steps');
  try {
    return await trainModel(model, {
      train: trainLoader,
      ...(data.val.length > 0 ? { val: evalLoader(data.val) } : {}),
      test: evalLoader(data.test),
      epochs: s.epochs,
      optimizer: s.optimizer,
      schedule: s.schedule,
      labelSmoothing: s.labelSmoothing,
      masks,
      evalEvery: s.evalEvery,
      checkpointDir: join(dir, 'ckpt'),
      resume: true,
      bestBy: s.bestBy,
      seed: s.seed,
      ...(ctx.env.sparseExecution ? { sparseExecution: ctx.env.sparseExecution } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      progress: (p) => {
        if (p.phase === 'train') ev.tick?.((p.epoch - 1) * trainLoader.length + p.batch);
        ev.trainProgress?.(p);
      },
      onEpoch: (r) => ev.epochEnd?.(run, r.epoch, `epoch ${r.epoch}/${s.epochs}: loss ${r.train_loss.toFixed(4)}, train ${fmtPct(r.train_top1)}, val ${fmtPct(r.val?.top1)}, test ${fmtPct(r.test?.top1)}`),
    });
  } finally {
    ev.phaseEnd?.();
    await trainLoader.close();
  }
}

/** The run's signed result row: settings, the training curve, the best and last epochs, the mask's shape, timings. */
function resultRow(run: Run, ctx: RunContext, result: TrainResult, record: PruneRecord, t0: number): ResultRow {
  const best = result.best, last = result.last;
  const backend = backendInfo();
  return signRow({
    format: 'pai-result/1',
    id: run.id,
    configHash: ctx.study.hash,
    study: ctx.study.name,
    settings: run.settings,
    history: result.history,
    final: { epoch: last.epoch, val: last.val ?? null, test: last.test ?? null },
    best: { epoch: best.epoch, by: best.by, val: best.metrics.val ?? null, test: best.metrics.test ?? null },
    finalTestTop1: last.test?.top1 ?? null,
    bestValTop1: best.metrics.val?.top1 ?? null,
    bestTestTop1: best.metrics.test?.top1 ?? null,
    density: record.total ? record.kept / record.total : 0,
    kept: record.kept,
    total: record.total,
    layers: record.layers,
    emptyLayers: record.emptyLayers,
    collapsed: record.connected === false,
    warnings: record.warnings,
    timing: {
      warmupSeconds: record.warmupSeconds, maskSeconds: record.maskSeconds, trainSeconds: result.trainSeconds,
      totalSeconds: (performance.now() - t0) / 1000,
    },
    pai: { version: paiVersion(), backend: backend.name, threads: backend.threads, node: process.version, cpu: cpuDescription() },
    finishedAt: new Date().toISOString(),
  });
}

/**
 * Runs one run (prune, train, evaluate) and writes its row; resumes from its saved pruning and
 * checkpoints: its folder, the model, the masks, training, and its row in the results store.
 */
export async function executeRun(run: Run, ctx: RunContext): Promise<ResultRow> {
  const t0 = performance.now();
  const s = run.settings;
  const dir = runDir(ctx.store, run.id);
  mkdirSync(dir, { recursive: true });
  // Left by an attempt killed just before its row; this attempt decides anew.
  rmSync(join(dir, REMOVE_MARKER), { force: true });
  // What the folder holds, for a person who finds it.
  writeAtomic(join(dir, 'settings.json'), `${JSON.stringify({ id: run.id, study: ctx.study.name, settings: s }, null, 1)}\n`);

  const data = ctx.cache.forRun(s);
  const tf = runTransforms(s);
  const trainLoader = trainLoaderOf(s, data, tf, ctx.env.workers);
  const model = runModel(s);
  // Names the model for `pai export` of this run's checkpoints (kept with --keep-checkpoints).
  writeModelJson(dir, modelIdentity(s.model, model));

  const { masks, record } = await masksFor(run, ctx, dir, model, data, trainLoader, tf.eval);
  const result = await trainRun(run, ctx, dir, model, data, trainLoader, tf.eval, masks);
  // The dense network's last-epoch weights, which the PaT baseline prunes (small next to a row's
  // worth of compute: 70 KB for ResNet-20 at width 1/4, 45 MB for ResNet-18).
  if (s.criterion === DENSE) {
    mkdirSync(join(ctx.store, 'trained'), { recursive: true });
    saveStateDict(trainedPath(ctx.store, run.id), model, { content: `dense run ${run.id} after ${s.epochs} epochs` });
  }
  const row = resultRow(run, ctx, result, record, t0);
  if (!ctx.keepCheckpoints) writeFileSync(join(dir, REMOVE_MARKER), '');
  writeRow(ctx.store, row);
  if (!ctx.keepCheckpoints) rmSync(dir, { recursive: true, force: true });
  ctx.events.runEnd?.(run, row);
  return row;
}

/** Runs the studies' runs of this shard that the store does not hold yet, in order. */
export async function runStudies(studies: readonly Study[], o: RunnerOptions): Promise<StudyResult> {
  checkArgument('runStudies', 'studies', z.array(z.looseObject({ name: z.string(), runs: z.array(z.unknown()) })), studies);
  checkOptions('runStudies', z.strictObject({
    store: z.string().min(1),
    shard: z.looseObject({ index: is.nonNegativeInt, count: is.positiveInt }).nullable().optional(),
    dataDir: z.string().min(1).optional(),
    workers: is.nonNegativeInt.optional(),
    sparseExecution: z.union([z.boolean(), z.strictObject({ minSparsity: is.fraction })]).optional(),
    keepCheckpoints: z.boolean().optional(),
    keepGoing: z.boolean().optional(),
    events: z.looseObject({}).optional(),
    signal: is.signal.optional(),
  }), o);
  const plan = selectShard(planRuns(studies), o.shard ?? null);
  const ev = o.events ?? {};
  const result: StudyResult = { planned: plan.map((p) => p.run), done: [], skipped: [], failed: [] };
  const todo: typeof plan = [];
  for (const p of plan) {
    const existing = readRow(o.store, p.run.id);
    if (existing !== null && typeof existing !== 'string') {
      result.skipped.push(p.run);
      ev.skip?.(p.run, 'already in the store');
      // A kill between writing the row and removing the working folder leaves it behind; folders
      // kept on purpose (--keep-checkpoints) carry no marker and stay.
      const dir = runDir(o.store, p.run.id);
      if (existsSync(join(dir, REMOVE_MARKER))) rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (typeof existing === 'string') ev.warn?.(`run ${p.run.id}: its row is unusable (${existing}); running it again`);
    todo.push(p);
  }
  const caches = new Map<string, DataCache>();
  const memo = new ScoreMemo();
  let position = 0;
  for (const { run, study } of todo) {
    if (o.signal?.aborted) break;
    position++;
    const dataDir = o.dataDir ?? study.env.dataDir ?? undefined;
    let cache = caches.get(dataDir ?? '');
    if (!cache) { cache = new DataCache(dataDir); caches.set(dataDir ?? '', cache); }
    ev.runStart?.(run, position, todo.length);
    try {
      const row = await executeRun(run, {
        store: o.store, study, env: { dataDir: dataDir ?? null, workers: o.workers ?? study.env.workers, ...sparseEnv(o.sparseExecution, study.env) }, cache,
        keepCheckpoints: o.keepCheckpoints ?? false, events: ev, memo, ...(o.signal ? { signal: o.signal } : {}),
      });
      result.done.push(row);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      result.failed.push({ run, error });
      if (!o.keepGoing) throw error;
      ev.warn?.(`run ${run.id} failed: ${error.message}`);
    }
  }
  return result;
}

/** A short label of a run for logs and tables. */
export function runLabel(s: RunSettings): string {
  const dense = s.criterion === DENSE;
  return `${s.dataset}/${s.model}${s.width !== 1 ? `@${+s.width.toFixed(4)}` : ''} ${s.criterion}${dense ? '' : ` s=${s.sparsity}${s.warmup ? ' +warm-up' : ''}`} seed ${s.seed}`;
}

/** The sparse-execution setting of a run: the caller's override, else the config's. */
function sparseEnv(o: RunnerOptions['sparseExecution'], env: Environment): Pick<Environment, 'sparseExecution'> {
  if (o === undefined) return env.sparseExecution ? { sparseExecution: env.sparseExecution } : {};
  if (o === false) return {};
  return { sparseExecution: { minSparsity: o === true ? DEFAULT_MIN_SPARSITY : o.minSparsity } };
}
