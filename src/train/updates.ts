// The optimisers' per-element update rules (optim.ts keeps the rest of each optimiser): plain indexed
// loops over a parameter's values, its gradient and its state buffers, run once per training step
// over every weight. Each rule stores intermediate values (the momentum buffer, AdamW's decayed
// weight and moments) and reads them back as stored, rounded to the parameter's dtype, as PyTorch
// does. Every read is checked in the loop (if (v === undefined) throw), which costs nothing for an
// index inside the array where a helper call per element would.

import type { FloatArray } from '../kernels/interface.js';

function shorter(who: string): RangeError {
  return new RangeError(`internal: ${who}: a gradient or state buffer is shorter than its parameter`);
}

/** Plain SGD: w = w − lr·(g + wd·w). */
export function sgdUpdate(w: FloatArray, g: FloatArray, lr: number, wd: number): void {
  for (let k = 0; k < w.length; k++) {
    const wk = w[k], gk = g[k];
    if (wk === undefined || gk === undefined) throw shorter('SGD');
    w[k] = wk - lr * (gk + wd * wk);
  }
}

/**
 * SGD with momentum: d = g + wd·w; buf = d at the first step, else μ·buf + damp·d; then
 * w = w − lr·(d + μ·buf) (Nesterov) or w − lr·buf.
 */
export function sgdMomentumUpdate(w: FloatArray, g: FloatArray, buf: FloatArray, first: boolean, lr: number, mu: number, damp: number, wd: number, nesterov: boolean): void {
  for (let k = 0; k < w.length; k++) {
    const wk = w[k], gk = g[k], bk = buf[k];
    if (wk === undefined || gk === undefined || bk === undefined) throw shorter('SGD');
    const d = gk + wd * wk;
    buf[k] = first ? d : mu * bk + damp * d;
    // The update uses the buffer as stored (rounded to the parameter's dtype), as PyTorch does.
    const b = buf[k];
    if (b === undefined) throw shorter('SGD');
    w[k] = wk - lr * (nesterov ? d + mu * b : b);
  }
}

/** The coefficients of one AdamW step (see AdamW in optim.ts). */
export interface AdamWStep {
  /** 1 − lr·weightDecay. */
  decay: number;
  /** 1 − β1. */
  w1: number;
  b2: number;
  /** 1 − β2. */
  w2: number;
  /** lr / (1 − β1^t). */
  stepSize: number;
  /** sqrt(1 − β2^t). */
  bc2sqrt: number;
  eps: number;
}

/** AdamW on one parameter: m, v (and vmax with AMSGrad) are its state buffers. */
export function adamwUpdate(w: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, vmax: FloatArray | null, c: AdamWStep): void {
  const { decay, w1, b2, w2, stepSize, bc2sqrt, eps } = c;
  for (let k = 0; k < w.length; k++) {
    const w0 = w[k], gk = g[k], mk = m[k], v0 = v[k];
    if (w0 === undefined || gk === undefined || mk === undefined || v0 === undefined) throw shorter('AdamW');
    w[k] = w0 * decay;
    // torch.lerp's formula for weights below 0.5 (1 - β1 is 0.1 by default), mirrored above it.
    m[k] = w1 < 0.5 ? mk + w1 * (gk - mk) : gk - (gk - mk) * (1 - w1);
    v[k] = v0 * b2 + w2 * gk * gk;
    // The rest reads w, m and v as stored.
    const ws = w[k], ms = m[k];
    let vk = v[k];
    if (ws === undefined || ms === undefined || vk === undefined) throw shorter('AdamW');
    if (vmax !== null) {
      const vm = vmax[k];
      if (vm === undefined) throw shorter('AdamW');
      vmax[k] = Math.max(vm, vk);
      vk = vmax[k];
      if (vk === undefined) throw shorter('AdamW');
    }
    w[k] = ws - stepSize * (ms / (Math.sqrt(vk) / bc2sqrt + eps));
  }
}
