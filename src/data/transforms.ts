// Per-sample image transforms with torchvision's semantics, on float CHW images.
//
// A pipeline is described by a plain object (`TransformSpec`) rather than by closures so that it can
// be posted to a worker thread, written into an experiment config and compared for equality. Random
// steps draw from a Generator handed in per call, never from a generator of their own: the loader
// owns the randomness so that a batch's augmentation depends only on (seed, epoch, batch) and not on
// which thread prepared it.
//
// Every pipeline starts with ToTensor (uint8 / 255). torchvision crops, pads and flips the uint8 PIL
// image before ToTensor; doing them after is bit-identical because they only move values and pad
// with 0 (= 0 / 255). Resizing differs: PIL rounds its result to uint8, pai keeps floats (as
// torchvision does on tensors). Normalisation must be the last step, as in torchvision, so that zero
// padding becomes (0 - mean) / std like it does there.

import { z } from 'zod';
import type { Generator } from '../tensor/random.js';
import { checkArgument, checkOptions } from '../tensor/options.js';
import { at, defined } from '../tensor/checked.js';

/** An image shape [C, H, W]. */
export type Shape3 = readonly [number, number, number];

/** A float CHW image, contiguous. */
export interface FloatImage {
  data: Float32Array;
  shape: Shape3;
}

/** One step of a transform spec. */
export type TransformStep =
  | { op: 'normalize'; mean: readonly number[]; std: readonly number[] }
  | { op: 'randomCrop'; size: number; padding?: number }
  | { op: 'flip'; p?: number }
  | { op: 'pad'; padding: number }
  | { op: 'padTo'; size: number }
  | { op: 'resize'; size: number }
  | { op: 'centerCrop'; size: number }
  | { op: 'randomResizedCrop'; size: number; scale?: readonly [number, number]; ratio?: readonly [number, number] };

/** A serialisable pipeline: ToTensor, then `steps` in order. */
export interface TransformSpec {
  steps: TransformStep[];
}

// ---------------------------------------------------------------------------------------------
// Single transforms. Each returns a new image and leaves its input untouched.

// The per-pixel loops check each read in the loop, which costs nothing for an index inside the
// image, where `!` would assert it.
function outside(op: string): RangeError {
  return new RangeError(`internal: ${op}: a pixel index outside the image`);
}

/** The image as floats in [0, 1], like torchvision's ToTensor. */
export function toFloat(sample: { pixels: Uint8Array; shape: Shape3 }): FloatImage {
  const { pixels, shape } = sample;
  const n = shape[0] * shape[1] * shape[2];
  if (pixels.length !== n) throw new RangeError(`toFloat: ${pixels.length} pixels for shape [${shape.join(', ')}]`);
  const data = new Float32Array(n);
  // Division, not multiplication by 1/255, to match torchvision's `img.float().div(255)` bit for bit.
  for (let i = 0; i < n; i++) {
    const v = pixels[i];
    if (v === undefined) throw outside('toFloat');
    data[i] = v / 255;
  }
  return { data, shape: [shape[0], shape[1], shape[2]] };
}

/** (x - mean) / std per channel. */
export function normalize(img: FloatImage, mean: readonly number[], std: readonly number[]): FloatImage {
  const out = { data: img.data.slice(), shape: img.shape };
  normalizeInPlace(out, mean, std);
  return out;
}

function normalizeInPlace(img: FloatImage, mean: readonly number[], std: readonly number[]): void {
  const [c, h, w] = img.shape;
  if (mean.length !== c || std.length !== c) {
    throw new RangeError(`normalize: ${mean.length} means and ${std.length} stds for ${c} channels`);
  }
  const plane = h * w;
  const d = img.data;
  for (let ch = 0; ch < c; ch++) {
    // float32 arithmetic step by step, as torchvision's x.sub(mean).div(std) on float32 tensors
    // (a float32 operation done in double and rounded once gives the float32 result exactly).
    const m = Math.fround(at(mean, ch, 'means')), s = Math.fround(at(std, ch, 'stds'));
    const base = ch * plane;
    for (let i = base; i < base + plane; i++) {
      const v = d[i];
      if (v === undefined) throw outside('normalize');
      d[i] = Math.fround(v - m) / s;
    }
  }
}

