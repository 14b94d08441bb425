// Iterative pruning: score the masked network, prune to the next density of the schedule, repeat.
// Densities d_e for e = 0..E-1 reach the target density d = 1 - s at the last iteration:
// exponential d_e = d^((e+1)/E), linear d_e = 1 - (1 - d)(e+1)/E. In `fixed` semantics pruned
// weights stay pruned. `reference` reproduces the paper's SynFlow loop, whose schedule is
// s^((e+1)/E) on the pruned fraction (it prunes nearly everything at the first iteration).

import type { Module } from '../nn/module.js';
import { defined, zip } from '../tensor/checked.js';
import type { MaskData } from './context.js';
import { applyMasks } from './masking.js';
import { makeMasks, checkSparsity } from './masks.js';
import { pickScoreOptions, scoreParameters, type ScoreOptions } from './score.js';
import { PruneError, type Masks, type Scope, type Scores } from './types.js';

/** How iterative pruning approaches the target sparsity. */
export type Schedule = 'exponential' | 'linear';

/** The sparsity after iteration e of `iterations` (0-based) under a schedule and semantics. */
export function scheduleSparsity(schedule: Schedule, sparsity: number, e: number, iterations: number, semantics: 'fixed' | 'reference' = 'fixed'): number {
  const f = (e + 1) / iterations;
  if (semantics === 'reference') {
    if (schedule === 'exponential') return sparsity ** f;
    return 1 - (1 - sparsity) * f;
  }
  const d = 1 - sparsity;
  if (schedule === 'exponential') return 1 - d ** f;
  if (schedule === 'linear') return sparsity * f;
  throw new PruneError(`unknown schedule "${schedule as string}"; use exponential or linear`);
}

export interface IterativeOptions extends ScoreOptions {
  sparsity: number;
  scope: Scope;
  iterations: number;
  schedule: Schedule;
  /** Called after each prune-rescore iteration with its index and sparsity. */
  onIteration?: (e: number, sparsity: number) => void;
}

/** Returns the final masks and the last scores; the model's weights are restored afterwards. */
export function iterativePrune(model: Module, criterion: string, data: MaskData | null, prunable: ReadonlySet<string>, o: IterativeOptions): { masks: Masks; scores: Scores } {
  checkSparsity(o.sparsity);
  if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new PruneError(`iterations must be a positive integer, got ${o.iterations}`);
  const params = model.namedParameters();
  const saved = params.map(([, p]) => p.data.slice());
  let masks: Masks | undefined;
  let scores: Scores | undefined;
  try {
    for (let e = 0; e < o.iterations; e++) {
      scores = scoreParameters(model, criterion, data, pickScoreOptions(o));
      const s = scheduleSparsity(o.schedule, o.sparsity, e, o.iterations, o.semantics ?? 'fixed');
      masks = makeMasks(scores, prunable, s, o.scope, o.semantics === 'reference' ? undefined : masks);
      applyMasks(model, masks);
      o.onIteration?.(e, s);
    }
  } finally {
    for (const [[, p], s] of zip(params, saved, 'parameters and their saved copy')) p.data.set(s);
  }
  // iterations >= 1 (checked above), so the loop has set both.
  return { masks: defined(masks, 'masks of the last iteration'), scores: defined(scores, 'scores of the last iteration') };
}
