// Matrix products. One recorded primitive, mm(a, b, transA, transB) on [batch, rows, cols] tensors,
// whose gradients are mm again with other transpose flags; matmul and linear reshape around it.

import { Tensor } from '../../tensor/tensor.js';
import { hasRank, shapeN, shapeStr, broadcastShapes, ShapeError } from '../../tensor/shape.js';
import { onnxInput, onnxOperand, onnxSimple, opFamily, type BinaryInputs, type OnnxCall, type OpCall } from '../op.js';
import { run } from '../tape.js';
import { traceOp } from '../trace.js';
import { be, checkSameDtype, uninit } from './util.js';
import { expand, reshape, squeeze, unsqueeze } from './shape.js';
import { add, mul } from './elementwise.js';
import { sum } from './broadcast.js';
import { channelScaleShift } from './norm.js';
import { addProbeTerm, perSampleAlias, perSampleBatch, perSampleMode, perSampleProbe, perSampleUnsupported, perSampleWanted, reportPerSample, reportPerSampleDirect } from '../per-sample.js';
import type { FloatArray } from '../../kernels/interface.js';

type MmAttrs = { transA: boolean; transB: boolean; batch: number; m: number; n: number; k: number };

/** @internal One family of the op table (see ops/table.ts, whose OPS is the public view). */
export const LINALG_OPS = opFamily({
  /** The batched matrix product under matmul and linear (see mm below). */
  mm: {
    curvature: 'bilinear',
    kernel: ([a, b]: BinaryInputs, { transA, transB, batch, m, k, n }: MmAttrs) => {
      const [ba, ar, ac] = a.shape as [number, number, number];
      const [bb, br, bc] = b.shape as [number, number, number];
      const out = uninit(a, [batch, m, n]);
      be(a).matmul(a.data, b.data, out.data, {
        batch, m, k, n, transA, transB,
        aBatchStride: ba === 1 ? 0 : ar * ac, bBatchStride: bb === 1 ? 0 : br * bc, accumulate: false,
      });
      return out;
    },
    vjp: (g: Tensor, { inputs: [a, b], attrs: { transA, transB, batch } }: OpCall<MmAttrs, BinaryInputs>, need: readonly boolean[]) => {
      let ga: Tensor | null = null, gb: Tensor | null = null;
      if (need[0]) {
        ga = transA ? mm(b, g, transB, true) : mm(g, b, false, !transB);
        if (a.shape[0] === 1 && batch > 1) ga = sum(ga, 0, true);
      }
      if (need[1]) {
        gb = transB ? mm(g, a, true, transA) : mm(a, g, !transA, false);
        if (b.shape[0] === 1 && batch > 1) gb = sum(gb, 0, true);
      }
      return [ga, gb];
    },
    perSample: { inputs: [1], rule: perSampleMm },
  },
  /** torch.matmul: reshapes around mm, so only traced. */
  matmul: { onnx: onnxSimple('MatMul'), curvature: 'bilinear' },
  /** x @ wᵀ + b: mm and add, so only traced. */
  linear: {
    curvature: 'bilinear',
    onnx: (c: OnnxCall<unknown>) => {
      const x = onnxInput(c, 0), w = onnxInput(c, 1), bias = c.names[2];
      if (onnxOperand(c, 0).ndim === 2) {
        c.emit.node('Gemm', bias ? [x, w, bias] : [x, w], [{ name: 'transB', int: 1 }], c.out);
        return;
      }
      const wt = c.emit.node('Transpose', [w], [{ name: 'perm', ints: [1, 0] }]);
      if (!bias) { c.emit.node('MatMul', [x, wt], [], c.out); return; }
      c.emit.node('Add', [c.emit.node('MatMul', [x, wt]), bias], [], c.out);
    },
  },
});

/**
 * out[i] = op(a[i]) @ op(b[i]) for 3-d a, b (op = transpose of the last two axes when the flag is
 * set). A batch of 1 broadcasts over the other operand's batch.
 */
