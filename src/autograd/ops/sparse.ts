// Sparse convolution and linear layers over a fixed CSR pattern (see CsrPattern in the kernel
// interface). The trainable tensor is `values`, one entry per kept weight; the pattern (which
// weights exist) never changes. Like dense convolution, each layer is closed under
// differentiation through three recorded ops: the forward product, its input gradient (the
// transposed product) and its weight gradient sampled at the pattern's entries. All three are
// bilinear and the vjp of each is the other two, so derivatives of any order exist.

import type { Backend, Conv2dParams, CsrPattern, FloatArray, SparseLinearParams } from '../../kernels/interface.js';
import { Tensor } from '../../tensor/tensor.js';
import { hasMinRank, numel, shapeStr, ShapeError } from '../../tensor/shape.js';
import { opFamily, type BinaryInputs, type KernelOp, type KernelSpec, type OpCall, bilinear } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { perSampleMode, perSampleUnsupported, perSampleWanted } from '../per-sample.js';
import { be, checkSameDtype, empty, uninit } from './util.js';
import { reshape, sum } from './broadcast.js';
import { conv2dParams, type Conv2dOptions } from './conv.js';

/**
 * Which entries of a dense weight exist: CSR over the first axis (output channels or features),
 * columns over the rest flattened in row-major order. `index[k]` is entry k's flat index into the
 * dense weight, so values = dense[index] and the dense weight is values scattered back.
 */
export interface SparsePattern extends CsrPattern {
  /** The dense weight's shape: [oc, c, kh, kw] or [out, in]. */
  readonly shape: readonly number[];
  readonly index: Int32Array;
  readonly nnz: number;
}

/** The pattern of a 0/1 mask (non-zero = kept), entries in row-major order. */
export function sparsePatternFromMask(mask: Tensor): SparsePattern {
  if (!hasMinRank(mask.shape, 2)) throw new ShapeError(`sparsePatternFromMask: a weight mask has at least 2 axes, got ${shapeStr(mask.shape)}`);
  const rows = mask.shape[0], cols = mask.size / Math.max(rows, 1);
  const d = mask.data;
  let nnz = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nnz++;
  const rowPtr = new Int32Array(rows + 1), colIdx = new Int32Array(nnz), index = new Int32Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (d[r * cols + c] !== 0) { colIdx[k] = c; index[k] = r * cols + c; k++; }
    }
    rowPtr[r + 1] = k;
  }
  return { shape: [...mask.shape], rowPtr, colIdx, index, nnz };
}

/** The kept entries of a dense weight, in pattern order (not recorded: used to build parameters). */
export function gatherSparseValues(dense: Tensor, pattern: SparsePattern): Tensor {
  if (numel(pattern.shape) !== dense.size) throw new ShapeError(`gatherSparseValues: weight ${shapeStr(dense.shape)} does not match the pattern's ${shapeStr(pattern.shape)}`);
  const out = empty(dense, [pattern.nnz]);
  be(dense).gather(dense.data, pattern.index, out.data);
  return out;
}

/** The dense weight (zeros off the pattern) holding `values` (not recorded). */
export function scatterSparseValues(values: Tensor, pattern: SparsePattern): Tensor {
  checkValues('scatterSparseValues', values, pattern);
  const out = empty(values, pattern.shape);
  be(values).scatterAdd(values.data, pattern.index, out.data);
  return out;
}

function checkValues(op: string, values: Tensor, pattern: SparsePattern): void {
  if (values.ndim !== 1 || values.size !== pattern.nnz) {
    throw new ShapeError(`${op}: values must be 1-d with one entry per kept weight (${pattern.nnz}), got ${shapeStr(values.shape)}`);
  }
}

// A parameter in a per-sample gradient session would silently get a summed gradient here.
function noPerSample(op: string, values: Tensor, bias: Tensor | null): void {
  if (perSampleMode() !== 'off' && (perSampleWanted(values) || perSampleWanted(bias))) perSampleUnsupported(`${op}: sparse layers have no per-sample rule`);
}

// ---------------------------------------------------------------- convolution

/** conv2d with the weight given as values on a pattern of shape [oc, c, kh, kw]; groups = 1 only. */
export function sparseConv2d(x: Tensor, values: Tensor, pattern: SparsePattern, bias: Tensor | null = null,
  o: Omit<Conv2dOptions, 'groups'> = {}): Tensor {
  if ((o as Conv2dOptions).groups !== undefined && (o as Conv2dOptions).groups !== 1) {
    throw new ShapeError(`sparseConv2d: groups = ${(o as Conv2dOptions).groups}; only groups = 1 has a sparse path`);
  }
  if (pattern.shape.length !== 4) throw new ShapeError(`sparseConv2d: the pattern is for a ${shapeStr(pattern.shape)} weight, not a 4-d OIHW one`);
  const p = conv2dParams(x.shape, pattern.shape, { ...o, groups: 1 });
  checkValues('sparseConv2d', values, pattern);
  checkSameDtype('sparseConv2d', x, values);
  if (bias) {
    checkSameDtype('sparseConv2d', x, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== p.oc) throw new ShapeError(`sparseConv2d: bias ${shapeStr(bias.shape)} does not match ${p.oc} output channels`);
  }
  noPerSample('sparseConv2d', values, bias);
  return traceOp(SPARSE_OPS.sparseConv2d, [x, values, bias], { pt: pattern, p }, convForward(x, values, bias, pattern, p));
}

