// Normalisation layers, composed from differentiable ops so that their second derivatives are
// exact without hand-written double-backward formulas.

import { Tensor, allocate } from '../../tensor/tensor.js';
import type { FloatArray } from '../../kernels/interface.js';
import { hasMinRank, numel, shapeMin, shapeStr, ShapeError } from '../../tensor/shape.js';
import { defined } from '../../tensor/checked.js';
import { isGradEnabled, noGrad, run } from '../tape.js';
import { traceOp } from '../trace.js';
import { onnxInput, onnxOperand, opFamily, OnnxRuleError, type BinaryInputs, type OnnxCall, type OpCall, type UnaryInputs } from '../op.js';
import { add, addScalar, mul, mulScalar, rsqrt, square, sub } from './elementwise.js';
import { mean } from './reduce.js';
import { reshape, sum } from './broadcast.js';
import { be, checkSameDtype, empty, uninit } from './util.js';
import { addProbeTerm, perSampleBatch, perSampleMode, perSampleProbe, perSampleUnsupported, perSampleWanted, reportPerSample } from '../per-sample.js';

/** channelScaleShift's inputs: x, the scale and the shift when there is one. */
type ScaleShiftInputs = BinaryInputs | readonly [Tensor, Tensor, Tensor];
/** batchNormTrain's inputs: x, then the weight and the bias where given (at attrs.wi, attrs.bi). */
type BatchNormInputs = readonly [Tensor, ...Tensor[]];

// The per-channel (and per-row) loops below check each read in the loop, which costs nothing for
// an index inside the array, instead of asserting it.
function shortBuffer(op: string): RangeError {
  return new RangeError(`internal: ${op}: a per-channel buffer is shorter than the channel count`);
}

/** [n, c, inner] of an [N, C, *] tensor, the view the per-channel kernels work on. */
function channelView(op: string, x: Tensor): [number, number, number] {
  const [n, c] = shapeMin(op, x.shape, 2);
  return [n, c, n * c === 0 ? 0 : x.size / (n * c)];
}

/**
 * y = x s[c] + t[c] over axis 1 of [N, C, *] (t optional): one pass instead of a broadcast multiply
 * and a broadcast add. Linear in x and in s, so its vjp is itself plus two channel sums.
 */
export function channelScaleShift(x: Tensor, s: Tensor, t: Tensor | null): Tensor {
  checkSameDtype('channelScaleShift', x, s, ...(t ? [t] : []));
  const [, c] = channelView('channelScaleShift', x);
  if (s.size !== c || (t && t.size !== c)) throw new ShapeError(`channelScaleShift: scale/shift must have ${c} values for input ${shapeStr(x.shape)}`);
  return traceOp(NORM_OPS.channelScaleShift, [x, s, t], {}, run(NORM_OPS.channelScaleShift, t ? [x, s, t] : [x, s], {}));
}

// The per-sample rules of channelScaleShift (see ../per-sample.ts): the channel sums of g x and g
// taken per sample, or their probe terms.
function perSampleScaleShift(g: Tensor, { inputs: [x, s, t] }: OpCall<unknown, ScaleShiftInputs>): void {
  const [n, c, inner] = channelView('channelScaleShift', x);
  if (n !== perSampleBatch()) return perSampleUnsupported(`channelScaleShift over a batch of ${n}, not ${perSampleBatch()}`);
  if (perSampleMode() === 'report') {
    const sums = (start: number, count: number): [Tensor, Tensor] => {
      const sg = empty(x, [count, c]), sgx = empty(x, [count, c]);
      const a = start * c * inner, b = (start + count) * c * inner;
      be(x).channelGradSums(g.data.subarray(a, b), x.data.subarray(a, b), empty(x, [count * c]).data, 1, count * c, inner, sg.data, sgx.data);
      return [sg, sgx];
    };
    reportPerSample(s, (start, count) => sums(start, count)[1]);
    if (t) reportPerSample(t, (start, count) => sums(start, count)[0]);
    return;
  }
  const bshape = x.shape.map((d, i) => (i < 2 ? d : 1));
  const zs = perSampleProbe(s), zt = t ? perSampleProbe(t) : null;
  if (zs) addProbeTerm(sum(mul(mul(g, x), reshape(zs, bshape))));
  if (zt) addProbeTerm(sum(mul(g, reshape(zt, bshape))));
}

