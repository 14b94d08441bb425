// Masks meet weights here and in the trainer only: pruned weights are set to exactly zero.

import type { Module } from '../nn/module.js';
import { shapeStr, sameShape } from '../tensor/shape.js';
import { PruneError, type Masks } from './types.js';

export function applyMasks(model: Module, masks: Masks): void {
  const params = new Map(model.namedParameters());
  for (const [name, m] of masks) {
    const p = params.get(name);
    if (!p) throw new PruneError(`mask for ${name}, which the model does not have`);
    if (!sameShape(p.shape, m.shape)) throw new PruneError(`mask for ${name} has shape ${shapeStr(m.shape)}, parameter has ${shapeStr(p.shape)}`);
    const d = p.data, md = m.data;
    for (let i = 0; i < d.length; i++) if (md[i] === 0) d[i] = 0;
  }
}