function convForward(x: Tensor, values: Tensor, bias: Tensor | null, pt: SparsePattern, p: Conv2dParams): Tensor {
  return CONV.forward(x, values, bias, pt, p);
}

/** The input gradient of sparseConv2d for output gradient gy (a transposed sparse convolution). */
export function sparseConv2dInputGrad(gy: Tensor, values: Tensor, pt: SparsePattern, p: Conv2dParams): Tensor {
  return CONV.inputGrad(gy, values, pt, p);
}

/** The weight gradient of conv2d at the pattern's entries only, [nnz]. */
export function sparseConv2dWeightGrad(x: Tensor, gy: Tensor, pt: SparsePattern, p: Conv2dParams): Tensor {
  return CONV.weightGrad(x, gy, pt, p);
}

// ---------------------------------------------------------------- linear

/** x @ Wᵀ + b with x [..., in] and W [out, in] given as values on a pattern. */
export function sparseLinear(x: Tensor, values: Tensor, pattern: SparsePattern, bias: Tensor | null = null): Tensor {
  if (pattern.shape.length !== 2) throw new ShapeError(`sparseLinear: the pattern is for a ${shapeStr(pattern.shape)} weight, not a 2-d [out, in] one`);
  const [outF, inF] = pattern.shape as [number, number];
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`sparseLinear: input ${shapeStr(x.shape)} does not end in ${inF} features (weight ${shapeStr(pattern.shape)})`);
  }
  checkValues('sparseLinear', values, pattern);
  checkSameDtype('sparseLinear', x, values);
  if (bias) {
    checkSameDtype('sparseLinear', x, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== outF) throw new ShapeError(`sparseLinear: bias ${shapeStr(bias.shape)} does not match ${outF} outputs`);
  }
  noPerSample('sparseLinear', values, bias);
  const n = x.size / inF;
  const p: SparseLinearParams = { n, inF, outF };
  const x2 = x.ndim === 2 ? x : reshape(x, [n, inF]);
  const y2 = linearForward(x2, values, bias, pattern, p);
  const y = x.ndim === 2 ? y2 : reshape(y2, [...x.shape.slice(0, -1), outF]);
  return traceOp(SPARSE_OPS.sparseLinear, [x, values, bias], { pt: pattern, p }, y);
}

function linearForward(x: Tensor, values: Tensor, bias: Tensor | null, pt: SparsePattern, p: SparseLinearParams): Tensor {
  return LINEAR.forward(x, values, bias, pt, p);
}

/** gy [n, out] W: the input gradient of sparseLinear. */
export function sparseLinearInputGrad(gy: Tensor, values: Tensor, pt: SparsePattern, p: SparseLinearParams): Tensor {
  return LINEAR.inputGrad(gy, values, pt, p);
}

/** The weight gradient of a linear layer at the pattern's entries only, [nnz]. */
export function sparseLinearWeightGrad(x: Tensor, gy: Tensor, pt: SparsePattern, p: SparseLinearParams): Tensor {
  return LINEAR.weightGrad(x, gy, pt, p);
}

// ---------------------------------------------------------------- the table entries

type Attrs<P> = { pt: SparsePattern; p: P };
/** The product's inputs: x, the values and the bias when there is one. */
type ForwardInputs = BinaryInputs | readonly [Tensor, Tensor, Tensor];

/** What distinguishes the sparse convolution from the sparse linear layer. */
interface SparseLayer<P> {
  outShape(p: P): number[];
  inShape(p: P): number[];
  biasAxes: number[];
  forward(k: Backend, x: FloatArray, v: FloatArray, pt: SparsePattern, bias: FloatArray | null, out: FloatArray, p: P): void;
  backwardData(k: Backend, gy: FloatArray, v: FloatArray, pt: SparsePattern, gx: FloatArray, p: P): void;
  backwardWeight(k: Backend, x: FloatArray, gy: FloatArray, pt: SparsePattern, gv: FloatArray, p: P): void;
}

type Entries<P> = readonly [KernelOp<Attrs<P>, ForwardInputs>, KernelOp<Attrs<P>, BinaryInputs>, KernelOp<Attrs<P>, BinaryInputs>];

interface LayerOps<P> {
  specs: { forward: KernelSpec<Attrs<P>, ForwardInputs>; inputGrad: KernelSpec<Attrs<P>, BinaryInputs>; weightGrad: KernelSpec<Attrs<P>, BinaryInputs> };
  forward(x: Tensor, v: Tensor, bias: Tensor | null, pt: SparsePattern, p: P): Tensor;
  inputGrad(gy: Tensor, v: Tensor, pt: SparsePattern, p: P): Tensor;
  weightGrad(x: Tensor, gy: Tensor, pt: SparsePattern, p: P): Tensor;
}

