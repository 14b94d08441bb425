// Random sparse-layer cases shared by the sparse kernel tests: odd sizes, stride 2, padding,
// dilation, batch 1, empty rows, fully empty and fully dense weights.

import { Generator } from '../../src/tensor/random.js';
import type { Conv2dParams, CsrPattern, SparseLinearParams } from '../../src/kernels/interface.js';

export function rng(seed: number): () => number {
  const g = new Generator(seed, 'sparse-kernel-tests');
  return () => g.uniform();
}
export const randInt = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** A dense 0/1 mask over rows x cols with the given kept fraction, then its CSR (row-major order). */
export function randomCsr(r: () => number, rows: number, cols: number, density: number, emptyRows = true): { pattern: CsrPattern; mask: Float64Array } {
  const mask = new Float64Array(rows * cols);
  for (let i = 0; i < mask.length; i++) mask[i] = r() < density ? 1 : 0;
  if (emptyRows && rows > 2) mask.fill(0, cols, 2 * cols); // row 1 always empty
  const rowPtr = new Int32Array(rows + 1);
  const cols_: number[] = [];
  for (let o = 0; o < rows; o++) {
    for (let c = 0; c < cols; c++) if (mask[o * cols + c] !== 0) cols_.push(c);
    rowPtr[o + 1] = cols_.length;
  }
  return { pattern: { rowPtr, colIdx: Int32Array.from(cols_) }, mask };
}

export interface ConvCase { name: string; p: Conv2dParams; density: number }

function outSize(i: number, k: number, s: number, pad: number, d: number): number {
  return Math.floor((i + 2 * pad - d * (k - 1) - 1) / s) + 1;
}

export function convCases(seed: number, count: number): ConvCase[] {
  const r = rng(seed);
  const fixed: [string, Partial<Conv2dParams>, number][] = [
    ['3x3 pad 1 stride 1', { n: 2, c: 5, h: 9, w: 7, oc: 6, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1 }, 0.3],
    ['3x3 stride 2 pad 1', { n: 3, c: 4, h: 11, w: 10, oc: 5, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, dilH: 1, dilW: 1 }, 0.4],
    ['1x1 stride 2 no pad', { n: 2, c: 6, h: 8, w: 9, oc: 7, kh: 1, kw: 1, strideH: 2, strideW: 2, padH: 0, padW: 0, dilH: 1, dilW: 1 }, 0.5],
    ['1x1 stride 1 no pad', { n: 1, c: 6, h: 5, w: 5, oc: 4, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, dilH: 1, dilW: 1 }, 0.5],
    ['dilation 2 pad 2', { n: 1, c: 3, h: 10, w: 9, oc: 4, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 2, padW: 2, dilH: 2, dilW: 2 }, 0.5],
    ['5x3 mixed stride/pad', { n: 2, c: 3, h: 13, w: 8, oc: 3, kh: 5, kw: 3, strideH: 2, strideW: 1, padH: 2, padW: 0, dilH: 1, dilW: 2 }, 0.6],
    ['batch 1 dense', { n: 1, c: 2, h: 6, w: 6, oc: 3, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1 }, 1],
    ['fully empty weight', { n: 2, c: 3, h: 7, w: 7, oc: 4, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1 }, 0],
  ];
  const out: ConvCase[] = fixed.map(([name, q, density]) => {
    const p = { ...q, groups: 1 } as Conv2dParams;
    p.oh = outSize(p.h, p.kh, p.strideH, p.padH, p.dilH);
    p.ow = outSize(p.w, p.kw, p.strideW, p.padW, p.dilW);
    return { name, p, density };
  });
  for (let i = 0; i < count; i++) {
    const kh = randInt(r, 1, 4), kw = randInt(r, 1, 4);
    const dilH = randInt(r, 1, 2), dilW = randInt(r, 1, 2);
    const padH = randInt(r, 0, 2), padW = randInt(r, 0, 2);
    const strideH = randInt(r, 1, 3), strideW = randInt(r, 1, 3);
    const h = randInt(r, dilH * (kh - 1) + 1, 15), w = randInt(r, dilW * (kw - 1) + 1, 15);
    const p: Conv2dParams = {
      n: randInt(r, 1, 3), c: randInt(r, 1, 6), h, w, oc: randInt(r, 1, 7), kh, kw,
      oh: outSize(h, kh, strideH, padH, dilH), ow: outSize(w, kw, strideW, padW, dilW),
      strideH, strideW, padH, padW, dilH, dilW, groups: 1,
    };
    out.push({ name: `random ${i}`, p, density: [0.05, 0.2, 0.5, 0.9][i % 4]! });
  }
  return out;
}

export interface LinearCase { name: string; p: SparseLinearParams; density: number }

export function linearCases(seed: number, count: number): LinearCase[] {
  const r = rng(seed);
  const out: LinearCase[] = [
    { name: 'batch 1', p: { n: 1, inF: 13, outF: 7 }, density: 0.3 },
    { name: 'empty weight', p: { n: 3, inF: 5, outF: 4 }, density: 0 },
    { name: 'dense', p: { n: 4, inF: 6, outF: 5 }, density: 1 },
  ];
  for (let i = 0; i < count; i++) {
    out.push({ name: `random ${i}`, p: { n: randInt(r, 1, 9), inF: randInt(r, 1, 40), outF: randInt(r, 1, 17) }, density: [0.05, 0.3, 0.7][i % 3]! });
  }
  return out;
}