/** Zero padding of `padding` pixels on every side. */
export function pad(img: FloatImage, padding: number): FloatImage {
  return padSides(img, padding, padding, padding, padding);
}

function padSides(img: FloatImage, top: number, bottom: number, left: number, right: number): FloatImage {
  const [c, h, w] = img.shape;
  const oh = h + top + bottom, ow = w + left + right;
  const out = new Float32Array(c * oh * ow);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const src = (ch * h + y) * w;
      out.set(img.data.subarray(src, src + w), (ch * oh + y + top) * ow + left);
    }
  }
  return { data: out, shape: [c, oh, ow] };
}

/** Zero-pads a smaller image to size x size, centred (28x28 -> 32x32 puts 2 pixels on each side). */
export function padTo(img: FloatImage, size: number): FloatImage {
  const [, h, w] = img.shape;
  if (h > size || w > size) throw new RangeError(`padTo(${size}): image is already ${h}x${w}`);
  // Like torchvision's CenterCrop padding: the odd pixel, if any, goes to the bottom / right.
  const top = Math.floor((size - h) / 2), left = Math.floor((size - w) / 2);
  return padSides(img, top, size - h - top, left, size - w - left);
}

/** The window [top, top+height) x [left, left+width); it must lie inside the image. */
export function crop(img: FloatImage, top: number, left: number, height: number, width: number): FloatImage {
  const [c, h, w] = img.shape;
  if (top < 0 || left < 0 || height <= 0 || width <= 0 || top + height > h || left + width > w) {
    throw new RangeError(`crop: window ${height}x${width} at (${top}, ${left}) outside a ${h}x${w} image`);
  }
  const out = new Float32Array(c * height * width);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < height; y++) {
      const src = (ch * h + top + y) * w + left;
      out.set(img.data.subarray(src, src + width), (ch * height + y) * width);
    }
  }
  return { data: out, shape: [c, height, width] };
}

/** torchvision RandomCrop(size, padding): zero-pad, then a uniformly placed size x size window. */
export function randomCrop(img: FloatImage, size: number, gen: Generator, padding = 4): FloatImage {
  const [c, h, w] = img.shape;
  const ph = h + 2 * padding, pw = w + 2 * padding;
  if (ph < size || pw < size) throw new RangeError(`randomCrop(${size}): padded image is only ${ph}x${pw}`);
  // Same draw order as torchvision's get_params: the row, then the column.
  const top = gen.int(ph - size + 1);
  const left = gen.int(pw - size + 1);
  // Reads straight from the unpadded image so the padded copy is never built.
  const out = new Float32Array(c * size * size);
  const y0 = Math.max(0, padding - top), y1 = Math.min(size, h + padding - top);
  const x0 = Math.max(0, padding - left), x1 = Math.min(size, w + padding - left);
  if (y1 > y0 && x1 > x0) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = y0; y < y1; y++) {
        const src = (ch * h + y + top - padding) * w + (x0 + left - padding);
        out.set(img.data.subarray(src, src + (x1 - x0)), (ch * size + y) * size + x0);
      }
    }
  }
  return { data: out, shape: [c, size, size] };
}

/** Mirrors left-right. */
export function hflip(img: FloatImage): FloatImage {
  const out = { data: img.data.slice(), shape: img.shape };
  hflipInPlace(out);
  return out;
}

function hflipInPlace(img: FloatImage): void {
  const [c, h, w] = img.shape;
  const d = img.data;
  for (let row = 0; row < c * h; row++) {
    let a = row * w, b = a + w - 1;
    while (a < b) {
      const va = d[a], vb = d[b];
      if (va === undefined || vb === undefined) throw outside('flip');
      d[a] = vb; d[b] = va;
      a++; b--;
    }
  }
}

/** torchvision RandomHorizontalFlip(p): one uniform draw per image, flipped when it is below p. */
export function horizontalFlip(img: FloatImage, gen: Generator, p = 0.5): FloatImage {
  return gen.uniform() < p ? hflip(img) : { data: img.data.slice(), shape: img.shape };
}

/**
 * Bilinear resampling of the window (top, left, height, width) of `img` to outH x outW, as PyTorch's
 * `interpolate(mode='bilinear', align_corners=False, antialias=False)`: pixel centres are aligned and
 * source coordinates below 0 are clamped. Without antialiasing a strong downscale skips pixels
 * (torchvision >= 0.17 and PIL filter first); the ImageNet pipeline only shrinks by ~1.5-2x, where
 * the difference is small.
 */
