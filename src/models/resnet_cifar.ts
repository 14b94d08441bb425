// The CIFAR ResNets of the paper's code (kuangliu's pytorch-cifar): a 3x3 stride-1 stem without
// max-pool, four stages, a 1x1-conv + BN projection shortcut wherever the shape changes, 4x4
// average pooling and a `linear` head. Names and state-dict order match PyTorch's exactly, so the
// paper's checkpoints and the golden fixtures load here. `resnet18_tiny` is the paper's
// TinyImageNet variant: the same network with adaptive pooling to 1x1 and 200 classes.

import { Tensor } from '../tensor/tensor.js';
import { ShapeError, shapeStr } from '../tensor/shape.js';
import { at, zip } from '../tensor/checked.js';
import * as F from '../autograd/ops/index.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type InitOptions } from '../nn/layers.js';
import type { InitScheme } from '../nn/init.js';
import { Model, initGen, resolve, scaled, convOut, type ModelOptions, type ResolvedOptions } from './common.js';

/** A residual block of the CIFAR ResNets, which says how many channels it outputs. */
export interface Block extends Module { readonly outChannels: number }

/** The two-convolution residual block of ResNet-18/34. */
export class BasicBlock extends Module implements Block {
  static readonly expansion = 1;
  readonly outChannels: number;
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  readonly shortcut: Sequential;
  constructor(inPlanes: number, planes: number, stride: number, io: InitOptions) {
    super();
    this.outChannels = planes;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false, ...io }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.shortcut = this.registerModule('shortcut', projection(inPlanes, planes, stride, io));
  }
  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(F.relu(this.bn1.forward(this.conv1.forward(x)))));
    return F.relu(F.add(out, this.shortcut.forward(x)));
  }
}

/** The 1x1-3x3-1x1 residual block of ResNet-50. */
export class Bottleneck extends Module implements Block {
  static readonly expansion = 4;
  readonly outChannels: number;
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d; readonly bn3: BatchNorm2d;
  readonly shortcut: Sequential;
  constructor(inPlanes: number, planes: number, stride: number, io: InitOptions) {
    super();
    const out = planes * Bottleneck.expansion;
    this.outChannels = out;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 1, { bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false, ...io }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, out, 1, { bias: false, ...io }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(out));
    this.shortcut = this.registerModule('shortcut', projection(inPlanes, out, stride, io));
  }
  forward(x: Tensor): Tensor {
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    out = F.relu(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    return F.relu(F.add(out, this.shortcut.forward(x)));
  }
}

/** kuangliu's shortcut: always a Sequential (empty, hence stateless, when the shape is kept). */
function projection(inPlanes: number, outPlanes: number, stride: number, io: InitOptions): Sequential {
  if (stride === 1 && inPlanes === outPlanes) return new Sequential();
  return new Sequential(new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false, ...io }), new BatchNorm2d(outPlanes));
}

/** The depths of the CIFAR ResNets. */
export type CifarResNetDepth = 18 | 34 | 50;

const PLANS: Record<CifarResNetDepth, { block: 'basic' | 'bottleneck'; blocks: [number, number, number, number] }> = {
  18: { block: 'basic', blocks: [2, 2, 2, 2] },
  34: { block: 'basic', blocks: [3, 4, 6, 3] },
  50: { block: 'bottleneck', blocks: [3, 4, 6, 3] },
};

/** ResNet-18/34/50 for CIFAR as the paper's code builds them (kuangliu variant: 3x3 stem, no max-pool, linear head). */
export class CifarResNet extends Model {
  readonly classifierName = 'linear';
  readonly config: ResolvedOptions;
  readonly depth: CifarResNetDepth;
  /** 'avg4' is kuangliu's F.avg_pool2d(out, 4); 'adaptive' the TinyImageNet model's AdaptiveAvgPool2d((1, 1)). */
  readonly pooling: 'avg4' | 'adaptive';
  readonly widths: number[];
  private readonly stages: Sequential[] = [];
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly linear: Linear;

