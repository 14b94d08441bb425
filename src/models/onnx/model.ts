// An imported ONNX graph as a pai Model. Its parameters and buffers are the graph's float
// initializers under their ONNX names (the state-dict names when PyTorch exported with them kept),
// arranged in child modules along the dots as PyTorch nests them; its forward runs the nodes with
// pai's differentiable ops in the graph's order, so gradients and Hessian-vector products go
// through it like through any zoo model.

import { Module } from '../../nn/module.js';
import type { Tensor } from '../../tensor/tensor.js';
import { shapeStr } from '../../tensor/shape.js';
import { Model, type ResolvedOptions } from '../common.js';
import type { OnnxNode } from './proto.js';
import { NodeView, type ImportRule } from './rule.js';
import { asTensor, OnnxImportError, type HostTensor, type Value } from './value.js';

/** A module that only holds tensors: the inner levels of dotted initializer names. */
export class OnnxScope extends Module {
  forward(): Tensor {
    throw new Error('an ONNX scope module holds parameters only; run the imported model itself');
  }
}

export interface OnnxStep {
  rule: ImportRule;
  view: NodeView;
  node: OnnxNode;
}

/** @internal What the importer hands an OnnxModel: the parsed, checked and folded graph. */
export interface OnnxModelSpec {
  source: string;
  opset: number;
  producer: string;
  input: { name: string; dims: (number | null)[] };
  output: string;
  steps: OnnxStep[];
  constants: Map<string, HostTensor>;
  /** Parameters then buffers are registered by the importer; these name which is which. */
  prunable: string[];
  classifier: string | null;
  config: ResolvedOptions;
  warnings: string[];
}

export class OnnxModel extends Model {
  readonly classifierName: string;
  readonly config: ResolvedOptions;
  readonly source: string;
  readonly opset: number;
  readonly producer: string;
  /** Weights of Conv, Gemm and MatMul nodes, in parameter order (the classifier included). */
  readonly layerWeights: string[];
  /** The weight of the layer nearest the graph output, or null. */
  readonly classifierWeight: string | null;
  /** Things the user should know about the file (renamed parameters, a fixed batch size). */
  readonly warnings: string[];
  private readonly spec: OnnxModelSpec;
  private include: RegExp[] = [];
  private exclude: RegExp[] = [];

  /** @internal Built by importOnnx. */
  constructor(spec: OnnxModelSpec) {
    super();
    this.spec = spec;
    this.source = spec.source;
    this.opset = spec.opset;
    this.producer = spec.producer;
    this.config = spec.config;
    this.layerWeights = spec.prunable;
    this.classifierWeight = spec.classifier;
    this.classifierName = spec.classifier ? spec.classifier.slice(0, Math.max(0, spec.classifier.lastIndexOf('.'))) : '';
    this.warnings = spec.warnings;
  }

  /**
   * Include / exclude patterns for the prunable set (`*` any run of characters, `?` one): included
   * parameters are added to the fixed set, excluded ones removed (exclude wins).
   */
  setPrunablePatterns(o: { include?: readonly string[]; exclude?: readonly string[] }): this {
    const names = new Set(this.namedParameters().map(([n]) => n));
    const compile = (flag: string, pats: readonly string[] = []): RegExp[] => pats.map((p) => {
      const re = new RegExp(`^${p.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
      if (![...names].some((n) => re.test(n))) throw new OnnxImportError(`${this.source}: ${flag} pattern ${JSON.stringify(p)} matches no parameter`);
      return re;
    });
    this.include = compile('include', o.include);
    this.exclude = compile('exclude', o.exclude);
    return this;
  }

  /** The prunable set under `fixed` semantics: layer weights minus the classifier, then the patterns. */
  override fixedPrunable(): string[] {
    const base = new Set(this.layerWeights.filter((n) => n !== this.classifierWeight));
    return this.namedParameters().map(([n]) => n)
      .filter((n) => (base.has(n) || this.include.some((r) => r.test(n))) && !this.exclude.some((r) => r.test(n)));
  }

  /** The current tensor of every state entry by name (dtype changes replace them). */
  private stateByName(): Map<string, Tensor> {
    const m = new Map<string, Tensor>(this.namedParameters());
    for (const [n, t] of this.namedBuffers()) m.set(n, t);
    return m;
  }

  forward(x: Tensor): Tensor {
    const { input, steps, constants, output } = this.spec;
    if (x.ndim !== input.dims.length || input.dims.some((d, i) => i > 0 && d !== null && d !== x.shape[i])) {
      throw new OnnxImportError(`${this.source}: input ${input.name} is [${input.dims.map((d, i) => (i === 0 ? 'N' : d ?? '?')).join(', ')}], got ${shapeStr(x.shape)}`);
    }
    const env = new Map<string, Value>(constants);
    for (const [n, t] of this.stateByName()) env.set(n, t);
    env.set(input.name, x);
    const ctx = { training: this.training, dtype: x.dtype };
    for (const s of steps) {
      const ins = s.node.inputs.map((n) => (n === '' ? null : env.get(n) ?? null));
      let outs: Value[];
      try {
        outs = s.rule.run(ins, s.view, ctx);
      } catch (e) {
        if (e instanceof OnnxImportError) throw e;
        throw s.view.error((e as Error).message);
      }
      s.node.outputs.forEach((o, k) => { if (o !== '' && outs[k] !== undefined) env.set(o, outs[k]); });
    }
    const y = env.get(output);
    if (y === undefined) throw new OnnxImportError(`${this.source}: the graph output ${output} was not computed`);
    return asTensor(y, ctx);
  }
}
