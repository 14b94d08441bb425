// The native backend: a thin adapter over the Node-API addon built from native/ by binding.gyp.
// The addon reads JS typed-array memory in place (no copies) and checks every size against the
// buffers, so a bad call throws rather than corrupting memory. It computes in float32 only.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  AdaptivePool2dParams, Backend, BinaryOp, Conv2dParams, DType, FloatArray, MatmulParams, Pool2dParams,
  ReduceOp, SparseLinearParams, UnaryOp,
} from '../interface.js';

/** The addon's own surface: ops as integer codes (order fixed by native/ew.h), float32 only. */
interface Addon {
  unary(op: number, x: FloatArray, out: FloatArray): void;
  affine(x: FloatArray, scale: number, shift: number, out: FloatArray): void;
  powScalar(x: FloatArray, p: number, out: FloatArray): void;
  binary(op: number, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[],
    out: FloatArray, outShape: readonly number[]): void;
  where(cond: FloatArray, condShape: readonly number[], a: FloatArray, aShape: readonly number[],
    b: FloatArray, bShape: readonly number[], out: FloatArray, outShape: readonly number[]): void;
  reduce(op: number, x: FloatArray, shape: readonly number[], axes: readonly number[], out: FloatArray): void;
  copyStrided(src: FloatArray, srcOffset: number, srcStrides: readonly number[], shape: readonly number[],
    dst: FloatArray, dstOffset: number, dstStrides: readonly number[]): void;
  gather(x: FloatArray, idx: Int32Array, out: FloatArray): void;
  scatterAdd(g: FloatArray, idx: Int32Array, out: FloatArray): void;
  matmul(a: FloatArray, b: FloatArray, out: FloatArray, p: MatmulParams): void;
  conv2d(x: FloatArray, w: FloatArray, bias: FloatArray | null, out: FloatArray, p: Conv2dParams): void;
  conv2dBackwardData(gy: FloatArray, w: FloatArray, gx: FloatArray, p: Conv2dParams): void;
  conv2dBackwardWeight(x: FloatArray, gy: FloatArray, gw: FloatArray, p: Conv2dParams): void;
  conv2dWeightGradMoments(x: FloatArray, gy: FloatArray, sum: FloatArray | null, sumSq: FloatArray, p: Conv2dParams): void;
  conv2dWeightGradProbeDot(x: FloatArray, gy: FloatArray, z: FloatArray, acc: FloatArray, p: Conv2dParams): void;
  rademacherFill(state: Uint32Array, out: FloatArray): void;
  maxPool2d(x: FloatArray, out: FloatArray, idx: Int32Array, p: Pool2dParams): void;
  avgPool2d(x: FloatArray, out: FloatArray, p: Pool2dParams): void;
  avgPool2dBackward(gy: FloatArray, gx: FloatArray, p: Pool2dParams): void;
  adaptiveAvgPool2d(x: FloatArray, out: FloatArray, p: AdaptivePool2dParams): void;
  adaptiveAvgPool2dBackward(gy: FloatArray, gx: FloatArray, p: AdaptivePool2dParams): void;
  channelMoments(x: FloatArray, n: number, c: number, inner: number, mean: FloatArray, variance: FloatArray): void;
  channelAffine(x: FloatArray, m: FloatArray | null, a: FloatArray, d: FloatArray | null, out: FloatArray,
    n: number, c: number, inner: number): void;
  channelGradSums(g: FloatArray, x: FloatArray, m: FloatArray, n: number, c: number, inner: number,
    sg: FloatArray, sgx: FloatArray): void;
  channelAffineGrad(g: FloatArray, x: FloatArray, m: FloatArray, a: FloatArray, b: FloatArray, d: FloatArray,
    out: FloatArray, n: number, c: number, inner: number): void;
  sparseConv2d(x: FloatArray, v: FloatArray, rowPtr: Int32Array, colIdx: Int32Array, bias: FloatArray | null, out: FloatArray, p: Conv2dParams): void;
  sparseConv2dBackwardData(gy: FloatArray, v: FloatArray, rowPtr: Int32Array, colIdx: Int32Array, gx: FloatArray, p: Conv2dParams): void;
  sparseConv2dBackwardWeight(x: FloatArray, gy: FloatArray, rowPtr: Int32Array, colIdx: Int32Array, gv: FloatArray, p: Conv2dParams): void;
  sparseLinear(x: FloatArray, v: FloatArray, rowPtr: Int32Array, colIdx: Int32Array, bias: FloatArray | null, out: FloatArray, p: SparseLinearParams): void;
  sparseLinearBackwardData(gy: FloatArray, v: FloatArray, rowPtr: Int32Array, colIdx: Int32Array, gx: FloatArray, p: SparseLinearParams): void;
  sparseLinearBackwardWeight(x: FloatArray, gy: FloatArray, rowPtr: Int32Array, colIdx: Int32Array, gv: FloatArray, p: SparseLinearParams): void;
  setNumThreads(n: number): void;
  numThreads(): number;
  info(): { isa: string; onednn: string; cores: number };
}

const UNARY: readonly UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'step',
  'tanh', 'sigmoid', 'erf', 'square', 'reciprocal'];
const BINARY: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  'gt', 'ge', 'lt', 'le', 'eq', 'ne'];
const REDUCE: readonly ReduceOp[] = ['sum', 'max', 'min'];

function code<T extends string>(table: readonly T[], op: T, kind: string): number {
  const i = table.indexOf(op);
  if (i < 0) throw new Error(`native backend: unknown ${kind} op ${op}`);
  return i;
}

/** Where the addon lies: build/Release under the package root, found by walking up from here
 *  (this file runs from src/ under a loader and from dist/src/ once compiled). */
function findAddon(): string | null {
  const override = process.env.PAI_NATIVE_ADDON;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'pai_native.node');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

