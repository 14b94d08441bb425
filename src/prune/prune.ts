// pruneAtInit: the whole procedure of the paper for one model: optional BN warm-up, scoring
// (one-shot or iterative), masks, layer-collapse diagnostics, and the masks applied.

import { z } from 'zod';
import type { Tensor } from '../tensor/tensor.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { isModule } from '../nn/module.js';
import { prunableParameters, type Model } from '../models/registry.js';
import type { MaskData } from './context.js';
import { applyMasks } from './apply.js';
import { collapseReport, type CollapseReport } from './collapse.js';
import { makeMasks } from './masks.js';
import { iterativePrune, type Schedule } from './iterative.js';
import { maskDataSchema, pickScoreOptions, scoreOptionsShape, scoreParameters, type ScoreOptions } from './score.js';
import { bnWarmup } from './warmup.js';
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
  /** At most this many warm-up batches. */
  warmupBatches?: number;
  /** Iterations of prune-rescore (SynFlow: 100 by default, others 1). */
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
  iterations: is.positiveInt.optional(),
  schedule: z.enum(['exponential', 'linear']).optional(),
  onIteration: is.func.optional(),
  refuseCollapse: z.boolean().optional(),
  apply: z.boolean().optional(),
});

/** The prunable parameter names of `model` under either semantics (see DESIGN.md). */
export function prunableSet(model: Model, semantics: Semantics = 'fixed'): Set<string> {
  return new Set(prunableParameters(model, semantics));
}

/**
 * Prunes `model` at initialisation: optional BN warm-up, scoring with `o.criterion` (iterated for
 * SynFlow), masks at `o.sparsity`, layer-collapse diagnostics, and (unless `apply: false`) the
 * masks applied to the weights.
 */
export function pruneAtInit(model: Model, o: PruneOptions): PruneResult {
  checkArgument('pruneAtInit', 'model', isModule, model);
  checkOptions('pruneAtInit', pruneOptionsSchema, o);
  const semantics = o.semantics ?? 'fixed';
  const prunable = prunableSet(model, semantics);
  const inputShape = [model.config.inChannels, model.config.imageSize, model.config.imageSize];
  let warmupMs = 0;
  if (o.warmup) {
    const t0 = performance.now();
    bnWarmup(model, o.warmup, { maxBatches: o.warmupBatches });
    warmupMs = performance.now() - t0;
  }
  const iterations = o.iterations ?? (o.criterion === 'synflow' ? 100 : 1);
  const t0 = performance.now();
  const scoreOpts: ScoreOptions = { ...pickScoreOptions(o), inputShape };
  let masks: Masks, scores: Scores;
  if (iterations > 1) {
    ({ masks, scores } = iterativePrune(model, o.criterion, o.data, prunable, { ...scoreOpts, sparsity: o.sparsity, scope: o.scope ?? 'global', iterations, schedule: o.schedule ?? 'exponential', ...(o.onIteration ? { onIteration: o.onIteration } : {}) }));
  } else {
    scores = scoreParameters(model, o.criterion, o.data, scoreOpts);
    masks = makeMasks(scores, prunable, o.sparsity, o.scope ?? 'global');
  }
  const scoreMs = performance.now() - t0;
  const hasLayerNorm = model.namedModules().some(([, m]) => m.constructor.name === 'LayerNorm');
  const report = collapseReport(hasLayerNorm ? null : model, masks, prunable, inputShape);
  const warnings: string[] = [];
  if (report.emptyLayers.length) warnings.push(`${report.emptyLayers.length} prunable tensor(s) fully pruned: ${report.emptyLayers.join(', ')}`);
  if (report.connected === false) {
    const msg = `layer collapse: at sparsity ${o.sparsity} the ${o.criterion} mask leaves no path from input to output`;
    if (o.refuseCollapse) throw new PruneError(msg);
    warnings.push(msg);
  }
  if (o.apply ?? true) applyMasks(model, masks);
  return { masks, scores, report, prunable: [...prunable], warmupMs, scoreMs, warnings };
}
