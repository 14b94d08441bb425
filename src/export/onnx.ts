// ONNX export by tracing. The model's eval-mode forward runs twice under `withTrace`, on batches
// of two different sizes; each op reports itself, and the graph is what reaches the output.
//
// Why two runs: ops record concrete shapes (a reshape to [2, 65, 3, 4, 8]), but the exported graph
// must take any batch size. A dimension that differs between the runs, in proportion to the batch,
// is a batch dimension and becomes dynamic (-1 in a reshape, or computed from the input's shape);
// anything else that differs, and any tensor the forward pass used without an op reporting it
// (so its value depends on the input in a way the trace cannot see), is refused rather than
// exported wrong.
//
// Parameters and buffers become initializers under their state-dict names; the graph input is
// `input` [N, C, H, W] with N dynamic, the output `logits`.

import protobufjs from 'protobufjs';
import { noGrad } from '../autograd/graph.js';
import { withTrace, type TraceEvent } from '../autograd/trace.js';
import { OnnxRuleError, type OnnxAttr, type OnnxEmitter } from '../autograd/op.js';
import { allOps } from '../autograd/ops/table.js';
import type { Module } from '../nn/module.js';
import { z } from 'zod';
import { isModule } from '../nn/module.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { randn } from '../tensor/create.js';
import { Generator } from '../tensor/random.js';
import { shapeStr } from '../tensor/shape.js';
import { at, defined, hasLength, last, zip } from '../tensor/checked.js';
import type { Tensor } from '../tensor/tensor.js';
import { ONNX_FLOAT, ONNX_INT64, ONNX_SCHEMA } from '../tensor/onnx-schema.js';