/**
 * A sparse layer's three ops (the product, its input gradient and its weight gradient, the vjp of
 * each built from the other two) as entry specs, and their recorded calls. `entries` gives the
 * table's entries of the three, in that order, once the table exists.
 */
function sparseLayer<P>(L: SparseLayer<P>, entries: () => Entries<P>): LayerOps<P> {
  type A = Attrs<P>;
  const forward = (x: Tensor, v: Tensor, bias: Tensor | null, pt: SparsePattern, p: P): Tensor => run(entries()[0], bias ? [x, v, bias] : [x, v], { pt, p });
  const inputGrad = (gy: Tensor, v: Tensor, pt: SparsePattern, p: P): Tensor => run(entries()[1], [gy, v], { pt, p });
  const weightGrad = (x: Tensor, gy: Tensor, pt: SparsePattern, p: P): Tensor => run(entries()[2], [x, gy], { pt, p });
  const specs = {
    forward: {
      kernel: ([x, v, bias]: ForwardInputs, { pt, p }: A) => {
        const out = uninit(x, L.outShape(p));
        L.forward(be(x), x.data, v.data, pt, bias ? bias.data : null, out.data, p);
        return out;
      },
      vjp: (g: Tensor, { inputs: [x, v, bias], attrs: { pt, p } }: OpCall<A, ForwardInputs>, need: readonly boolean[]) => [
        need[0] ? inputGrad(g, v, pt, p) : null,
        need[1] ? weightGrad(x, g, pt, p) : null,
        bias && need[2] ? sum(g, L.biasAxes) : null,
      ],
    },
    inputGrad: {
      kernel: ([gy, v]: BinaryInputs, { pt, p }: A) => {
        const gx = uninit(gy, L.inShape(p));
        L.backwardData(be(gy), gy.data, v.data, pt, gx.data, p);
        return gx;
      },
      vjp: (g: Tensor, { inputs: [gy, v], attrs: { pt, p } }: OpCall<A, BinaryInputs>, need: readonly boolean[]) => [
        need[0] ? forward(g, v, null, pt, p) : null,
        need[1] ? weightGrad(g, gy, pt, p) : null,
      ],
    },
    weightGrad: {
      kernel: ([x, gy]: BinaryInputs, { pt, p }: A) => {
        const gv = empty(x, [pt.nnz]);
        L.backwardWeight(be(x), x.data, gy.data, pt, gv.data, p);
        return gv;
      },
      vjp: (g: Tensor, { inputs: [x, gy], attrs: { pt, p } }: OpCall<A, BinaryInputs>, need: readonly boolean[]) => [
        need[0] ? inputGrad(gy, g, pt, p) : null,
        need[1] ? forward(x, g, null, pt, p) : null,
      ],
    },
  };
  return { specs, forward, inputGrad, weightGrad };
}

const CONV: LayerOps<Conv2dParams> = sparseLayer<Conv2dParams>({
  outShape: (p) => [p.n, p.oc, p.oh, p.ow],
  inShape: (p) => [p.n, p.c, p.h, p.w],
  biasAxes: [0, 2, 3],
  forward: (k, x, v, pt, bias, out, p) => k.sparseConv2d(x, v, pt, bias, out, p),
  backwardData: (k, gy, v, pt, gx, p) => k.sparseConv2dBackwardData(gy, v, pt, gx, p),
  backwardWeight: (k, x, gy, pt, gv, p) => k.sparseConv2dBackwardWeight(x, gy, pt, gv, p),
}, (): Entries<Conv2dParams> => [SPARSE_OPS.sparseConv2d, SPARSE_OPS.sparseConv2dInputGrad, SPARSE_OPS.sparseConv2dWeightGrad]);

const LINEAR: LayerOps<SparseLinearParams> = sparseLayer<SparseLinearParams>({
  outShape: (p) => [p.n, p.outF],
  inShape: (p) => [p.n, p.inF],
  biasAxes: [0],
  forward: (k, x, v, pt, bias, out, p) => k.sparseLinear(x, v, pt, bias, out, p),
  backwardData: (k, gy, v, pt, gx, p) => k.sparseLinearBackwardData(gy, v, pt, gx, p),
  backwardWeight: (k, x, gy, pt, gv, p) => k.sparseLinearBackwardWeight(x, gy, pt, gv, p),
}, (): Entries<SparseLinearParams> => [SPARSE_OPS.sparseLinear, SPARSE_OPS.sparseLinearInputGrad, SPARSE_OPS.sparseLinearWeightGrad]);

// The products are traced by the public functions; ONNX has no sparse form, so the exporter
// refuses them (export densifies first).
/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const SPARSE_OPS = opFamily({
  sparseConv2d: bilinear(CONV.specs.forward),
  sparseConv2dInputGrad: CONV.specs.inputGrad,
  sparseConv2dWeightGrad: CONV.specs.weightGrad,
  sparseLinear: bilinear(LINEAR.specs.forward),
  sparseLinearInputGrad: LINEAR.specs.inputGrad,
  sparseLinearWeightGrad: LINEAR.specs.weightGrad,
});
