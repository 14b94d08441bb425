// Modules hold named parameters, buffers and children in PyTorch's order, so that a state dict
// written by PyTorch loads here and back: state_dict order is pre-order over modules, each
// module's parameters then its persistent buffers.

import { Tensor, allocate } from '../tensor/tensor.js';
import { sameShape, shapeStr } from '../tensor/shape.js';
import type { DType } from '../kernels/interface.js';
import { z } from 'zod';

/** A state dict that does not fit the module: the missing, unexpected and mis-shaped keys are listed in the message and as fields. */
export class StateDictError extends Error {
  override name = 'StateDictError';
  constructor(message: string, readonly missing: string[] = [], readonly unexpected: string[] = [], readonly mismatched: string[] = []) {
    super(message);
  }
}

interface BufferInfo { tensor: Tensor | null; persistent: boolean; int64: boolean }

/** The base of every layer and model, as torch.nn.Module: named parameters, buffers and child modules in registration order, train/eval mode, and state dicts with PyTorch's names. */
export abstract class Module {
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, BufferInfo>();
  private readonly _modules = new Map<string, Module>();

  /** Computes the module's output; ops on tensors that require gradients record the graph. */
  abstract forward(...xs: Tensor[]): Tensor;

  /** Registers (or replaces) a parameter: a leaf tensor that requires a gradient. */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    checkName(name);
    if (t) t.requiresGrad = true;
    this._parameters.set(name, t);
    return t;
  }

  /** Registers a buffer; int64 buffers (num_batches_tracked) are held as float64 and saved as I64. */
  registerBuffer(name: string, t: Tensor | null, o: { persistent?: boolean; int64?: boolean } = {}): Tensor | null {
    checkName(name);
    this._buffers.set(name, { tensor: t, persistent: o.persistent ?? true, int64: o.int64 ?? false });
    return t;
  }

  /** Registers (or replaces) a child module under `name`; its parameters become `name.<parameter>`. */
  registerModule<M extends Module>(name: string, m: M): M {
    checkName(name);
    this._modules.set(name, m);
    return m;
  }

  /** This module's own parameter `name`, or null. */
  getParameter(name: string): Tensor | null { return this._parameters.get(name) ?? null; }
  /** This module's own buffer `name`, or null. */
  getBuffer(name: string): Tensor | null { return this._buffers.get(name)?.tensor ?? null; }
  /** A parameter the module's constructor registers, or an error naming it when it has been removed. */
  protected requireParameter(name: string): Tensor {
    const t = this.getParameter(name);
    if (!t) throw new Error(`${this.constructor.name}: parameter ${name} is not set`);
    return t;
  }
  /** A buffer the module's constructor registers, or an error naming it when it has been removed. */
  protected requireBuffer(name: string): Tensor {
    const t = this.getBuffer(name);
    if (!t) throw new Error(`${this.constructor.name}: buffer ${name} is not set`);
    return t;
  }
  /** This module's child `name`, if any. */
  getModule(name: string): Module | undefined { return this._modules.get(name); }

  /** Children in registration order. */
  namedChildren(): [string, Module][] {
    return [...this._modules];
  }

  /** This module and all below it, pre-order, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this._modules) out.push(...m.namedModules(prefix === '' ? n : `${prefix}.${n}`));
    return out;
  }

  /** PyTorch's named_parameters order: pre-order over modules, each module's own parameters. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, t] of m._parameters) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        out.push([prefix === '' ? n : `${prefix}.${n}`, t]);
      }
    }
    return out;
  }

  /** Every parameter, in `namedParameters()` order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Every buffer of this module and those below it with dotted names, persistent or not. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, b] of m._buffers) if (b.tensor) out.push([prefix === '' ? n : `${prefix}.${n}`, b.tensor]);
    }
    return out;
  }

  /** PyTorch's state_dict: per module (pre-order) parameters, then persistent buffers. Values are shared, not copied. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      const p = prefix === '' ? '' : `${prefix}.`;
      for (const [n, t] of m._parameters) if (t) out.set(p + n, t);
      for (const [n, b] of m._buffers) if (b.tensor && b.persistent) out.set(p + n, b.tensor);
    }
    return out;
  }

  /** Names of the state-dict entries that PyTorch stores as int64. */
  int64Keys(): Set<string> {
    const out = new Set<string>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, b] of m._buffers) if (b.int64 && b.persistent && b.tensor) out.add(prefix === '' ? n : `${prefix}.${n}`);
    }
    return out;
  }

  /**
   * Copies values into this module's tensors in place (optimisers holding them stay valid).
   * Strict loading refuses any missing, unexpected or mis-shaped key and names all of them.
   */
  loadStateDict(sd: ReadonlyMap<string, Tensor>, o: { strict?: boolean; source?: string } = {}): { missing: string[]; unexpected: string[] } {
    const strict = o.strict ?? true;
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    // Counters (num_batches_tracked) are int64 and saved as such; a fraction, NaN or Inf loaded
    // into one would only surface later, when the model is saved or the momentum-free BN divides by it.
    const ints = this.int64Keys();
    const notIntegers: string[] = [];
    for (const [k, t] of sd) {
      const mine = own.get(k);
      if (mine && !sameShape(mine.shape, t.shape)) mismatched.push(`${k}: file has ${shapeStr(t.shape)}, model has ${shapeStr(mine.shape)}`);
      else if (mine && ints.has(k)) {
        const i = t.data.findIndex((v) => !Number.isSafeInteger(v));
        if (i >= 0) notIntegers.push(`${k} holds ${t.data[i]} at index ${i}`);
      }
    }
    if (mismatched.length > 0 || notIntegers.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${firstFew(missing, ', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${firstFew(unexpected, ', ')}`);
      if (mismatched.length) parts.push(`shape mismatches: ${firstFew(mismatched, '; ')}`);
      if (notIntegers.length) parts.push(`int64 entries that are not integers: ${firstFew(notIntegers, '; ')}`);
      throw new StateDictError(`cannot load state dict${o.source ? ` from ${o.source}` : ''} into ${this.constructor.name}: ${parts.join('. ')}`, missing, unexpected, mismatched);
    }
    for (const [k, t] of sd) {
      const mine = own.get(k);
      if (mine) mine.data.set(t.data);
    }
    return { missing, unexpected };
  }

  /** Sets training mode (true) or evaluation mode (false) on this module and all below it; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode on this module and all below it (batch norm uses its running statistics, dropout is off); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the gradient of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Replaces every parameter and buffer by a copy in the given dtype (float64 for exact checks). */
  to(dtype: DType): this {
    for (const [, m] of this.namedModules()) {
      for (const [n, t] of m._parameters) if (t && t.dtype !== dtype) m.registerParameter(n, convert(t, dtype));
      for (const [, b] of m._buffers) if (b.tensor && b.tensor.dtype !== dtype && !b.int64) b.tensor = convert(b.tensor, dtype);
      m.onDtypeChange();
    }
    return this;
  }

  /**
   * Puts a tensor object in place of the parameter or buffer at a dotted path, keeping the
   * buffer's flags: used to restore the exact original tensors after a temporary dtype change.
   */
  setTensor(path: string, t: Tensor): void {
    const dot = path.lastIndexOf('.');
    const owner = dot < 0 ? this : this.namedModules().find(([n]) => n === path.slice(0, dot))?.[1];
    const name = dot < 0 ? path : path.slice(dot + 1);
    if (owner && owner._parameters.has(name)) { owner._parameters.set(name, t); return; }
    const b = owner?._buffers.get(name);
    if (!b) throw new Error(`setTensor: ${this.constructor.name} has no parameter or buffer ${path}`);
    b.tensor = t;
  }

  /** Hook for modules that cache references to their own tensors. */
  protected onDtypeChange(): void {}

  /** The number of parameter values (elements), over all parameters. */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }
}

function convert(t: Tensor, dtype: DType): Tensor {
  const d = allocate(dtype, t.size);
  d.set(t.data);
  return new Tensor(d, t.shape);
}

/** The first entries of a long list and how many more, so a wrong-model load stays one readable line. */
function firstFew(items: readonly string[], sep: string, n = 12): string {
  return items.length <= n ? items.join(sep) : `${items.slice(0, n).join(sep)}${sep}and ${items.length - n} more`;
}

function checkName(name: string): void {
  if (name === '' || name.includes('.')) throw new Error(`module member names must be non-empty and contain no '.', got "${name}"`);
}

/** A schema accepting any {@link Module} (a model, a layer), for checking arguments. */
export const isModule = z.custom<Module>((v) => v instanceof Module, { message: 'expected a Module (a model from createModel, or an nn layer)' });
