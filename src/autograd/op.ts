// The shape of an op-table entry. An op is one entry: its name, its kernel call, its
// vector-Jacobian product written with pai's own differentiable ops, its per-sample rule where it
// has one, and its ONNX export rule (import rules, keyed by opset, belong here too). Recording
// (tape.ts), tracing (trace.ts), the per-sample tracker (per-sample.ts) and the ONNX exporter all
// read the entry that an op hands them; ops/table.ts gathers every entry into the one table.
//
// The ONNX rule sits in the entry but is typed against the small OnnxEmitter interface below, not
// against the exporter: export is a later layer than autograd (DESIGN.md), so autograd never
// imports export code; src/export/onnx.ts implements the emitter and calls each traced op's rule.
// That keeps an op's kernel, derivative and ONNX rules in one place without a layer running back up.

import type { Tensor } from '../tensor/tensor.js';

/**
 * The tensor inputs of one call of an op, in the op's order. An entry states its own as a tuple
 * (`UnaryInputs`, `BinaryInputs`, `readonly [Tensor, Tensor, Tensor?]` ...): `run` checks every
 * call against it, and the entry's kernel, vjp and per-sample rule read their operands from it.
 */
export type OpInputs = readonly Tensor[];
/** The inputs of an op of one tensor. */
export type UnaryInputs = readonly [Tensor];
/** The inputs of an op of two tensors. */
export type BinaryInputs = readonly [Tensor, Tensor];

/** What an op's vjp and per-sample rule see of one recorded call. */
export interface OpCall<A = Record<string, unknown>, I extends OpInputs = OpInputs> {
  /** The recorded tensor inputs, in the op's order (absent optional ones left out at the end). */
  readonly inputs: I;
  readonly out: Tensor;
  /** The call's attributes and anything the kernel saved for the backward pass. */
  readonly attrs: A;
}

/** Given the gradient of the output, the gradients of the inputs (null where `needs` is false). */
export type OpVjp<A, I extends OpInputs = OpInputs> = (g: Tensor, call: OpCall<A, I>, needs: readonly boolean[]) => (Tensor | null)[];

/**
 * The per-sample rule of an op through which parameters enter a network (see per-sample.ts).
 * `inputs`: the input positions that may be registered parameters. `rule`, when present, is run
 * in the backward pass when one of those inputs is registered; the summed gradient of such an
 * input is then left out (the rule's per-sample terms or probe term replace it). Without a rule
 * the op is an alias (a reshape): its output stands for the same parameter.
 */
export interface PerSampleRule<A, I extends OpInputs = OpInputs> {
  readonly inputs: readonly number[];
  /** Run in the backward pass for a registered input: takes the per-sample terms apart. */
  rule?(g: Tensor, call: OpCall<A, I>): void;
}

/** An ONNX attribute, as an ONNX rule writes it. */
export type OnnxAttr =
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly float: number }
  | { readonly name: string; readonly string: string };

/** What an ONNX rule may ask of the exporter's graph builder. */
export interface OnnxEmitter {
  /** Appends a node and returns its output's name (`out` when given, else a fresh one). */
  node(opType: string, inputs: string[], attrs?: OnnxAttr[], out?: string): string;
  /** A float32 scalar constant. */
  scalar(v: number): string;
  /** A float32 constant tensor of the given dimensions. */
  constF32(values: ArrayLike<number>, dims: readonly number[]): string;
  /** An int64 constant vector. */
  constI64(values: readonly number[]): string;
  /**
   * A shape operand: static dimensions as constants, batch dimensions (factor k: k * N) computed
   * from the graph input. `infer` lets one batch dimension be -1 (for Reshape).
   */
  shape(dims: readonly number[], factors: readonly number[], infer: boolean): string;
}

/** One traced call as its ONNX rule sees it. */
export interface OnnxCall<A = Record<string, unknown>> {
  readonly emit: OnnxEmitter;
  readonly opset: number;
  /** The traced operands (null where an optional one is absent) and the call's output. */
  readonly inputs: readonly (Tensor | null)[];
  readonly attrs: A;
  readonly output: Tensor;
  /** ONNX names of the operands (null for an absent optional one). */
  readonly names: readonly (string | null)[];
  /** Batch factors of the operands' dimensions (0: static, k: k * batch; null for absent ones). */
  readonly inFactors: readonly (readonly number[] | null)[];
  readonly outFactors: readonly number[];
  /** The name the rule must give its result. */
  readonly out: string;
}

