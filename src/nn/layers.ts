// The layers, thin modules over the differentiable ops. Parameters are read through getters so a
// dtype change or a state-dict load never leaves a stale reference.

import { Tensor } from '../tensor/tensor.js';
import { zeros, ones } from '../tensor/create.js';
import { Generator } from '../tensor/random.js';
import { shapeStr, ShapeError } from '../tensor/shape.js';
import * as F from '../autograd/ops/index.js';
import { Module } from './module.js';
import { initWeightBias, type InitScheme } from './init.js';

/** How a layer initialises its weights: the generator to draw from and the scheme (PyTorch's default or kaiming_normal). */
export interface InitOptions { gen?: Generator; init?: InitScheme }

function genOf(o: InitOptions): Generator {
  return o.gen ?? new Generator(0, 'init');
}

/** A 2-d convolution layer, as torch.nn.Conv2d (weight [out, in/groups, kh, kw], optional bias, PyTorch's initialisation). */
export class Conv2d extends Module {
  readonly inChannels: number; readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly options: Required<Omit<F.Conv2dOptions, 'groups'>> & { groups: number };
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number],
    o: F.Conv2dOptions & InitOptions & { bias?: boolean } = {}) {
    super();
    const k: [number, number] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = o.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new ShapeError(`Conv2d: groups=${groups} must divide in_channels=${inChannels} and out_channels=${outChannels}`);
    }
    this.inChannels = inChannels; this.outChannels = outChannels; this.kernelSize = k;
    this.options = { stride: o.stride ?? 1, padding: o.padding ?? 0, dilation: o.dilation ?? 1, groups };
    const w = zeros([outChannels, inChannels / groups, k[0], k[1]]);
    const b = o.bias === false ? null : zeros([outChannels]);
    initWeightBias(w, b, o.init ?? 'default', genOf(o));
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }
  get weight(): Tensor { return this.requireParameter('weight'); }
  get bias(): Tensor | null { return this.getParameter('bias'); }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
}

/** A fully connected layer, as torch.nn.Linear (weight [out, in], optional bias). */
export class Linear extends Module {
  readonly inFeatures: number; readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, o: InitOptions & { bias?: boolean } = {}) {
    super();
    this.inFeatures = inFeatures; this.outFeatures = outFeatures;
    const w = zeros([outFeatures, inFeatures]);
    const b = o.bias === false ? null : zeros([outFeatures]);
    initWeightBias(w, b, o.init ?? 'default', genOf(o));
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }
  get weight(): Tensor { return this.requireParameter('weight'); }
  get bias(): Tensor | null { return this.getParameter('bias'); }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/**
 * Batch normalisation over axis 1. momentum null means a cumulative average (PyTorch's
 * momentum=None); num_batches_tracked counts training batches as PyTorch does.
 */
export class BatchNorm extends Module {
  readonly numFeatures: number; readonly eps: number; readonly momentum: number | null;
  readonly rank: number;
  constructor(numFeatures: number, rank: 2 | 3 | 4, o: { eps?: number; momentum?: number | null; affine?: boolean; trackRunningStats?: boolean } = {}) {
    super();
    this.numFeatures = numFeatures; this.rank = rank;
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    const affine = o.affine ?? true;
    this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    if (o.trackRunningStats ?? true) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'float64' }), { int64: true });
    }
  }
  get weight(): Tensor | null { return this.getParameter('weight'); }
  get bias(): Tensor | null { return this.getParameter('bias'); }
  get runningMean(): Tensor | null { return this.getBuffer('running_mean'); }
  get runningVar(): Tensor | null { return this.getBuffer('running_var'); }
  forward(x: Tensor): Tensor {
    const okRank = this.rank === 4 ? x.ndim === 4 : x.ndim === 2 || x.ndim === 3;
    if (!okRank || x.shape[1] !== this.numFeatures) {
      throw new ShapeError(`${this.rank === 4 ? 'BatchNorm2d' : 'BatchNorm1d'}(${this.numFeatures}): unexpected input ${shapeStr(x.shape)}`);
    }
    const rm = this.runningMean, rv = this.runningVar;
    const useBatchStats = this.training || !rm;
    let momentum = this.momentum ?? 0;
    if (this.training && rm) {
      const nbt = this.requireBuffer('num_batches_tracked');
      nbt.data[0] = nbt.item() + 1;
      if (this.momentum === null) momentum = 1 / nbt.item();
    }
    return F.batchNorm(x, {
      runningMean: this.training ? rm : rm, runningVar: rv, weight: this.weight, bias: this.bias,
      training: useBatchStats, momentum, eps: this.eps,
    });
  }
}

export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, o: ConstructorParameters<typeof BatchNorm>[2] = {}) { super(numFeatures, 4, o); }
}

export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, o: ConstructorParameters<typeof BatchNorm>[2] = {}) { super(numFeatures, 2, o); }
}

