// Access to the golden fixtures computed with the paper's PyTorch code (../shared/golden).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Module } from '../../src/nn/module.js';
import { noGrad } from '../../src/autograd/graph.js';
import { withTrace } from '../../src/autograd/trace.js';
import { loadTensors } from '../../src/tensor/safetensors.js';

const here = dirname(fileURLToPath(import.meta.url));
/** <repo>/../shared/golden, found from dist/test/helpers or test/helpers. */
export const GOLDEN_DIR = [resolve(here, '../../../../shared/golden'), resolve(here, '../../../shared/golden')].find((d) => existsSync(d)) ?? resolve(here, '../../../../shared/golden');

export const GOLDEN_CASES = ['resnet18_w16_seed0', 'tiny_resnet18_w32_seed0'];

export function goldenAvailable(): boolean {
  return existsSync(join(GOLDEN_DIR, GOLDEN_CASES[0]!, 'meta.json'));
}

export const GOLDEN_SKIP = goldenAvailable() ? false : `golden fixtures not found at ${GOLDEN_DIR}`;

export interface GoldenMeta {
  diagnostics?: { float32_vs_float64_scores?: Record<string, { max_abs_diff_over_max_abs: number }> };
  width_divisor: number; num_classes: number; in_channels: number; image_size: number; N: number;
  params: { name: string; shape: number[]; numel: number; prunable: boolean }[];
  state_dict_order: { name: string; shape: number[]; dtype: string }[];
  masks: { diagnostics: Record<string, { global?: { tie: boolean; k: number }; layers?: Record<string, { tie: boolean; k: number }> } & Record<string, unknown>> };
}

export function goldenMeta(c: string): GoldenMeta {
  return JSON.parse(readFileSync(join(GOLDEN_DIR, c, 'meta.json'), 'utf8')) as GoldenMeta;
}

export function goldenTensors(c: string, file: string): Map<string, Tensor> {
  return loadTensors(join(GOLDEN_DIR, c, file));
}

export function goldenFile(c: string, file: string): string {
  return join(GOLDEN_DIR, c, file);
}

/**
 * Element-wise closeness: |a - b| <= rtol |b| + floor * max|b| per tensor (or floor * scale when a
 * scale is given). Returns a description of the worst offender, or null.
 */
export function compareTensors(a: Tensor, b: Tensor, rtol = 1e-4, floor = 1e-6, scale?: number): string | null {
  if (a.size !== b.size) return `size ${a.size} vs ${b.size}`;
  let maxAbs = scale ?? 0;
  if (scale === undefined) for (let i = 0; i < b.size; i++) maxAbs = Math.max(maxAbs, Math.abs(b.data[i]!));
  let worst: string | null = null, worstExcess = 0;
  for (let i = 0; i < b.size; i++) {
    const x = a.data[i]!, y = b.data[i]!;
    const tol = rtol * Math.abs(y) + floor * maxAbs;
    const err = Math.abs(x - y);
    if (!(err <= tol) && err - tol >= worstExcess) {
      worstExcess = err - tol;
      worst = `index ${i}: got ${x}, want ${y} (tolerance ${tol.toExponential(2)})`;
    }
  }
  return worst;
}

/**
 * The one rule for every parity check against a fixture of the paper's PyTorch code.
 *
 * A fixture is float32 and differs from the float64 truth by its own rounding noise, which the
 * fixture measured: `diagnostics.float32_vs_float64_scores[set].max_abs_diff_over_max_abs`, the
 * largest absolute float32-vs-float64 difference over the whole score set divided by the largest
 * magnitude of the set. pai computes the same float32 quantity in another summation order (another
 * CPU, another oneDNN kernel, another thread count), so the two can differ by about twice that noise
 * anywhere in the set, including entries far smaller than the set's largest (cancellation in a
 * bias or batch-norm entry). A floor measured against one tensor's own largest entry, or smaller
 * than the noise, asks pai to agree with the fixture more closely than the fixture agrees with
 * itself, and the verdict then changes with the machine. So:
 *
 *   |pai − fixture| ≤ 1e-4 · |fixture| + max(1e-5, 5 · noise) · max over all of the set's tensors |fixture|.
 *
 * `noise` is 0 for sets the fixture computed in float64 (the exact Hessian quantities) or did not
 * measure; the 1e-5 floor then holds. A score set after the BN warm-up uses the noise measured on
 * the same criterion at initialisation (the fixture measures it there only).
 */
export const PARITY_RTOL = 1e-4;
export const PARITY_MIN_FLOOR = 1e-5;
export const PARITY_NOISE_FACTOR = 5;

/** The fixture's measured float32 noise for a score set (file name without extension), or 0. */
export function fixtureNoise(c: string, set: string): number {
  return goldenMeta(c).diagnostics?.float32_vs_float64_scores?.[set]?.max_abs_diff_over_max_abs ?? 0;
}

/** The largest magnitude over every tensor of a set. */
export function setScale(want: Iterable<Tensor>): number {
  let scale = 0;
  for (const w of want) for (let i = 0; i < w.size; i++) scale = Math.max(scale, Math.abs(w.data[i]!));
  return scale;
}

