// The paper's CIFAR VGG with batch norm (kuangliu's, with named layers): `features` holds
// conv(bias) / BN / ReLU triples and 2x2 max-pools under ONE running index across all entries
// (conv_0, bn_1, relu_2, conv_3, ..., maxpool_6, ...), then a 1x1 average pool that changes nothing
// but is kept for the names; a single `linear` head follows.

import { Tensor } from '../tensor/tensor.js';
import { ShapeError, shapeStr } from '../tensor/shape.js';
import * as F from '../autograd/ops/index.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, type InitOptions } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { InitScheme } from '../nn/init.js';
import { Model, initGen, resolve, scaled, type ModelOptions, type ResolvedOptions } from './common.js';

/** The VGG variants. */
export type VggName = 'vgg11' | 'vgg13' | 'vgg16' | 'vgg19';

/** Channel counts, 'M' a 2x2 max-pool: kuangliu's cfg. */
export const VGG_CFG: Record<VggName, (number | 'M')[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

/** VGG-11/13/16/19 with batch norm for CIFAR, with the paper's layer names (features.conv_0, features.bn_1, ...). */
export class VGG extends Model {
  readonly classifierName = 'linear';
  readonly config: ResolvedOptions;
  readonly variant: VggName;
  readonly features: Sequential;
  readonly linear: Linear;

  constructor(variant: VggName, o: ModelOptions = {}) {
    super();
    const cfg = VGG_CFG[variant];
    if (!cfg) throw new RangeError(`unknown VGG variant ${JSON.stringify(variant)} (known: ${Object.keys(VGG_CFG).join(', ')})`);
    this.variant = variant;
    const c = resolve(o, { numClasses: 10, inChannels: 3, width: 1, imageSize: 32, init: 'default' });
    this.config = c;
    const io: InitOptions = { gen: initGen(o), init: c.init as InitScheme };
    const side = cfg.reduce<number>((s, v) => (v === 'M' ? Math.floor(s / 2) : s), c.imageSize);
    if (side < 1) throw new ShapeError(`${variant}: five 2x2 max-pools need an input of at least 32x32, got ${c.imageSize}x${c.imageSize}`);
    const layers: [string, Module][] = [];
    let idx = 0, inC = c.inChannels;
    for (const v of cfg) {
      if (v === 'M') {
        layers.push([`maxpool_${idx++}`, new MaxPool2d(2, { stride: 2 })]);
        continue;
      }
      const out = scaled(v, c.width);
      layers.push([`conv_${idx++}`, new Conv2d(inC, out, 3, { padding: 1, ...io })]);
      layers.push([`bn_${idx++}`, new BatchNorm2d(out)]);
      layers.push([`relu_${idx++}`, new ReLU()]);
      inC = out;
    }
    layers.push(['avgpool', new AvgPool2d(1, { stride: 1 })]);
    this.features = this.registerModule('features', new Sequential(...layers));
    // 512 at 32x32 as in the paper; larger inputs leave a larger map for the head to see.
    this.linear = this.registerModule('linear', new Linear(inC * side * side, c.numClasses, io));
  }

  forward(x: Tensor): Tensor {
    const c = this.config;
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels || x.shape[2] !== c.imageSize || x.shape[3] !== c.imageSize) {
      throw new ShapeError(`${this.variant}: expected input [N, ${c.inChannels}, ${c.imageSize}, ${c.imageSize}], got ${shapeStr(x.shape)}`);
    }
    return this.linear.forward(F.flatten(this.features.forward(x), 1));
  }
}

/** VGG-11 with batch norm. */
export const vgg11 = (o: ModelOptions = {}): VGG => new VGG('vgg11', o);
/** VGG-13 with batch norm. */
export const vgg13 = (o: ModelOptions = {}): VGG => new VGG('vgg13', o);
/** VGG-16 with batch norm. */
export const vgg16 = (o: ModelOptions = {}): VGG => new VGG('vgg16', o);
/** VGG-19 with batch norm. */
export const vgg19 = (o: ModelOptions = {}): VGG => new VGG('vgg19', o);