export function resizeBilinear(
  img: FloatImage, outH: number, outW: number,
  window: { top: number; left: number; height: number; width: number } = { top: 0, left: 0, height: img.shape[1], width: img.shape[2] },
): FloatImage {
  const [c, h, w] = img.shape;
  const { top, left, height, width } = window;
  if (top < 0 || left < 0 || height <= 0 || width <= 0 || top + height > h || left + width > w) {
    throw new RangeError(`resize: window ${height}x${width} at (${top}, ${left}) outside a ${h}x${w} image`);
  }
  if (!(outH > 0 && outW > 0 && Number.isInteger(outH) && Number.isInteger(outW))) {
    throw new RangeError(`resize: bad output size ${outH}x${outW}`);
  }
  const ys = sourceTaps(height, outH), xs = sourceTaps(width, outW);
  const out = new Float32Array(c * outH * outW);
  const d = img.data;
  for (let ch = 0; ch < c; ch++) {
    const plane = ch * h * w;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = ys.i0[oy], y1 = ys.i1[oy], wy1 = ys.l1[oy];
      if (y0 === undefined || y1 === undefined || wy1 === undefined) throw outside('resize');
      const r0 = plane + (top + y0) * w + left;
      const r1 = plane + (top + y1) * w + left;
      const wy0 = 1 - wy1;
      const o = (ch * outH + oy) * outW;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = xs.i0[ox], x1 = xs.i1[ox], wx1 = xs.l1[ox];
        if (x0 === undefined || x1 === undefined || wx1 === undefined) throw outside('resize');
        const wx0 = 1 - wx1;
        const a = d[r0 + x0], b = d[r0 + x1], e = d[r1 + x0], f = d[r1 + x1];
        if (a === undefined || b === undefined || e === undefined || f === undefined) throw outside('resize');
        out[o + ox] = wy0 * (wx0 * a + wx1 * b) + wy1 * (wx0 * e + wx1 * f);
      }
    }
  }
  return { data: out, shape: [c, outH, outW] };
}

/** For each output coordinate: the two source taps and the weight of the second (PyTorch's rule). */
function sourceTaps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; l1: Float64Array } {
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), l1 = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(scale * (o + 0.5) - 0.5, 0);
    const a = Math.min(Math.floor(src), inSize - 1);
    i0[o] = a;
    i1[o] = a < inSize - 1 ? a + 1 : a;
    l1[o] = Math.min(src - a, 1);
  }
  return { i0, i1, l1 };
}

/** The size torchvision's Resize(size) gives: the shorter side becomes `size`, the longer keeps the aspect (truncated). */
export function resizedShape(h: number, w: number, size: number): [number, number] {
  if (h <= w) return [size, Math.trunc((size * w) / h)];
  return [Math.trunc((size * h) / w), size];
}

/** torchvision Resize(size) with an int size: the shorter side to `size`, bilinear. */
export function resize(img: FloatImage, size: number): FloatImage {
  const [oh, ow] = resizedShape(img.shape[1], img.shape[2], size);
  return resizeBilinear(img, oh, ow);
}

/** Python's round(): halves go to the even neighbour. torchvision's crop arithmetic relies on it. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x), diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision CenterCrop(size): an image smaller than `size` is zero-padded first, as torchvision does. */
export function centerCrop(img: FloatImage, size: number): FloatImage {
  let [, h, w] = img.shape;
  let src = img;
  if (h < size || w < size) {
    const ph = Math.max(0, size - h), pw = Math.max(0, size - w);
    src = padSides(img, Math.floor(ph / 2), Math.ceil(ph / 2), Math.floor(pw / 2), Math.ceil(pw / 2));
    h = src.shape[1]; w = src.shape[2];
  }
  const top = roundHalfEven((h - size) / 2), left = roundHalfEven((w - size) / 2);
  return crop(src, top, left, size, size);
}