/**
 * Training-mode batch norm as one recorded op: y = (x - mean) rstd w + b with the batch's mean and
 * biased variance, in two passes over x (statistics, then one per-channel affine map). Its vjp has
 * two forms with the same value. When the backward pass is itself recorded (createGraph, for
 * Hessian-vector products) it is the textbook formula written with differentiable ops, the
 * statistics recomputed from x so that their dependence on x is differentiated too. Otherwise
 * nothing it computes is ever differentiated, so it runs as two fused passes (the channel sums of g
 * and g (x - mean), then dx as one per-channel affine map of g and x).
 */
function batchNormTrain(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): { y: Tensor; mean: Tensor; variance: Tensor } {
  checkSameDtype('batch_norm', x, ...(weight ? [weight] : []), ...(bias ? [bias] : []));
  const inputs: [Tensor, ...Tensor[]] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const attrs: BatchNormAttrs = { weight, bias, eps, wi: weight ? 1 : -1, bi: bias ? (weight ? 2 : 1) : -1 };
  const y = run(NORM_OPS.batchNormTrain, inputs, attrs);
  return { y, mean: defined(attrs.mean, 'batch_norm kernel: batch mean'), variance: defined(attrs.variance, 'batch_norm kernel: batch variance') };
}

/** The input gradient of normalising over `axes` (then scaling by nothing), written with differentiable ops. */
function normalizeGradRecorded(x: Tensor, g: Tensor, axes: readonly number[], eps: number): { gx: (gh: Tensor) => Tensor; xhat: Tensor } {
  const d = sub(x, mean(x, axes, true));
  const r = rsqrt(addScalar(mean(square(d), axes, true), eps));
  const xhat = mul(d, r);
  return { xhat, gx: (gh) => mul(r, sub(sub(gh, mean(gh, axes, true)), mul(xhat, mean(mul(gh, xhat), axes, true)))) };
}

function batchNormTrainKernel([x]: BatchNormInputs, a: BatchNormAttrs): Tensor {
  const { weight, bias, eps } = a;
  const [n, c, inner] = channelView('batch_norm', x);
  const k = be(x);
  const mu = empty(x, [c]), variance = empty(x, [c]);
  k.channelMoments(x.data, n, c, inner, mu.data, variance.data);
  // Per channel, in x's dtype: the scale reads rstd as stored.
  const rstd = allocate(x.dtype, c), scale = allocate(x.dtype, c);
  const vd = variance.data, wd = weight ? weight.data : null;
  for (let i = 0; i < c; i++) {
    const v = vd[i];
    if (v === undefined) throw shortBuffer('batch_norm');
    rstd[i] = 1 / Math.sqrt(v + eps);
    const r = rstd[i], w = wd ? wd[i] : 1;
    if (r === undefined || w === undefined) throw shortBuffer('batch_norm');
    scale[i] = wd ? r * w : r;
  }
  const y = uninit(x, x.shape);
  k.channelAffine(x.data, mu.data, scale, bias ? bias.data : null, y.data, n, c, inner);
  a.mean = mu;
  a.variance = variance;
  a.rstd = rstd;
  return y;
}