/** Layer normalisation over the trailing `normalizedShape` axes, as torch.nn.LayerNorm. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[]; readonly eps: number;
  constructor(normalizedShape: number | number[], o: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = o.eps ?? 1e-5;
    const affine = o.elementwiseAffine ?? true;
    this.registerParameter('weight', affine ? ones(this.normalizedShape) : null);
    this.registerParameter('bias', affine && (o.bias ?? true) ? zeros(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.getParameter('weight'), this.getParameter('bias'), this.eps);
  }
}

/** max(x, 0), as torch.nn.ReLU. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor { return F.relu(x); }
}

/** The Gaussian error linear unit, exact (erf) or with the tanh approximation, as torch.nn.GELU. */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { return F.gelu(x, this.approximate); }
}

/** Returns its input unchanged. */
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}

/** Flattens the axes from `start` to `end` into one, as torch.nn.Flatten. */
export class Flatten extends Module {
  constructor(readonly start = 1, readonly end = -1) { super(); }
  forward(x: Tensor): Tensor { return F.flatten(x, this.start, this.end); }
}

/** 2-d max pooling, as torch.nn.MaxPool2d. */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: Parameters<typeof F.maxPool2d>[2] = {}) { super(); }
  forward(x: Tensor): Tensor { return F.maxPool2d(x, this.kernelSize, this.options); }
}

/** 2-d average pooling, as torch.nn.AvgPool2d. */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly options: Parameters<typeof F.avgPool2d>[2] = {}) { super(); }
  forward(x: Tensor): Tensor { return F.avgPool2d(x, this.kernelSize, this.options); }
}

/** 2-d adaptive average pooling to a fixed output size, as torch.nn.AdaptiveAvgPool2d. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) { super(); }
  forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.outputSize); }
}

/** Zeroes each value with probability p in training mode and scales the rest by 1/(1-p), as torch.nn.Dropout; seeded. */
export class Dropout extends Module {
  private readonly gen: Generator;
  constructor(readonly p = 0.5, gen?: Generator) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.gen = gen ?? new Generator(0, 'dropout');
  }
  forward(x: Tensor): Tensor { return F.dropout(x, this.p, this.training, this.gen); }
}

/** Children run in order; names are '0', '1', ... or given (VGG's 'conv_0', 'bn_1', ...). */
export class Sequential extends Module {
  private readonly order: Module[] = [];
  constructor(...layers: (Module | [string, Module])[]) {
    super();
    layers.forEach((l, i) => this.append(l, i));
  }
  /** Appends a layer (named by its index, or `[name, layer]`); returns this. */
  append(l: Module | [string, Module], index = this.order.length): this {
    const [name, m] = Array.isArray(l) ? l : [String(index), l];
    this.registerModule(name, m);
    this.order.push(m);
    return this;
  }
  get length(): number { return this.order.length; }
  /** The i-th layer. */
  at(i: number): Module {
    const m = this.order[i];
    if (!m) throw new RangeError(`Sequential.at(${i}): there are ${this.order.length} layers`);
    return m;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.order) h = m.forward(h);
    return h;
  }
}

/**
 * Multi-head self-attention with a fused qkv projection, named as timm's Attention
 * (`qkv`, `proj`): x [B, N, dim] -> [B, N, dim].
 */
export class MultiheadAttention extends Module {
  readonly dim: number; readonly numHeads: number; readonly headDim: number;
  readonly qkv: Linear; readonly proj: Linear;
  constructor(dim: number, numHeads: number, o: InitOptions & { qkvBias?: boolean } = {}) {
    super();
    if (dim % numHeads !== 0) throw new ShapeError(`MultiheadAttention: dim ${dim} is not divisible by ${numHeads} heads`);
    this.dim = dim; this.numHeads = numHeads; this.headDim = dim / numHeads;
    this.qkv = this.registerModule('qkv', new Linear(dim, 3 * dim, { ...o, bias: o.qkvBias ?? true }));
    this.proj = this.registerModule('proj', new Linear(dim, dim, o));
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.dim) throw new ShapeError(`MultiheadAttention(${this.dim}): input must be [B, N, ${this.dim}], got ${shapeStr(x.shape)}`);
    const [b, n] = x.shape as [number, number, number];
    // [B, N, 3, H, D] -> [3, B, H, N, D]
    const qkv = F.permute(F.reshape(this.qkv.forward(x), [b, n, 3, this.numHeads, this.headDim]), [2, 0, 3, 1, 4]);
    const pick = (i: number): Tensor => F.reshape(F.slice(qkv, 0, i, i + 1), [b, this.numHeads, n, this.headDim]);
    const q = F.mulScalar(pick(0), 1 / Math.sqrt(this.headDim));
    const attn = F.softmax(F.matmul(q, F.transpose(pick(1), -2, -1)), -1);
    const out = F.reshape(F.permute(F.matmul(attn, pick(2)), [0, 2, 1, 3]), [b, n, this.dim]);
    return this.proj.forward(out);
  }
}
