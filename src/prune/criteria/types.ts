import type { ScoreContext } from '../context.js';
import type { Scores, Semantics } from '../types.js';

/** The options a criterion scores with: logit temperature, Hutchinson probes, shared probes. */
export interface CriterionOptions {
  /** Logits are divided by T before the loss (the paper uses T = 200 for its Hessian criteria). */
  temperature: number;
  /** Rademacher probes per mask batch (Hutchinson). */
  probes: number;
  /**
   * Hutchinson only, opt-in: draw each probe once per compute batch and apply it to the batch's
   * mean Hessian instead of once per mask batch (see hutchinson.ts for its variance).
   */
  sharedProbes?: boolean;
}

/** One pruning criterion of the registry: its name, formula, defaults, what it needs and its score function. */
export interface Criterion {
  readonly name: string;
  /** One line for listings. */
  readonly summary: string;
  /** The score, per element. */
  readonly formula: string;
  readonly needsData: boolean;
  /** Which options it reads, for help texts and cache keys. */
  readonly uses: readonly (keyof CriterionOptions)[];
  /** The criterion's default options under either semantics. */
  defaults(semantics: Semantics): CriterionOptions;
  /** The score of every parameter (higher = keep). */
  score(ctx: ScoreContext, o: CriterionOptions): Scores;
}

export const BASE_DEFAULTS: CriterionOptions = { temperature: 1, probes: 10 };
