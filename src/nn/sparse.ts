// Sparse execution of pruned layers. A pruned Conv2d or Linear whose mask keeps few weights is
// swapped, in place, for a SparseConv2d / SparseLinear that stores only the kept weights (CSR, see
// the kernel interface) and runs sparse kernels, whose cost falls with the kept fraction. The swap
// is reversible and keeps parameter identity, so an optimiser built on the sparse model keeps
// working across swaps:
// - the sparse module's parameter is named `weight` like the dense one (a 1-d tensor of the kept
//   values, pattern order = row-major order of the kept entries), so parameter names, and with
//   them optimiser state keys, are the same in both forms; `bias` is the dense module's own tensor;
// - densifyModel writes the values into the dense module's weight (pruned entries 0) and puts the
//   dense module back; sparsifyModel on the same masks reuses the same sparse module, its values
//   re-read from the dense weight.
//
// Models are plain classes that keep their children in fields (this.conv1) as well as in the module
// registry, so a swap updates both: the registry entry (same name, same order) and every field or
// array element of the parent that pointed at the old module. A model that reaches into a layer's
// `.weight` instead of calling its forward would see the 1-d values and fail with a shape error.

import { Tensor } from '../tensor/tensor.js';
import { sameShape, shapeStr } from '../tensor/shape.js';
import * as F from '../autograd/ops/index.js';
import type { SparsePattern } from '../autograd/ops/index.js';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { Module, isModule } from './module.js';
import { Conv2d, Linear } from './layers.js';

/**
 * Layers at least this sparse run sparse by default. Measured on the 2-core AVX2 target (bench
 * suite `sparse`, one thread, CPU time): a ResNet 3x3 convolution at batch 64 breaks even with the
 * dense oneDNN path at 80-84% sparsity for a training step, whole ResNet-20 training at 86%; 0.9
 * leaves a margin (1.1-1.5x there). See README "Sparse execution".
 */
export const DEFAULT_MIN_SPARSITY = 0.9;

/** A pruned Conv2d run by the sparse kernels: its kept weights in compressed rows, one per output channel. */
export class SparseConv2d extends Module {
  readonly pattern: SparsePattern;
  readonly options: { stride: number | readonly [number, number]; padding: number | readonly [number, number]; dilation: number | readonly [number, number] };
  /** The dense layer this one stands for; densifyModel puts it back. */
  readonly dense: Conv2d;

  constructor(dense: Conv2d, pattern: SparsePattern) {
    super();
    if (dense.options.groups !== 1) throw new RangeError(`SparseConv2d: groups = ${dense.options.groups}; only groups = 1 has a sparse path`);
    if (!sameShape(pattern.shape, dense.weight.shape)) throw new RangeError(`SparseConv2d: pattern ${shapeStr(pattern.shape)} does not match weight ${shapeStr(dense.weight.shape)}`);
    this.dense = dense;
    this.pattern = pattern;
    const { stride, padding, dilation } = dense.options;
    this.options = { stride, padding, dilation };
    this.registerParameter('weight', F.gatherSparseValues(dense.weight, pattern));
    this.registerParameter('bias', dense.bias);
    this.training = dense.training;
  }
  /** The kept weights, one per pattern entry. */
  get weight(): Tensor { return this.requireParameter('weight'); }
  get bias(): Tensor | null { return this.getParameter('bias'); }
  forward(x: Tensor): Tensor {
    return F.sparseConv2d(x, this.weight, this.pattern, this.bias, this.options);
  }
}

/** A pruned Linear layer run by the sparse kernels: its kept weights in compressed rows. */
export class SparseLinear extends Module {
  readonly pattern: SparsePattern;
  readonly dense: Linear;

  constructor(dense: Linear, pattern: SparsePattern) {
    super();
    if (!sameShape(pattern.shape, dense.weight.shape)) throw new RangeError(`SparseLinear: pattern ${shapeStr(pattern.shape)} does not match weight ${shapeStr(dense.weight.shape)}`);
    this.dense = dense;
    this.pattern = pattern;
    this.registerParameter('weight', F.gatherSparseValues(dense.weight, pattern));
    this.registerParameter('bias', dense.bias);
    this.training = dense.training;
  }
  get weight(): Tensor { return this.requireParameter('weight'); }
  get bias(): Tensor | null { return this.getParameter('bias'); }
  forward(x: Tensor): Tensor {
    return F.sparseLinear(x, this.weight, this.pattern, this.bias);
  }
}

/** A layer that runs sparse. */
export type SparseModule = SparseConv2d | SparseLinear;

/** Options of `sparsifyModel`. */
export interface SparsifyOptions {
  /** Only layers whose mask prunes at least this fraction run sparse (default DEFAULT_MIN_SPARSITY). */
  minSparsity?: number;
}

/** What `sparsifyModel` replaced and what it left dense. */
export interface SparsifyReport {
  /** Module paths of the layers now sparse, with their sparsity and kept count. */
  converted: { name: string; kind: 'conv2d' | 'linear'; sparsity: number; nnz: number }[];
  /** Masked layers left dense, and why. */
  skipped: { name: string; reason: string }[];
}

// The sparse twin of each dense module, kept so that repeated swaps reuse one set of parameters.
const twins = new WeakMap<Module, SparseModule>();

