import type { Tensor } from '../tensor/tensor.js';

/** `fixed` follows the methods as published; `reference` reproduces the paper's released code. */
export type Semantics = 'fixed' | 'reference';
export const SEMANTICS: readonly Semantics[] = ['fixed', 'reference'];

export type Scope = 'global' | 'layer';

/** One tensor per parameter, keyed by the parameter's state-dict name, in named_parameters order. */
export type Scores = Map<string, Tensor>;
export type Masks = Map<string, Tensor>;

export class PruneError extends Error {
  override name = 'PruneError';
}