/** An op's ONNX export rule: emits the nodes that compute the traced call. */
export type OnnxExportRule<A> = (c: OnnxCall<A>) => void;

/**
 * Reserved for ONNX import: rules keyed by ONNX op type, each a map from the opset version that
 * introduced its semantics to the rule (lookup takes the newest at or below a graph's opset).
 * The rule's signature is the importer's to define; the table only holds them.
 */
export type OnnxImportRules = Readonly<Record<string, Readonly<Record<number, unknown>>>>;

/** Thrown by an ONNX rule for a call ONNX cannot express; the exporter reports it as its own error. */
export class OnnxRuleError extends Error {
  override name = 'OnnxRuleError';
}

/**
 * The written part of an entry (its name comes from its key in the table). The kernel, the vjp and
 * the per-sample rule are methods, so an entry whose inputs are a tuple is still an `OpSpec` of the
 * general `OpInputs`: what holds the inputs to the tuple is `run`, which takes them typed by the entry.
 */
// Attributes differ per op; an entry list mixes them, so the default is `any`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface OpSpec<A = any, I extends OpInputs = OpInputs> {
  /** The kernel call: a fresh output from the inputs (never recorded). Absent for composites. */
  kernel?(inputs: I, attrs: A): Tensor;
  /** Absent for composites (their parts record) and for piecewise-constant ops (zero gradient). */
  vjp?(g: Tensor, call: OpCall<A, I>, needs: readonly boolean[]): (Tensor | null)[];
  readonly perSample?: PerSampleRule<A, I>;
  /** Absent where the op is never traced or has no ONNX form; the exporter then refuses it. */
  readonly onnx?: OnnxExportRule<A>;
  readonly onnxImport?: OnnxImportRules;
  /** How the output depends on the inputs (see Curvature); absent: nonlinear. */
  readonly curvature?: Curvature;
}

/** An entry of the op table: its spec and its name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface OpDef<A = any, I extends OpInputs = OpInputs> extends OpSpec<A, I> {
  readonly name: string;
}

/** A spec with a kernel (what `run` calls). */
export interface KernelSpec<A, I extends OpInputs> extends OpSpec<A, I> {
  kernel(inputs: I, attrs: A): Tensor;
}

/** An entry with a kernel. */
export interface KernelOp<A, I extends OpInputs> extends OpDef<A, I> {
  kernel(inputs: I, attrs: A): Tensor;
}

/** Entries from specs, each named by its key: a family of the op table. */
export function opFamily<T extends Record<string, OpSpec>>(specs: T): { readonly [K in keyof T]: T[K] & { readonly name: K } } {
  const out: Record<string, OpDef> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = { ...spec, name };
  return out as { readonly [K in keyof T]: T[K] & { readonly name: K } };
}

/** The traced operand k of an ONNX call, failing clearly where a required one is absent. */
export function onnxOperand(c: OnnxCall<unknown>, k: number): Tensor {
  const t = c.inputs[k];
  if (t === null || t === undefined) throw new OnnxRuleError(`operand ${k} is missing`);
  return t;
}

/** The operand names of an ONNX call, failing clearly where a required one is absent. */
export function onnxInput(c: OnnxCall<unknown>, k: number): string {
  const n = c.names[k];
  if (n === null || n === undefined) throw new OnnxRuleError(`operand ${k} is missing`);
  return n;
}

/** The ONNX rule that maps an op to one ONNX node of the same operands. */
export const onnxSimple = (opType: string): OnnxExportRule<unknown> => (c) => {
  c.emit.node(opType, c.names.map((_, k) => onnxInput(c, k)), [], c.out);
};

/**
 * How an op's output depends on its tensor inputs on each linear piece, for checks that need it
 * (the Gauss-Newton condition, prune/piecewise-linear.ts): 'piecewise-linear' in every input;
 * 'bilinear': a product of its first two inputs, linear in each (further inputs are added).
 * Absent: nonlinear (smooth, or not known to be either).
 */
export type Curvature = 'piecewise-linear' | 'bilinear';

/** An entry marked piecewise linear in every input. */
export function piecewiseLinear<S extends OpSpec>(spec: S): S & { readonly curvature: Curvature } {
  return { ...spec, curvature: 'piecewise-linear' };
}

/** An entry marked bilinear in its first two inputs. */
export function bilinear<S extends OpSpec>(spec: S): S & { readonly curvature: Curvature } {
  return { ...spec, curvature: 'bilinear' };
}
