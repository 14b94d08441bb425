// pruneAtInit: the whole procedure of the paper for one model, the one pipeline the library, the
// CLI (`pai prune`) and the grid runner use: optional BN warm-up, scoring (one-shot or iterative;
// or scores the caller already holds for this model state), masks, layer-collapse diagnostics, and
// the masks applied.

import { z } from 'zod';
import type { Tensor } from '../tensor/tensor.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { isModule, type Module } from '../nn/module.js';
import { prunableParameters } from './prunable.js';
import { LayerNorm } from '../nn/layers.js';
import { sayOnce, type MaskData } from './context.js';
import { applyMasks } from './masking.js';
import { collapseReport, type CollapseReport } from './collapse.js';
import { makeMasks } from './masks.js';
import { iterativePrune, type Schedule } from './iterative.js';
import { maskDataSchema, pickScoreOptions, scoreOptionsShape, scoreParameters, type ScoreOptions } from './score.js';
import { bnWarmup } from './warmup.js';
import { getCriterion } from './criteria/index.js';
import { PruneError, type Masks, type Scope, type Scores, type Semantics } from './types.js';

/** Options of {@link pruneAtInit}. */
export interface PruneOptions extends ScoreOptions {
  /** A criterion name (see `criterionNames()`, `pai criteria`). */
  criterion: string;
  /** Fraction of the prunable weights to remove, in [0, 1). */
  sparsity: number;
  /** One ranking over all prunable tensors (`global`, the default) or one per tensor (`layer`). */
  scope?: Scope;
  /** The mask subset the data-driven criteria score on; null for the data-free ones. */
  data: MaskData | null;
  /** Batches for the BN warm-up (train mode, no gradients) before scoring; none = no warm-up. */
  warmup?: Iterable<Tensor> | null;
  /** At most this many warm-up batches (default: all of `warmup`). */
  warmupBatches?: number;
  /** Called after each warm-up batch with the number done. */
  warmupProgress?: (done: number) => void;
  /**
   * Scores of this criterion already computed on this model state (a cache hit): scoring is
   * skipped, and so is the warm-up, which the state already includes. One-shot criteria only.
   */
  scores?: Scores;
  /** Called as each phase that runs begins: 'warm-up' (when there is one), then 'score'. */
  onPhase?: (phase: 'warm-up' | 'score') => void;
  /** Called with the scores after the warm-up and scoring, before any mask is applied. */
  onScored?: (scores: Scores) => void;
  /** Iterations of prune-rescore (default: the criterion's, 100 for SynFlow, 1 for the others). */
  iterations?: number;
  /** How iterative pruning approaches the sparsity (default exponential). */
  schedule?: Schedule;
  /** Called after each prune-rescore iteration (iterative pruning only), for progress reports. */
  onIteration?: (e: number, sparsity: number) => void;
  /** Throw instead of warning when the mask disconnects input from output. */
  refuseCollapse?: boolean;
  /** Apply the masks to the model's weights (default true). */
  apply?: boolean;
}

/** What {@link pruneAtInit} returns. */
export interface PruneResult {
  /** 1 = keep, 0 = pruned, one tensor per prunable parameter. */
  masks: Masks;
  /** The last scores of every parameter. */
  scores: Scores;
  /** Densities per layer, emptied layers and whether a path from input to output survives. */
  report: CollapseReport;
  /** The names of the prunable parameters. */
  prunable: string[];
  /** Warm-up batches run (0 without a warm-up). */
  warmupBatches: number;
  warmupMs: number;
  scoreMs: number;
  /** Emptied layers and layer collapse, as sentences. */
  warnings: string[];
}

const pruneOptionsSchema = z.strictObject({
  ...scoreOptionsShape,
  criterion: z.string(),
  sparsity: z.number().min(0, { error: 'must lie in [0, 1)' }).lt(1, { error: 'must lie in [0, 1)' }),
  scope: z.enum(['global', 'layer']).optional(),
  data: maskDataSchema.nullable(),
  warmup: is.iterable.nullable().optional(),
  warmupBatches: is.positiveInt.optional(),
  warmupProgress: is.func.optional(),
  scores: z.instanceof(Map).optional(),
  onPhase: is.func.optional(),
  onScored: is.func.optional(),
  iterations: is.positiveInt.optional(),
  schedule: z.enum(['exponential', 'linear']).optional(),
  onIteration: is.func.optional(),
  refuseCollapse: z.boolean().optional(),
  apply: z.boolean().optional(),
});

