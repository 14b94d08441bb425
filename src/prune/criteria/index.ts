// The registry of pruning criteria: the CLI, configs and reports list criteria from here.
import type { Criterion } from './types.js';
import { random } from './random.js';
import { magnitude } from './magnitude.js';
import { gradNorm } from './grad_norm.js';
import { snip } from './snip.js';
import { grasp } from './grasp.js';
import { synflow } from './synflow.js';
import { fisherDiag, fisherPruner, fts } from './fisher.js';
import { hutchDiag, hutchPruning, hts } from './hutchinson.js';
import { ggnDiag, ggnPruning, ggnTs } from './ggn.js';
import { PruneError } from '../types.js';

export type { Criterion, CriterionOptions } from './types.js';
export { hutchinsonDiagonal } from './hutchinson.js';
export { ggnDiagonal } from './ggn.js';
export { gradientSum, gradientMoments } from './passes.js';

const ALL: readonly Criterion[] = [
  random, magnitude, gradNorm, snip, grasp, synflow,
  fisherDiag, fisherPruner, fts, hutchDiag, hutchPruning, hts,
  ggnDiag, ggnPruning, ggnTs,
];

const BY_NAME = new Map(ALL.map((c) => [c.name, c]));

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
