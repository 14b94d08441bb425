// Pooling. Max pooling is a gather at the arg-max positions (found without recording), whose
// adjoint is a scatter-add and vice versa; average pooling and its backward op are adjoint linear
// maps. Both pairs are closed under differentiation.

import type { AdaptivePool2dParams, Backend, FloatArray, Pool2dParams } from '../../kernels/interface.js';
import { Tensor } from '../../tensor/tensor.js';
import { shapeStr, ShapeError, type Shape } from '../../tensor/shape.js';
import { onnxInput, opFamily, OnnxRuleError, type KernelSpec, type OnnxAttr, type OnnxCall, type OpCall, type UnaryInputs } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { be, empty, pair, uninit } from './util.js';

/** Stride, padding, dilation and ceil mode of 2-d pooling, as in torch.nn.functional. */
export interface Pool2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number;
}

function outSize(op: string, size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // PyTorch: with ceil_mode the last window must start inside the input or its left padding.
  if (ceil && (o - 1) * s >= size + p) o--;
  if (o < 1) throw new ShapeError(`${op}: input size ${size} is too small for kernel ${k} (padding ${p}, dilation ${d})`);
  return o;
}

/** The kernel parameters of a 2-d pooling of an input of shape `xShape`, checked; errors name `op`. */
export function pool2dParams(op: string, xShape: Shape, kernel: number | readonly [number, number], o: Pool2dOptions): Pool2dParams {
  if (xShape.length !== 4) throw new ShapeError(`${op}: input must be 4-d NCHW, got ${shapeStr(xShape)}`);
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [kh, kw] = pair(op, 'kernel_size', kernel);
  const [strideH, strideW] = pair(op, 'stride', o.stride ?? [kh, kw]);
  const [padH, padW] = pair(op, 'padding', o.padding ?? 0);
  const [dilH, dilW] = pair(op, 'dilation', o.dilation ?? 1);
  if (kh < 1 || kw < 1 || strideH < 1 || strideW < 1 || dilH < 1 || dilW < 1) throw new ShapeError(`${op}: kernel, stride and dilation must be at least 1`);
  if (padH > kh / 2 || padW > kw / 2) throw new ShapeError(`${op}: padding ${padH},${padW} must be at most half the kernel ${kh}x${kw}`);
  const ceil = o.ceilMode ?? false;
  return {
    n, c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW,
    oh: outSize(op, h, kh, strideH, padH, dilH, ceil), ow: outSize(op, w, kw, strideW, padW, dilW, ceil),
    countIncludePad: o.countIncludePad ?? true, divisorOverride: o.divisorOverride ?? 0,
  };
}

type FlatAttrs = { idx: Int32Array; shape: Shape };
type PoolAttrs = { p: Pool2dParams };
type MaxPoolAttrs = { p: Pool2dParams; idx: Int32Array };
type AdaptiveAttrs = { p: AdaptivePool2dParams };

