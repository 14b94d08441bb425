// torchvision's ImageNet ResNet-18 and ResNet-50 (v1.5: the stride sits in the bottleneck's 3x3
// conv), with torchvision's state-dict names: a 7x7/2 stem, 3x3/2 max-pool, `layer1`..`layer4`
// whose first block carries a `downsample` projection where the shape changes, adaptive average
// pooling and an `fc` head. torchvision registers `downsample` only when it exists.

import { Tensor } from '../tensor/tensor.js';
import { ShapeError, shapeStr } from '../tensor/shape.js';
import { at, zip } from '../tensor/checked.js';
import * as F from '../autograd/ops/index.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type InitOptions } from '../nn/layers.js';
import type { InitScheme } from '../nn/init.js';
import { Model, initGen, resolve, scaled, type ModelOptions, type ResolvedOptions } from './common.js';

function downsample(inPlanes: number, outPlanes: number, stride: number, io: InitOptions): Sequential | null {
  if (stride === 1 && inPlanes === outPlanes) return null;
  return new Sequential(new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false, ...io }), new BatchNorm2d(outPlanes));
}

class TvBasicBlock extends Module {
  readonly outChannels: number;
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inPlanes: number, planes: number, stride: number, io: InitOptions) {
    super();
    this.outChannels = planes;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false, ...io }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    const d = downsample(inPlanes, planes, stride, io);
    this.downsample = d ? this.registerModule('downsample', d) : null;
  }
  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(F.relu(this.bn1.forward(this.conv1.forward(x)))));
    return F.relu(F.add(out, this.downsample ? this.downsample.forward(x) : x));
  }
}

class TvBottleneck extends Module {
  readonly outChannels: number;
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d; readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inPlanes: number, planes: number, stride: number, io: InitOptions) {
    super();
    const out = planes * 4;
    this.outChannels = out;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 1, { bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false, ...io }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, out, 1, { bias: false, ...io }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(out));
    const d = downsample(inPlanes, out, stride, io);
    this.downsample = d ? this.registerModule('downsample', d) : null;
  }
  forward(x: Tensor): Tensor {
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    out = F.relu(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    return F.relu(F.add(out, this.downsample ? this.downsample.forward(x) : x));
  }
}

/** ResNet-18/50 for ImageNet with torchvision's names (7x7 stem, max-pool, downsample, fc). */
export class ImageNetResNet extends Model {
  readonly classifierName = 'fc';
  readonly config: ResolvedOptions;
  readonly depth: 18 | 50;
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly fc: Linear;
  private readonly stages: Sequential[] = [];

  constructor(depth: 18 | 50, o: ModelOptions = {}) {
    super();
    if (depth !== 18 && depth !== 50) throw new RangeError(`ImageNet ResNet depth must be 18 or 50, got ${depth}`);
    this.depth = depth;
    const c = resolve(o, { numClasses: 1000, inChannels: 3, width: 1, imageSize: 224, init: 'default' });
    this.config = c;
    const io: InitOptions = { gen: initGen(o), init: c.init as InitScheme };
    const widths = [64, 128, 256, 512].map((w) => scaled(w, c.width));
    const blocks = depth === 18 ? [2, 2, 2, 2] : [3, 4, 6, 3];
    const stem = at(widths, 0, 'stage widths');
    this.conv1 = this.registerModule('conv1', new Conv2d(c.inChannels, stem, 7, { stride: 2, padding: 3, bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(stem));
    let inPlanes = stem;
    zip(blocks, widths, 'stages and their widths').forEach(([n, width], s) => {
      const stage = new Sequential();
      for (let b = 0; b < n; b++) {
        const stride = s > 0 && b === 0 ? 2 : 1;
        const blk = depth === 18 ? new TvBasicBlock(inPlanes, width, stride, io) : new TvBottleneck(inPlanes, width, stride, io);
        stage.append(blk);
        inPlanes = blk.outChannels;
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, stage));
    });
    this.fc = this.registerModule('fc', new Linear(inPlanes, c.numClasses, io));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.config.inChannels) throw new ShapeError(`resnet${this.depth}_imagenet: expected input [N, ${this.config.inChannels}, H, W], got ${shapeStr(x.shape)}`);
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    out = F.maxPool2d(out, 3, { stride: 2, padding: 1 });
    for (const s of this.stages) out = s.forward(out);
    return this.fc.forward(F.flatten(F.adaptiveAvgPool2d(out, 1), 1));
  }
}

/** ResNet-18 for ImageNet. */
export const resnet18Imagenet = (o: ModelOptions = {}): ImageNetResNet => new ImageNetResNet(18, o);
/** ResNet-50 for ImageNet. */
export const resnet50Imagenet = (o: ModelOptions = {}): ImageNetResNet => new ImageNetResNet(50, o);
