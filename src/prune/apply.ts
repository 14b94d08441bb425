// Masks meet weights here and in the trainer only: pruned weights are set to exactly zero.

import { isModule, type Module } from '../nn/module.js';
import { checkArgument, is } from '../tensor/options.js';
import { shapeStr, sameShape } from '../tensor/shape.js';
import { PruneError, type Masks } from './types.js';

/** Sets the pruned weights (mask 0) of `model` to exactly zero. */
export function applyMasks(model: Module, masks: Masks): void {
  checkArgument('applyMasks', 'model', isModule, model);
  checkArgument('applyMasks', 'masks', is.tensorMap, masks);
  const params = new Map(model.namedParameters());
  for (const [name, m] of masks) {
    const p = params.get(name);
    if (!p) throw new PruneError(`mask for ${name}, which the model does not have`);
    if (!sameShape(p.shape, m.shape)) throw new PruneError(`mask for ${name} has shape ${shapeStr(m.shape)}, parameter has ${shapeStr(p.shape)}`);
    const d = p.data, md = m.data;
    for (let i = 0; i < d.length; i++) if (md[i] === 0) d[i] = 0;
  }
}