/** The window torchvision's RandomResizedCrop.get_params picks (10 tries, then a centre crop). */
export function randomResizedCropWindow(
  h: number, w: number, gen: Generator,
  scale: readonly [number, number] = [0.08, 1], ratio: readonly [number, number] = [3 / 4, 4 / 3],
): { top: number; left: number; height: number; width: number } {
  const area = h * w;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * gen.uniform());
    const aspect = Math.exp(logLo + (logHi - logLo) * gen.uniform());
    const cw = roundHalfEven(Math.sqrt(target * aspect));
    const ch = roundHalfEven(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      const top = gen.int(h - ch + 1);
      const left = gen.int(w - cw + 1);
      return { top, left, height: ch, width: cw };
    }
  }
  const inRatio = w / h;
  let cw: number, ch: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    cw = w; ch = roundHalfEven(cw / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    ch = h; cw = roundHalfEven(ch * Math.max(ratio[0], ratio[1]));
  } else {
    cw = w; ch = h;
  }
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw };
}

/** torchvision RandomResizedCrop(size, scale, ratio), bilinear without antialiasing. */
export function randomResizedCrop(
  img: FloatImage, size: number, gen: Generator,
  scale: readonly [number, number] = [0.08, 1], ratio: readonly [number, number] = [3 / 4, 4 / 3],
): FloatImage {
  const win = randomResizedCropWindow(img.shape[1], img.shape[2], gen, scale, ratio);
  return resizeBilinear(img, size, size, win);
}

// ---------------------------------------------------------------------------------------------
// Pipelines from specs.

/**
 * A compiled spec. With `out` (exactly as long as the result), the result is written there and
 * returned as a view of it, which lets a loader fill a batch without an extra copy.
 */
export type Pipeline = (sample: { pixels: Uint8Array; shape: Shape3 }, gen: Generator, out?: Float32Array) => FloatImage;

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new RangeError(`transform ${what}: expected a positive integer, got ${String(v)}`);
  return v;
}

