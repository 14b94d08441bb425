// Conv (2-D). ONNX pads may differ before and after; symmetric ones go to the convolution, others
// are applied first as explicit zero padding, which is the same function.

import type { Tensor } from '../../../tensor/tensor.js';
import * as ops from '../../../autograd/ops/index.js';
import { hasLength } from '../../../tensor/checked.js';
import { hasRank } from '../../../tensor/shape.js';
import type { ImportRule, NodeView } from '../rule.js';
import { asTensor } from '../value.js';

export interface Window2d {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
}

/** Kernel, strides, dilations and pads of a 2-D window op, with auto_pad resolved. */
export function window2d(n: NodeView, x: Tensor, kernel: readonly number[] | undefined): Window2d {
  if (!hasRank(x.shape, 4)) throw n.error(`pai imports 2-D ${n.node.opType} only (input [N, C, H, W]), got input of shape [${x.shape.join(', ')}]`);
  if (!kernel || !hasLength(kernel, 2)) throw n.error(`kernel_shape must have 2 entries, got ${JSON.stringify(kernel)}`);
  const two = (name: string, def: number): [number, number] => {
    const v = n.ints(name) ?? [def, def];
    if (!hasLength(v, 2)) throw n.error(`${name} must have 2 entries, got ${JSON.stringify(v)}`);
    return [v[0], v[1]];
  };
  const strides = two('strides', 1), dilations = two('dilations', 1);
  const autoPad = n.str('auto_pad', 'NOTSET');
  let pads: [number, number, number, number];
  if (autoPad === 'NOTSET') {
    const p = n.ints('pads') ?? [0, 0, 0, 0];
    if (!hasLength(p, 4) || p.some((v) => v < 0)) throw n.error(`pads must be 4 non-negative entries, got ${JSON.stringify(p)}`);
    pads = [p[0], p[1], p[2], p[3]];
  } else if (autoPad === 'VALID') {
    pads = [0, 0, 0, 0];
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    // The padding that keeps ceil(size / stride) outputs along one axis.
    const same = (size: number, stride: number, k: number, dilation: number): number => {
      const out = Math.ceil(size / stride);
      return Math.max(0, (out - 1) * stride + (k - 1) * dilation + 1 - size);
    };
    const [, , h, w] = x.shape;
    const total: [number, number] = [same(h, strides[0], kernel[0], dilations[0]), same(w, strides[1], kernel[1], dilations[1])];
    const small: [number, number] = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)];
    const big: [number, number] = [total[0] - small[0], total[1] - small[1]];
    pads = autoPad === 'SAME_UPPER' ? [small[0], small[1], big[0], big[1]] : [big[0], big[1], small[0], small[1]];
  } else {
    throw n.error(`auto_pad ${autoPad} is not an ONNX value`);
  }
  return { kernel: [kernel[0], kernel[1]], strides, dilations, pads };
}

/** Pads that differ before and after, applied explicitly; returns the input and the symmetric rest. */
export function splitPads(x: Tensor, w: Window2d, value: number): { x: Tensor; padding: [number, number] } {
  const [t, l, b, r] = w.pads;
  if (t === b && l === r) return { x, padding: [t, l] };
  return { x: ops.padAxes(x, [[0, 0], [0, 0], [t, b], [l, r]], value), padding: [0, 0] };
}

const conv: ImportRule = {
  domain: '', opType: 'Conv', since: 11,
  run: (ins, n, ctx) => {
    const x0 = asTensor(n.need(ins, 0, 'X'), ctx), w = asTensor(n.need(ins, 1, 'W'), ctx);
    const b = ins[2] ? asTensor(ins[2], ctx) : null;
    const win = window2d(n, x0, n.ints('kernel_shape') ?? w.shape.slice(2));
    const { x, padding } = splitPads(x0, win, 0);
    return [ops.conv2d(x, w, b, { stride: win.strides, padding, dilation: win.dilations, groups: n.int('group', 1) })];
  },
};

export const RULES: ImportRule[] = [conv];
