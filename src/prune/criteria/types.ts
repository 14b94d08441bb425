// What a criterion is: its name, its doc, what it needs and draws, its typed options with their
// defaults, and its score function. Every criterion is one file of this folder; index.ts lists them.

import type { ScoreContext } from '../context.js';
import type { Scores, Semantics } from '../types.js';

/**
 * How a Taylor criterion combines the first- and second-order terms. `paper`: |θ ⊙ ḡ + ½ θ² ⊙ d|,
 * as the paper's released code does. `removal`: |−θ ⊙ ḡ + ½ θ² ⊙ d|, the second-order change of the
 * loss when the weight is set to zero (L(θ − θ_i e_i) − L(θ) ≈ −θ_i g_i + ½ θ_i² H_ii).
 */
export type TaylorForm = 'paper' | 'removal';

/** Every option any criterion reads. A criterion declares the ones it reads, with their defaults. */
export interface CriterionOptions {
  /** Logits are divided by T before the loss (the paper uses T = 200 for its Hessian criteria). */
  temperature: number;
  /** Rademacher probes per mask batch (Hutchinson). */
  probes: number;
  /**
   * Hutchinson: draw each probe once per compute batch and apply it to the batch's mean Hessian
   * instead of once per mask batch (cheaper; same expectation, more variance; see quantities.ts).
   */
  sharedProbes: boolean;
  /** Taylor criteria: the sign of the first-order term (see TaylorForm). */
  taylorForm: TaylorForm;
}

/** The name of a criterion option. */
export type OptionKey = keyof CriterionOptions;

/** The per-sample quantity a criterion asks of quantities.ts, if any. */
export type Quantity = 'gradient-sum' | 'gradient-moments' | 'hessian-gradient' | 'ggn-diagonal' | 'hutchinson-diagonal';

/** What a criterion's file declares (see defineCriterion). */
export interface CriterionSpec<K extends OptionKey> {
  readonly name: string;
  /** One line for listings. */
  readonly summary: string;
  /** The score, per element. */
  readonly formula: string;
  /** A paragraph: where it comes from, what it assumes, how pai computes it. */
  readonly doc: string;
  readonly needsData: boolean;
  /** Whether its scores depend on the seed (random draws: scores or probes). */
  readonly drawsRandom: boolean;
  /** Default prune-rescore iterations (SynFlow: 100; the others: 1). */
  readonly iterations: number;
  readonly quantity: Quantity | null;
  /**
   * The criterion that computes this one's saliency with the exact Gauss-Newton diagonal in place
   * of a probe estimate, where pai has one (ggn_pruning for hutch_pruning): the reference a probe
   * estimate converges to on networks piecewise linear in each weight.
   */
  readonly exact?: string;
  /** The criterion whose score is the diagonal estimate this one's saliency is built on (hutch_diag for hutch_pruning), where it has one. */
  readonly diagonal?: string;
  /** The options it reads, with their defaults under each semantics. */
  defaults(semantics: Semantics): Pick<CriterionOptions, K>;
  /** The score of every parameter (higher = keep). */
  score(ctx: ScoreContext, o: Pick<CriterionOptions, K>): Scores;
}

/** A registered criterion: its spec, with the options it reads listed. */
export interface Criterion extends CriterionSpec<OptionKey> {
  /** Which options it reads, in the order of OPTION_KEYS. */
  readonly uses: readonly OptionKey[];
}

/** Every criterion option, in listing order. */
export const OPTION_KEYS: readonly OptionKey[] = ['temperature', 'probes', 'sharedProbes', 'taylorForm'];

/** Checks a criterion's spec once and lists the options it reads. */
export function defineCriterion<K extends OptionKey>(spec: CriterionSpec<K>): Criterion {
  const given = Object.keys(spec.defaults('fixed'));
  const uses = OPTION_KEYS.filter((k) => given.includes(k));
  if (uses.length !== given.length) throw new Error(`criterion ${spec.name}: unknown option in its defaults (${given.join(', ')})`);
  return { ...(spec as unknown as CriterionSpec<OptionKey>), uses };
}
