// scoreParameters: one criterion, one model, one mask set -> a score for every parameter.

import { z } from 'zod';
import { Generator } from '../tensor/random.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { shapeStr } from '../tensor/shape.js';
import { isModule, type Module } from '../nn/module.js';
import { prunableParameters } from './prunable.js';
import { makeContext, type MaskData } from './context.js';
import { getCriterion, OPTION_SPECS, type CriterionOptions, type OptionKey } from './criteria/index.js';
import { PruneError, SEMANTICS, type Scores, type Semantics } from './types.js';
import { firstNonFinite } from './loops.js';
import { QuantityMemo } from './memo.js';

/**
 * Options of {@link scoreParameters} (and the scoring part of {@link pruneAtInit}'s options). The
 * criterion options (temperature, probes, sharedProbes, taylorForm; see `pai criteria`) override
 * the criterion's defaults; one the criterion does not read is ignored here (the CLI refuses it).
 */
export interface ScoreOptions extends Partial<CriterionOptions> {
  /** `fixed` (default) follows the methods as published; `reference` the paper's released code. */
  semantics?: Semantics;
  /** Mask batch size; 1 (the default) reproduces the paper's per-sample loops. */
  batchSize?: number;
  /** Seed of the 'probes' and 'random' streams. */
  seed?: number;
  /** [C, H, W] of one input, for data-free criteria when no data is given. */
  inputShape?: readonly number[];
  /** Called after each mask batch with the done and total counts. */
  progress?: (done: number, total: number) => void;
  /** Samples per internal pass of the batched criteria (see ScoreContext.computeBatch); 1 forces the loops. */
  computeBatch?: number;
  /** The prunable parameter names; default: the model's prunable set under `semantics`. */
  prunable?: Iterable<string>;
  /** Where one-time notes go (default: stderr). */
  note?: (message: string) => void;
  /**
   * A memo of per-sample quantities shared with other scorings (see QuantityMemo): criteria on one
   * quantity (the Hutchinson or the Gauss-Newton diagonal) then compute it once. The scores are
   * the same with or without it.
   */
  quantities?: QuantityMemo;
}

/**
 * The fields of {@link ScoreOptions}, each with the values it accepts. The criterion options are
 * parsed by their own specs (criteria/options.ts), which name the option at fault.
 */
export const scoreOptionsShape = {
  semantics: z.enum(SEMANTICS as [Semantics, ...Semantics[]]).optional(),
  batchSize: is.positiveInt.optional(),
  seed: z.number().int().optional(),
  inputShape: z.array(is.positiveInt).length(3).readonly().optional(),
  progress: is.func.optional(),
  computeBatch: is.positiveInt.optional(),
  prunable: is.iterable.optional(),
  note: is.func.optional(),
  quantities: z.instanceof(QuantityMemo).optional(),
  ...Object.fromEntries((Object.keys(OPTION_SPECS) as OptionKey[]).map((k) => [k, z.unknown().optional()])),
};

/** Mask data: images [N, C, H, W] and one integer label per image. */
export const maskDataSchema = z.object({ x: is.tensor, y: is.int32Array });

/** Only the {@link ScoreOptions} fields of a larger option object. */
export function pickScoreOptions(o: ScoreOptions): ScoreOptions {
  return Object.fromEntries(Object.entries(o).filter(([k]) => Object.prototype.hasOwnProperty.call(scoreOptionsShape, k))) as ScoreOptions;
}

/** The options criterion `name` reads: given values checked, the rest its defaults under the semantics. */
export function resolveCriterionOptions(name: string, o: ScoreOptions): Partial<CriterionOptions> {
  const c = getCriterion(name);
  const d = c.defaults(o.semantics ?? 'fixed');
  const r: Record<string, unknown> = {};
  for (const k of c.uses) {
    const given = o[k];
    r[k] = given === undefined ? d[k] : OPTION_SPECS[k].parse(given, k);
  }
  return r as Partial<CriterionOptions>;
}

/**
 * A NaN or Inf anywhere in the model makes every ranking meaningless, yet not every criterion
 * shows it: random and magnitude rank such a model without complaint, SynFlow turns one Inf into
 * thousands of infinite scores, and the gradient criteria report NaN in some other tensor than the
 * one at fault. So the model itself is checked first, naming the tensor that is broken.
 */
export function checkModelFinite(model: Module): void {
  const params = new Set(model.namedParameters().map(([n]) => n));
  for (const [name, t] of model.stateDict()) {
    const i = firstNonFinite(t.data);
    if (i >= 0) {
      throw new PruneError(`model ${params.has(name) ? 'parameter' : 'buffer'} ${name} ${shapeStr(t.shape)} holds ${t.data[i]} at flat index ${i}; refusing to score a model with non-finite values (diverged or corrupt weights?)`);
    }
  }
}

/** The score of every parameter of `model` under one criterion (higher = keep), keyed by parameter name. */
export function scoreParameters(model: Module, criterion: string, data: MaskData | null, o: ScoreOptions = {}): Scores {
  checkArgument('scoreParameters', 'model', isModule, model);
  checkArgument('scoreParameters', 'criterion', z.string(), criterion);
  checkArgument('scoreParameters', 'data', maskDataSchema.nullable(), data);
  checkOptions('scoreParameters', z.strictObject(scoreOptionsShape), o);
  const c = getCriterion(criterion);
  const opts = resolveCriterionOptions(criterion, o);
  checkModelFinite(model);
  const inputShape = o.inputShape ?? (data ? data.x.shape.slice(1) : null);
  if (!inputShape) throw new PruneError(`criterion ${criterion}: give mask data or the input shape`);
  if (c.needsData && !data) throw new PruneError(`criterion ${criterion} needs mask data (images and labels)`);
  const wasTraining = model.training;
  try {
    const ctx = makeContext(model, {
      data, batchSize: o.batchSize ?? 1, semantics: o.semantics ?? 'fixed',
      prunable: new Set(o.prunable ?? prunableParameters(model, o.semantics ?? 'fixed')),
      gen: new Generator(o.seed ?? 0, 'prune'), inputShape, progress: o.progress,
      computeBatch: o.computeBatch, note: o.note, memo: o.quantities,
    });
    return c.score(ctx, opts as CriterionOptions);
  } finally {
    model.train(wasTraining);
  }
}
