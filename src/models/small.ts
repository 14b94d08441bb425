// Two small networks for quick CPU runs on (Fashion-)MNIST: LeNet-5 (two 5x5 convs with ReLU and
// 2x2 max-pools, three fully connected layers) and the LeNet-300-100 MLP of the lottery-ticket
// literature. Named as PyTorch tutorials name them (conv1, conv2, fc1..fc3). Under the paper's
// `reference` name rule every `fc*` layer is skipped, so only the convs are prunable there.

import { Tensor } from '../tensor/tensor.js';
import { ShapeError, shapeStr } from '../tensor/shape.js';
import * as F from '../autograd/ops/index.js';
import { Conv2d, Linear, type InitOptions } from '../nn/layers.js';
import type { InitScheme } from '../nn/init.js';
import { Model, initGen, resolve, scaled, convOut, type ModelOptions, type ResolvedOptions } from './common.js';

function checkInput(name: string, x: Tensor, c: ResolvedOptions): void {
  if (x.ndim !== 4 || x.shape[1] !== c.inChannels || x.shape[2] !== c.imageSize || x.shape[3] !== c.imageSize) {
    throw new ShapeError(`${name}: expected input [N, ${c.inChannels}, ${c.imageSize}, ${c.imageSize}], got ${shapeStr(x.shape)}`);
  }
}

/** LeNet-5 for (Fashion-)MNIST: two 5x5 convolutions with max pooling and three fully connected layers. */
export class LeNet5 extends Model {
  readonly classifierName = 'fc3';
  readonly config: ResolvedOptions;
  readonly conv1: Conv2d; readonly conv2: Conv2d; readonly fc1: Linear; readonly fc2: Linear; readonly fc3: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = resolve(o, { numClasses: 10, inChannels: 1, width: 1, imageSize: 28, init: 'default' });
    this.config = c;
    const io: InitOptions = { gen: initGen(o), init: c.init as InitScheme };
    const [c1, c2, h1, h2] = [6, 16, 120, 84].map((w) => scaled(w, c.width)) as [number, number, number, number];
    // Unpadded 5x5 convs: 28 -> 24 -> 12 -> 8 -> 4 (MNIST), 32 -> 28 -> 14 -> 10 -> 5 (CIFAR).
    const side = Math.floor(convOut(Math.floor(convOut(c.imageSize, 5, 1, 0) / 2), 5, 1, 0) / 2);
    if (side < 1) throw new ShapeError(`lenet5: input ${c.imageSize}x${c.imageSize} is too small (needs at least 16x16)`);
    this.conv1 = this.registerModule('conv1', new Conv2d(c.inChannels, c1, 5, io));
    this.conv2 = this.registerModule('conv2', new Conv2d(c1, c2, 5, io));
    this.fc1 = this.registerModule('fc1', new Linear(c2 * side * side, h1, io));
    this.fc2 = this.registerModule('fc2', new Linear(h1, h2, io));
    this.fc3 = this.registerModule('fc3', new Linear(h2, c.numClasses, io));
  }
  forward(x: Tensor): Tensor {
    checkInput('lenet5', x, this.config);
    let h = F.maxPool2d(F.relu(this.conv1.forward(x)), 2);
    h = F.maxPool2d(F.relu(this.conv2.forward(h)), 2);
    h = F.relu(this.fc1.forward(F.flatten(h, 1)));
    return this.fc3.forward(F.relu(this.fc2.forward(h)));
  }
}

/** LeNet-300-100: input flattened, two ReLU hidden layers of 300 and 100 units (scaled by width). */
export class Mlp300100 extends Model {
  readonly classifierName = 'fc3';
  readonly config: ResolvedOptions;
  readonly fc1: Linear; readonly fc2: Linear; readonly fc3: Linear;
  constructor(o: ModelOptions = {}) {
    super();
    const c = resolve(o, { numClasses: 10, inChannels: 1, width: 1, imageSize: 28, init: 'default' });
    this.config = c;
    const io: InitOptions = { gen: initGen(o), init: c.init as InitScheme };
    const h1 = scaled(300, c.width), h2 = scaled(100, c.width);
    this.fc1 = this.registerModule('fc1', new Linear(c.inChannels * c.imageSize * c.imageSize, h1, io));
    this.fc2 = this.registerModule('fc2', new Linear(h1, h2, io));
    this.fc3 = this.registerModule('fc3', new Linear(h2, c.numClasses, io));
  }
  forward(x: Tensor): Tensor {
    checkInput('mlp', x, this.config);
    const h = F.relu(this.fc1.forward(F.flatten(x, 1)));
    return this.fc3.forward(F.relu(this.fc2.forward(h)));
  }
}

/** LeNet-5. */
export const lenet5 = (o: ModelOptions = {}): LeNet5 => new LeNet5(o);
/** The LeNet-300-100 multilayer perceptron. */
export const mlp = (o: ModelOptions = {}): Mlp300100 => new Mlp300100(o);
