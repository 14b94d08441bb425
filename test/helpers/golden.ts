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
