// Convolution is closed under differentiation through three recorded ops: conv2d, its input
// gradient (a transposed convolution) and its weight gradient. All three are bilinear, and the
// vector-Jacobian product of each is one of the other two, so derivatives of any order exist.

import type { Conv2dParams } from '../../kernels/interface.js';
import { Tensor } from '../../tensor/tensor.js';
import { shapeStr, ShapeError } from '../../tensor/shape.js';
import { onnxInput, opFamily, type BinaryInputs, type OnnxCall, type OpCall } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { be, checkSameDtype, pair, uninit } from './util.js';
import { reshape, sum } from './broadcast.js';
import { mul } from './elementwise.js';
import { addProbeTerm, perSampleBatch, perSampleMode, perSampleProbe, perSampleUnsupported, reportPerSample, reportPerSampleDirect, type DirectReductions } from '../per-sample.js';

/** Stride, padding, dilation and groups of a 2-d convolution, as in torch.nn.functional.conv2d. */
export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

/** The full parameter record for input [n, c, h, w] and weight [oc, c / groups, kh, kw]. */
export function conv2dParams(xShape: readonly number[], wShape: readonly number[], o: Conv2dOptions = {}): Conv2dParams {
  if (xShape.length !== 4) throw new ShapeError(`conv2d: input must be 4-d NCHW, got ${shapeStr(xShape)}`);
  if (wShape.length !== 4) throw new ShapeError(`conv2d: weight must be 4-d [out, in/groups, kh, kw], got ${shapeStr(wShape)}`);
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [oc, cg, kh, kw] = wShape as [number, number, number, number];
  const groups = o.groups ?? 1;
  const [strideH, strideW] = pair('conv2d', 'stride', o.stride ?? 1);
  const [padH, padW] = pair('conv2d', 'padding', o.padding ?? 0);
  const [dilH, dilW] = pair('conv2d', 'dilation', o.dilation ?? 1);
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0 || oc % groups !== 0) {
    throw new ShapeError(`conv2d: groups=${groups} must divide input channels ${c} and output channels ${oc}`);
  }
  if (cg * groups !== c) {
    throw new ShapeError(`conv2d: weight ${shapeStr(wShape)} expects ${cg * groups} input channels with groups=${groups}, input ${shapeStr(xShape)} has ${c}`);
  }
  if (strideH < 1 || strideW < 1 || dilH < 1 || dilW < 1) throw new ShapeError('conv2d: stride and dilation must be at least 1');
  const oh = Math.floor((h + 2 * padH - dilH * (kh - 1) - 1) / strideH) + 1;
  const ow = Math.floor((w + 2 * padW - dilW * (kw - 1) - 1) / strideW) + 1;
  if (oh < 1 || ow < 1) {
    throw new ShapeError(`conv2d: input ${shapeStr(xShape)} is smaller than the (dilated) kernel ${kh}x${kw} with padding ${padH},${padW}`);
  }
  return { n, c, h, w, oc, kh, kw, oh, ow, strideH, strideW, padH, padW, dilH, dilW, groups };
}

function wShapeOf(p: Conv2dParams): number[] {
  return [p.oc, p.c / p.groups, p.kh, p.kw];
}

