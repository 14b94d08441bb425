// What every model in the zoo shares: its options, the name of its classifier head (which the
// prunable set leaves out), and the helpers that scale the reference widths to a CPU-sized model.

import { Module } from '../nn/module.js';
import type { InitScheme } from '../nn/init.js';
import { Generator } from '../tensor/random.js';

/** Options every model of the zoo takes; those not given take the model's defaults. */
export interface ModelOptions {
  numClasses?: number;
  /** 3 for CIFAR and ImageNet, 1 for (Fashion-)MNIST. */
  inChannels?: number;
  /** Multiplies every channel count of the reference architecture (1/8 turns ResNet-18's 64..512 into 8..64). */
  width?: number;
  /** Square input side; decides the classifier's fan-in wherever the spatial size reaches it. */
  imageSize?: number;
  /** 'timm' (ViT only) is timm's truncated-normal initialisation. */
  init?: ModelInit;
  /** Draws all initial values, in construction order; takes precedence over `seed`. */
  gen?: Generator;
  /** Seed of the `init` stream used when no generator is given. */
  seed?: number;
}

/** Options with every field decided: what a model was built with, kept for reports and checkpoints. */
export interface ResolvedOptions {
  numClasses: number;
  inChannels: number;
  width: number;
  imageSize: number;
  init: ModelInit;
}

/** A model's weight initialisation; `timm` is timm's truncated normal, for ViTs. */
export type ModelInit = InitScheme | 'timm';

/** A model of the zoo: a Module that knows the options it was built with and the name of its final classifier. */
export abstract class Model extends Module {
  /** Module path of the final classifier (`linear`, `fc`, `head`, ...). */
  abstract readonly classifierName: string;
  abstract readonly config: ResolvedOptions;
  /**
   * The prunable set under `fixed` semantics, for models whose layers are not pai's Conv2d and
   * Linear modules (an imported ONNX graph answers from its graph); zoo models leave it undefined.
   */
  fixedPrunable?(): string[];
}

/** The generator a model initialises from: options.gen, else the 'init' stream of options.seed (default 0). */
export function initGen(o: ModelOptions): Generator {
  return o.gen ?? new Generator(o.seed ?? 0).stream('init');
}

/** The options with every field decided from the defaults `d`, checked. */
export function resolve(o: ModelOptions, d: ResolvedOptions, inits: readonly ModelInit[] = ['default', 'kaiming_normal']): ResolvedOptions {
  const r: ResolvedOptions = {
    numClasses: o.numClasses ?? d.numClasses,
    inChannels: o.inChannels ?? d.inChannels,
    width: o.width ?? d.width,
    imageSize: o.imageSize ?? d.imageSize,
    init: o.init ?? d.init,
  };
  for (const k of ['numClasses', 'inChannels', 'imageSize'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new RangeError(`model option ${k} must be a positive integer, got ${r[k]}`);
  }
  if (!(r.width > 0) || !Number.isFinite(r.width)) throw new RangeError(`model option width must be a positive number, got ${r.width}`);
  if (!inits.includes(r.init)) throw new RangeError(`model option init must be one of ${inits.map((i) => JSON.stringify(i)).join(', ')}, got ${JSON.stringify(r.init)}`);
  return r;
}

/** A reference channel count at the given width multiplier: rounded, never below 1. */
export function scaled(channels: number, width: number): number {
  return Math.max(1, Math.round(channels * width));
}

/** Side after a convolution or pooling window (PyTorch's floor rule). */
export function convOut(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}
