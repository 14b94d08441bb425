import type { Tensor } from '../tensor/tensor.js';

/** `fixed` follows the methods as published; `reference` reproduces the paper's released code. */
export type Semantics = 'fixed' | 'reference';
/** The two pruning semantics. */
export const SEMANTICS: readonly Semantics[] = ['fixed', 'reference'];

/** One ranking over all prunable tensors (global) or one per tensor (layer). */
export type Scope = 'global' | 'layer';

/** One tensor per parameter, keyed by the parameter's state-dict name, in named_parameters order. */
export type Scores = Map<string, Tensor>;
/** Masks by parameter name: 1 = keep, 0 = pruned. */
export type Masks = Map<string, Tensor>;

/** A pruning request pai cannot carry out (bad sparsity, missing data, non-finite scores, ...). */
export class PruneError extends Error {
  override name = 'PruneError';
}