type ConvAttrs = { p: Conv2dParams };
/** conv2d's inputs: x, the weight and the bias when there is one. */
type ConvInputs = BinaryInputs | readonly [Tensor, Tensor, Tensor];

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const CONV_OPS = opFamily({
  conv2d: {
    curvature: 'bilinear',
    kernel: ([x, w, bias]: ConvInputs, { p }: ConvAttrs) => {
      const out = uninit(x, [p.n, p.oc, p.oh, p.ow]);
      be(x).conv2d(x.data, w.data, bias ? bias.data : null, out.data, p);
      return out;
    },
    vjp: (g: Tensor, { inputs: [x, w, bias], attrs: { p } }: OpCall<ConvAttrs, ConvInputs>, need: readonly boolean[]) => [
      need[0] ? conv2dInputGrad(g, w, p) : null,
      need[1] ? conv2dWeightGrad(x, g, p) : null,
      bias && need[2] ? sum(g, [0, 2, 3]) : null,
    ],
    perSample: { inputs: [1, 2], rule: (g: Tensor, { inputs: [x, w, bias], attrs: { p } }: OpCall<ConvAttrs, ConvInputs>) => perSampleConv2d(x, w, bias ?? null, g, p) },
    onnx: (c: OnnxCall<ConvAttrs>) => {
      const p = c.attrs.p;
      const ins = [onnxInput(c, 0), onnxInput(c, 1)];
      if (c.names[2]) ins.push(c.names[2]);
      c.emit.node('Conv', ins, [
        { name: 'kernel_shape', ints: [p.kh, p.kw] }, { name: 'strides', ints: [p.strideH, p.strideW] },
        { name: 'pads', ints: [p.padH, p.padW, p.padH, p.padW] }, { name: 'dilations', ints: [p.dilH, p.dilW] }, { name: 'group', int: p.groups },
      ], c.out);
    },
  },
  /** The input gradient of conv2d: a transposed convolution. */
  conv2dInputGrad: {
    kernel: ([gy, w]: BinaryInputs, { p }: ConvAttrs) => {
      const gx = uninit(gy, [p.n, p.c, p.h, p.w]);
      be(gy).conv2dBackwardData(gy.data, w.data, gx.data, p);
      return gx;
    },
    vjp: (g: Tensor, { inputs: [gy, w], attrs: { p } }: OpCall<ConvAttrs, BinaryInputs>, need: readonly boolean[]) => [
      need[0] ? conv2dFromParams(g, w, null, p) : null,
      need[1] ? conv2dWeightGrad(g, gy, p) : null,
    ],
    // In a Hessian-vector product's second pass, the weight's per-sample term through the first
    // pass's input gradient (the probe mode never reaches here: this op is not in a forward graph).
    perSample: { inputs: [1], rule: (g: Tensor, { inputs: [gy, w], attrs: { p } }: OpCall<ConvAttrs, BinaryInputs>) => {
      if (perSampleMode() !== 'report') perSampleUnsupported('conv2dInputGrad in a probe pass');
      else if (p.n !== perSampleBatch()) perSampleUnsupported(`conv2dInputGrad over a batch of ${p.n}, not ${perSampleBatch()}`);
      else reportPerSampleDirect(w, g.data, weightGradReductions(g, gy, p), (s, c) => conv2dWeightGradPerSample(g, gy, p, s, c));
    } },
  },
  /** The weight gradient of conv2d. */
  conv2dWeightGrad: {
    kernel: ([x, gy]: BinaryInputs, { p }: ConvAttrs) => {
      const gw = uninit(x, wShapeOf(p));
      be(x).conv2dBackwardWeight(x.data, gy.data, gw.data, p);
      return gw;
    },
    vjp: (g: Tensor, { inputs: [x, gy], attrs: { p } }: OpCall<ConvAttrs, BinaryInputs>, need: readonly boolean[]) => [
      need[0] ? conv2dInputGrad(gy, g, p) : null,
      need[1] ? conv2dFromParams(x, g, null, p) : null,
    ],
  },
});