function batchNormTrainVjp(g: Tensor, { inputs, attrs }: OpCall<BatchNormAttrs, BatchNormInputs>, need: readonly boolean[]): (Tensor | null)[] {
  const x = inputs[0];
  const { weight, bias, wi, bi, eps } = attrs;
  const out: (Tensor | null)[] = inputs.map(() => null);
  if (isGradEnabled()) {
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const { xhat, gx } = normalizeGradRecorded(x, g, axes, eps);
    if (need[0]) out[0] = gx(weight ? mul(g, reshape(weight, bshape)) : g);
    if (weight && need[wi]) out[wi] = sum(mul(g, xhat), axes);
    if (bias && need[bi]) out[bi] = sum(g, axes);
    return out;
  }
  const [n, c, inner] = channelView('batch_norm', x);
  const k = be(x);
  const mu = defined(attrs.mean, 'batch_norm kernel: batch mean'), rstd = defined(attrs.rstd, 'batch_norm kernel: rstd');
  const sg = empty(x, [c]), sgx = empty(x, [c]);
  k.channelGradSums(g.data, x.data, mu.data, n, c, inner, sg.data, sgx.data);
  const sgd = sg.data, sgxd = sgx.data;
  if (need[0]) {
    const count = n * inner;
    const a = allocate(x.dtype, c), b = allocate(x.dtype, c), dd = allocate(x.dtype, c);
    const wd = weight ? weight.data : null;
    for (let i = 0; i < c; i++) {
      const r = rstd[i], w = wd ? wd[i] : 1, s = sgd[i], sx = sgxd[i];
      if (r === undefined || w === undefined || s === undefined || sx === undefined) throw shortBuffer('batch_norm');
      const ws = w * r;
      a[i] = ws;
      b[i] = -ws * r * r * sx / count;
      dd[i] = -ws * s / count;
    }
    const gx = uninit(x, x.shape);
    k.channelAffineGrad(g.data, x.data, mu.data, a, b, dd, gx.data, n, c, inner);
    out[0] = gx;
  }
  if (weight && need[wi]) {
    const gw = empty(x, [c]);
    for (let i = 0; i < c; i++) {
      const sx = sgxd[i], r = rstd[i];
      if (sx === undefined || r === undefined) throw shortBuffer('batch_norm');
      gw.data[i] = sx * r;
    }
    out[wi] = gw;
  }
  if (bias && need[bi]) out[bi] = sg;
  return out;
}

