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
import type { AdaptivePool2dParams, Conv2dParams, Pool2dParams } from '../kernels/interface.js';
import { z } from 'zod';
import { isModule, type Module } from '../nn/module.js';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { randn } from '../tensor/create.js';
import { Generator } from '../tensor/random.js';
import { shapeStr } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { ONNX_FLOAT, ONNX_INT64, ONNX_SCHEMA } from './onnx-schema.js';

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
  | { kind: 'param'; name: string }
  | { kind: 'const'; t: Tensor }
  | { kind: 'none' };

interface Trace {
  batch: number;
  events: TraceEvent[];
  input: Tensor;
  output: Tensor;
  /** Live event indices in execution (hence topological) order. */
  live: number[];
  refs: Map<number, Ref[]>;
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
    if (n !== undefined) return { kind: 'param', name: n };
    const p = producer.get(t);
    if (p !== undefined) return { kind: 'node', index: p };
    return { kind: 'const', t };
  };
  const last = producer.get(output);
  if (last === undefined) throw new ExportError('the model output was not produced by any traced op (does its forward use ops outside src/autograd/ops?)');
  const refs = new Map<number, Ref[]>();
  const stack = [last];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (refs.has(i)) continue;
    const r = events[i]!.inputs.map(refOf);
    refs.set(i, r);
    for (const x of r) if (x.kind === 'node' && !refs.has(x.index)) stack.push(x.index);
  }
  const live = [...refs.keys()].sort((a, b) => a - b);
  return { batch, events, input, output, live, refs };
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
  const where = (i: number): string => `op #${i} (${a.events[i]!.op})`;
  if (a.events.length !== b.events.length || a.events.some((e, i) => e.op !== b.events[i]!.op)) {
    throw new ExportError('the forward pass runs different ops at different batch sizes; only batch-independent models can be exported');
  }
  if (a.live.length !== b.live.length || a.live.some((x, i) => x !== b.live[i])) {
    throw new ExportError('the forward pass is wired differently at different batch sizes; only batch-independent models can be exported');
  }
  const factors = new Map<number, number[]>();
  for (const i of a.live) {
    const ra = a.refs.get(i)!, rb = b.refs.get(i)!;
    ra.forEach((x, k) => {
      const y = rb[k]!;
      const same = x.kind === y.kind && (x.kind !== 'node' || x.index === (y as { index: number }).index)
        && (x.kind !== 'param' || x.name === (y as { name: string }).name);
      if (!same) throw new ExportError(`${where(i)}: operand ${k} comes from different places at different batch sizes`);
      if (x.kind === 'const' && !sameData(x.t, (y as { t: Tensor }).t)) {
        throw new ExportError(`${where(i)}: operand ${k} (${shapeStr(x.t.shape)}) depends on the input but no traced op produced it; the forward pass uses an op the ONNX exporter does not know`);
      }
    });
    const sa = a.events[i]!.output.shape, sb = b.events[i]!.output.shape;
    if (sa.length !== sb.length) throw new ExportError(`${where(i)}: output rank depends on the batch size`);
    factors.set(i, sa.map((d, k) => {
      const e = sb[k]!;
      if (d === e) return 0;
      const f = d / a.batch;
      if (!Number.isInteger(f) || e !== f * b.batch) throw new ExportError(`${where(i)}: output dimension ${k} (${d} vs ${e}) is not proportional to the batch size`);
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
    dims.forEach((d, i) => {
      const f = factors[i]!;
      if (f === 0) { run.push(d); return; }
      flush();
      parts.push(f === 1 ? this.batch() : this.node('Mul', [this.batch(), this.constI64([f])]));
    });
    flush();
    return parts.length === 1 ? parts[0]! : this.node('Concat', parts, [attrInt('axis', 0)]);
  }
}

// ---- op conversion ----

interface Ctx {
  b: GraphBuilder;
  ev: TraceEvent;
  /** ONNX names of the operands (null for an absent optional one). */
  ins: (string | null)[];
  /** Batch factors of the operands' dimensions (null for absent ones). */
  inFactors: (number[] | null)[];
  outFactors: number[];
  out: string;
  opset: number;
}

function need(c: Ctx, k: number): string {
  const n = c.ins[k];
  if (n === null || n === undefined) throw new ExportError(`${c.ev.op}: operand ${k} is missing`);
  return n;
}

function conv(c: Ctx): void {
  const p = c.ev.attrs['p'] as Conv2dParams;
  const ins = [need(c, 0), need(c, 1)];
  if (c.ins[2]) ins.push(c.ins[2]);
  c.b.node('Conv', ins, [
    attrInts('kernel_shape', [p.kh, p.kw]), attrInts('strides', [p.strideH, p.strideW]),
    attrInts('pads', [p.padH, p.padW, p.padH, p.padW]), attrInts('dilations', [p.dilH, p.dilW]), attrInt('group', p.groups),
  ], c.out);
}

function linear(c: Ctx): void {
  const x = need(c, 0), w = need(c, 1), bias = c.ins[2];
  if (c.ev.inputs[0]!.ndim === 2) {
    c.b.node('Gemm', bias ? [x, w, bias] : [x, w], [attrInt('transB', 1)], c.out);
    return;
  }
  const wt = c.b.node('Transpose', [w], [attrInts('perm', [1, 0])]);
  if (!bias) { c.b.node('MatMul', [x, wt], [], c.out); return; }
  c.b.node('Add', [c.b.node('MatMul', [x, wt]), bias], [], c.out);
}

function batchNorm(c: Ctx): void {
  const x = c.ev.inputs[0]!;
  const ch = x.shape[1]!;
  if (!c.ins[3] || !c.ins[4]) throw new ExportError('batch norm without running statistics cannot be exported (it normalises with batch statistics)');
  const scale = c.ins[1] ?? c.b.constF32(new Float32Array(ch).fill(1), [ch]);
  const shift = c.ins[2] ?? c.b.constF32(new Float32Array(ch), [ch]);
  c.b.node('BatchNormalization', [need(c, 0), scale, shift, c.ins[3], c.ins[4]], [attrFloat('epsilon', c.ev.attrs['eps'] as number)], c.out);
}

function channelScaleShift(c: Ctx): void {
  const x = c.ev.inputs[0]!;
  const perChannel = [x.shape[1]!, ...Array<number>(x.ndim - 2).fill(1)];
  const asChannels = (name: string): string => c.b.node('Reshape', [name, c.b.constI64(perChannel)]);
  const scaled = c.b.node('Mul', [need(c, 0), asChannels(need(c, 1))], [], c.ins[2] ? undefined : c.out);
  if (c.ins[2]) c.b.node('Add', [scaled, asChannels(c.ins[2])], [], c.out);
}

function layerNorm(c: Ctx): void {
  const x = c.ev.inputs[0]!;
  const k = c.ev.attrs['axes'] as number;
  const norm = x.shape.slice(x.ndim - k);
  const scale = c.ins[1] ?? c.b.constF32(new Float32Array(norm.reduce((p, d) => p * d, 1)).fill(1), norm);
  const ins = [need(c, 0), scale];
  if (c.ins[2]) ins.push(c.ins[2]);
  c.b.node('LayerNormalization', ins, [attrInt('axis', -k), attrFloat('epsilon', c.ev.attrs['eps'] as number)], c.out);
}

function gelu(c: Ctx): void {
  const x = need(c, 0);
  const approx = c.ev.attrs['approximate'] as 'none' | 'tanh';
  if (c.opset >= 20) { c.b.node('Gelu', [x], [attrString('approximate', approx)], c.out); return; }
  // Written as pai computes it, operation for operation, so the results agree to rounding.
  const half = c.b.node('Mul', [x, c.b.scalar(0.5)]);
  let inner: string;
  if (approx === 'tanh') {
    const cube = c.b.node('Mul', [c.b.scalar(0.044715), c.b.node('Pow', [x, c.b.scalar(3)])]);
    inner = c.b.node('Tanh', [c.b.node('Mul', [c.b.node('Add', [x, cube]), c.b.scalar(Math.sqrt(2 / Math.PI))])]);
  } else {
    inner = c.b.node('Erf', [c.b.node('Mul', [x, c.b.scalar(Math.SQRT1_2)])]);
  }
  c.b.node('Mul', [half, c.b.node('Add', [inner, c.b.scalar(1)])], [], c.out);
}

function floorSize(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

function poolAttrs(p: Pool2dParams, dilations: boolean): Attr[] {
  // pai (like PyTorch) drops a last ceil-mode window that would start in the right padding, so
  // its sizes are already final: ceil_mode is set only where it adds a window.
  const ceil = p.oh !== floorSize(p.h, p.kh, p.strideH, p.padH, p.dilH) || p.ow !== floorSize(p.w, p.kw, p.strideW, p.padW, p.dilW);
  const a = [
    attrInts('kernel_shape', [p.kh, p.kw]), attrInts('strides', [p.strideH, p.strideW]),
    attrInts('pads', [p.padH, p.padW, p.padH, p.padW]), attrInt('ceil_mode', ceil ? 1 : 0),
  ];
  if (dilations) a.push(attrInts('dilations', [p.dilH, p.dilW]));
  return a;
}

function maxPool(c: Ctx): void {
  c.b.node('MaxPool', [need(c, 0)], poolAttrs(c.ev.attrs['p'] as Pool2dParams, true), c.out);
}

function avgPool(c: Ctx): void {
  const p = c.ev.attrs['p'] as Pool2dParams;
  if (p.divisorOverride) throw new ExportError('avg_pool2d with divisor_override has no ONNX AveragePool equivalent');
  c.b.node('AveragePool', [need(c, 0)], [...poolAttrs(p, false), attrInt('count_include_pad', p.countIncludePad ? 1 : 0)], c.out);
}

function adaptiveAvgPool(c: Ctx): void {
  const p = c.ev.attrs['p'] as AdaptivePool2dParams;
  if (p.oh === 1 && p.ow === 1) { c.b.node('GlobalAveragePool', [need(c, 0)], [], c.out); return; }
  if (p.h % p.oh !== 0 || p.w % p.ow !== 0) {
    throw new ExportError(`adaptive_avg_pool2d from ${p.h}x${p.w} to ${p.oh}x${p.ow}: ONNX has no adaptive pooling, and the sizes do not divide into a fixed window`);
  }
  const kh = p.h / p.oh, kw = p.w / p.ow;
  c.b.node('AveragePool', [need(c, 0)], [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [kh, kw])], c.out);
}

function slice(c: Ctx): void {
  const x = c.ev.inputs[0]!;
  const r = c.ev.attrs['ranges'] as [number, number][];
  const f = c.inFactors[0]!;
  const starts: number[] = [], ends: number[] = [], axes: number[] = [];
  r.forEach(([s, e], i) => {
    if (s === 0 && e === x.shape[i]) return;
    if (f[i] !== 0) throw new ExportError(`slice along axis ${i}, a batch dimension, cannot be exported for a dynamic batch size`);
    starts.push(s); ends.push(e); axes.push(i);
  });
  c.b.node('Slice', [need(c, 0), c.b.constI64(starts), c.b.constI64(ends), c.b.constI64(axes)], [], c.out);
}

function pad(c: Ctx): void {
  const pads = c.ev.attrs['pads'] as [number, number][];
  const value = c.ev.attrs['value'] as number;
  c.b.node('Pad', [need(c, 0), c.b.constI64([...pads.map(([a]) => a), ...pads.map(([, e]) => e)]), c.b.scalar(value)], [], c.out);
}

function reduce(c: Ctx, opType: string): void {
  const axes = c.ev.attrs['axes'] as number[];
  const keep = attrInt('keepdims', c.ev.attrs['keepdim'] ? 1 : 0);
  // ReduceSum takes its axes as an input from opset 13, the other reductions from opset 18.
  if (opType === 'ReduceSum' || c.opset >= 18) c.b.node(opType, [need(c, 0), c.b.constI64(axes)], [keep], c.out);
  else c.b.node(opType, [need(c, 0)], [attrInts('axes', axes), keep], c.out);
}

const simple = (opType: string) => (c: Ctx): void => { c.b.node(opType, c.ins.map((n, k) => n ?? need(c, k)), [], c.out); };

const CONVERTERS: Record<string, (c: Ctx) => void> = {
  conv2d: conv,
  linear,
  matmul: simple('MatMul'),
  batchNorm,
  channelScaleShift,
  layerNorm,
  relu: simple('Relu'),
  gelu,
  softmax: (c) => { c.b.node('Softmax', [need(c, 0)], [attrInt('axis', c.ev.attrs['axis'] as number)], c.out); },
  logSoftmax: (c) => { c.b.node('LogSoftmax', [need(c, 0)], [attrInt('axis', c.ev.attrs['axis'] as number)], c.out); },
  maxPool2d: maxPool,
  avgPool2d: avgPool,
  adaptiveAvgPool2d: adaptiveAvgPool,
  add: simple('Add'), sub: simple('Sub'), mul: simple('Mul'), div: simple('Div'), pow: simple('Pow'),
  maximum: simple('Max'), minimum: simple('Min'),
  addScalar: (c) => { c.b.node('Add', [need(c, 0), c.b.scalar(c.ev.attrs['c'] as number)], [], c.out); },
  mulScalar: (c) => { c.b.node('Mul', [need(c, 0), c.b.scalar(c.ev.attrs['c'] as number)], [], c.out); },
  rsubScalar: (c) => { c.b.node('Sub', [c.b.scalar(c.ev.attrs['c'] as number), need(c, 0)], [], c.out); },
  powScalar: (c) => {
    const p = c.ev.attrs['p'] as number;
    c.b.node(p === 2 ? 'Mul' : 'Pow', p === 2 ? [need(c, 0), need(c, 0)] : [need(c, 0), c.b.scalar(p)], [], c.out);
  },
  square: (c) => { c.b.node('Mul', [need(c, 0), need(c, 0)], [], c.out); },
  rsqrt: (c) => { c.b.node('Reciprocal', [c.b.node('Sqrt', [need(c, 0)])], [], c.out); },
  neg: simple('Neg'), exp: simple('Exp'), log: simple('Log'), sqrt: simple('Sqrt'), tanh: simple('Tanh'),
  sigmoid: simple('Sigmoid'), erf: simple('Erf'), abs: simple('Abs'), reciprocal: simple('Reciprocal'),
  reshape: (c) => { c.b.node('Reshape', [need(c, 0), c.b.shape(c.ev.output.shape, c.outFactors, true)], [], c.out); },
  expand: (c) => { c.b.node('Expand', [need(c, 0), c.b.shape(c.ev.output.shape, c.outFactors, false)], [], c.out); },
  permute: (c) => { c.b.node('Transpose', [need(c, 0)], [attrInts('perm', c.ev.attrs['perm'] as number[])], c.out); },
  slice,
  pad,
  concat: (c) => { c.b.node('Concat', c.ins.map((_, k) => need(c, k)), [attrInt('axis', c.ev.attrs['axis'] as number)], c.out); },
  sum: (c) => reduce(c, 'ReduceSum'),
  max: (c) => reduce(c, 'ReduceMax'),
  min: (c) => reduce(c, 'ReduceMin'),
};

/** The op names the exporter maps to ONNX. */
export function onnxSupportedOps(): string[] {
  return Object.keys(CONVERTERS);
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
  if (!Number.isInteger(opset) || opset < DEFAULT_OPSET || opset > MAX_OPSET) throw new ExportError(`opset must be an integer from ${DEFAULT_OPSET} to ${MAX_OPSET}, got ${opset}`);
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
  builder.reserve(ONNX_INPUT);
  builder.reserve(ONNX_OUTPUT);
  for (const n of names.values()) builder.reserve(n);
  const valueName = new Map<number, string>();
  const finalIndex = a.live[a.live.length - 1]!;
  const inputFactors = [1, ...inputShape.map(() => 0)];
  for (const i of a.live) {
    const ev = a.events[i]!;
    const convert = CONVERTERS[ev.op];
    if (!convert) throw new ExportError(`op ${ev.op} has no ONNX mapping (supported: ${onnxSupportedOps().join(', ')})`);
    const refs = a.refs.get(i)!;
    const ins = refs.map((r, k): string | null => {
      switch (r.kind) {
        case 'none': return null;
        case 'input': return ONNX_INPUT;
        case 'param': return builder.param(r.name, ev.inputs[k]!);
        case 'node': return valueName.get(r.index)!;
        case 'const':
          if (r.t.dtype !== 'float32') throw new ExportError(`a constant of dtype ${r.t.dtype} in op ${ev.op}; ONNX export needs float32`);
          return builder.constF32(r.t.data, r.t.shape);
      }
    });
    const inFactors = refs.map((r, k): number[] | null => {
      switch (r.kind) {
        case 'none': return null;
        case 'input': return inputFactors;
        case 'node': return factors.get(r.index)!;
        default: return ev.inputs[k]!.shape.map(() => 0);
      }
    });
    const out = i === finalIndex ? ONNX_OUTPUT : builder.fresh(ev.op);
    convert({ b: builder, ev, ins, inFactors, outFactors: factors.get(i)!, out, opset });
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
    output: [valueInfo(ONNX_OUTPUT, outShape, factors.get(finalIndex)!)],
  };
  const msg = {
    irVersion: IR_FOR_OPSET[opset]!,
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