/** PyTorch's F.conv2d. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  const p = conv2dParams(x.shape, w.shape, o);
  checkSameDtype('conv2d', x, w);
  if (bias) {
    checkSameDtype('conv2d', x, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== p.oc) throw new ShapeError(`conv2d: bias ${shapeStr(bias.shape)} does not match ${p.oc} output channels`);
  }
  return traceOp(CONV_OPS.conv2d, [x, w, bias], { p }, conv2dFromParams(x, w, bias, p));
}

function conv2dFromParams(x: Tensor, w: Tensor, bias: Tensor | null, p: Conv2dParams): Tensor {
  return run(CONV_OPS.conv2d, bias ? [x, w, bias] : [x, w], { p });
}

// The per-sample rules of conv2d (see ../per-sample.ts). A registered parameter's summed gradient
// is left out: its per-sample terms (report mode) or its probe term (probe mode) replace it.
function perSampleConv2d(x: Tensor, w: Tensor, bias: Tensor | null, g: Tensor, p: Conv2dParams): void {
  if (p.n !== perSampleBatch()) return perSampleUnsupported(`conv2d over a batch of ${p.n}, not the ${perSampleBatch()} registered samples`);
  if (perSampleMode() === 'report') {
    reportPerSampleDirect(w, x.data, weightGradReductions(x, g, p), (s, c) => conv2dWeightGradPerSample(x, g, p, s, c));
    if (bias) {
      reportPerSample(bias, (s, c) => {
        const inner = p.oh * p.ow;
        return sum(new Tensor(g.data.subarray(s * p.oc * inner, (s + c) * p.oc * inner), [c, p.oc, inner]), 2);
      });
    }
    return;
  }
  // Σ_n <W-gradient of sample n, z_n> = Σ_n <g_n, conv2d(x_n, z_n)>: one grouped convolution with
  // the samples as groups, recorded so that it can be differentiated again.
  const z = perSampleProbe(w);
  if (z) {
    const q: Conv2dParams = { ...p, n: 1, c: p.n * p.c, oc: p.n * p.oc, groups: p.n * p.groups };
    const xz = conv2dFromParams(reshape(x, [1, q.c, p.h, p.w]), reshape(z, wShapeOf(q)), null, q);
    addProbeTerm(sum(mul(g, reshape(xz, g.shape))));
  }
  const zb = bias ? perSampleProbe(bias) : null;
  if (zb) addProbeTerm(sum(mul(g, reshape(zb, [p.n, p.oc, 1, 1]))));
}

/** The per-sample weight-gradient reductions of input x and output gradient gy without stacks. */
function weightGradReductions(x: Tensor, gy: Tensor, p: Conv2dParams): DirectReductions {
  return {
    moments: (sm, sq) => be(x).conv2dWeightGradMoments(x.data, gy.data, sm, sq, p),
    probeDot: (z, acc) => be(x).conv2dWeightGradProbeDot(x.data, gy.data, z, acc, p),
  };
}

/**
 * The weight gradients of samples start .. start + count - 1 on their own, [count, oc, c/groups,
 * kh, kw]: one weight-gradient kernel call per sample (the batch-1 call the per-sample loop makes).
 */
export function conv2dWeightGradPerSample(x: Tensor, gy: Tensor, p: Conv2dParams, start: number, count: number): Tensor {
  const q: Conv2dParams = { ...p, n: 1 };
  const xs = p.c * p.h * p.w, gs = p.oc * p.oh * p.ow, ws = p.oc * (p.c / p.groups) * p.kh * p.kw;
  const out = uninit(x, [count, ...wShapeOf(p)]);
  const k = be(x);
  for (let i = 0; i < count; i++) {
    const n = start + i;
    k.conv2dBackwardWeight(x.data.subarray(n * xs, (n + 1) * xs), gy.data.subarray(n * gs, (n + 1) * gs), out.data.subarray(i * ws, (i + 1) * ws), q);
  }
  return out;
}

/** The gradient of conv2d with respect to its input, for output gradient gy: a transposed convolution. */
export function conv2dInputGrad(gy: Tensor, w: Tensor, p: Conv2dParams): Tensor {
  return run(CONV_OPS.conv2dInputGrad, [gy, w], { p });
}

/** The gradient of conv2d with respect to its weight. */
export function conv2dWeightGrad(x: Tensor, gy: Tensor, p: Conv2dParams): Tensor {
  return run(CONV_OPS.conv2dWeightGrad, [x, gy], { p });
}
