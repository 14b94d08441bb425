// Reductions of per-sample convolution weight gradients (see Backend.conv2dWeightGradMoments and
// conv2dWeightGradProbeDot). The reference form is the definition itself: one batch-1 weight
// gradient per sample, then the sums.

import type { Conv2dParams, FloatArray } from '../interface.js';
import { conv2dBackwardWeight } from './conv.js';

/** Calls each(n, G_n) with the batch-1 weight gradient of every sample in turn (one scratch buffer). */
function forEachSample(x: FloatArray, gy: FloatArray, p: Conv2dParams, who: string, each: (n: number, g: FloatArray) => void): void {
  const xs = p.c * p.h * p.w, ys = p.oc * p.oh * p.ow, ws = weightSize(p);
  if (x.length !== p.n * xs || gy.length !== p.n * ys) throw new Error(`${who}: input buffers have ${x.length} and ${gy.length} elements, need ${p.n * xs} and ${p.n * ys}`);
  const q: Conv2dParams = { ...p, n: 1 };
  const g = x instanceof Float64Array ? new Float64Array(ws) : new Float32Array(ws);
  for (let n = 0; n < p.n; n++) {
    conv2dBackwardWeight(x.subarray(n * xs, (n + 1) * xs), gy.subarray(n * ys, (n + 1) * ys), g, q);
    each(n, g);
  }
}

function weightSize(p: Conv2dParams): number {
  return p.oc * (p.c / p.groups) * p.kh * p.kw;
}

export function conv2dWeightGradMoments(x: FloatArray, gy: FloatArray, sum: FloatArray | null, sumSq: FloatArray, p: Conv2dParams): void {
  const ws = weightSize(p);
  if (sumSq.length !== ws || (sum !== null && sum.length !== ws)) throw new Error(`conv2dWeightGradMoments: accumulators must have ${ws} elements`);
  forEachSample(x, gy, p, 'conv2dWeightGradMoments', (_n, g) => {
    for (let i = 0; i < ws; i++) {
      const v = g[i]!;
      if (sum) sum[i] = sum[i]! + v;
      sumSq[i] = sumSq[i]! + v * v;
    }
  });
}

export function conv2dWeightGradProbeDot(x: FloatArray, gy: FloatArray, z: FloatArray, acc: FloatArray, p: Conv2dParams): void {
  const ws = weightSize(p);
  if (acc.length !== ws || z.length !== p.n * ws) throw new Error(`conv2dWeightGradProbeDot: acc must have ${ws} elements and z ${p.n * ws}`);
  forEachSample(x, gy, p, 'conv2dWeightGradProbeDot', (n, g) => {
    for (let i = 0; i < ws; i++) acc[i] = acc[i]! + z[n * ws + i]! * g[i]!;
  });
}
