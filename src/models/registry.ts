// The model zoo by name, and the prunable set of a model. Parameter counts for listings are
// computed from the architecture's arithmetic rather than by building the model, so `pai models`
// stays instant even for ViT-Base; the tests check every formula against a built model.

import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { at, zip } from '../tensor/checked.js';
import { Model, resolve, scaled, convOut, type ResolvedOptions } from './common.js';
import { CifarResNet, type CifarResNetDepth } from './resnet_cifar.js';
import { VGG, VGG_CFG, type VggName } from './vgg.js';
import { LthResNet } from './resnet_lth.js';
import { ImageNetResNet } from './resnet_imagenet.js';
import { VisionTransformer, VIT_PRESETS, type VitOptions, type VitConfig } from './vit.js';
import { LeNet5, Mlp300100 } from './small.js';

export { Model, type ModelOptions, type ResolvedOptions } from './common.js';
/** Options of `createModel`: the model options, and the architecture options for ViTs. */
export type CreateOptions = VitOptions;

const COMMON_KEYS = ['numClasses', 'inChannels', 'width', 'imageSize', 'init', 'gen', 'seed'] as const;
const VIT_KEYS = ['patchSize', 'dim', 'depth', 'numHeads', 'mlpRatio'] as const;

interface Entry {
  description: string;
  defaults: ResolvedOptions | VitConfig;
  vit?: boolean;
  build(o: CreateOptions): Model;
  count(c: ResolvedOptions | VitConfig): number;
}

// ---- parameter-count arithmetic, one function per family ----

const bnCount = (c: number): number => 2 * c;

function cifarResNetCount(depth: CifarResNetDepth, adaptive: boolean, c: ResolvedOptions): number {
  const w = [64, 128, 256, 512].map((x) => scaled(x, c.width));
  const bottleneck = depth === 50;
  const blocks = depth === 18 ? [2, 2, 2, 2] : [3, 4, 6, 3];
  const stem = at(w, 0, 'stage widths');
  let n = 9 * c.inChannels * stem + bnCount(stem);
  let inP = stem, side = c.imageSize;
  zip(blocks, w, 'stages and their widths').forEach(([k, p], s) => {
    for (let b = 0; b < k; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const out = bottleneck ? 4 * p : p;
      n += bottleneck ? inP * p + bnCount(p) + 9 * p * p + bnCount(p) + p * out + bnCount(out) : 9 * inP * p + bnCount(p) + 9 * p * p + bnCount(p);
      if (stride !== 1 || inP !== out) n += inP * out + bnCount(out);
      inP = out;
      side = convOut(side, 3, stride, 1);
    }
  });
  const pooled = adaptive ? 1 : Math.floor(side / 4);
  return n + inP * pooled * pooled * c.numClasses + c.numClasses;
}

function vggCount(v: VggName, c: ResolvedOptions): number {
  let n = 0, inC = c.inChannels, side = c.imageSize;
  for (const x of VGG_CFG[v]) {
    if (x === 'M') { side = Math.floor(side / 2); continue; }
    const o = scaled(x, c.width);
    n += 9 * inC * o + o + bnCount(o);
    inC = o;
  }
  return n + inC * side * side * c.numClasses + c.numClasses;
}

function lthCount(depth: number, c: ResolvedOptions): number {
  const w = [16, 32, 64].map((x) => scaled(x, c.width));
  const k = (depth - 2) / 6;
  const stem = at(w, 0, 'stage widths');
  let n = 9 * c.inChannels * stem + bnCount(stem), f = stem;
  w.forEach((p, s) => {
    for (let b = 0; b < k; b++) {
      n += 9 * f * p + bnCount(p) + 9 * p * p + bnCount(p);
      if ((s > 0 && b === 0) || f !== p) n += f * p + bnCount(p);
      f = p;
    }
  });
  return n + f * c.numClasses + c.numClasses;
}