/** The prunable parameter names of `model` under either semantics (see DESIGN.md). */
export function prunableSet(model: Module, semantics: Semantics = 'fixed'): Set<string> {
  return new Set(prunableParameters(model, semantics));
}

/** [C, H, W] of one input: the zoo model's configuration, or the caller's. */
function inputShapeOf(model: Module, o: PruneOptions): readonly number[] {
  const config = (model as Partial<{ config: { inChannels: number; imageSize: number } }>).config;
  const shape = o.inputShape ?? (config ? [config.inChannels, config.imageSize, config.imageSize] : o.data?.x.shape.slice(1));
  if (!shape) throw new PruneError('pruneAtInit: give the input shape (inputShape) or mask data');
  return shape;
}

/**
 * Prunes `model` at initialisation: optional BN warm-up, scoring with `o.criterion` (iterated for
 * SynFlow; or the scores given), masks at `o.sparsity`, layer-collapse diagnostics, and (unless
 * `apply: false`) the masks applied to the weights. The one pipeline of the library, `pai prune`
 * and the grid runner.
 */
export function pruneAtInit(model: Module, o: PruneOptions): PruneResult {
  checkArgument('pruneAtInit', 'model', isModule, model);
  checkOptions('pruneAtInit', pruneOptionsSchema, o);
  const semantics = o.semantics ?? 'fixed';
  const prunable = prunableSet(model, semantics);
  const inputShape = inputShapeOf(model, o);
  const iterations = o.iterations ?? getCriterion(o.criterion).iterations;
  if (o.scores && iterations > 1) throw new PruneError(`pruneAtInit: given scores cannot be used with ${iterations} prune-rescore iterations`);
  let warmupMs = 0, warmupBatches = 0;
  if (o.warmup && !o.scores) {
    o.onPhase?.('warm-up');
    const t0 = performance.now();
    warmupBatches = bnWarmup(model, o.warmup, { ...(o.warmupBatches !== undefined ? { maxBatches: o.warmupBatches } : {}), ...(o.warmupProgress ? { progress: o.warmupProgress } : {}) });
    warmupMs = performance.now() - t0;
  }
  if (!o.scores) o.onPhase?.('score');
  const t0 = performance.now();
  // Notes the criteria give (a GGN criterion outside its condition, a batched path falling back)
  // also go into the result's warnings, and so into reports.
  const notes: string[] = [];
  const note = (m: string): void => {
    if (!notes.includes(m)) notes.push(m);
    if (o.note) o.note(m);
    else sayOnce(m);
  };
  const scoreOpts: ScoreOptions = { ...pickScoreOptions(o), inputShape, note };
  let masks: Masks, scores: Scores;
  if (iterations > 1) {
    ({ masks, scores } = iterativePrune(model, o.criterion, o.data, prunable, { ...scoreOpts, sparsity: o.sparsity, scope: o.scope ?? 'global', iterations, schedule: o.schedule ?? 'exponential', ...(o.onIteration ? { onIteration: o.onIteration } : {}) }));
  } else {
    scores = o.scores ?? scoreParameters(model, o.criterion, o.data, scoreOpts);
    masks = makeMasks(scores, prunable, o.sparsity, o.scope ?? 'global');
  }
  const scoreMs = o.scores ? 0 : performance.now() - t0;
  o.onScored?.(scores);
  // The float64 path check stands in non-negative weights for every op; LayerNorm's normalisation
  // has no such stand-in, so models with it get densities and empty tensors only.
  const hasLayerNorm = model.namedModules().some(([, m]) => m instanceof LayerNorm);
  const report = collapseReport(hasLayerNorm ? null : model, masks, prunable, inputShape);
  const warnings: string[] = [...notes];
  if (report.emptyLayers.length) warnings.push(`${report.emptyLayers.length} prunable tensor(s) fully pruned: ${report.emptyLayers.join(', ')}`);
  if (report.connected === false) {
    const msg = `layer collapse: at sparsity ${o.sparsity} the ${o.criterion} mask leaves no path from input to output`;
    if (o.refuseCollapse) throw new PruneError(msg);
    warnings.push(msg);
  }
  if (o.apply ?? true) applyMasks(model, masks);
  return { masks, scores, report, prunable: [...prunable], warmupBatches, warmupMs, scoreMs, warnings };
}