/** Options of the batch-norm op: training mode, momentum and eps (PyTorch's defaults 0.1 and 1e-5). */
export interface BatchNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Train mode normalises with batch statistics and updates the running ones. */
  training: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * PyTorch's F.batch_norm over axis 1 of [N, C, *]. In training the running statistics are updated
 * in place (outside autograd) with the unbiased batch variance:
 * running = (1 - momentum) running + momentum batch.
 */
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  if (!hasMinRank(x.shape, 2)) throw new ShapeError(`batch_norm: input must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const c = x.shape[1];
  const eps = o.eps ?? 1e-5, momentum = o.momentum ?? 0.1;
  for (const [name, t] of [['weight', o.weight], ['bias', o.bias], ['running_mean', o.runningMean], ['running_var', o.runningVar]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new ShapeError(`batch_norm: ${name} ${shapeStr(t.shape)} does not match ${c} channels of input ${shapeStr(x.shape)}`);
  }
  const count = x.size / c;
  if (o.training) {
    if (count <= 1) throw new ShapeError(`batch_norm: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`);
    const { y: out, mean: mu, variance: v } = batchNormTrain(x, o.weight ?? null, o.bias ?? null, eps);
    if (o.runningMean && o.runningVar) {
      const rm = o.runningMean, rv = o.runningVar;
      noGrad(() => {
        const unbiased = count / (count - 1);
        for (let i = 0; i < c; i++) {
          const m = rm.data[i], bm = mu.data[i];
          if (m === undefined || bm === undefined) throw shortBuffer('batch_norm');
          rm.data[i] = (1 - momentum) * m + momentum * bm;
          const r = rv.data[i], bv = v.data[i];
          if (r === undefined || bv === undefined) throw shortBuffer('batch_norm');
          rv.data[i] = (1 - momentum) * r + momentum * bv * unbiased;
        }
      });
    }
    return out;
  } else {
    const { runningMean, runningVar } = o;
    if (!runningMean || !runningVar) throw new Error('batch_norm: eval mode needs running_mean and running_var');
    if (perSampleWanted(o.weight ?? null) || perSampleWanted(o.bias ?? null)) {
      // Per-sample gradients need weight and bias as direct inputs of the affine map, so the
      // statistics are applied first, as constants: one more pass over x, only in that mode.
      const rstd = noGrad(() => rsqrt(addScalar(runningVar, eps)));
      const xhat = channelScaleShift(x, rstd, noGrad(() => mulScalar(mul(runningMean, rstd), -1)));
      return channelScaleShift(xhat, o.weight ?? noGrad(() => addScalar(mulScalar(rstd, 0), 1)), o.bias ?? null);
    }
    // Fold the statistics into one scale and shift: one pass over x instead of four.
    let scale = rsqrt(addScalar(runningVar, eps));
    if (o.weight) scale = mul(scale, o.weight);
    let shift = mul(runningMean, scale);
    shift = o.bias ? sub(o.bias, shift) : mulScalar(shift, -1);
    return traceOp(NORM_OPS.batchNorm, [x, o.weight ?? null, o.bias ?? null, runningMean, runningVar], { eps }, channelScaleShift(x, scale, shift));
  }
}

/** PyTorch's F.layer_norm over the trailing `normalizedShape` axes (biased variance). */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError(`layer_norm: input ${shapeStr(x.shape)} does not end in normalized shape ${shapeStr(normalizedShape)}`);
  }
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const dim = numel(tail);
  if (x.size === 0 || dim === 0) {
    const d = sub(x, mean(x, axes, true));
    let y = mul(d, rsqrt(addScalar(mean(square(d), axes, true), eps)));
    if (weight) y = mul(y, weight);
    if (bias) y = add(y, bias);
    return y;
  }
  let y = normalizeRows(x, axes, dim, eps);
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return traceOp(NORM_OPS.layerNorm, [x, weight, bias], { axes: k, eps }, y);
}

/**
 * (x - mean) / sqrt(var + eps) over the trailing axes, each row of `dim` values on its own: the
 * per-channel kernels with the rows as channels ([1, rows, dim]). Same two-form vjp as batch norm:
 * the textbook formula in differentiable ops when the backward pass is recorded, two fused passes
 * otherwise.
 */
function normalizeRows(x: Tensor, axes: readonly number[], dim: number, eps: number): Tensor {
  return run(NORM_OPS.normalizeRows, [x], { axes, dim, eps });
}

function normalizeRowsKernel([x]: UnaryInputs, a: RowsAttrs): Tensor {
  const rows = x.size / a.dim;
  const k = be(x);
  const mu = empty(x, [rows]), variance = empty(x, [rows]);
  k.channelMoments(x.data, 1, rows, a.dim, mu.data, variance.data);
  const rstd = allocate(x.dtype, rows);
  const vd = variance.data;
  for (let i = 0; i < rows; i++) {
    const v = vd[i];
    if (v === undefined) throw shortBuffer('layer_norm');
    rstd[i] = 1 / Math.sqrt(v + a.eps);
  }
  const y = uninit(x, x.shape);
  k.channelAffine(x.data, mu.data, rstd, null, y.data, 1, rows, a.dim);
  a.mean = mu;
  a.rstd = rstd;
  return y;
}

function normalizeRowsVjp(g: Tensor, { inputs: [x], attrs }: OpCall<RowsAttrs, UnaryInputs>): Tensor[] {
  const { axes, dim, eps } = attrs;
  if (isGradEnabled()) return [normalizeGradRecorded(x, g, axes, eps).gx(g)];
  const mu = defined(attrs.mean, 'normalizeRows kernel: row means'), rstd = defined(attrs.rstd, 'normalizeRows kernel: rstd');
  const rows = x.size / dim;
  const k = be(x);
  const sg = empty(x, [rows]), sgx = empty(x, [rows]);
  k.channelGradSums(g.data, x.data, mu.data, 1, rows, dim, sg.data, sgx.data);
  const b = allocate(x.dtype, rows), dd = allocate(x.dtype, rows);
  const sgd = sg.data, sgxd = sgx.data;
  for (let i = 0; i < rows; i++) {
    const rs = rstd[i], s = sgd[i], sx = sgxd[i];
    if (rs === undefined || s === undefined || sx === undefined) throw shortBuffer('layer_norm');
    b[i] = -rs * rs * rs * sx / dim;
    dd[i] = -rs * s / dim;
  }
  const gx = uninit(x, x.shape);
  k.channelAffineGrad(g.data, x.data, mu.data, rstd, b, dd, gx.data, 1, rows, dim);
  return [gx];
}

/** Filled by the kernel: the statistics its fused vjp reuses. */
type Stats = { mean?: Tensor; variance?: Tensor; rstd?: FloatArray };
type BatchNormAttrs = Stats & { weight: Tensor | null; bias: Tensor | null; eps: number; wi: number; bi: number };
type RowsAttrs = Stats & { axes: readonly number[]; dim: number; eps: number };

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const NORM_OPS = opFamily({
  channelScaleShift: {
    curvature: 'bilinear',
    kernel: ([x, s, t]: ScaleShiftInputs) => {
      const [n, c, inner] = channelView('channelScaleShift', x);
      const out = uninit(x, x.shape);
      be(x).channelAffine(x.data, null, s.data, t ? t.data : null, out.data, n, c, inner);
      return out;
    },
    vjp: (g: Tensor, { inputs: [x, s, t] }: OpCall<unknown, ScaleShiftInputs>, need: readonly boolean[]) => {
      const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
      return [
        need[0] ? channelScaleShift(g, s, null) : null,
        need[1] ? reshape(sum(mul(g, x), axes), s.shape) : null,
        t && need[2] ? reshape(sum(g, axes), t.shape) : null,
      ];
    },
    perSample: { inputs: [1, 2], rule: perSampleScaleShift },
    onnx: (c: OnnxCall<unknown>) => {
      const x = onnxOperand(c, 0);
      const perChannel = [shapeMin('channelScaleShift', x.shape, 2)[1], ...Array<number>(x.ndim - 2).fill(1)];
      const asChannels = (name: string): string => c.emit.node('Reshape', [name, c.emit.constI64(perChannel)]);
      const shift = c.names[2];
      const scaled = c.emit.node('Mul', [onnxInput(c, 0), asChannels(onnxInput(c, 1))], [], shift ? undefined : c.out);
      if (shift) c.emit.node('Add', [scaled, asChannels(shift)], [], c.out);
    },
  },
  /** Training-mode batch norm (see batchNormTrain). */
  batchNormTrain: { kernel: batchNormTrainKernel, vjp: batchNormTrainVjp },
  /** Eval-mode batch norm: channelScaleShift with the folded statistics, so only traced. */
  batchNorm: {
    curvature: 'bilinear',
    onnx: (c: OnnxCall<{ eps: number }>) => {
      const ch = shapeMin('batch_norm', onnxOperand(c, 0).shape, 2)[1];
      const [, , , mean, vari] = c.names;
      if (!mean || !vari) throw new OnnxRuleError('batch norm without running statistics cannot be exported (it normalises with batch statistics)');
      const scale = c.names[1] ?? c.emit.constF32(new Float32Array(ch).fill(1), [ch]);
      const shift = c.names[2] ?? c.emit.constF32(new Float32Array(ch), [ch]);
      c.emit.node('BatchNormalization', [onnxInput(c, 0), scale, shift, mean, vari], [{ name: 'epsilon', float: c.attrs.eps }], c.out);
    },
  },
  /** (x - mean) / sqrt(var + eps) over the trailing axes (see normalizeRows). */
  normalizeRows: { kernel: normalizeRowsKernel, vjp: normalizeRowsVjp },
  /** normalizeRows, then the affine map: only traced. */
  layerNorm: {
    onnx: (c: OnnxCall<{ axes: number; eps: number }>) => {
      const x = onnxOperand(c, 0);
      const k = c.attrs.axes;
      const norm = x.shape.slice(x.ndim - k);
      const scale = c.names[1] ?? c.emit.constF32(new Float32Array(norm.reduce((p, d) => p * d, 1)).fill(1), norm);
      const ins = [onnxInput(c, 0), scale];
      if (c.names[2]) ins.push(c.names[2]);
      c.emit.node('LayerNormalization', ins, [{ name: 'axis', int: -k }, { name: 'epsilon', float: c.attrs.eps }], c.out);
    },
  },
});