function sameMask(pattern: SparsePattern, mask: Tensor): boolean {
  const d = mask.data;
  let k = 0;
  for (let i = 0; i < d.length; i++) {
    if (d[i] === 0) continue;
    if (k >= pattern.nnz || pattern.index[k] !== i) return false;
    k++;
  }
  return k === pattern.nnz;
}

/** The parent of a module path and the child's name in it. */
function parentOf(model: Module, path: string): [Module, string] {
  const dot = path.lastIndexOf('.');
  if (dot < 0) return [model, path];
  const parent = model.namedModules().find(([n]) => n === path.slice(0, dot))?.[1];
  if (!parent) throw new Error(`sparse execution: no module ${path.slice(0, dot)} in ${model.constructor.name}`);
  return [parent, path.slice(dot + 1)];
}

/** Puts `next` where `prev` was: the registry entry and every field or array slot of the parent. */
function swapChild(parent: Module, name: string, prev: Module, next: Module): void {
  if (parent.getModule(name) !== prev) throw new Error(`sparse execution: ${name} is not the expected child of ${parent.constructor.name}`);
  parent.registerModule(name, next);
  const fields = parent as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    if (v === prev) fields[key] = next;
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) if (v[i] === prev) v[i] = next;
  }
}

/**
 * Swaps, in place, every Conv2d (groups = 1) and Linear whose `weight` is masked at least
 * `minSparsity` for its sparse form. Masks are keyed by parameter name (`layer.weight`), 1 = keep.
 * Grouped convolutions and other masked parameters stay dense (and keep being masked by whoever
 * masks them). Layers already sparse are left alone.
 */
export function sparsifyModel(model: Module, masks: ReadonlyMap<string, Tensor>, o: SparsifyOptions = {}): SparsifyReport {
  checkArgument('sparsifyModel', 'model', isModule, model);
  checkArgument('sparsifyModel', 'masks', is.tensorMap, masks);
  checkOptions('sparsifyModel', z.strictObject({ minSparsity: is.fraction.optional() }), o);
  const minSparsity = o.minSparsity ?? DEFAULT_MIN_SPARSITY;
  if (!(minSparsity >= 0 && minSparsity <= 1)) throw new RangeError(`sparsifyModel: minSparsity must lie in [0, 1], got ${minSparsity}`);
  const report: SparsifyReport = { converted: [], skipped: [] };
  const modules = new Map(model.namedModules());
  for (const [key, mask] of masks) {
    if (!key.endsWith('.weight') && key !== 'weight') continue;
    const name = key.slice(0, -'.weight'.length);
    const m = modules.get(name);
    if (m instanceof SparseConv2d || m instanceof SparseLinear) continue;
    const conv = m instanceof Conv2d, lin = m instanceof Linear;
    if (!conv && !lin) { report.skipped.push({ name: key, reason: 'not a Conv2d or Linear weight' }); continue; }
    if (conv && m.options.groups !== 1) { report.skipped.push({ name, reason: `grouped convolution (groups = ${m.options.groups})` }); continue; }
    const w = (m as Conv2d | Linear).weight;
    if (!sameShape(mask.shape, w.shape)) throw new RangeError(`sparsifyModel: mask ${key} is ${shapeStr(mask.shape)}, the weight is ${shapeStr(w.shape)}`);
    let kept = 0;
    for (let i = 0; i < mask.size; i++) if (mask.data[i] !== 0) kept++;
    const sparsity = 1 - kept / mask.size;
    if (sparsity < minSparsity) { report.skipped.push({ name, reason: `sparsity ${sparsity.toFixed(4)} below ${minSparsity}` }); continue; }
    let twin = twins.get(m);
    if (twin && sameMask(twin.pattern, mask)) {
      // Reuse the parameters an optimiser may hold; take the values the dense weight has now.
      twin.weight.data.set(F.gatherSparseValues(w, twin.pattern).data);
    } else {
      const pattern = F.sparsePatternFromMask(mask);
      twin = conv ? new SparseConv2d(m, pattern) : new SparseLinear(m as Linear, pattern);
      twins.set(m, twin);
    }
    twin.train(m.training);
    const [parent, child] = parentOf(model, name);
    swapChild(parent, child, m, twin);
    report.converted.push({ name, kind: conv ? 'conv2d' : 'linear', sparsity, nnz: twin.pattern.nnz });
  }
  return report;
}

/**
 * Swaps every sparse layer of the model back for its dense module, whose weight then holds the
 * trained values at the kept entries and exactly 0 elsewhere. Returns the module paths restored.
 */
export function densifyModel(model: Module): string[] {
  const done: string[] = [];
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof SparseConv2d || m instanceof SparseLinear)) continue;
    const w = m.dense.weight;
    w.data.set(F.scatterSparseValues(m.weight, m.pattern).data);
    m.dense.train(m.training);
    const [parent, child] = parentOf(model, name);
    swapChild(parent, child, m, m.dense);
    done.push(name);
  }
  return done;
}

/** The sparse layers of a model, by module path. */
export function sparseLayers(model: Module): [string, SparseModule][] {
  return model.namedModules().filter((e): e is [string, SparseModule] => e[1] instanceof SparseConv2d || e[1] instanceof SparseLinear);
}