function imagenetCount(depth: 18 | 50, c: ResolvedOptions): number {
  const w = [64, 128, 256, 512].map((x) => scaled(x, c.width));
  const bottleneck = depth === 50;
  const blocks = depth === 18 ? [2, 2, 2, 2] : [3, 4, 6, 3];
  const stem = at(w, 0, 'stage widths');
  let n = 49 * c.inChannels * stem + bnCount(stem), inP = stem;
  zip(blocks, w, 'stages and their widths').forEach(([k, p], s) => {
    for (let b = 0; b < k; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const out = bottleneck ? 4 * p : p;
      n += bottleneck ? inP * p + bnCount(p) + 9 * p * p + bnCount(p) + p * out + bnCount(out) : 9 * inP * p + bnCount(p) + 9 * p * p + bnCount(p);
      if (stride !== 1 || inP !== out) n += inP * out + bnCount(out);
      inP = out;
    }
  });
  return n + inP * c.numClasses + c.numClasses;
}

function vitCount(c: VitConfig): number {
  const d = c.dim, h = Math.floor(d * c.mlpRatio), tokens = (c.imageSize / c.patchSize) ** 2 + 1;
  const block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * h + h) + (h * d + d);
  return c.inChannels * c.patchSize * c.patchSize * d + d + d + tokens * d + c.depth * block + 2 * d + d * c.numClasses + c.numClasses;
}

function lenetCount(c: ResolvedOptions): number {
  const [c1, c2, h1, h2] = [6, 16, 120, 84].map((w) => scaled(w, c.width)) as [number, number, number, number];
  const side = Math.floor(convOut(Math.floor(convOut(c.imageSize, 5, 1, 0) / 2), 5, 1, 0) / 2);
  return 25 * c.inChannels * c1 + c1 + 25 * c1 * c2 + c2 + c2 * side * side * h1 + h1 + h1 * h2 + h2 + h2 * c.numClasses + c.numClasses;
}

function mlpCount(c: ResolvedOptions): number {
  const h1 = scaled(300, c.width), h2 = scaled(100, c.width);
  return c.inChannels * c.imageSize * c.imageSize * h1 + h1 + h1 * h2 + h2 + h2 * c.numClasses + c.numClasses;
}

// ---- the registry ----

const cifar = (numClasses = 10, imageSize = 32): ResolvedOptions => ({ numClasses, inChannels: 3, width: 1, imageSize, init: 'default' });
const mnist: ResolvedOptions = { numClasses: 10, inChannels: 1, width: 1, imageSize: 28, init: 'default' };

const REGISTRY = new Map<string, Entry>();

for (const depth of [18, 34, 50] as const) {
  REGISTRY.set(`resnet${depth}`, {
    description: `ResNet-${depth} for CIFAR (the paper's kuangliu variant: 3x3 stem, no max-pool, ${depth === 50 ? 'Bottleneck' : 'BasicBlock'}, linear head)`,
    defaults: cifar(),
    build: (o) => new CifarResNet(depth, o),
    count: (c) => cifarResNetCount(depth, false, c),
  });
}
REGISTRY.set('resnet18_tiny', {
  description: "ResNet-18 for TinyImageNet (the paper's variant: CIFAR stem, 64x64 input, adaptive pooling)",
  defaults: cifar(200, 64),
  build: (o) => new CifarResNet(18, { ...o, pooling: 'adaptive' }, { numClasses: 200, imageSize: 64 }),
  count: (c) => cifarResNetCount(18, true, c),
});
for (const v of ['vgg11', 'vgg13', 'vgg16', 'vgg19'] as const) {
  REGISTRY.set(v, {
    description: `VGG-${v.slice(3)} with batch norm for CIFAR (the paper's: features.conv_0, features.bn_1, ..., linear head)`,
    defaults: cifar(),
    build: (o) => new VGG(v, o),
    count: (c) => vggCount(v, c),
  });
}
for (const depth of [20, 32, 56]) {
  REGISTRY.set(`resnet${depth}`, {
    description: `ResNet-${depth} for CIFAR (He et al., projection shortcuts; OpenLTH / Synaptic-Flow names, kaiming-normal init)`,
    defaults: { ...cifar(), init: 'kaiming_normal' },
    build: (o) => new LthResNet(depth, o),
    count: (c) => lthCount(depth, c),
  });
}
for (const depth of [18, 50] as const) {
  REGISTRY.set(`resnet${depth}_imagenet`, {
    description: `ResNet-${depth} for ImageNet (torchvision names: 7x7 stem, max-pool, downsample, fc)`,
    defaults: { numClasses: 1000, inChannels: 3, width: 1, imageSize: 224, init: 'default' },
    build: (o) => new ImageNetResNet(depth, o),
    count: (c) => imagenetCount(depth, c),
  });
}
for (const [name, p] of Object.entries(VIT_PRESETS)) {
  REGISTRY.set(name, {
    description: `Vision Transformer (timm names): patch ${p.patchSize}, ${p.imageSize}x${p.imageSize}, dim ${p.dim}, depth ${p.depth}, ${p.numHeads} heads`,
    defaults: { numClasses: p.numClasses, inChannels: 3, width: 1, imageSize: p.imageSize, init: 'timm', patchSize: p.patchSize, dim: p.dim, depth: p.depth, numHeads: p.numHeads, mlpRatio: 4 },
    vit: true,
    build: (o) => new VisionTransformer({ ...p, ...o }),
    count: (c) => vitCount(c as VitConfig),
  });
}
REGISTRY.set('lenet5', {
  description: 'LeNet-5 (two 5x5 convs, max-pool, three fc layers) for (Fashion-)MNIST',
  defaults: mnist,
  build: (o) => new LeNet5(o),
  count: lenetCount,
});
REGISTRY.set('mlp', {
  description: 'LeNet-300-100 MLP for (Fashion-)MNIST',
  defaults: mnist,
  build: (o) => new Mlp300100(o),
  count: mlpCount,
});

