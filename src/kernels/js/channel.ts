// Per-channel kernels over [n, c, inner] views (see interface.ts). Plain loops, float64 sums.

import type { FloatArray } from '../interface.js';

function checkLen(what: string, a: FloatArray, n: number): void {
  if (a.length !== n) throw new Error(`${what}: buffer has ${a.length} elements, needs ${n}`);
}

export function channelMoments(x: FloatArray, n: number, c: number, inner: number, mean: FloatArray, variance: FloatArray): void {
  checkLen('channelMoments x', x, n * c * inner);
  checkLen('channelMoments mean', mean, c);
  checkLen('channelMoments variance', variance, c);
  const count = n * inner;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * inner;
      for (let j = 0; j < inner; j++) s += x[o + j]!;
    }
    const mu = s / count;
    // Two passes: the centred sum of squares has no cancellation.
    let q = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * inner;
      for (let j = 0; j < inner; j++) { const d = x[o + j]! - mu; q += d * d; }
    }
    mean[ch] = mu;
    variance[ch] = q / count;
  }
}

export function channelAffine(x: FloatArray, m: FloatArray | null, a: FloatArray, d: FloatArray | null, out: FloatArray,
  n: number, c: number, inner: number): void {
  checkLen('channelAffine x', x, n * c * inner);
  checkLen('channelAffine out', out, n * c * inner);
  checkLen('channelAffine a', a, c);
  if (m) checkLen('channelAffine m', m, c);
  if (d) checkLen('channelAffine d', d, c);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * inner;
      const mc = m ? m[ch]! : 0, ac = a[ch]!, dc = d ? d[ch]! : 0;
      for (let j = 0; j < inner; j++) out[o + j] = (x[o + j]! - mc) * ac + dc;
    }
  }
}

export function channelGradSums(g: FloatArray, x: FloatArray, m: FloatArray, n: number, c: number, inner: number,
  sg: FloatArray, sgx: FloatArray): void {
  checkLen('channelGradSums g', g, n * c * inner);
  checkLen('channelGradSums x', x, n * c * inner);
  checkLen('channelGradSums m', m, c);
  checkLen('channelGradSums sg', sg, c);
  checkLen('channelGradSums sgx', sgx, c);
  for (let ch = 0; ch < c; ch++) {
    const mc = m[ch]!;
    let s1 = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * inner;
      for (let j = 0; j < inner; j++) { const gv = g[o + j]!; s1 += gv; s2 += gv * (x[o + j]! - mc); }
    }
    sg[ch] = s1;
    sgx[ch] = s2;
  }
}

export function channelAffineGrad(g: FloatArray, x: FloatArray, m: FloatArray, a: FloatArray, b: FloatArray, d: FloatArray,
  out: FloatArray, n: number, c: number, inner: number): void {
  for (const [w, t, len] of [['g', g, n * c * inner], ['x', x, n * c * inner], ['out', out, n * c * inner],
    ['m', m, c], ['a', a, c], ['b', b, c], ['d', d, c]] as const) checkLen(`channelAffineGrad ${w}`, t, len);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * inner;
      const mc = m[ch]!, ac = a[ch]!, bc = b[ch]!, dc = d[ch]!;
      for (let j = 0; j < inner; j++) out[o + j] = g[o + j]! * ac + (x[o + j]! - mc) * bc + dc;
    }
  }
}