function floorSize(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

function onnxPoolAttrs(p: Pool2dParams, dilations: boolean): OnnxAttr[] {
  // pai (like PyTorch) drops a last ceil-mode window that would start in the right padding, so
  // its sizes are already final: ceil_mode is set only where it adds a window.
  const ceil = p.oh !== floorSize(p.h, p.kh, p.strideH, p.padH, p.dilH) || p.ow !== floorSize(p.w, p.kw, p.strideW, p.padW, p.dilW);
  const a: OnnxAttr[] = [
    { name: 'kernel_shape', ints: [p.kh, p.kw] }, { name: 'strides', ints: [p.strideH, p.strideW] },
    { name: 'pads', ints: [p.padH, p.padW, p.padH, p.padW] }, { name: 'ceil_mode', int: ceil ? 1 : 0 },
  ];
  if (dilations) a.push({ name: 'dilations', ints: [p.dilH, p.dilW] });
  return a;
}

type Plane = AdaptivePool2dParams;

/**
 * The kernel of a linear pooling map between NCHW planes: `down` maps [h, w] planes to [oh, ow]
 * ones (the pooling), else [oh, ow] to [h, w] (its adjoint).
 */
function planeKernel<P extends Plane>(down: boolean, call: (k: Backend, x: FloatArray, out: FloatArray, p: P) => void) {
  return ([x]: UnaryInputs, { p }: { p: P }): Tensor => {
    const out = uninit(x, down ? [p.n, p.c, p.oh, p.ow] : [p.n, p.c, p.h, p.w]);
    call(be(x), x.data, out.data, p);
    return out;
  };
}

/** gather (scatter false) or scatterAdd: two adjoint index maps, each the other's vjp. */
function indexSpec(scatter: boolean): KernelSpec<FlatAttrs, UnaryInputs> {
  return {
    kernel: ([x], { idx, shape }) => {
      const k = be(x);
      const out = scatter ? empty(x, shape) : uninit(x, shape);
      if (scatter) k.scatterAdd(x.data, idx, out.data);
      else k.gather(x.data, idx, out.data);
      return out;
    },
    vjp: (g, { inputs: [x], attrs: { idx } }) => [scatter ? gatherFlat(g, idx, x.shape) : scatterAddFlat(g, idx, x.shape)],
  };
}

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const POOL_OPS = opFamily({
  /** out[i] = x.flat[idx[i]], with the scatter-add as its adjoint. */
  gather: indexSpec(false),
  /** out.flat[idx[i]] += g[i] into zeros: the adjoint of gather. */
  scatterAdd: indexSpec(true),
  /** The kernel fills `idx`, the flat arg-max positions its vjp scatters to. */
  maxPool2d: {
    curvature: 'piecewise-linear',
    kernel: ([x]: UnaryInputs, { p, idx }: MaxPoolAttrs) => {
      const out = uninit(x, [p.n, p.c, p.oh, p.ow]);
      be(x).maxPool2d(x.data, out.data, idx, p);
      return out;
    },
    vjp: (g: Tensor, { inputs: [x], attrs: { idx } }: OpCall<MaxPoolAttrs, UnaryInputs>) => [scatterAddFlat(g, idx, x.shape)],
    onnx: (c: OnnxCall<MaxPoolAttrs>) => { c.emit.node('MaxPool', [onnxInput(c, 0)], onnxPoolAttrs(c.attrs.p, true), c.out); },
  },
  avgPool2d: {
    curvature: 'piecewise-linear',
    kernel: planeKernel<Pool2dParams>(true, (k, x, out, p) => k.avgPool2d(x, out, p)),
    vjp: (g: Tensor, { attrs: { p } }: OpCall<PoolAttrs>) => [avgPool2dBackward(g, p)],
    onnx: (c: OnnxCall<PoolAttrs>) => {
      const p = c.attrs.p;
      if (p.divisorOverride) throw new OnnxRuleError('avg_pool2d with divisor_override has no ONNX AveragePool equivalent');
      c.emit.node('AveragePool', [onnxInput(c, 0)], [...onnxPoolAttrs(p, false), { name: 'count_include_pad', int: p.countIncludePad ? 1 : 0 }], c.out);
    },
  },
  /** The adjoint of avgPool2d. */
  avgPool2dBackward: {
    kernel: planeKernel<Pool2dParams>(false, (k, gy, gx, p) => k.avgPool2dBackward(gy, gx, p)),
    vjp: (g: Tensor, { attrs: { p } }: OpCall<PoolAttrs>) => [avgPoolFromParams(g, p)],
  },
  adaptiveAvgPool2d: {
    curvature: 'piecewise-linear',
    kernel: planeKernel<AdaptivePool2dParams>(true, (k, x, out, p) => k.adaptiveAvgPool2d(x, out, p)),
    vjp: (g: Tensor, { attrs: { p } }: OpCall<AdaptiveAttrs>) => [adaptiveAvgPool2dBackward(g, p)],
    onnx: (c: OnnxCall<AdaptiveAttrs>) => {
      const p = c.attrs.p;
      if (p.oh === 1 && p.ow === 1) { c.emit.node('GlobalAveragePool', [onnxInput(c, 0)], [], c.out); return; }
      if (p.h % p.oh !== 0 || p.w % p.ow !== 0) {
        throw new OnnxRuleError(`adaptive_avg_pool2d from ${p.h}x${p.w} to ${p.oh}x${p.ow}: ONNX has no adaptive pooling, and the sizes do not divide into a fixed window`);
      }
      const kh = p.h / p.oh, kw = p.w / p.ow;
      c.emit.node('AveragePool', [onnxInput(c, 0)], [{ name: 'kernel_shape', ints: [kh, kw] }, { name: 'strides', ints: [kh, kw] }], c.out);
    },
  },
  /** The adjoint of adaptiveAvgPool2d. */
  adaptiveAvgPool2dBackward: {
    kernel: planeKernel<AdaptivePool2dParams>(false, (k, gy, gx, p) => k.adaptiveAvgPool2dBackward(gy, gx, p)),
    vjp: (g: Tensor, { attrs: { p } }: OpCall<AdaptiveAttrs>) => [adaptiveFromParams(g, p)],
  },
});

/** out[i] = x.flat[idx[i]]: recorded, with the scatter-add as its adjoint. */
export function gatherFlat(x: Tensor, idx: Int32Array, outShape: Shape): Tensor {
  return run(POOL_OPS.gather, [x], { idx, shape: outShape });
}

/** out.flat[idx[i]] += g[i] into zeros of outShape: the adjoint of gatherFlat. */
export function scatterAddFlat(g: Tensor, idx: Int32Array, outShape: Shape): Tensor {
  return run(POOL_OPS.scatterAdd, [g], { idx, shape: outShape });
}

/** PyTorch's F.max_pool2d (stride defaults to the kernel size). */
export function maxPool2d(x: Tensor, kernel: number | readonly [number, number], o: Omit<Pool2dOptions, 'countIncludePad' | 'divisorOverride'> = {}): Tensor {
  const p = pool2dParams('max_pool2d', x.shape, kernel, o);
  const attrs = { p, idx: new Int32Array(p.n * p.c * p.oh * p.ow) };
  return traceOp(POOL_OPS.maxPool2d, [x], attrs, run(POOL_OPS.maxPool2d, [x], attrs));
}

/** PyTorch's F.avg_pool2d (count_include_pad true by default). */
export function avgPool2d(x: Tensor, kernel: number | readonly [number, number], o: Omit<Pool2dOptions, 'dilation'> = {}): Tensor {
  const p = pool2dParams('avg_pool2d', x.shape, kernel, o);
  return traceOp(POOL_OPS.avgPool2d, [x], { p }, avgPoolFromParams(x, p));
}

function avgPoolFromParams(x: Tensor, p: Pool2dParams): Tensor {
  return run(POOL_OPS.avgPool2d, [x], { p });
}

/** The input gradient of average pooling (its adjoint), itself differentiable. */
export function avgPool2dBackward(gy: Tensor, p: Pool2dParams): Tensor {
  return run(POOL_OPS.avgPool2dBackward, [gy], { p });
}

/** PyTorch's F.adaptive_avg_pool2d. */
export function adaptiveAvgPool2d(x: Tensor, size: number | readonly [number, number]): Tensor {
  if (x.ndim !== 4) throw new ShapeError(`adaptive_avg_pool2d: input must be 4-d NCHW, got ${shapeStr(x.shape)}`);
  const [oh, ow] = pair('adaptive_avg_pool2d', 'output_size', size);
  if (oh < 1 || ow < 1) throw new ShapeError(`adaptive_avg_pool2d: output size must be positive, got ${oh}x${ow}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const p = { n, c, h, w, oh, ow };
  return traceOp(POOL_OPS.adaptiveAvgPool2d, [x], { p }, adaptiveFromParams(x, p));
}

function adaptiveFromParams(x: Tensor, p: AdaptivePool2dParams): Tensor {
  return run(POOL_OPS.adaptiveAvgPool2d, [x], { p });
}

/** The input gradient of adaptive average pooling (its adjoint), itself differentiable. */
export function adaptiveAvgPool2dBackward(gy: Tensor, p: AdaptivePool2dParams): Tensor {
  return run(POOL_OPS.adaptiveAvgPool2dBackward, [gy], { p });
}
