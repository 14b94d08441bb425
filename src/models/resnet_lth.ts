// He et al.'s CIFAR ResNets (depth 6n+2, widths 16/32/64) as OpenLTH and Synaptic-Flow write them:
// `conv`/`bn` stem, one flat `blocks` list, a 1x1-conv + BN projection (`shortcut.0`/`.1`) in the
// first block of stages 2 and 3, global average pooling and an `fc` head. Both codes initialise
// conv and linear weights with kaiming_normal, so that is the default here.

import { Tensor } from '../tensor/tensor.js';
import { shapeN, ShapeError, shapeStr } from '../tensor/shape.js';
import { at } from '../tensor/checked.js';
import * as F from '../autograd/ops/index.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type InitOptions } from '../nn/layers.js';
import type { InitScheme } from '../nn/init.js';
import { Model, initGen, resolve, scaled, type ModelOptions, type ResolvedOptions } from './common.js';

/** The residual block of the CIFAR ResNet-20/32/56 (two 3x3 convolutions, projection shortcut when the shape changes). */
export class LthBlock extends Module {
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  readonly shortcut: Sequential;
  constructor(fIn: number, fOut: number, downsample: boolean, io: InitOptions) {
    super();
    const stride = downsample ? 2 : 1;
    this.conv1 = this.registerModule('conv1', new Conv2d(fIn, fOut, 3, { stride, padding: 1, bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(fOut));
    this.conv2 = this.registerModule('conv2', new Conv2d(fOut, fOut, 3, { padding: 1, bias: false, ...io }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(fOut));
    // A width multiplier can make fIn != fOut without a stride (never at width 1): project then too.
    this.shortcut = this.registerModule('shortcut', downsample || fIn !== fOut
      ? new Sequential(new Conv2d(fIn, fOut, 1, { stride, bias: false, ...io }), new BatchNorm2d(fOut))
      : new Sequential());
  }
  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(F.relu(this.bn1.forward(this.conv1.forward(x)))));
    return F.relu(F.add(out, this.shortcut.forward(x)));
  }
}

/** ResNet-20/32/56 for CIFAR (He et al.), with OpenLTH / Synaptic-Flow names. */
export class LthResNet extends Model {
  readonly classifierName = 'fc';
  readonly config: ResolvedOptions;
  readonly depth: number;
  readonly conv: Conv2d; readonly bn: BatchNorm2d; readonly blocks: Sequential; readonly fc: Linear;

  constructor(depth: number, o: ModelOptions = {}) {
    super();
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) throw new RangeError(`CIFAR ResNet depth must be 6n+2 (20, 32, 56, ...), got ${depth}`);
    this.depth = depth;
    const c = resolve(o, { numClasses: 10, inChannels: 3, width: 1, imageSize: 32, init: 'kaiming_normal' });
    this.config = c;
    const io: InitOptions = { gen: initGen(o), init: c.init as InitScheme };
    const n = (depth - 2) / 6;
    const widths = [16, 32, 64].map((w) => scaled(w, c.width));
    const stem = at(widths, 0, 'stage widths');
    this.conv = this.registerModule('conv', new Conv2d(c.inChannels, stem, 3, { padding: 1, bias: false, ...io }));
    this.bn = this.registerModule('bn', new BatchNorm2d(stem));
    this.blocks = new Sequential();
    let f = stem;
    widths.forEach((w, s) => {
      for (let b = 0; b < n; b++) {
        this.blocks.append(new LthBlock(f, w, s > 0 && b === 0, io));
        f = w;
      }
    });
    this.registerModule('blocks', this.blocks);
    this.fc = this.registerModule('fc', new Linear(f, c.numClasses, io));
  }

  forward(x: Tensor): Tensor {
    const c = this.config;
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels) throw new ShapeError(`resnet${this.depth}: expected input [N, ${c.inChannels}, H, W], got ${shapeStr(x.shape)}`);
    let out = F.relu(this.bn.forward(this.conv.forward(x)));
    out = this.blocks.forward(out);
    // OpenLTH pools with a window of the map's width, i.e. globally on square maps.
    out = F.avgPool2d(out, shapeN(`resnet${this.depth}`, out.shape, 4, 'feature map')[3]);
    return this.fc.forward(F.flatten(out, 1));
  }
}

/** ResNet-20 for CIFAR. */
export const resnet20 = (o: ModelOptions = {}): LthResNet => new LthResNet(20, o);
/** ResNet-32 for CIFAR. */
export const resnet32 = (o: ModelOptions = {}): LthResNet => new LthResNet(32, o);
/** ResNet-56 for CIFAR. */
export const resnet56 = (o: ModelOptions = {}): LthResNet => new LthResNet(56, o);
