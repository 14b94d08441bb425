// The reference of Backend.fmaPeak: one chain of acc = acc * scale + shift, rounded to the output's
// precision each round as a fused multiply-add rounds once. The native backend runs many vector
// chains in every thread for the machine's peak; the value a chain ends with is the same.

import type { FloatArray } from '../interface.js';

export function fmaPeak(iters: number, scale: number, shift: number, out: FloatArray): void {
  if (out.length < 3) throw new Error(`fmaPeak: out needs 3 values, got ${out.length}`);
  const round = out instanceof Float32Array ? Math.fround : (v: number): number => v;
  let acc = 0;
  for (let i = 0; i < iters; i++) acc = round(acc * scale + shift);
  out[0] = acc;
  out[1] = 2;
  out[2] = 1;
}