function wrap(m: Addon): Backend & { info(): { isa: string; onednn: string; cores: number } } {
  return {
    name: 'native',
    supports(dtype: DType): boolean {
      return dtype === 'float32';
    },
    setNumThreads: (n) => m.setNumThreads(n),
    numThreads: () => m.numThreads(),
    unary: (op, x, out) => m.unary(code(UNARY, op, 'unary'), x, out),
    affine: (x, scale, shift, out) => m.affine(x, scale, shift, out),
    powScalar: (x, p, out) => m.powScalar(x, p, out),
    binary: (op, a, aShape, b, bShape, out, outShape) =>
      m.binary(code(BINARY, op, 'binary'), a, aShape, b, bShape, out, outShape),
    where: (cond, condShape, a, aShape, b, bShape, out, outShape) =>
      m.where(cond, condShape, a, aShape, b, bShape, out, outShape),
    reduce: (op, x, shape, axes, out) => m.reduce(code(REDUCE, op, 'reduce'), x, shape, axes, out),
    copyStrided: (src, so, ss, shape, dst, dO, ds) => m.copyStrided(src, so, ss, shape, dst, dO, ds),
    gather: (x, idx, out) => m.gather(x, idx, out),
    scatterAdd: (g, idx, out) => m.scatterAdd(g, idx, out),
    matmul: (a, b, out, p) => m.matmul(a, b, out, p),
    conv2d: (x, w, bias, out, p) => m.conv2d(x, w, bias, out, p),
    conv2dBackwardData: (gy, w, gx, p) => m.conv2dBackwardData(gy, w, gx, p),
    conv2dBackwardWeight: (x, gy, gw, p) => m.conv2dBackwardWeight(x, gy, gw, p),
    conv2dWeightGradMoments: (x, gy, sum, sumSq, p) => m.conv2dWeightGradMoments(x, gy, sum, sumSq, p),
    conv2dWeightGradProbeDot: (x, gy, z, acc, p) => m.conv2dWeightGradProbeDot(x, gy, z, acc, p),
    rademacherFill: (state, out) => m.rademacherFill(state, out),
    maxPool2d: (x, out, idx, p) => m.maxPool2d(x, out, idx, p),
    avgPool2d: (x, out, p) => m.avgPool2d(x, out, p),
    avgPool2dBackward: (gy, gx, p) => m.avgPool2dBackward(gy, gx, p),
    adaptiveAvgPool2d: (x, out, p) => m.adaptiveAvgPool2d(x, out, p),
    adaptiveAvgPool2dBackward: (gy, gx, p) => m.adaptiveAvgPool2dBackward(gy, gx, p),
    channelMoments: (x, n, c, inner, mean, variance) => m.channelMoments(x, n, c, inner, mean, variance),
    channelAffine: (x, mm, a, d, out, n, c, inner) => m.channelAffine(x, mm, a, d, out, n, c, inner),
    channelGradSums: (g, x, mm, n, c, inner, sg, sgx) => m.channelGradSums(g, x, mm, n, c, inner, sg, sgx),
    channelAffineGrad: (g, x, mm, a, b, d, out, n, c, inner) => m.channelAffineGrad(g, x, mm, a, b, d, out, n, c, inner),
    sparseConv2d: (x, v, pt, bias, out, p) => m.sparseConv2d(x, v, pt.rowPtr, pt.colIdx, bias, out, p),
    sparseConv2dBackwardData: (gy, v, pt, gx, p) => m.sparseConv2dBackwardData(gy, v, pt.rowPtr, pt.colIdx, gx, p),
    sparseConv2dBackwardWeight: (x, gy, pt, gv, p) => m.sparseConv2dBackwardWeight(x, gy, pt.rowPtr, pt.colIdx, gv, p),
    sparseLinear: (x, v, pt, bias, out, p) => m.sparseLinear(x, v, pt.rowPtr, pt.colIdx, bias, out, p),
    sparseLinearBackwardData: (gy, v, pt, gx, p) => m.sparseLinearBackwardData(gy, v, pt.rowPtr, pt.colIdx, gx, p),
    sparseLinearBackwardWeight: (x, gy, pt, gv, p) => m.sparseLinearBackwardWeight(x, gy, pt.rowPtr, pt.colIdx, gv, p),
    info: () => m.info(),
  };
}

let cached: { backend: Backend | null; reason: string } | null = null;

/**
 * Loads the native backend once. Never throws: when the addon is missing (not built: no compiler or
 * no oneDNN at install time) or fails to load, backend is null and reason says why.
 */
export function loadNativeBackend(): { backend: Backend | null; reason: string } {
  if (cached) return cached;
  try {
    const path = findAddon();
    if (!path) {
      cached = { backend: null, reason: 'native addon not built (build/Release/pai_native.node is missing; run `npm rebuild pai` or `node scripts/build-native.mjs`)' };
    } else {
      // OpenMP threads that finish a parallel region early spin for the others by default. On a
      // machine shared with other processes the thread they wait for is often descheduled, and the
      // spinning takes the core it needs: a ResNet-20 step measured 5-10x slower in wall time on a
      // loaded 2-core machine, while sleeping at once costs only a futex wake-up per region.
      // libgomp reads this when the addon loads it, so it must be set before; a user's own
      // OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
      if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
        process.env.OMP_WAIT_POLICY = 'passive';
      }
      const require = createRequire(import.meta.url);
      const backend = wrap(require(path) as Addon);
      const info = backend.info();
      cached = { backend, reason: `loaded ${path} (loops ${info.isa}, oneDNN ${info.onednn}, ${backend.numThreads()} threads)` };
    }
  } catch (e) {
    cached = { backend: null, reason: `native addon failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
  return cached;
}
