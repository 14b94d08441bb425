// Vision Transformer with timm's module names and state-dict order (cls_token, pos_embed,
// patch_embed.proj, blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head):
// pre-norm blocks, GELU MLP, LayerNorm eps 1e-6, class-token pooling. Dropout and drop-path are
// timm's defaults (zero) and so are left out; they hold no state.

import { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/create.js';
import { hasRank, ShapeError, shapeStr } from '../tensor/shape.js';
import type { Generator } from '../tensor/random.js';
import * as F from '../autograd/ops/index.js';
import { Module } from '../nn/module.js';
import { Conv2d, GELU, LayerNorm, Linear, MultiheadAttention, Sequential, type InitOptions } from '../nn/layers.js';
import { normal_ } from '../nn/init.js';
import type { InitScheme } from '../nn/init.js';
import { Model, initGen, resolve, type ModelOptions, type ResolvedOptions } from './common.js';

/** Options of a Vision Transformer: the model options plus patch size, width, depth, heads and MLP ratio. */
export interface VitOptions extends ModelOptions {
  patchSize?: number;
  dim?: number;
  depth?: number;
  numHeads?: number;
  mlpRatio?: number;
}

export interface VitConfig extends ResolvedOptions { patchSize: number; dim: number; depth: number; numHeads: number; mlpRatio: number }

const LN_EPS = 1e-6;

/** Cuts an image into patches and embeds each with a strided convolution (timm's patch_embed). */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(inChannels: number, dim: number, patch: number, io: InitOptions) {
    super();
    this.proj = this.registerModule('proj', new Conv2d(inChannels, dim, patch, { stride: patch, ...io }));
  }
  /** [B, C, H, W] -> [B, N, D], patches in row-major order. */
  forward(x: Tensor): Tensor {
    return F.transpose(F.flatten(this.proj.forward(x), 2), 1, 2);
  }
}

/** The two-layer GELU MLP of a transformer block (timm's mlp.fc1, mlp.fc2). */
export class Mlp extends Module {
  readonly fc1: Linear; readonly act: GELU; readonly fc2: Linear;
  constructor(dim: number, hidden: number, io: InitOptions) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(dim, hidden, io));
    this.act = this.registerModule('act', new GELU());
    this.fc2 = this.registerModule('fc2', new Linear(hidden, dim, io));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

/** One pre-norm transformer block: attention and MLP, each with a residual connection. */
export class VitBlock extends Module {
  readonly norm1: LayerNorm; readonly attn: MultiheadAttention; readonly norm2: LayerNorm; readonly mlp: Mlp;
  constructor(dim: number, numHeads: number, mlpRatio: number, io: InitOptions) {
    super();
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps: LN_EPS }));
    this.attn = this.registerModule('attn', new MultiheadAttention(dim, numHeads, io));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, { eps: LN_EPS }));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.floor(dim * mlpRatio), io));
  }
  forward(x: Tensor): Tensor {
    const h = F.add(x, this.attn.forward(this.norm1.forward(x)));
    return F.add(h, this.mlp.forward(this.norm2.forward(h)));
  }
}

/** A Vision Transformer with timm's parameter names (class token, position embedding, blocks, head). */
export class VisionTransformer extends Model {
  readonly classifierName = 'head';
  readonly config: VitConfig;
  readonly numPatches: number;
  readonly patchEmbed: PatchEmbed; readonly blocks: Sequential; readonly norm: LayerNorm; readonly head: Linear;

