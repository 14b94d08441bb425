// What an import rule is: the function that runs one ONNX op with pai's differentiable ops, keyed
// by (domain, op type, since_version). Each rule reads its attributes through NodeView, which names
// the node in every error, so rules stay a few lines long and move unchanged into the op table.

import type { OnnxAttr, OnnxNode } from './proto.js';
import { HostTensor, OnnxImportError, asHost, type RunContext, type Value } from './value.js';

export interface ImportRule {
  /** '' is the default ONNX domain. */
  domain: string;
  opType: string;
  /** The ONNX since_version of the semantics this rule implements. */
  since: number;
  /** Outputs in node order; stateful rules (batch norm, dropout) are never folded at import. */
  run(ins: readonly (Value | null)[], node: NodeView, ctx: RunContext): Value[];
  stateful?: boolean;
}

export class NodeView {
  constructor(readonly node: OnnxNode, readonly source: string) {}

  get name(): string { return this.node.name; }

  error(msg: string): OnnxImportError {
    return new OnnxImportError(`${this.source}: node ${this.node.name} (${this.node.opType}): ${msg}`);
  }

  private attr(name: string): OnnxAttr | undefined { return this.node.attrs.get(name); }

  int(name: string, def: number): number { return this.attr(name)?.i ?? def; }
  float(name: string, def: number): number { return this.attr(name)?.f ?? def; }
  str(name: string, def: string): string { return this.attr(name)?.s ?? def; }
  ints(name: string): number[] | undefined { return this.attr(name)?.ints; }
  tensor(name: string): HostTensor | undefined { return this.attr(name)?.t; }
  has(name: string): boolean { return this.node.attrs.has(name); }

  /** Input k, which must be present. */
  need<T extends Value>(ins: readonly (T | null)[], k: number, what = `input ${k}`): T {
    const v = ins[k];
    if (v === null || v === undefined) throw this.error(`${what} is missing`);
    return v;
  }

  /** Integer values of an input that must be known without the data (a shape, axes, pads). */
  hostInts(ins: readonly (Value | null)[], k: number, what: string): number[] {
    const v = this.need(ins, k, what);
    const h = asHost(v);
    if (!(h.kind === 'int' || h.kind === 'bool') && !(v instanceof HostTensor)) throw this.error(`${what} must be a constant or shape computation, not an activation`);
    return Array.from(h.data, (x) => Math.trunc(x));
  }

  /** A scalar input known at import (Clip bounds, Pad value); `def` when absent. */
  hostScalar(ins: readonly (Value | null)[], k: number, what: string, def: number): number;
  hostScalar(ins: readonly (Value | null)[], k: number, what: string, def: number | null): number | null;
  hostScalar(ins: readonly (Value | null)[], k: number, what: string, def: number | null): number | null {
    const v = ins[k];
    if (v === null || v === undefined) return def;
    if (!(v instanceof HostTensor)) throw this.error(`${what} must be a constant`);
    const x = v.data[0];
    if (v.data.length !== 1 || x === undefined) throw this.error(`${what} must hold one value, got shape [${v.shape.join(', ')}]`);
    return x;
  }

  /** Normalises an axis against a rank (negative counts from the end). */
  axis(a: number, rank: number, what = 'axis'): number {
    const r = a < 0 ? a + rank : a;
    if (!Number.isInteger(r) || r < 0 || r >= rank) throw this.error(`${what} ${a} is out of range for rank ${rank}`);
    return r;
  }
}
