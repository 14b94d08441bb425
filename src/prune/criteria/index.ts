// The registry of pruning criteria, one file each. The CLI, configs, the runner, the score cache and
// reports list criteria and their options from here; nothing outside this folder names a criterion.
import type { Criterion } from './types.js';
import { random } from './random.js';
import { magnitude } from './magnitude.js';
import { gradNorm } from './grad_norm.js';
import { snip } from './snip.js';
import { grasp } from './grasp.js';
import { synflow } from './synflow.js';
import { fisherDiag } from './fisher_diag.js';
import { fisherPruner } from './fisher_pruner.js';
import { fts } from './fts.js';
import { hutchDiag } from './hutch_diag.js';
import { hutchPruning } from './hutch_pruning.js';
import { hts } from './hts.js';
import { ggnDiag } from './ggn_diag.js';
import { ggnPruning } from './ggn_pruning.js';
import { ggnTs } from './ggn_ts.js';
import { PruneError } from '../types.js';

export type { Criterion, CriterionOptions, OptionKey, Quantity, TaylorForm } from './types.js';
export { OPTION_KEYS } from './types.js';
export { OPTION_SPECS, optionSpecs, showOption, type OptionSpec } from './options.js';

const ALL: readonly Criterion[] = [
  random, magnitude, gradNorm, snip, grasp, synflow,
  fisherDiag, fisherPruner, fts, hutchDiag, hutchPruning, hts,
  ggnDiag, ggnPruning, ggnTs,
];

const BY_NAME = new Map(ALL.map((c) => [c.name, c]));
for (const c of ALL) {
  for (const ref of [c.exact, c.diagonal]) if (ref !== undefined && !BY_NAME.has(ref)) throw new Error(`criterion ${c.name}: names the unknown criterion "${ref}"`);
}

/** Every criterion of the registry, in display order. */
export function criteria(): readonly Criterion[] {
  return ALL;
}

/** The names of every criterion. */
export function criterionNames(): string[] {
  return ALL.map((c) => c.name);
}

/** The criterion `name`; throws a PruneError listing the known names for an unknown one. */
export function getCriterion(name: string): Criterion {
  const c = BY_NAME.get(name);
  if (!c) throw new PruneError(`unknown criterion "${name}"; choose one of: ${criterionNames().join(', ')}`);
  return c;
}

/** The criteria that read an option (for messages such as "--probes applies to ..."). */
export function criteriaUsing(key: Criterion['uses'][number]): string[] {
  return ALL.filter((c) => c.uses.includes(key)).map((c) => c.name);
}
