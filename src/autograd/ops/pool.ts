// Pooling. Max pooling is a gather at the arg-max positions (found without recording), whose
// adjoint is a scatter-add and vice versa; average pooling and its backward op are adjoint linear
// maps. Both pairs are closed under differentiation.

import type { AdaptivePool2dParams, Pool2dParams } from '../../kernels/interface.js';
import { Tensor } from '../../tensor/tensor.js';
import { shapeStr, ShapeError, type Shape } from '../../tensor/shape.js';
import { record } from '../graph.js';
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

/** out[i] = x.flat[idx[i]]: recorded, with the scatter-add as its adjoint. */
export function gatherFlat(x: Tensor, idx: Int32Array, outShape: Shape): Tensor {
  const out = uninit(x, outShape);
  be(x).gather(x.data, idx, out.data);
  return record('gather', out, [x], (g) => [scatterAddFlat(g, idx, x.shape)]);
}

/** out.flat[idx[i]] += g[i] into zeros of outShape: the adjoint of gatherFlat. */
export function scatterAddFlat(g: Tensor, idx: Int32Array, outShape: Shape): Tensor {
  const out = empty(g, outShape);
  be(g).scatterAdd(g.data, idx, out.data);
  return record('scatterAdd', out, [g], (gg) => [gatherFlat(gg, idx, g.shape)]);
}

/** PyTorch's F.max_pool2d (stride defaults to the kernel size). */
export function maxPool2d(x: Tensor, kernel: number | readonly [number, number], o: Omit<Pool2dOptions, 'countIncludePad' | 'divisorOverride'> = {}): Tensor {
  const p = pool2dParams('max_pool2d', x.shape, kernel, o);
  const shape = [p.n, p.c, p.oh, p.ow];
  const out = uninit(x, shape);
  const idx = new Int32Array(out.size);
  be(x).maxPool2d(x.data, out.data, idx, p);
  traceOp('maxPool2d', [x], { p }, out);
  return record('maxPool2d', out, [x], (g) => [scatterAddFlat(g, idx, x.shape)]);
}

/** PyTorch's F.avg_pool2d (count_include_pad true by default). */
export function avgPool2d(x: Tensor, kernel: number | readonly [number, number], o: Omit<Pool2dOptions, 'dilation'> = {}): Tensor {
  const p = pool2dParams('avg_pool2d', x.shape, kernel, o);
  return traceOp('avgPool2d', [x], { p }, avgPoolFromParams(x, p));
}

function avgPoolFromParams(x: Tensor, p: Pool2dParams): Tensor {
  const out = uninit(x, [p.n, p.c, p.oh, p.ow]);
  be(x).avgPool2d(x.data, out.data, p);
  return record('avgPool2d', out, [x], (g) => [avgPool2dBackward(g, p)]);
}

/** The input gradient of average pooling (its adjoint), itself differentiable. */
export function avgPool2dBackward(gy: Tensor, p: Pool2dParams): Tensor {
  const gx = uninit(gy, [p.n, p.c, p.h, p.w]);
  be(gy).avgPool2dBackward(gy.data, gx.data, p);
  return record('avgPool2dBackward', gx, [gy], (g) => [avgPoolFromParams(g, p)]);
}

/** PyTorch's F.adaptive_avg_pool2d. */
export function adaptiveAvgPool2d(x: Tensor, size: number | readonly [number, number]): Tensor {
  if (x.ndim !== 4) throw new ShapeError(`adaptive_avg_pool2d: input must be 4-d NCHW, got ${shapeStr(x.shape)}`);
  const [oh, ow] = pair('adaptive_avg_pool2d', 'output_size', size);
  if (oh < 1 || ow < 1) throw new ShapeError(`adaptive_avg_pool2d: output size must be positive, got ${oh}x${ow}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return traceOp('adaptiveAvgPool2d', [x], { p: { n, c, h, w, oh, ow } }, adaptiveFromParams(x, { n, c, h, w, oh, ow }));
}

function adaptiveFromParams(x: Tensor, p: AdaptivePool2dParams): Tensor {
  const out = uninit(x, [p.n, p.c, p.oh, p.ow]);
  be(x).adaptiveAvgPool2d(x.data, out.data, p);
  return record('adaptiveAvgPool2d', out, [x], (g) => [adaptiveAvgPool2dBackward(g, p)]);
}

/** The input gradient of adaptive average pooling (its adjoint), itself differentiable. */
export function adaptiveAvgPool2dBackward(gy: Tensor, p: AdaptivePool2dParams): Tensor {
  const gx = uninit(gy, [p.n, p.c, p.h, p.w]);
  be(gy).adaptiveAvgPool2dBackward(gy.data, gx.data, p);
  return record('adaptiveAvgPool2dBackward', gx, [gy], (g) => [adaptiveFromParams(g, p)]);
}
