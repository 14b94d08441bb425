// Access to the golden fixtures computed with the paper's PyTorch code (../shared/golden).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../src/tensor/tensor.js';
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
