// Pooling: MaxPool, AveragePool and GlobalAveragePool over [N, C, H, W].

import * as ops from '../../../autograd/ops/index.js';
import type { ImportRule } from '../rule.js';
import { asTensor } from '../value.js';
import { splitPads, window2d } from './conv.js';

const maxPool: ImportRule = {
  domain: '', opType: 'MaxPool', since: 12,
  run: (ins, n, ctx) => {
    if (n.node.outputs.length > 1 && n.node.outputs[1]) throw n.error('the Indices output is not supported');
    if (n.int('storage_order', 0) !== 0) throw n.error('storage_order 1 (column-major indices) is not supported');
    const x0 = asTensor(n.need(ins, 0, 'X'), ctx);
    const win = window2d(n, x0, n.ints('kernel_shape'));
    const { x, padding } = splitPads(x0, win, -Infinity);
    return [ops.maxPool2d(x, win.kernel, { stride: win.strides, padding, dilation: win.dilations, ceilMode: n.int('ceil_mode', 0) !== 0 })];
  },
};

const averagePool: ImportRule = {
  domain: '', opType: 'AveragePool', since: 11,
  run: (ins, n, ctx) => {
    const x0 = asTensor(n.need(ins, 0, 'X'), ctx);
    const win = window2d(n, x0, n.ints('kernel_shape'));
    if (win.dilations.some((d) => d !== 1)) throw n.error('dilated average pooling is not supported');
    const countIncludePad = n.int('count_include_pad', 0) !== 0;
    const [t, l, b, r] = win.pads;
    if (!countIncludePad && (t !== b || l !== r)) throw n.error('asymmetric pads with count_include_pad 0 are not supported');
    const { x, padding } = splitPads(x0, win, 0);
    return [ops.avgPool2d(x, win.kernel, { stride: win.strides, padding, ceilMode: n.int('ceil_mode', 0) !== 0, countIncludePad })];
  },
};

const globalAveragePool: ImportRule = {
  domain: '', opType: 'GlobalAveragePool', since: 1,
  run: (ins, n, ctx) => {
    const x = asTensor(n.need(ins, 0, 'X'), ctx);
    if (x.ndim < 3) throw n.error(`input must be [N, C, spatial...], got [${x.shape.join(', ')}]`);
    if (x.ndim === 4) return [ops.adaptiveAvgPool2d(x, 1)];
    return [ops.mean(x, x.shape.slice(2).map((_, i) => i + 2), true)];
  },
};

export const RULES: ImportRule[] = [maxPool, averagePool, globalAveragePool];
