// The native backend: a thin adapter over the Node-API addon built from native/ by binding.gyp
// (its declaration and the kernel adapter are generated: addon.gen.ts).
// The addon reads JS typed-array memory in place (no copies) and checks every size against the
// buffers, so a bad call throws rather than corrupting memory. It computes in float32 only.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, DType } from '../interface.js';
import { wrapAddon, type Addon } from './addon.gen.js';

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

function wrap(m: Addon): Backend & { info(): { isa: string; onednn: string; cores: number; allocator: string } } {
  return {
    name: 'native',
    supports(dtype: DType): boolean {
      return dtype === 'float32';
    },
    setNumThreads: (n) => m.setNumThreads(n),
    numThreads: () => m.numThreads(),
    ...wrapAddon(m),
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
      cached = { backend, reason: `loaded ${path} (loops ${info.isa}, oneDNN ${info.onednn}, ${backend.numThreads()} threads, allocator ${info.allocator})` };
    }
  } catch (e) {
    cached = { backend: null, reason: `native addon failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
  return cached;
}
