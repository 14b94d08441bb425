// The prunable set of a model under each semantics: which parameters a mask may prune.

import { Conv2d, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { Model } from '../models/common.js';
import type { Semantics } from './types.js';

/** The paper's skip rule: a parameter whose name contains any of these is never pruned. */
export const REFERENCE_SKIP = ['bias', 'linear', 'bn', 'fc'] as const;

/**
 * Names of the prunable parameters, in named_parameters order. `fixed`: the weights of every
 * convolution and linear layer except the classifier head; never a bias, norm or embedding.
 * (A plain Module, not a zoo model, has no known classifier: every convolution and linear weight.)
 * `reference`: the paper's rule by substring, which also prunes the ResNet shortcut BN weights
 * (`layerX.0.shortcut.1.weight`) and, in models without those substrings in the head's name, the head.
 */
export function prunableParameters(model: Module, semantics: Semantics = 'fixed'): string[] {
  if (semantics === 'reference') {
    return model.namedParameters().map(([n]) => n).filter((n) => !REFERENCE_SKIP.some((s) => n.includes(s)));
  }
  if (semantics !== 'fixed') throw new RangeError(`prune semantics must be "fixed" or "reference", got ${JSON.stringify(semantics)}`);
  // A model may know its own set (an imported graph); a module outside the zoo names no
  // classifier: all of its convolution and linear weights.
  if (model instanceof Model && model.fixedPrunable) return model.fixedPrunable();
  const head = model instanceof Model ? model.classifierName : null;
  const out: string[] = [];
  for (const [prefix, m] of model.namedModules()) {
    if (prefix === head || !(m instanceof Conv2d || m instanceof Linear)) continue;
    out.push(prefix === '' ? 'weight' : `${prefix}.weight`);
  }
  return out;
}
