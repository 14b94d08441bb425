// Direct convolution and its two adjoints. All three loop over one weight tap (ki, kj) at a time and
// sweep the output positions whose input tap lies inside the image; the valid ranges are computed up
// front (validRange) so padding costs no per-element branch. Accumulation is in float64 scratch.
//
// Index relation shared by all three: input row iy = oy * strideH - padH + ki * dilH (likewise columns).

import type { Conv2dParams, FloatArray } from '../interface.js';

/**
 * The output positions o in [0, outSize) for which i = o * stride - pad + tap * dil lies in
 * [0, inSize), as a half-open range [lo, hi) (empty when hi <= lo).
 */
function validRange(outSize: number, inSize: number, stride: number, pad: number, dil: number, tap: number):
  [number, number] {
  const shift = tap * dil - pad; // i = o * stride + shift
  const lo = Math.max(0, Math.ceil(-shift / stride));
  const hi = Math.min(outSize, Math.floor((inSize - 1 - shift) / stride) + 1);
  return [lo, hi];
}

function check(p: Conv2dParams, x: number, w: number, y: number, who: string): void {
  const { n, c, h, oc, kh, kw, oh, ow, groups } = p;
  if (groups < 1 || c % groups !== 0 || oc % groups !== 0) {
    throw new Error(`${who}: channels ${c} -> ${oc} not divisible by groups ${groups}`);
  }
  const eoh = Math.floor((h + 2 * p.padH - p.dilH * (kh - 1) - 1) / p.strideH) + 1;
  const eow = Math.floor((p.w + 2 * p.padW - p.dilW * (kw - 1) - 1) / p.strideW) + 1;
  if (eoh !== oh || eow !== ow) throw new Error(`${who}: output ${oh}x${ow} should be ${eoh}x${eow}`);
  if (x !== n * c * h * p.w) throw new Error(`${who}: input buffer has ${x} elements, needs ${n * c * h * p.w}`);
  const wn = oc * (c / groups) * kh * kw;
  if (w !== wn) throw new Error(`${who}: weight buffer has ${w} elements, needs ${wn}`);
  if (y !== n * oc * oh * ow) throw new Error(`${who}: output buffer has ${y} elements, needs ${n * oc * oh * ow}`);
}

export function conv2d(x: FloatArray, w: FloatArray, bias: FloatArray | null, out: FloatArray, p: Conv2dParams): void {
  check(p, x.length, w.length, out.length, 'conv2d');
  const { n, c, h, oc, kh, kw, oh, ow, strideH, strideW, padH, padW, dilH, dilW, groups } = p;
  const W = p.w;
  if (bias !== null && bias.length !== oc) throw new Error(`conv2d: bias has ${bias.length} elements, needs ${oc}`);
  const cpg = c / groups;
  const ocpg = oc / groups;
  const plane = h * W;
  const acc = new Float64Array(oh * ow);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < oc; o++) {
      const g = Math.floor(o / ocpg);
      acc.fill(bias === null ? 0 : bias[o]!);
      for (let ci = 0; ci < cpg; ci++) {
        const xBase = (b * c + g * cpg + ci) * plane;
        const wBase = ((o * cpg + ci) * kh) * kw;
        for (let ki = 0; ki < kh; ki++) {
          const [yLo, yHi] = validRange(oh, h, strideH, padH, dilH, ki);
          for (let kj = 0; kj < kw; kj++) {
            const [xLo, xHi] = validRange(ow, W, strideW, padW, dilW, kj);
            if (xLo >= xHi) continue;
            const wv = w[wBase + ki * kw + kj]!;
            for (let oy = yLo; oy < yHi; oy++) {
              const iy = oy * strideH - padH + ki * dilH;
              const row = xBase + iy * W - padW + kj * dilW;
              for (let ox = xLo, a = oy * ow + xLo; ox < xHi; ox++, a++) acc[a] = acc[a]! + wv * x[row + ox * strideW]!;
            }
          }
        }
      }
      const oBase = (b * oc + o) * oh * ow;
      for (let i = 0; i < oh * ow; i++) out[oBase + i] = acc[i]!;
    }
  }
}

export function conv2dBackwardData(gy: FloatArray, w: FloatArray, gx: FloatArray, p: Conv2dParams): void {
  check(p, gx.length, w.length, gy.length, 'conv2dBackwardData');
  const { n, c, h, oc, kh, kw, oh, ow, strideH, strideW, padH, padW, dilH, dilW, groups } = p;
  const W = p.w;
  const cpg = c / groups;
  const ocpg = oc / groups;
  const plane = h * W;
  const acc = new Float64Array(plane);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const g = Math.floor(ch / cpg);
      const ci = ch - g * cpg;
      acc.fill(0);
      for (let oo = 0; oo < ocpg; oo++) {
        const o = g * ocpg + oo;
        const gyBase = (b * oc + o) * oh * ow;
        const wBase = ((o * cpg + ci) * kh) * kw;
        for (let ki = 0; ki < kh; ki++) {
          const [yLo, yHi] = validRange(oh, h, strideH, padH, dilH, ki);
          for (let kj = 0; kj < kw; kj++) {
            const [xLo, xHi] = validRange(ow, W, strideW, padW, dilW, kj);
            if (xLo >= xHi) continue;
            const wv = w[wBase + ki * kw + kj]!;
            for (let oy = yLo; oy < yHi; oy++) {
              const iy = oy * strideH - padH + ki * dilH;
              const row = iy * W - padW + kj * dilW;
              for (let ox = xLo, gi = gyBase + oy * ow + xLo; ox < xHi; ox++, gi++) {
                const a = row + ox * strideW;
                acc[a] = acc[a]! + wv * gy[gi]!;
              }
            }
          }
        }
      }
      const xBase = (b * c + ch) * plane;
      for (let i = 0; i < plane; i++) gx[xBase + i] = acc[i]!;
    }
  }
}

export function conv2dBackwardWeight(x: FloatArray, gy: FloatArray, gw: FloatArray, p: Conv2dParams): void {
  check(p, x.length, gw.length, gy.length, 'conv2dBackwardWeight');
  const { n, c, h, oc, kh, kw, oh, ow, strideH, strideW, padH, padW, dilH, dilW, groups } = p;
  const W = p.w;
  const cpg = c / groups;
  const ocpg = oc / groups;
  const plane = h * W;
  for (let o = 0; o < oc; o++) {
    const g = Math.floor(o / ocpg);
    for (let ci = 0; ci < cpg; ci++) {
      for (let ki = 0; ki < kh; ki++) {
        const [yLo, yHi] = validRange(oh, h, strideH, padH, dilH, ki);
        for (let kj = 0; kj < kw; kj++) {
          const [xLo, xHi] = validRange(ow, W, strideW, padW, dilW, kj);
          let s = 0;
          for (let b = 0; b < n; b++) {
            const xBase = (b * c + g * cpg + ci) * plane;
            const gyBase = (b * oc + o) * oh * ow;
            for (let oy = yLo; oy < yHi; oy++) {
              const iy = oy * strideH - padH + ki * dilH;
              const row = xBase + iy * W - padW + kj * dilW;
              for (let ox = xLo, gi = gyBase + oy * ow + xLo; ox < xHi; ox++, gi++) s += gy[gi]! * x[row + ox * strideW]!;
            }
          }
          gw[((o * cpg + ci) * kh + ki) * kw + kj] = s;
        }
      }
    }
  }
}