/**
 * Checks every tensor of `want` (a whole fixture set) against `got` with the parity rule above;
 * `noise` is the set's measured float32 noise (fixtureNoise). Fails naming the tensor and the
 * worst entry.
 */
export function assertParity(got: ReadonlyMap<string, Tensor>, want: ReadonlyMap<string, Tensor>, noise: number, label: string): void {
  const floor = Math.max(PARITY_MIN_FLOOR, PARITY_NOISE_FACTOR * noise);
  const scale = setScale(want.values());
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) throw new Error(`${label}: ${name} missing`);
    const bad = compareTensors(g, w, PARITY_RTOL, floor, scale);
    if (bad !== null) throw new Error(`${label} ${name}: ${bad} [rule: 1e-4 relative + max(1e-5, 5 x noise ${noise.toExponential(2)}) x set max ${scale.toExponential(3)}]`);
  }
}

/**
 * Mask samples whose forward pass puts a ReLU input within float32 reach of its kink: |a| below
 * `rel` times the largest |a| of that ReLU, computed in float64 (`m64` is a float64 copy of the model).
 * Natural minima lie at 1e-7 to 1e-5 of the largest; a float32 forward pass through a ResNet-18 is
 * good to about 1e-7 of it, so 1e-6 leaves a tenfold margin. There float32 rounding (which
 * depends on the CPU, the oneDNN kernel and the thread count) may land on either side of 0 and switch
 * the gradient's path, a finite change no rounding tolerance covers: the tiny golden model after its
 * warm-up has a pre-activation of 3e-9 in sample 5, which the reference backend's float32 puts below
 * 0 and the native one above. Scores on such data are compared in float64 only.
 */
export function samplesNearKink(m64: Module, x: Tensor, rel = 1e-6): number[] {
  if (m64.parameters()[0]?.dtype !== 'float64') throw new Error('samplesNearKink takes a float64 model');
  const n = x.shape[0]!, per = x.size / n;
  const near: number[] = [];
  m64.eval();
  {
    for (let s = 0; s < n; s++) {
      const xs = new Tensor(Float64Array.from(x.data.subarray(s * per, (s + 1) * per)), [1, ...x.shape.slice(1)]);
      const { events } = noGrad(() => withTrace(() => m64.forward(xs)));
      const hit = events.some((e) => {
        if (e.op.name !== 'relu') return false;
        const a = e.inputs[0]!.data;
        let max = 0;
        for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
        for (let i = 0; i < a.length; i++) if (a[i] !== 0 && Math.abs(a[i]!) < rel * max) return true;
        return false;
      });
      if (hit) near.push(s);
    }
  }
  return near;
}

/** A float64 copy of mask data. */
export function toFloat64(x: Tensor): Tensor {
  return new Tensor(Float64Array.from(x.data), x.shape);
}

/** Rows `idx` of mask data. */
function rows<D extends { x: Tensor; y: Int32Array }>(data: D, idx: number[]): D {
  const per = data.x.size / data.x.shape[0]!;
  const x = data.x.dtype === 'float64' ? new Float64Array(idx.length * per) : new Float32Array(idx.length * per);
  idx.forEach((r, i) => x.set(data.x.data.subarray(r * per, (r + 1) * per), i * per));
  return { ...data, x: new Tensor(x, [idx.length, ...data.x.shape.slice(1)]), y: Int32Array.from(idx, (r) => data.y[r]!) };
}

/**
 * A score set against a fixture in both precisions. float64: pai's scores on a float64 copy of the
 * model and data, which every machine computes alike, against the fixture with the parity rule. float32:
 * pai's scores as users run them (the default backend). Where no mask sample sits at a ReLU kink within
 * float32 reach (samplesNearKink) they are held to the fixture by the same rule; otherwise float32
 * results may legitimately take the other side of a kink on another machine, so the float32 scores of
 * the samples clear of kinks are held, by the same rule, to pai's float64 scores of those samples.
 */
export function assertParityBothPrecisions<D extends { x: Tensor; y: Int32Array }>(
  t: { diagnostic(m: string): void }, build: () => Module, data: D, score: (model: Module, data: D) => ReadonlyMap<string, Tensor>,
  want: ReadonlyMap<string, Tensor>, noise: number, label: string,
): void {
  const as64 = (d: D): D => ({ ...d, x: toFloat64(d.x) });
  assertParity(score(build().to('float64'), as64(data)), want, noise, `${label} (float64)`);
  const near = new Set(samplesNearKink(build().to('float64'), data.x));
  const model = build();
  if (near.size === 0) {
    assertParity(score(model, data), want, noise, `${label} (float32)`);
    return;
  }
  const clear = Array.from({ length: data.x.shape[0]! }, (_, i) => i).filter((i) => !near.has(i));
  t.diagnostic(`${label}: mask sample(s) ${[...near].join(', ')} put a ReLU input within float32 reach of 0; float32 checked against float64 on the other ${clear.length}`);
  if (clear.length === 0) return;
  const sub = rows(data, clear);
  assertParity(score(model, sub), score(build().to('float64'), as64(sub)), noise, `${label} (float32 vs float64, ${clear.length} samples)`);
}