  constructor(o: VitOptions = {}) {
    super();
    const base = resolve({ ...o, width: o.width ?? 1 }, { numClasses: 1000, inChannels: 3, width: 1, imageSize: 224, init: 'timm' }, ['timm', 'default', 'kaiming_normal']);
    if (base.width !== 1) throw new RangeError('ViT has no width multiplier: set dim (and numHeads) instead');
    const cfg: VitConfig = { ...base, patchSize: o.patchSize ?? 16, dim: o.dim ?? 768, depth: o.depth ?? 12, numHeads: o.numHeads ?? 12, mlpRatio: o.mlpRatio ?? 4 };
    for (const k of ['patchSize', 'dim', 'depth', 'numHeads'] as const) {
      if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new RangeError(`ViT option ${k} must be a positive integer, got ${cfg[k]}`);
    }
    if (!(cfg.mlpRatio > 0) || Math.floor(cfg.dim * cfg.mlpRatio) < 1) throw new RangeError(`ViT option mlpRatio must give a hidden size >= 1, got ${cfg.mlpRatio}`);
    if (cfg.imageSize % cfg.patchSize !== 0) throw new RangeError(`ViT: image size ${cfg.imageSize} is not a multiple of patch size ${cfg.patchSize}`);
    if (cfg.dim % cfg.numHeads !== 0) throw new RangeError(`ViT: dim ${cfg.dim} is not divisible by ${cfg.numHeads} heads`);
    this.config = cfg;
    const gen = initGen(o);
    // 'timm' builds with PyTorch's defaults and then overwrites what timm re-initialises.
    const io: InitOptions = { gen, init: cfg.init === 'timm' ? 'default' : cfg.init as InitScheme };
    const side = cfg.imageSize / cfg.patchSize;
    this.numPatches = side * side;

    this.patchEmbed = this.registerModule('patch_embed', new PatchEmbed(cfg.inChannels, cfg.dim, cfg.patchSize, io));
    // Parameters registered on the model itself come first in timm's state dict.
    this.registerParameter('cls_token', zeros([1, 1, cfg.dim]));
    this.registerParameter('pos_embed', zeros([1, this.numPatches + 1, cfg.dim]));
    this.blocks = this.registerModule('blocks', new Sequential());
    for (let i = 0; i < cfg.depth; i++) this.blocks.append(new VitBlock(cfg.dim, cfg.numHeads, cfg.mlpRatio, io));
    this.norm = this.registerModule('norm', new LayerNorm(cfg.dim, { eps: LN_EPS }));
    this.head = this.registerModule('head', new Linear(cfg.dim, cfg.numClasses, io));
    if (cfg.init === 'timm') this.timmInit(gen);
  }

  get clsToken(): Tensor { return this.requireParameter('cls_token'); }
  get posEmbed(): Tensor { return this.requireParameter('pos_embed'); }

  /**
   * timm's default (`weight_init=''`): pos_embed and every Linear weight ~ trunc_normal(std .02)
   * with cut-offs at +-2 in absolute value, i.e. 100 std, which never bind, so a plain normal;
   * Linear biases zero; cls_token ~ N(0, 1e-6^2); the patch conv keeps PyTorch's default.
   */
  private timmInit(gen: Generator): void {
    normal_(this.posEmbed, 0, 0.02, gen);
    normal_(this.clsToken, 0, 1e-6, gen);
    for (const [, m] of this.namedModules()) {
      if (!(m instanceof Linear)) continue;
      normal_(m.weight, 0, 0.02, gen);
      m.bias?.data.fill(0);
    }
  }

  forward(x: Tensor): Tensor {
    const c = this.config;
    if (!hasRank(x.shape, 4) || x.shape[1] !== c.inChannels || x.shape[2] !== c.imageSize || x.shape[3] !== c.imageSize) {
      throw new ShapeError(`ViT: expected input [N, ${c.inChannels}, ${c.imageSize}, ${c.imageSize}], got ${shapeStr(x.shape)}`);
    }
    const b = x.shape[0];
    let h = this.patchEmbed.forward(x);
    h = F.concat([F.expand(this.clsToken, [b, 1, c.dim]), h], 1);
    h = F.add(h, this.posEmbed);
    h = this.norm.forward(this.blocks.forward(h));
    return this.head.forward(F.reshape(F.slice(h, 1, 0, 1), [b, c.dim]));
  }
}

/** The architecture of a named ViT preset. */
export interface VitPreset { patchSize: number; dim: number; depth: number; numHeads: number; imageSize: number; numClasses: number }

/** The ViT presets by model name. */
export const VIT_PRESETS: Record<string, VitPreset> = {
  vit_tiny_patch16_224: { patchSize: 16, dim: 192, depth: 12, numHeads: 3, imageSize: 224, numClasses: 1000 },
  vit_small_patch16_224: { patchSize: 16, dim: 384, depth: 12, numHeads: 6, imageSize: 224, numClasses: 1000 },
  vit_base_patch16_224: { patchSize: 16, dim: 768, depth: 12, numHeads: 12, imageSize: 224, numClasses: 1000 },
  // CIFAR-size: 4x4 patches of a 32x32 image give 64 tokens.
  vit_tiny_patch4_32: { patchSize: 4, dim: 192, depth: 12, numHeads: 3, imageSize: 32, numClasses: 10 },
  vit_small_patch4_32: { patchSize: 4, dim: 384, depth: 12, numHeads: 6, imageSize: 32, numClasses: 10 },
  vit_base_patch4_32: { patchSize: 4, dim: 768, depth: 12, numHeads: 12, imageSize: 32, numClasses: 10 },
};

/** The ViT preset `preset` with the given options. */
export function vit(preset: string, o: VitOptions = {}): VisionTransformer {
  const p = VIT_PRESETS[preset];
  if (!p) throw new RangeError(`unknown ViT preset ${JSON.stringify(preset)} (known: ${Object.keys(VIT_PRESETS).join(', ')})`);
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as VitOptions;
  return new VisionTransformer({ ...p, ...given });
}