/** A model or op that cannot be exported; the message names it. */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** The name of the exported graph's input. */
export const ONNX_INPUT = 'input';
/** The name of the exported graph's output. */
export const ONNX_OUTPUT = 'logits';
/** The ONNX opset pai exports by default. */
export const DEFAULT_OPSET = 17;
const MAX_OPSET = 21;
// The IR version that the ONNX release introducing each opset wrote (opset 17: ONNX 1.12, IR 8).
const IR_FOR_OPSET: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** Options of the ONNX export. */
export interface OnnxExportOptions {
  /** [C, H, W] of one input; taken from `model.config` when the model has one. */
  inputShape?: readonly number[];
  /** 17 (default) to 21. */
  opset?: number;
  /** Strings stored in the model's metadata_props (model name and options, provenance). */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** An exported ONNX model: its bytes and what it holds. */
export interface OnnxExport {
  bytes: Uint8Array;
  /** ONNX node count and the op types used. */
  nodes: number;
  opTypes: string[];
  /** Initializer names that are the model's parameters and buffers, in first-use order. */
  initializers: string[];
}

// ---- tracing ----

type Ref =
  | { kind: 'input' }
  | { kind: 'node'; index: number }
  | { kind: 'param'; name: string; t: Tensor }
  | { kind: 'const'; t: Tensor }
  | { kind: 'none' };

/** An event the output depends on: its index in the trace, the event, and where its operands come from. */
interface LiveEvent {
  index: number;
  event: TraceEvent;
  refs: Ref[];
}

interface Trace {
  batch: number;
  events: TraceEvent[];
  input: Tensor;
  output: Tensor;
  /** The live events in execution (hence topological) order. */
  live: LiveEvent[];
}

const TRACE_BATCHES = [2, 3] as const;

function traceOnce(model: Module, inputShape: readonly number[], batch: number, names: Map<Tensor, string>): Trace {
  const input = randn([batch, ...inputShape], new Generator(batch, 'onnx-export-trace'));
  const { result: output, events } = withTrace(() => noGrad(() => model.forward(input)));
  if (output === input) throw new ExportError('the model returns its input unchanged; there is nothing to export');
  if (names.has(output)) throw new ExportError('the model returns one of its parameters; there is nothing to export');
  // The last event to produce a tensor is the outermost op that returned it (composites report
  // after their parts), so it wins and the parts become unreachable.
  const producer = new Map<Tensor, number>();
  events.forEach((e, i) => producer.set(e.output, i));
  const refOf = (t: Tensor | null): Ref => {
    if (t === null) return { kind: 'none' };
    if (t === input) return { kind: 'input' };
    const n = names.get(t);
    if (n !== undefined) return { kind: 'param', name: n, t };
    const p = producer.get(t);
    if (p !== undefined) return { kind: 'node', index: p };
    return { kind: 'const', t };
  };
  const final = producer.get(output);
  if (final === undefined) throw new ExportError('the model output was not produced by any traced op (does its forward use ops outside src/autograd/ops?)');
  const reached = new Map<number, LiveEvent>();
  const stack = [final];
  for (let i = stack.pop(); i !== undefined; i = stack.pop()) {
    if (reached.has(i)) continue;
    const event = at(events, i, 'trace events');
    const refs = event.inputs.map(refOf);
    reached.set(i, { index: i, event, refs });
    for (const x of refs) if (x.kind === 'node' && !reached.has(x.index)) stack.push(x.index);
  }
  const live = [...reached.values()].sort((x, y) => x.index - y.index);
  return { batch, events, input, output, live };
}

function sameData(a: Tensor, b: Tensor): boolean {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  for (let i = 0; i < a.size; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

/**
 * Checks that the two traces are the same computation and returns, per live event, the batch
 * factor of each output dimension (0 for a static one, k for k * batch).
 */
function alignTraces(a: Trace, b: Trace): Map<number, number[]> {
  if (a.events.length !== b.events.length || zip(a.events, b.events, 'trace events').some(([ea, eb]) => ea.op !== eb.op)) {
    throw new ExportError('the forward pass runs different ops at different batch sizes; only batch-independent models can be exported');
  }
  if (a.live.length !== b.live.length || zip(a.live, b.live, 'live events').some(([x, y]) => x.index !== y.index)) {
    throw new ExportError('the forward pass is wired differently at different batch sizes; only batch-independent models can be exported');
  }
  const factors = new Map<number, number[]>();
  for (const [la, lb] of zip(a.live, b.live, 'live events')) {
    const i = la.index, where = `op #${i} (${la.event.op.name})`;
    if (la.refs.length !== lb.refs.length) throw new ExportError(`${where}: takes ${la.refs.length} operands at one batch size and ${lb.refs.length} at another`);
    zip(la.refs, lb.refs, 'operands').forEach(([x, y], k) => {
      const same = x.kind === y.kind && (x.kind !== 'node' || x.index === (y as { index: number }).index)
        && (x.kind !== 'param' || x.name === (y as { name: string }).name);
      if (!same) throw new ExportError(`${where}: operand ${k} comes from different places at different batch sizes`);
      if (x.kind === 'const' && !sameData(x.t, (y as { t: Tensor }).t)) {
        throw new ExportError(`${where}: operand ${k} (${shapeStr(x.t.shape)}) depends on the input but no traced op produced it; the forward pass uses an op the ONNX exporter does not know`);
      }
    });
    const sa = la.event.output.shape, sb = lb.event.output.shape;
    if (sa.length !== sb.length) throw new ExportError(`${where}: output rank depends on the batch size`);
    factors.set(i, zip(sa, sb, 'output shapes').map(([d, e], k) => {
      if (d === e) return 0;
      const f = d / a.batch;
      if (!Number.isInteger(f) || e !== f * b.batch) throw new ExportError(`${where}: output dimension ${k} (${d} vs ${e}) is not proportional to the batch size`);
      return f;
    }));
  }
  return factors;
}

// ---- graph building ----

type Attr = { name: string; type: number; i?: number; f?: number; s?: Uint8Array; ints?: number[]; floats?: number[] };
const A_FLOAT = 1, A_INT = 2, A_STRING = 3, A_INTS = 7;
const attrInt = (name: string, i: number): Attr => ({ name, type: A_INT, i });
const attrInts = (name: string, ints: readonly number[]): Attr => ({ name, type: A_INTS, ints: [...ints] });
const attrFloat = (name: string, f: number): Attr => ({ name, type: A_FLOAT, f });
const attrString = (name: string, s: string): Attr => ({ name, type: A_STRING, s: new TextEncoder().encode(s) });

interface TensorInit { name: string; dims: number[]; dataType: number; rawData: Uint8Array }

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const a = values instanceof Float32Array ? values : Float32Array.from(values);
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function i64Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
}

class GraphBuilder {
  readonly nodes: { input: string[]; output: string[]; name: string; opType: string; attribute: Attr[] }[] = [];
  readonly inits: TensorInit[] = [];
  readonly paramNames: string[] = [];
  private readonly taken = new Set<string>();
  private readonly params = new Set<string>();
  private batchName: string | null = null;
  private counter = 0;
  constructor(readonly opset: number) {}

  fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`; while (this.taken.has(n));
    this.taken.add(n);
    return n;
  }

  reserve(name: string): string {
    this.taken.add(name);
    return name;
  }

  node(opType: string, inputs: string[], attrs: Attr[] = [], out?: string): string {
    const o = out ?? this.fresh(opType.toLowerCase());
    this.nodes.push({ input: inputs, output: [o], name: `${opType}_${this.nodes.length}`, opType, attribute: attrs });
    return o;
  }

  /** A parameter or buffer, under its state-dict name (reserved beforehand), written once. */
  param(name: string, t: Tensor): string {
    if (!this.params.has(name)) {
      if (t.dtype !== 'float32') throw new ExportError(`parameter ${name} is ${t.dtype}; ONNX export needs a float32 model`);
      this.inits.push({ name, dims: [...t.shape], dataType: ONNX_FLOAT, rawData: f32Bytes(t.data) });
      this.paramNames.push(name);
      this.params.add(name);
    }
    return name;
  }

  constF32(values: ArrayLike<number>, dims: readonly number[], prefix = 'const'): string {
    const name = this.fresh(prefix);
    this.inits.push({ name, dims: [...dims], dataType: ONNX_FLOAT, rawData: f32Bytes(values) });
    return name;
  }

  scalar(v: number): string {
    return this.constF32([v], [], 'scalar');
  }

  constI64(values: readonly number[], prefix = 'shape'): string {
    const name = this.fresh(prefix);
    this.inits.push({ name, dims: [values.length], dataType: ONNX_INT64, rawData: i64Bytes(values) });
    return name;
  }

  /** The batch size as a 1-element int64 tensor, read from the graph input's shape once. */
  batch(): string {
    this.batchName ??= this.node('Shape', [ONNX_INPUT], [attrInt('start', 0), attrInt('end', 1)], this.fresh('batch_size'));
    return this.batchName;
  }

  /**
   * A shape operand: static dimensions as constants, batch dimensions (factor k: k * N) computed
   * from the input. `infer` lets one batch dimension be -1 (Reshape works it out).
   */
  shape(dims: readonly number[], factors: readonly number[], infer: boolean): string {
    const dyn = factors.filter((f) => f !== 0).length;
    if (dyn === 0) return this.constI64(dims);
    if (infer && dyn === 1) return this.constI64(dims.map((d, i) => (factors[i] !== 0 ? -1 : d)));
    const parts: string[] = [];
    let run: number[] = [];
    const flush = (): void => { if (run.length) parts.push(this.constI64(run)); run = []; };
    for (const [d, f] of zip(dims, factors, 'dimensions and batch factors')) {
      if (f === 0) { run.push(d); continue; }
      flush();
      parts.push(f === 1 ? this.batch() : this.node('Mul', [this.batch(), this.constI64([f])]));
    }
    flush();
    return hasLength(parts, 1) ? parts[0] : this.node('Concat', parts, [attrInt('axis', 0)]);
  }
}

// ---- op conversion ----
// Each traced op's ONNX rule sits in its op-table entry (src/autograd/op.ts says why); the graph
// builder is the emitter those rules write through.

function toAttr(a: OnnxAttr): Attr {
  if ('int' in a) return attrInt(a.name, a.int);
  if ('ints' in a) return attrInts(a.name, a.ints);
  if ('float' in a) return attrFloat(a.name, a.float);
  return attrString(a.name, a.string);
}

function emitterOf(b: GraphBuilder): OnnxEmitter {
  return {
    node: (opType, inputs, attrs = [], out) => b.node(opType, inputs, attrs.map(toAttr), out),
    scalar: (v) => b.scalar(v),
    constF32: (values, dims) => b.constF32(values, dims),
    constI64: (values) => b.constI64(values),
    shape: (dims, factors, infer) => b.shape(dims, factors, infer),
  };
}

/** The op names the exporter maps to ONNX: the table's entries with an ONNX rule. */
export function onnxSupportedOps(): string[] {
  return allOps().filter((op) => op.onnx).map((op) => op.name);
}

let modelProto: protobufjs.Type | null = null;

function onnxModelType(): protobufjs.Type {
  modelProto ??= protobufjs.Root.fromJSON(ONNX_SCHEMA as unknown as protobufjs.INamespace).lookupType('onnx.ModelProto');
  return modelProto;
}

function inputShapeOf(model: Module, o: OnnxExportOptions): number[] {
  if (o.inputShape) return [...o.inputShape];
  const cfg = (model as { config?: { inChannels?: number; imageSize?: number } }).config;
  if (cfg?.inChannels && cfg.imageSize) return [cfg.inChannels, cfg.imageSize, cfg.imageSize];
  throw new ExportError('exportOnnx: give inputShape [C, H, W] (the model has no config to take it from)');
}

/** Traces `model` in eval mode and encodes the graph as an ONNX ModelProto. */
export function exportOnnx(model: Module, o: OnnxExportOptions = {}): OnnxExport {
  checkArgument('exportOnnx', 'model', isModule, model);
  checkOptions('exportOnnx', z.strictObject({
    inputShape: z.array(is.positiveInt).length(3).readonly().optional(),
    opset: z.number().int().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    producerVersion: z.string().optional(),
  }), o);
  if (!HOST_LE) throw new ExportError('ONNX export writes little-endian raw tensor data and needs a little-endian host');
  const opset = o.opset ?? DEFAULT_OPSET;
  const irVersion = IR_FOR_OPSET[opset];
  if (!Number.isInteger(opset) || opset < DEFAULT_OPSET || opset > MAX_OPSET || irVersion === undefined) throw new ExportError(`opset must be an integer from ${DEFAULT_OPSET} to ${MAX_OPSET}, got ${opset}`);
  const inputShape = inputShapeOf(model, o);

  const names = new Map<Tensor, string>();
  for (const [n, t] of model.stateDict()) if (!names.has(t)) names.set(t, n);
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.eval();
  let a: Trace, b: Trace;
  try {
    a = traceOnce(model, inputShape, TRACE_BATCHES[0], names);
    b = traceOnce(model, inputShape, TRACE_BATCHES[1], names);
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  const factors = alignTraces(a, b);

  const builder = new GraphBuilder(opset);
  const emit = emitterOf(builder);
  builder.reserve(ONNX_INPUT);
  builder.reserve(ONNX_OUTPUT);
  for (const n of names.values()) builder.reserve(n);
  const valueName = new Map<number, string>();
  // A node operand is an earlier live event (the order is topological), converted already.
  const earlier = <T>(m: ReadonlyMap<number, T>, r: { index: number }): T => defined(m.get(r.index), 'an earlier op of the trace');
  const finalIndex = last(a.live, 'live events').index;
  const outFactorsOf = (i: number): number[] => defined(factors.get(i), 'batch factors of a live op');
  const inputFactors = [1, ...inputShape.map(() => 0)];
  for (const { index: i, event: ev, refs } of a.live) {
    const convert = ev.op.onnx;
    if (!convert) throw new ExportError(`op ${ev.op.name} has no ONNX mapping (supported: ${onnxSupportedOps().join(', ')})`);
    const ins = refs.map((r): string | null => {
      switch (r.kind) {
        case 'none': return null;
        case 'input': return ONNX_INPUT;
        case 'param': return builder.param(r.name, r.t);
        case 'node': return earlier(valueName, r);
        case 'const':
          if (r.t.dtype !== 'float32') throw new ExportError(`a constant of dtype ${r.t.dtype} in op ${ev.op}; ONNX export needs float32`);
          return builder.constF32(r.t.data, r.t.shape);
      }
    });
    const inFactors = refs.map((r): number[] | null => {
      switch (r.kind) {
        case 'none': return null;
        case 'input': return inputFactors;
        case 'node': return earlier(factors, r);
        default: return r.t.shape.map(() => 0);
      }
    });
    const out = i === finalIndex ? ONNX_OUTPUT : builder.fresh(ev.op.name);
    try {
      convert({ emit, opset, inputs: ev.inputs, attrs: ev.attrs, output: ev.output, names: ins, inFactors, outFactors: outFactorsOf(i), out });
    } catch (e) {
      if (e instanceof OnnxRuleError) throw new ExportError(e.message.startsWith('operand') ? `${ev.op.name}: ${e.message}` : e.message);
      throw e;
    }
    valueName.set(i, out);
  }

  const dims = (shape: readonly number[], f: readonly number[]): object[] =>
    shape.map((d, k) => (f[k] === 0 ? { dimValue: d } : f[k] === 1 ? { dimParam: 'N' } : {}));
  const valueInfo = (name: string, shape: readonly number[], f: readonly number[]): object => ({
    name, type: { tensorType: { elemType: ONNX_FLOAT, shape: { dim: dims(shape, f) } } },
  });
  const outShape = a.output.shape;
  const graph = {
    name: 'pai',
    node: builder.nodes,
    initializer: builder.inits,
    input: [valueInfo(ONNX_INPUT, [a.batch, ...inputShape], inputFactors)],
    output: [valueInfo(ONNX_OUTPUT, outShape, outFactorsOf(finalIndex))],
  };
  const msg = {
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'pai',
    producerVersion: o.producerVersion ?? '',
    graph,
    metadataProps: Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const T = onnxModelType();
  const err = T.verify(msg);
  if (err) throw new Error(`exportOnnx: internal error building the ModelProto: ${err}`);
  const bytes = T.encode(T.fromObject(msg)).finish();
  return { bytes, nodes: builder.nodes.length, opTypes: [...new Set(builder.nodes.map((n) => n.opType))].sort(), initializers: builder.paramNames };
}