  constructor(depth: CifarResNetDepth, o: ModelOptions & { pooling?: 'avg4' | 'adaptive' } = {}, defaults: Partial<ResolvedOptions> = {}) {
    super();
    const plan = PLANS[depth];
    if (!plan) throw new RangeError(`CIFAR ResNet depth must be 18, 34 or 50, got ${depth}`);
    this.depth = depth;
    this.pooling = o.pooling ?? 'avg4';
    const c = resolve(o, { numClasses: 10, inChannels: 3, width: 1, imageSize: 32, init: 'default', ...defaults });
    this.config = c;
    const io: InitOptions = { gen: initGen(o), init: c.init as InitScheme };
    this.widths = [64, 128, 256, 512].map((w) => scaled(w, c.width));

    const stem = at(this.widths, 0, 'stage widths');
    this.conv1 = this.registerModule('conv1', new Conv2d(c.inChannels, stem, 3, { padding: 1, bias: false, ...io }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(stem));
    let inPlanes = stem;
    let side = c.imageSize;
    zip(plan.blocks, this.widths, 'stages and their widths').forEach(([n, width], s) => {
      const stage = new Sequential();
      for (let b = 0; b < n; b++) {
        const stride = s > 0 && b === 0 ? 2 : 1;
        const blk: Block = plan.block === 'basic'
          ? new BasicBlock(inPlanes, width, stride, io)
          : new Bottleneck(inPlanes, width, stride, io);
        stage.append(blk);
        inPlanes = blk.outChannels;
        side = convOut(side, 3, stride, 1);
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, stage));
    });
    let features = inPlanes;
    if (this.pooling === 'avg4') {
      // The head's fan-in follows the input size: 1x1 after pooling at 32x32, 2x2 at 64x64.
      const pooled = Math.floor(side / 4);
      if (pooled < 1) throw new ShapeError(`CIFAR ResNet-${depth}: input ${c.imageSize}x${c.imageSize} leaves ${side}x${side} before the 4x4 average pool; use imageSize >= 25`);
      features = inPlanes * pooled * pooled;
    }
    this.linear = this.registerModule('linear', new Linear(features, c.numClasses, io));
  }

  forward(x: Tensor): Tensor {
    const c = this.config;
    // Adaptive pooling takes any input size; 4x4 pooling fixed the head's fan-in to imageSize.
    const sizeOk = this.pooling === 'adaptive' || (x.shape[2] === c.imageSize && x.shape[3] === c.imageSize);
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels || !sizeOk) {
      const hw = this.pooling === 'adaptive' ? 'H, W' : `${c.imageSize}, ${c.imageSize}`;
      throw new ShapeError(`ResNet-${this.depth}: expected input [N, ${c.inChannels}, ${hw}], got ${shapeStr(x.shape)}`);
    }
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    for (const s of this.stages) out = s.forward(out);
    out = this.pooling === 'avg4' ? F.avgPool2d(out, 4) : F.adaptiveAvgPool2d(out, 1);
    return this.linear.forward(F.flatten(out, 1));
  }
}

/** ResNet-18 for CIFAR. */
export function resnet18(o: ModelOptions = {}): CifarResNet { return new CifarResNet(18, o); }
/** ResNet-34 for CIFAR. */
export function resnet34(o: ModelOptions = {}): CifarResNet { return new CifarResNet(34, o); }
/** ResNet-50 for CIFAR. */
export function resnet50(o: ModelOptions = {}): CifarResNet { return new CifarResNet(50, o); }

/** The paper's ResNet18_TinyImageNet: 64x64 input, 200 classes, adaptive average pooling. */
export function resnet18Tiny(o: ModelOptions = {}): CifarResNet {
  return new CifarResNet(18, { ...o, pooling: 'adaptive' }, { numClasses: 200, imageSize: 64 });
}