export function mm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  checkSameDtype('matmul', a, b);
  if (a.ndim !== 3 || b.ndim !== 3) throw new ShapeError(`matmul: internal mm needs 3-d operands, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [ba, ar, ac] = a.shape as [number, number, number];
  const [bb, br, bc] = b.shape as [number, number, number];
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  if (k !== kb) {
    throw new ShapeError(`matmul: inner dimensions differ: ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} @ ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''} (${k} vs ${kb})`);
  }
  if (ba !== bb && ba !== 1 && bb !== 1) throw new ShapeError(`matmul: batch sizes ${ba} and ${bb} differ`);
  return run(LINALG_OPS.mm, [a, b], { transA, transB, batch: Math.max(ba, bb), m, k, n });
}

// The per-sample rule of mm for a registered right operand (the linear layer's weight, and in a
// second backward pass the same weight in the first pass's input gradient): a's rows are the
// samples' rows in order, so the weight gradient splits into one small product per sample.
function perSampleMm(g: Tensor, { inputs: [a, b], attrs: { transA, transB } }: OpCall<MmAttrs, BinaryInputs>): void {
  perSampleMmRule(a, b, g, transA, transB);
}

function perSampleMmRule(a: Tensor, b: Tensor, g: Tensor, transA: boolean, transB: boolean): void {
  const N = perSampleBatch();
  const [ba, rows, k] = a.shape as [number, number, number];
  if (ba !== 1 || b.shape[0] !== 1 || transA || rows % N !== 0) return perSampleUnsupported(`matmul of ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} by a parameter: no per-sample rule for this layout`);
  const T = rows / N, n = shapeN('matmul', g.shape, 3, 'output gradient')[2];
  if (perSampleMode() === 'report') {
    const stacks = (s: number, c: number): Tensor => {
      const as = new Tensor(a.data.subarray(s * T * k, (s + c) * T * k), [c, T, k]);
      const gs = new Tensor(g.data.subarray(s * T * n, (s + c) * T * n), [c, T, n]);
      return transB ? mm(gs, as, true, false) : mm(as, gs, true, false);
    };
    if (T !== 1) return reportPerSample(b, stacks);
    // One row per sample: the gradient of sample r is the outer product of its rows of a and g, so
    // Σ_r g_r = aᵀ g and Σ_r g_r² = (a∘a)ᵀ (g∘g) (transposed for a transposed weight): two products.
    reportPerSampleDirect(b, a.data, { moments: (sm, sq) => {
      const kb = be(a);
      const prod = (av: FloatArray, gv: FloatArray, out: FloatArray): void => kb.matmul(transB ? gv : av, transB ? av : gv, out, {
        batch: 1, m: transB ? n : k, k: rows, n: transB ? k : n, transA: true, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: true,
      });
      if (sm) prod(a.data, g.data, sm);
      const a2 = a.data.slice(), g2 = g.data.slice();
      kb.unary('square', a2, a2);
      kb.unary('square', g2, g2);
      prod(a2, g2, sq);
    } }, stacks);
    return;
  }
  // Σ_n <gradient of sample n, z_n> = Σ_n <g_n, a_n op(z_n)>, recorded.
  const z = perSampleProbe(b);
  if (z) addProbeTerm(sum(mul(reshape(g, [N, T, n]), mm(reshape(a, [N, T, k]), reshape(z, [N, ...b.shape.slice(1)]), false, transB))));
}

/** torch.matmul: 1-d operands are promoted and squeezed back; batch axes broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: scalars are not matrices: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, -1) : b;
  const batchA = a2.shape.slice(0, -2), batchB = b2.shape.slice(0, -2);
  const [m, k] = a2.shape.slice(-2) as [number, number];
  const [k2, n] = b2.shape.slice(-2) as [number, number];
  // Checked here so the messages show the caller's shapes, not the 3-d ones mm sees.
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)} (${k} vs ${k2})`);
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', batchA, batchB);
  } catch {
    throw new ShapeError(`matmul: batch dimensions of ${shapeStr(a.shape)} @ ${shapeStr(b.shape)} cannot be broadcast`);
  }
  const nb = batch.reduce((p, d) => p * d, 1);
  const flat = (t: Tensor, bs: readonly number[], r: number, c: number): Tensor => {
    const cnt = bs.reduce((p, d) => p * d, 1);
    if (cnt === 1) return reshape(t, [1, r, c]);
    const e = bs.length === batch.length && bs.every((d, i) => d === batch[i]) ? t : expand(t, [...batch, r, c]);
    return reshape(e, [nb, r, c]);
  };
  let out = mm(flat(a2, batchA, m, k), flat(b2, batchB, k2, n));
  out = reshape(out, [...batch, m, n]);
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return traceOp(LINALG_OPS.matmul, [a, b], {}, out);
}

/** x @ wᵀ + b, with x [..., in], w [out, in], b [out]. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  if (!hasRank(w.shape, 2)) throw new ShapeError(`linear: weight must be 2-d [out, in], got ${shapeStr(w.shape)}`);
  const [outF, inF] = w.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not end in ${inF} features (weight ${shapeStr(w.shape)})`);
  }
  if (b && (b.ndim !== 1 || b.shape[0] !== outF)) throw new ShapeError(`linear: bias ${shapeStr(b.shape)} does not match ${outF} outputs`);
  const rows = x.size / inF;
  if (perSampleWanted(w) || perSampleWanted(b)) {
    // Per-sample gradients: the weight enters mm as a registered alias, and the bias of a [N, in]
    // input enters the per-channel affine map, both of which have per-sample rules.
    const w3 = reshape(w, [1, outF, inF]);
    perSampleAlias(w3, w);
    const y = mm(reshape(x, [1, rows, inF]), w3, false, true);
    if (!b) return reshape(y, [...x.shape.slice(0, -1), outF]);
    if (x.ndim !== 2) return reshape(add(y, b), [...x.shape.slice(0, -1), outF]);
    const ones = new Tensor(b.data.slice().fill(1), b.shape);
    return channelScaleShift(reshape(y, [rows, outF]), ones, b);
  }
  let y = mm(reshape(x, [1, rows, inF]), reshape(w, [1, outF, inF]), false, true);
  if (b) y = add(y, b);
  return traceOp(LINALG_OPS.linear, [x, w, b], {}, reshape(y, [...x.shape.slice(0, -1), outF]));
}
