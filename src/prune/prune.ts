// pruneAtInit: the whole procedure of the paper for one model: optional BN warm-up, scoring
// (one-shot or iterative), masks, layer-collapse diagnostics, and the masks applied.

import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { prunableParameters, type Model } from '../models/registry.js';
import type { MaskData } from './context.js';
import { applyMasks } from './apply.js';
import { collapseReport, type CollapseReport } from './collapse.js';
import { makeMasks } from './masks.js';
import { iterativePrune, type Schedule } from './iterative.js';
import { scoreParameters, type ScoreOptions } from './score.js';
import { bnWarmup } from './warmup.js';
import { PruneError, type Masks, type Scope, type Scores, type Semantics } from './types.js';

export interface PruneOptions extends ScoreOptions {
  criterion: string;
  sparsity: number;
  scope?: Scope;
  data: MaskData | null;
  /** Batches for the BN warm-up (train mode, no gradients) before scoring; none = no warm-up. */
  warmup?: Iterable<Tensor> | null;
  warmupBatches?: number;
  /** Iterations of prune-rescore (SynFlow: 100 by default, others 1). */
  iterations?: number;
  schedule?: Schedule;
  /** Called after each prune-rescore iteration (iterative pruning only), for progress reports. */
  onIteration?: (e: number, sparsity: number) => void;
  /** Throw instead of warning when the mask disconnects input from output. */
  refuseCollapse?: boolean;
  /** Apply the masks to the model's weights (default true). */
  apply?: boolean;
}

export interface PruneResult {
  masks: Masks;
  scores: Scores;
  report: CollapseReport;
  prunable: string[];
  warmupMs: number;
  scoreMs: number;
  warnings: string[];
}

export function prunableSet(model: Module, semantics: Semantics = 'fixed'): Set<string> {
  return new Set(prunableParameters(model, semantics));
}

export function pruneAtInit(model: Model, o: PruneOptions): PruneResult {
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
  const scoreOpts: ScoreOptions = { ...o, inputShape };
  let masks: Masks, scores: Scores;
  if (iterations > 1) {
    ({ masks, scores } = iterativePrune(model, o.criterion, o.data, prunable, { ...scoreOpts, sparsity: o.sparsity, scope: o.scope ?? 'global', iterations, schedule: o.schedule ?? 'exponential' }));
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
