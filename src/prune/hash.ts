// Content hashes of what scores depend on: a model's state dict and the mask data. The score cache
// keys its entries with them, and the quantity memo tells model states apart by them.

import { createHash } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import type { MaskData } from './context.js';

function hashTensor(h: ReturnType<typeof createHash>, name: string, t: Tensor): void {
  h.update(`${name}\0${t.dtype}\0${t.shape.join(',')}\0`);
  h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** SHA-256 (hex) of a model's state dict, buffers included (the BN warm-up changes only those). */
export function hashWeights(model: Module): string {
  const h = createHash('sha256');
  for (const [name, t] of model.stateDict()) hashTensor(h, name, t);
  return h.digest('hex');
}

/** SHA-256 (hex) of mask data: the images' shape and bytes, then the labels. */
export function hashMaskData(data: MaskData): string {
  const h = createHash('sha256');
  hashTensor(h, 'x', data.x);
  const y = Int32Array.from(data.y);
  h.update(`y\0${y.length}\0`);
  h.update(new Uint8Array(y.buffer));
  return h.digest('hex');
}
