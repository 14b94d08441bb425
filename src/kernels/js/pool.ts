// Pooling over NCHW planes with PyTorch's window rules. The backward kernels are written as the exact
// adjoints of their forward kernels (same windows, same divisors), which is what autograd needs.

import type { AdaptivePool2dParams, FloatArray, Pool2dParams } from '../interface.js';

function checkPool(p: Pool2dParams, xLen: number, yLen: number, who: string): void {
  const { n, c, h, w, oh, ow } = p;
  if (xLen !== n * c * h * w) throw new Error(`${who}: input buffer has ${xLen} elements, needs ${n * c * h * w}`);
  if (yLen !== n * c * oh * ow) throw new Error(`${who}: output buffer has ${yLen} elements, needs ${n * c * oh * ow}`);
  if (p.strideH < 1 || p.strideW < 1 || p.kh < 1 || p.kw < 1) throw new Error(`${who}: bad kernel or stride`);
}

/** First tap index t >= 0 of a window starting at `start` with spacing `dil` that lands at >= 0. */
function firstTap(start: number, dil: number): number {
  return start >= 0 ? 0 : Math.ceil(-start / dil);
}

export function maxPool2d(x: FloatArray, out: FloatArray, idx: Int32Array, p: Pool2dParams): void {
  checkPool(p, x.length, out.length, 'maxPool2d');
  if (idx.length !== out.length) throw new Error(`maxPool2d: idx has ${idx.length} elements, needs ${out.length}`);
  const { n, c, h, w, oh, ow, kh, kw, strideH, strideW, padH, padW } = p;
  const dilH = p.dilH || 1, dilW = p.dilW || 1;
  const plane = h * w;
  for (let pl = 0; pl < n * c; pl++) {
    const xBase = pl * plane;
    const oBase = pl * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * strideH - padH;
      const tyLo = firstTap(y0, dilH);
      const tyHi = Math.min(kh, Math.floor((h - 1 - y0) / dilH) + 1);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * strideW - padW;
        const txLo = firstTap(x0, dilW);
        const txHi = Math.min(kw, Math.floor((w - 1 - x0) / dilW) + 1);
        // Like PyTorch, the index starts at the first in-image tap, so an all -inf window still
        // points into its own window; -1 only when the window misses the image entirely.
        let best = -Infinity;
        let bestIdx = tyLo < tyHi && txLo < txHi ? xBase + (y0 + tyLo * dilH) * w + x0 + txLo * dilW : -1;
        let sawNaN = false;
        for (let ty = tyLo; ty < tyHi && !sawNaN; ty++) {
          const row = xBase + (y0 + ty * dilH) * w + x0;
          for (let tx = txLo; tx < txHi; tx++) {
            const j = row + tx * dilW;
            const v = x[j]!;
            // Strict > keeps the first maximum; the first NaN wins and ends the search.
            if (v > best) { best = v; bestIdx = j; }
            else if (v !== v) { best = v; bestIdx = j; sawNaN = true; break; }
          }
        }
        out[oBase + oy * ow + ox] = best;
        idx[oBase + oy * ow + ox] = bestIdx;
      }
    }
  }
}

/**
 * Average windows along one axis, following PyTorch: the window end is first clipped to size + pad
 * (its length then is the count-include-pad divisor factor), then both ends are clipped to the input.
 * The 2-d divisor is the product of the row and column factors.
 */
interface AvgAxis { lo: Int32Array; hi: Int32Array; padded: Int32Array }

function avgAxis(outSize: number, size: number, k: number, stride: number, pad: number): AvgAxis {
  const lo = new Int32Array(outSize), hi = new Int32Array(outSize), padded = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - pad;
    const end = Math.min(start + k, size + pad);
    padded[o] = end - start;
    lo[o] = Math.max(start, 0);
    hi[o] = Math.min(end, size);
  }
  return { lo, hi, padded };
}

function avgDivisor(p: Pool2dParams, ry: AvgAxis, rx: AvgAxis, oy: number, ox: number): number {
  if (p.divisorOverride > 0) return p.divisorOverride;
  if (p.countIncludePad) return ry.padded[oy]! * rx.padded[ox]!;
  return (ry.hi[oy]! - ry.lo[oy]!) * (rx.hi[ox]! - rx.lo[ox]!);
}