function entry(name: string): Entry {
  const e = REGISTRY.get(name);
  if (!e) throw new RangeError(`unknown model ${JSON.stringify(name)} (known: ${[...REGISTRY.keys()].join(', ')})`);
  return e;
}

const createOptionsSchema = z.object({
  numClasses: is.positiveInt.optional(),
  inChannels: is.positiveInt.optional(),
  width: is.positive.optional(),
  imageSize: is.positiveInt.optional(),
  init: z.enum(['default', 'kaiming_normal', 'timm']).optional(),
  gen: is.generator.optional(),
  seed: z.number().int().optional(),
  patchSize: is.positiveInt.optional(),
  dim: is.positiveInt.optional(),
  depth: is.positiveInt.optional(),
  numHeads: is.positiveInt.optional(),
  mlpRatio: is.positive.optional(),
});

function checkCreate(fn: string, name: string, options: CreateOptions): void {
  checkArgument(fn, 'name', z.string(), name);
  checkOptions(fn, createOptionsSchema, options);
}

function given(o: CreateOptions): CreateOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as CreateOptions;
}

function checkKeys(name: string, e: Entry, o: CreateOptions): void {
  const allowed: readonly string[] = e.vit ? [...COMMON_KEYS, ...VIT_KEYS] : COMMON_KEYS;
  const bad = Object.keys(o).filter((k) => !allowed.includes(k));
  if (bad.length) throw new RangeError(`model ${name}: unknown option${bad.length > 1 ? 's' : ''} ${bad.join(', ')} (allowed: ${allowed.join(', ')})`);
}

/** Builds a registered model; options not given take the model's defaults (see listModels). */
export function createModel(name: string, options: CreateOptions = {}): Model {
  checkCreate('createModel', name, options);
  const e = entry(name);
  const o = given(options);
  checkKeys(name, e, o);
  return e.build(o);
}

/** A zoo entry as `listModels` describes it. */
export interface ModelInfo {
  name: string;
  description: string;
  defaultOptions: ResolvedOptions | VitConfig;
  parameterCount: number;
}

/** Every registered model with its default options and parameter count at those options. */
export function listModels(): ModelInfo[] {
  return [...REGISTRY].map(([name, e]) => ({ name, description: e.description, defaultOptions: { ...e.defaults }, parameterCount: e.count(e.defaults) }));
}

/** Parameter count of a registered model at the given options, without building it. */
export function countParameters(name: string, options: CreateOptions = {}): number {
  checkCreate('countParameters', name, options);
  const e = entry(name);
  const o = given(options);
  checkKeys(name, e, o);
  const inits = e.vit ? (['timm', 'default', 'kaiming_normal'] as const) : (['default', 'kaiming_normal'] as const);
  const c = { ...e.defaults, ...resolve(o, e.defaults, inits) };
  if (e.vit) for (const k of VIT_KEYS) if (o[k] !== undefined) (c as VitConfig)[k] = o[k];
  return e.count(c);
}

/** The names of every model of the zoo. */
export function modelNames(): string[] {
  return [...REGISTRY.keys()];
}