function pair(v: unknown, what: string, dflt: readonly [number, number]): readonly [number, number] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || v[0] > v[1]) {
    throw new RangeError(`transform ${what}: expected [low, high], got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

/** Checks a spec (it may come from a config file or another thread) and throws on the first bad step. */
export function validateTransformSpec(spec: TransformSpec): void {
  if (spec === null || typeof spec !== 'object' || !Array.isArray(spec.steps)) throw new TypeError('transform spec: expected { steps: [...] }');
  spec.steps.forEach((s, k) => {
    const at = `step ${k} (${(s as { op?: unknown }).op})`;
    switch (s.op) {
      case 'normalize':
        if (!Array.isArray(s.mean) || !Array.isArray(s.std) || s.mean.length === 0 || s.mean.length !== s.std.length) {
          throw new RangeError(`transform ${at}: mean and std must be arrays of one length`);
        }
        if (s.std.some((v) => !(typeof v === 'number' && v > 0))) throw new RangeError(`transform ${at}: std must be positive`);
        if (k !== spec.steps.length - 1) throw new RangeError(`transform ${at}: normalize must be the last step`);
        break;
      case 'randomCrop':
        positiveInt(s.size, `${at} size`);
        if (s.padding !== undefined && !(Number.isInteger(s.padding) && s.padding >= 0)) throw new RangeError(`transform ${at}: bad padding ${s.padding}`);
        break;
      case 'flip':
        if (s.p !== undefined && !(s.p >= 0 && s.p <= 1)) throw new RangeError(`transform ${at}: p must be in [0, 1]`);
        break;
      case 'pad':
        if (!(Number.isInteger(s.padding) && s.padding >= 0)) throw new RangeError(`transform ${at}: bad padding ${s.padding}`);
        break;
      case 'padTo': case 'resize': case 'centerCrop':
        positiveInt(s.size, `${at} size`);
        break;
      case 'randomResizedCrop': {
        positiveInt(s.size, `${at} size`);
        const sc = pair(s.scale, `${at} scale`, [0.08, 1]);
        const ra = pair(s.ratio, `${at} ratio`, [3 / 4, 4 / 3]);
        if (sc[0] <= 0 || ra[0] <= 0) throw new RangeError(`transform ${at}: scale and ratio must be positive`);
        break;
      }
      default:
        throw new RangeError(`transform ${at}: unknown op`);
    }
  });
}

/** The CHW shape a spec turns an input of `shape` into (every step's output size depends only on its input size). */
export function transformedShape(spec: TransformSpec, shape: Shape3): [number, number, number] {
  const c = shape[0];
  let [, h, w] = shape;
  for (const s of spec.steps) {
    switch (s.op) {
      case 'randomCrop': case 'centerCrop': case 'randomResizedCrop': h = w = s.size; break;
      case 'pad': h += 2 * s.padding; w += 2 * s.padding; break;
      case 'padTo': h = w = s.size; break;
      case 'resize': [h, w] = resizedShape(h, w, s.size); break;
      case 'normalize': case 'flip': break;
    }
  }
  return [c, h, w];
}

/**
 * Builds the function a spec describes. Intermediate images belong to the pipeline, so flips and
 * normalisation work in place on them; the sample's pixels are never written.
 */
export function compileTransform(spec: TransformSpec): Pipeline {
  validateTransformSpec(spec);
  return compileFused(spec) ?? compileSteps(spec);
}

function compileSteps(spec: TransformSpec): Pipeline {
  validateTransformSpec(spec);
  const steps = spec.steps.map((s): (img: FloatImage, gen: Generator) => FloatImage => {
    switch (s.op) {
      case 'normalize': { const { mean, std } = s; return (img) => { normalizeInPlace(img, mean, std); return img; }; }
      case 'randomCrop': { const { size } = s, padding = s.padding ?? 4; return (img, gen) => randomCrop(img, size, gen, padding); }
      case 'flip': {
        const p = s.p ?? 0.5;
        return (img, gen) => { if (gen.uniform() < p) hflipInPlace(img); return img; };
      }
      case 'pad': { const { padding } = s; return (img) => pad(img, padding); }
      case 'padTo': { const { size } = s; return (img) => padTo(img, size); }
      case 'resize': { const { size } = s; return (img) => resize(img, size); }
      case 'centerCrop': { const { size } = s; return (img) => centerCrop(img, size); }
      case 'randomResizedCrop': {
        const { size } = s, scale = s.scale ?? [0.08, 1], ratio = s.ratio ?? [3 / 4, 4 / 3];
        return (img, gen) => randomResizedCrop(img, size, gen, scale, ratio);
      }
    }
  });
  return (sample, gen, out) => {
    let img = toFloat(sample);
    for (const f of steps) img = f(img, gen);
    if (out === undefined) return img;
    if (out.length !== img.data.length) throw new RangeError(`transform: result has ${img.data.length} values, output buffer ${out.length}`);
    out.set(img.data);
    return { data: out, shape: img.shape };
  };
}

/**
 * The common training and evaluation pipelines (pads, crops, flips, then normalisation) only move
 * pixels, so every output value is one input byte or a padding zero pushed through ToTensor and
 * Normalize. They run as one gather through a 256-entry table per channel: the same float32 values
 * and the same random draws, in order, as the step-by-step path, several times faster. Returns null
 * for specs with resampling steps.
 */
function compileFused(spec: TransformSpec): Pipeline | null {
  const last = spec.steps.at(-1);
  const norm = last?.op === 'normalize' ? last : null;
  const geo = norm ? spec.steps.slice(0, -1) : spec.steps;
  if (!geo.every((s) => s.op === 'pad' || s.op === 'padTo' || s.op === 'randomCrop' || s.op === 'flip' || s.op === 'centerCrop')) return null;
  const tables = new Map<number, Float32Array[]>();
  const tablesFor = (c: number): Float32Array[] => {
    let t = tables.get(c);
    if (t) return t;
    if (norm && norm.mean.length !== c) throw new RangeError(`normalize: ${norm.mean.length} means and ${norm.std.length} stds for ${c} channels`);
    t = [];
    for (let ch = 0; ch < c; ch++) {
      const lut = new Float32Array(256);
      const m = norm ? Math.fround(at(norm.mean, ch, 'means')) : 0, sd = norm ? Math.fround(at(norm.std, ch, 'stds')) : 1;
      for (let v = 0; v < 256; v++) lut[v] = norm ? Math.fround(Math.fround(v / 255) - m) / sd : v / 255;
      t.push(lut);
    }
    tables.set(c, t);
    return t;
  };
  return (sample, gen, out) => {
    const [c, H, W] = sample.shape;
    if (sample.pixels.length !== c * H * W) throw new RangeError(`transform: ${sample.pixels.length} pixels for shape [${sample.shape.join(', ')}]`);
    // The current image maps (y, x) to source (y + oy, ox + sx * x) inside the window
    // [y0, y1) x [x0, x1) and is zero outside it (padding, or what a crop cut away before a later pad).
    let h = H, w = W, oy = 0, ox = 0, sx = 1;
    let y0 = 0, y1 = H, x0 = 0, x1 = W;
    const padBy = (t: number, b: number, l: number, r: number): void => {
      oy -= t; ox -= sx * l; h += t + b; w += l + r;
      y0 += t; y1 += t; x0 += l; x1 += l;
    };
    const cropAt = (top: number, left: number, ch: number, cw: number): void => {
      oy += top; ox += sx * left; h = ch; w = cw;
      y0 = Math.max(0, y0 - top); y1 = Math.min(ch, y1 - top); x0 = Math.max(0, x0 - left); x1 = Math.min(cw, x1 - left);
    };
    for (const s of geo) {
      switch (s.op) {
        case 'pad': padBy(s.padding, s.padding, s.padding, s.padding); break;
        case 'padTo': {
          if (h > s.size || w > s.size) throw new RangeError(`padTo(${s.size}): image is already ${h}x${w}`);
          const t = Math.floor((s.size - h) / 2), l = Math.floor((s.size - w) / 2);
          padBy(t, s.size - h - t, l, s.size - w - l);
          break;
        }
        case 'randomCrop': {
          const p = s.padding ?? 4, ph = h + 2 * p, pw = w + 2 * p;
          if (ph < s.size || pw < s.size) throw new RangeError(`randomCrop(${s.size}): padded image is only ${ph}x${pw}`);
          const top = gen.int(ph - s.size + 1), left = gen.int(pw - s.size + 1);
          padBy(p, p, p, p);
          cropAt(top, left, s.size, s.size);
          break;
        }
        case 'centerCrop': {
          const ph = Math.max(0, s.size - h), pw = Math.max(0, s.size - w);
          padBy(Math.floor(ph / 2), Math.ceil(ph / 2), Math.floor(pw / 2), Math.ceil(pw / 2));
          cropAt(roundHalfEven((h - s.size) / 2), roundHalfEven((w - s.size) / 2), s.size, s.size);
          break;
        }
        case 'flip':
          if (gen.uniform() < (s.p ?? 0.5)) {
            ox += sx * (w - 1); sx = -sx;
            const a = w - x1; x1 = w - x0; x0 = a;
          }
          break;
        default: break;
      }
    }
    const n = c * h * w;
    const data = out ?? new Float32Array(n);
    if (data.length !== n) throw new RangeError(`transform: result has ${n} values, output buffer ${data.length}`);
    const luts = tablesFor(c), src = sample.pixels;
    // An empty window stays empty through every step; clamping keeps the fills inside the row.
    x0 = Math.min(Math.max(x0, 0), w); x1 = Math.max(Math.min(x1, w), x0);
    for (let ch = 0; ch < c; ch++) {
      const lut = at(luts, ch, 'lookup tables'), zero = at(lut, 0, 'lookup table');
      for (let y = 0; y < h; y++) {
        const o = (ch * h + y) * w, syy = y + oy;
        if (y < y0 || y >= y1) { data.fill(zero, o, o + w); continue; }
        data.fill(zero, o, o + x0);
        data.fill(zero, o + x1, o + w);
        const row = (ch * H + syy) * W + ox;
        // Two loops, not row + sx * x, which measured 20 % slower; lut has an entry for every byte.
        if (sx === 1) {
          for (let x = x0; x < x1; x++) {
            const p = src[row + x];
            if (p === undefined) throw outside('transform');
            const v = lut[p];
            if (v === undefined) throw outside('transform');
            data[o + x] = v;
          }
        } else {
          for (let x = x0; x < x1; x++) {
            const p = src[row - x];
            if (p === undefined) throw outside('transform');
            const v = lut[p];
            if (v === undefined) throw outside('transform');
            data[o + x] = v;
          }
        }
      }
    }
    return { data, shape: [c, h, w] };
  };
}

/** The step-by-step pipeline, even where a fused one exists (for checking that they agree). */
export function compileTransformUnfused(spec: TransformSpec): Pipeline {
  return compileSteps(spec);
}

// ---------------------------------------------------------------------------------------------
// The standard pipelines.

/**
 * Per-channel mean and std on the [0, 1] scale, as in the paper's code (Fashion-MNIST: computed from
 * its training set; MNIST: torchvision's). The same values as registry.ts's datasetInfo, kept here
 * so that transforms (and the loader's workers) do not load the readers.
 */
export const NORMALIZATION: Readonly<Record<string, { mean: readonly number[]; std: readonly number[] }>> = Object.freeze({
  'cifar10': { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010] },
  'cifar100': { mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] },
  'tiny-imagenet': { mean: [0.480, 0.448, 0.397], std: [0.276, 0.269, 0.282] },
  'imagenet': { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  // Over all 47,040,000 training pixels (population std; the unbiased one differs by 4e-9).
  'fashion-mnist': { mean: [0.2860406], std: [0.3530242] },
  'mnist': { mean: [0.1307], std: [0.3081] },
});

/** Maps 'cifar10/train', 'CIFAR-10', 'tinyimagenet' and the like to a key of NORMALIZATION. */
export function datasetFamily(name: string): string {
  const base = at(name.toLowerCase().split('/'), 0, 'dataset name').replace(/[-_\s]/g, '');
  const table: Record<string, string> = {
    cifar10: 'cifar10', cifar100: 'cifar100', tinyimagenet: 'tiny-imagenet', tinyimagenet200: 'tiny-imagenet',
    imagenet: 'imagenet', ilsvrc2012: 'imagenet', imagenet1k: 'imagenet', fashionmnist: 'fashion-mnist', fashionmnistsubset: 'fashion-mnist', mnist: 'mnist',
  };
  const fam = table[base];
  if (fam === undefined) throw new RangeError(`no standard transforms for dataset '${name}' (known: ${Object.keys(NORMALIZATION).join(', ')})`);
  return fam;
}

const standardOptionsSchema = z.strictObject({
  padTo32: z.boolean().optional(),
  flip: z.boolean().optional(),
  mean: z.array(z.number().finite()).min(1).readonly().optional(),
  std: z.array(z.number().positive({ error: 'must hold positive numbers' })).min(1).readonly().optional(),
});

/** Options of `standardTransform`. */
export interface StandardOptions {
  /** 28x28 datasets only: pad to 32x32 first (for models built for CIFAR-sized input). Default false. */
  padTo32?: boolean;
  /** Training pipeline only: random horizontal flip. Default true. */
  flip?: boolean;
  /** Normalisation constants other than NORMALIZATION's (e.g. registry.ts's datasetInfo). */
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * The training (`augment` true) or evaluation pipeline for a dataset:
 * CIFAR: randomCrop 32 pad 4 + flip + normalise; Fashion-MNIST / MNIST: [padTo 32] + flip + normalise;
 * TinyImageNet: randomCrop 64 pad 4 + flip + normalise; ImageNet: randomResizedCrop 224 + flip +
 * normalise. Evaluation normalises only (plus padTo 32 when asked), and for ImageNet resizes to 256
 * and centre-crops 224 first.
 */
export function standardTransform(dataset: string, split: 'train' | 'eval', options: StandardOptions = {}): TransformSpec {
  checkArgument('standardTransform', 'dataset', z.string(), dataset);
  checkArgument('standardTransform', 'split', z.enum(['train', 'eval']), split);
  checkOptions('standardTransform', standardOptionsSchema, options);
  const fam = datasetFamily(dataset);
  const stats = defined(NORMALIZATION[fam], 'normalisation of a dataset family');
  const mean = options.mean ?? stats.mean, std = options.std ?? stats.std;
  const norm: TransformStep = { op: 'normalize', mean: [...mean], std: [...std] };
  const flip = options.flip ?? true;
  const steps: TransformStep[] = [];
  const small = fam === 'fashion-mnist' || fam === 'mnist';
  if (small && options.padTo32) steps.push({ op: 'padTo', size: 32 });
  if (split === 'train') {
    if (fam === 'cifar10' || fam === 'cifar100') steps.push({ op: 'randomCrop', size: 32, padding: 4 });
    else if (fam === 'tiny-imagenet') steps.push({ op: 'randomCrop', size: 64, padding: 4 });
    else if (fam === 'imagenet') steps.push({ op: 'randomResizedCrop', size: 224 });
    if (flip) steps.push({ op: 'flip' });
  } else if (fam === 'imagenet') {
    steps.push({ op: 'resize', size: 256 }, { op: 'centerCrop', size: 224 });
  }
  steps.push(norm);
  return { steps };
}