export function avgPool2d(x: FloatArray, out: FloatArray, p: Pool2dParams): void {
  checkPool(p, x.length, out.length, 'avgPool2d');
  const { n, c, h, w, oh, ow } = p;
  const ry = avgAxis(oh, h, p.kh, p.strideH, p.padH);
  const rx = avgAxis(ow, w, p.kw, p.strideW, p.padW);
  const plane = h * w;
  for (let pl = 0; pl < n * c; pl++) {
    const xBase = pl * plane;
    const oBase = pl * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const yLo = ry.lo[oy]!, yHi = ry.hi[oy]!;
      for (let ox = 0; ox < ow; ox++) {
        const xLo = rx.lo[ox]!, xHi = rx.hi[ox]!;
        // A window that misses the image gives 0, as in PyTorch (not 0 / 0).
        if (yLo >= yHi || xLo >= xHi) { out[oBase + oy * ow + ox] = 0; continue; }
        let s = 0;
        for (let iy = yLo; iy < yHi; iy++) for (let ix = xLo; ix < xHi; ix++) s += x[xBase + iy * w + ix]!;
        out[oBase + oy * ow + ox] = s / avgDivisor(p, ry, rx, oy, ox);
      }
    }
  }
}

export function avgPool2dBackward(gy: FloatArray, gx: FloatArray, p: Pool2dParams): void {
  checkPool(p, gx.length, gy.length, 'avgPool2dBackward');
  const { n, c, h, w, oh, ow } = p;
  const ry = avgAxis(oh, h, p.kh, p.strideH, p.padH);
  const rx = avgAxis(ow, w, p.kw, p.strideW, p.padW);
  const plane = h * w;
  const acc = new Float64Array(plane);
  for (let pl = 0; pl < n * c; pl++) {
    acc.fill(0);
    const oBase = pl * oh * ow;
    for (let oy = 0; oy < oh; oy++) {
      const yLo = ry.lo[oy]!, yHi = ry.hi[oy]!;
      for (let ox = 0; ox < ow; ox++) {
        const xLo = rx.lo[ox]!, xHi = rx.hi[ox]!;
        if (yLo >= yHi || xLo >= xHi) continue;
        const g = gy[oBase + oy * ow + ox]! / avgDivisor(p, ry, rx, oy, ox);
        for (let iy = yLo; iy < yHi; iy++) for (let ix = xLo; ix < xHi; ix++) acc[iy * w + ix]! += g;
      }
    }
    const xBase = pl * plane;
    for (let i = 0; i < plane; i++) gx[xBase + i] = acc[i]!;
  }
}

function checkAdaptive(p: AdaptivePool2dParams, xLen: number, yLen: number, who: string): void {
  const { n, c, h, w, oh, ow } = p;
  if (xLen !== n * c * h * w) throw new Error(`${who}: input buffer has ${xLen} elements, needs ${n * c * h * w}`);
  if (yLen !== n * c * oh * ow) throw new Error(`${who}: output buffer has ${yLen} elements, needs ${n * c * oh * ow}`);
}

/** Input range [floor(i size / out), ceil((i + 1) size / out)) in exact integer arithmetic. */
function adaptiveStart(i: number, size: number, outSize: number): number {
  return Math.floor((i * size) / outSize);
}
function adaptiveEnd(i: number, size: number, outSize: number): number {
  return Math.floor(((i + 1) * size + outSize - 1) / outSize);
}

export function adaptiveAvgPool2d(x: FloatArray, out: FloatArray, p: AdaptivePool2dParams): void {
  checkAdaptive(p, x.length, out.length, 'adaptiveAvgPool2d');
  const { n, c, h, w, oh, ow } = p;
  const plane = h * w;
  for (let pl = 0; pl < n * c; pl++) {
    const xBase = pl * plane;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = adaptiveStart(oy, h, oh), y1 = adaptiveEnd(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = adaptiveStart(ox, w, ow), x1 = adaptiveEnd(ox, w, ow);
        let s = 0;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) s += x[xBase + iy * w + ix]!;
        out[pl * oh * ow + oy * ow + ox] = s / ((y1 - y0) * (x1 - x0));
      }
    }
  }
}

export function adaptiveAvgPool2dBackward(gy: FloatArray, gx: FloatArray, p: AdaptivePool2dParams): void {
  checkAdaptive(p, gx.length, gy.length, 'adaptiveAvgPool2dBackward');
  const { n, c, h, w, oh, ow } = p;
  const plane = h * w;
  const acc = new Float64Array(plane);
  for (let pl = 0; pl < n * c; pl++) {
    acc.fill(0);
    for (let oy = 0; oy < oh; oy++) {
      const y0 = adaptiveStart(oy, h, oh), y1 = adaptiveEnd(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = adaptiveStart(ox, w, ow), x1 = adaptiveEnd(ox, w, ow);
        const g = gy[pl * oh * ow + oy * ow + ox]! / ((y1 - y0) * (x1 - x0));
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) acc[iy * w + ix]! += g;
      }
    }
    const xBase = pl * plane;
    for (let i = 0; i < plane; i++) gx[xBase + i] = acc[i]!;
  }
}
